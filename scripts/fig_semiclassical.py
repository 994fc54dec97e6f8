"""Semiclassical curves of Figs. 5, 6, 10, 11, A4 and A5 (and a many-qubit extension), next to the
exact RWA steady state where that is cheap.

    .venv/bin/python scripts/fig_semiclassical.py                  # all, small grids (minutes)
    .venv/bin/python scripts/fig_semiclassical.py --paper          # the paper's density, into docs/figures/
    .venv/bin/python scripts/fig_semiclassical.py --fig 5 --fig A5 --points 121
    .venv/bin/python scripts/fig_semiclassical.py --fig M100       # M = 100 detuned qubits
    .venv/bin/python scripts/fig_semiclassical.py --replot         # redraw from the .npz files
                                                                   # (--replot --paper: docs/figures/'s)

Semiclassical curves: :func:`pjcsync.semiclassical.sweep` (the exact functional of eq. 31 for the
ansatz 41, warm-started along the sweep forward and then backward, each point keeping the lowest
minimum either direction reached; ``--starts`` fresh starts per point).  Where two distinct
minima compete (Appendix A.3's bistability) the higher one is drawn as faint dots.  Exact RWA
curves: from fig_steady.py's data file where it has them (Figs. 11 and A4: every M; run it first,
as `make figures` does), read from this run's output folder (its ``data/``) or, where that has no
such file, from docs/figures/data/ (the paper's); the data file's ``parameters.rwa_from`` names
the file read and its resolution.  Otherwise ``pjcsync.steady.steady_state`` (direct, this
process) from the curve's n_c, raised per point by the library's adaptive truncation until the
edge population is at most 1e-6, up to its cap (points still above are marked).  Spins are
S = sigma/2 in every panel; alpha = <a>.

Outputs (scripts/_plotting.py's ``output_dir``): ``figN_semiclassical.png`` and ``.npz`` (read
by ``--replot``) and the common data file ``data/figN_semiclassical.json`` in ``docs/figures/``
with ``--paper``, else in ``results/figures/small/``; ``--out``: another folder.

Parameters (units of lambda, from the paper's captions): Fig. 5: Delta = (2, -1), gamma = gamma_s = 2,
F = 1 and 5, per-qubit <S_x,y,z> and the cavity alpha; Fig. 6: M = 1, Delta = 2, F = 1, (gamma, gamma_s) = (0.3, 0),
(0.3, 0.3), (2, 2), <S_x>; Fig. 10: Fig. 8's parameters, <S_1x> and <S^2> = 3/2 + b_1.b_2/2;
Fig. 11: M = 1..4, Delta = 1, 1.5, 2, 2.5, F = 0.77, gamma = gamma_s = 0.2, total <S_x>;
Fig. A4: lambda = gamma/2 (gamma = 2), Delta = (10, 15, 12.5, 17.5) gamma, gamma_s = gamma,
F = 2.2 gamma; Fig. A5: epsilon / gamma for Fig. 11; M100: Fig. 11's rates and drive with
M = 4, 16, 100 qubits, Delta spread evenly over [1, 2.5] (relative functional, see the module).
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _plotting import (DATA, EDGE_TOL, OBS_LABEL, XLABEL, curve as data_curve, mark_truncated,  # noqa: E402
                       output_dir, paper_hint, pyplot, require_matplotlib, resolution_note, save, shown,
                       write_data)

F11 = [1.0, 1.5, 2.0, 2.5]
FA4 = [20.0, 30.0, 25.0, 35.0]       # (10, 15, 12.5, 17.5) gamma with gamma = 2 lambda

FIGS = {
    "5": dict(title=r"Fig. 5: semiclassical (dashed) vs RWA (dotted); $\Delta=(2,-1)$, $\gamma=\gamma_s=2$; "
              r"$S=\sigma/2$, $\alpha=\langle a\rangle$",
              xrange=(-6.0, 6.0), points=49, paper_points=241, obs="bloch",           # fig5_steady's grids
              rwa_from="fig5_steady",
              curves=[dict(label="$F=1$", deltas=[2.0, -1.0], F=1.0, gamma=2.0, gamma_s=2.0, levels=20, cap=60),
                      dict(label="$F=5$", deltas=[2.0, -1.0], F=5.0, gamma=2.0, gamma_s=2.0, levels=40, cap=60)]),
    "6": dict(title=r"Fig. 6: one qubit, $\Delta=2$, $F=1$; RWA (full), semiclassical (dashed)", xrange=(-4.0, 4.0),
              points=81, obs="Sx", rwa_from="fig6_steady",
              curves=[dict(label=r"$\gamma=0.3$, $\gamma_s=0$", deltas=[2.0], F=1.0, gamma=0.3, gamma_s=0.0,
                           levels=60, cap=120),
                      dict(label=r"$\gamma=\gamma_s=0.3$", deltas=[2.0], F=1.0, gamma=0.3, gamma_s=0.3, levels=60,
                           cap=120),
                      dict(label=r"$\gamma=\gamma_s=2$", deltas=[2.0], F=1.0, gamma=2.0, gamma_s=2.0, levels=20,
                           cap=60)]),
    "10": dict(title=r"Fig. 10: Fig. 8's parameters ($\Delta=\pm1$, $F=0.25$, $\gamma=0.3$, $\gamma_s=3\cdot10^{-3}$); "
               r"RWA (full), semiclassical (dashed)",
               xrange=(-3.0, 3.0), points=61, obs="pair", rwa_from="fig8_steady",
               curves=[dict(label="", deltas=[1.0, -1.0], F=0.25, gamma=0.3, gamma_s=3e-3, levels=16, cap=40)]),
    "11": dict(title=r"Fig. 11: total $\langle S_x\rangle$, $\Delta_l=1,1.5,2,2.5$, $F=0.77$, $\gamma=\gamma_s=0.2$;"
               "\n" r"RWA (full), semiclassical (dashed)",
               xrange=(-3.0, 5.0), points=81, obs="Sx", rwa_from="fig11_steady",    # step 0.1: fig11_steady's points
               rwa_max_qubits=1,   # M = 2 at n_c 60-120 (N = 240-480) per point: fig_steady.py's curves
               curves=[dict(label=f"$M={m}$", deltas=F11[:m], F=0.77, gamma=0.2, gamma_s=0.2, levels=60, cap=120)
                       for m in (1, 2, 3, 4)]),
    "A4": dict(title=r"Fig. A4: $\lambda=\gamma/2$, $\Delta_l=(10,15,12.5,17.5)\gamma$, $F=2.2\gamma$, $\gamma_s=\gamma$;"
               "\n" r"total $\langle S_x\rangle$, RWA (full), semiclassical (dashed)", xrange=(-10.0, 50.0),
               points=61, obs="Sx", rwa_from="figA4_steady", xscale=2.0, xlabel=r"$(\omega-\omega_0)/\gamma$",
               curves=[dict(label=f"$M={m}$", deltas=FA4[:m], F=4.4, gamma=2.0, gamma_s=2.0, levels=30, cap=90)
                       for m in (1, 2, 3, 4)]),
    "M100": dict(title=r"many qubits: total $\langle S_x\rangle$, $\Delta_l$ spread over $[1, 2.5]$, $F=0.77$, "
                 r"$\gamma=\gamma_s=0.2$",
                 xrange=(-12.0, 5.0), points=69, obs="Sx", functional="relative",
                 curves=[dict(label=f"$M={m}$", deltas=list(np.linspace(1.0, 2.5, m)), F=0.77, gamma=0.2,
                              gamma_s=0.2, levels=2, rwa=False) for m in (4, 16, 100)]),
}


def model_of(c: dict, levels: int | None = None):
    from pjcsync.model import Model
    M = len(c["deltas"])
    return Model(levels=levels or c["levels"], gamma=c["gamma"], detunings=tuple(c["deltas"]),
                 couplings=(1.0,) * M, gamma_s=(c["gamma_s"],) * M, amplitude=c["F"], drive_detuning=0.0)


def sc_observables(m) -> dict:
    b = np.asarray(m.b)
    out = {"Sx": 0.5 * b[:, 0].sum(), "bloch": b.copy(), "epsilon": m.epsilon,
           "alpha_x": complex(m.alpha).real, "alpha_y": complex(m.alpha).imag}
    if len(b) >= 2:
        out["S1x"] = 0.5 * b[0, 0]
        out["S2"] = 1.5 + 0.5 * float(b[0] @ b[1])
    return out


def exact_observables(model, rows, layout) -> dict:
    from pjcsync.model import sigmax, sigmay, sigmaz
    from pjcsync.observables import basic_observables, expect
    basic = basic_observables(model, rows, layout)
    sig = np.array(basic["sigma"])
    out = {"Sx": 0.5 * sig[:, 0].sum(), "bloch": sig, "alpha_x": basic["a"][0], "alpha_y": basic["a"][1],
           "edge": basic["edge_population"], "levels": model.levels}
    if model.M >= 2:
        dot = sum(expect(model.qubit(s(), 0) @ model.qubit(s(), 1), rows, layout).real
                  for s in (sigmax, sigmay, sigmaz))
        out["S1x"] = 0.5 * sig[0, 0]
        out["S2"] = 1.5 + 0.5 * dot
    return out


def exact_point(model, w: float, cap: int) -> dict:
    """RWA observables at drive detuning ``w`` (MUMPS), n_c chosen by the library's adaptive
    truncation (:func:`pjcsync.truncation.adaptive_steady_state`) from ``model.levels`` until the
    edge population is at most EDGE_TOL, up to ``cap`` (then the point is marked in the plot)."""
    from pjcsync.parallel import RowLayout, release_petsc_garbage
    from pjcsync.truncation import adaptive_steady_state
    st = adaptive_steady_state(replace(model, drive_detuning=float(w)), {"method": "direct", "rtol": 1e-9},
                               {"levels_start": model.levels, "levels_max": cap, "levels_tolerance": EDGE_TOL})
    obs = exact_observables(st.model, st.rows(), RowLayout.create(st.model.N))
    st.rho.destroy()
    release_petsc_garbage()     # free each MUMPS factor
    return obs


def steady_file(stem: str, out_dir: Path) -> Path | None:
    """fig_steady.py's data file ``stem`` for a run writing to ``out_dir``: in ``out_dir/data/``
    (the same resolution: ``make figures`` draws fig_steady.py's first), else in
    docs/figures/data/ (the paper's: a reduced run, or one with ``--out``, without its own);
    None when neither has it."""
    for folder in dict.fromkeys((Path(out_dir) / "data", DATA)):
        if (folder / f"{stem}.json").is_file():
            return folder / f"{stem}.json"
    return None


def rwa_from_steady(stem: str, spec: dict, out_dir: Path) -> tuple[list | None, dict | None]:
    """The RWA curves of fig_steady.py's data file ``stem`` (:func:`steady_file`) with the same
    parameters as the curves of ``spec``: one ``(x, points)`` per curve, None for a curve the file
    does not have (or has without the Bloch vectors), and ``{"file": ..., "resolution": ...}``;
    (None, None) when there is no file."""
    import json
    path = steady_file(stem, out_dir)
    if path is None:
        return None, None
    doc = json.loads(path.read_text())
    out = []
    for c in spec["curves"]:
        hit = [d for d in doc["curves"] if d["kind"] == "rwa"
               and len(np.atleast_1d(d["parameters"]["deltas"])) == len(c["deltas"]) and all(
            np.allclose(np.atleast_1d(d["parameters"][k]), np.atleast_1d(c[k])) for k in ("deltas", "F", "gamma", "gamma_s"))]
        if not hit or "sigma" not in hit[0]["values"]:
            out.append(None)
            continue
        d = hit[0]
        v = d["values"]
        pts = []
        for i in range(len(d["x"])):
            p = {k: v[k][i] for k in ("Sx", "S1x", "S2", "alpha_x", "alpha_y") if k in v}
            p.update(bloch=np.array(v["sigma"][i]), edge=d["edge"][i], levels=d["levels"][i])
            pts.append(p)
        out.append((np.array(d["x"]), pts))
    return out, {"file": shown(path), "resolution": doc["resolution"]}


def compute(name: str, spec: dict, points: int, starts: int, rwa_max_qubits: int, out_dir: Path) -> dict:
    from pjcsync import semiclassical as sc
    x = np.linspace(*spec["xrange"], points)
    data = {"x": x, "labels": [], "sc": [], "sc_other": [], "rwa": [], "rwa_x": []}
    cfg = {"starts": starts, "functional": spec.get("functional", "absolute")}
    steady, source = rwa_from_steady(spec["rwa_from"], spec, out_dir) if "rwa_from" in spec else (None, None)
    have = sum(s is not None for s in steady or [])
    data["rwa_from"] = source if have else None
    if "rwa_from" in spec:
        where = f"{source['file']} ({source['resolution']})" if source else f"{spec['rwa_from']}.json (not found)"
        print(f"  {name}: {have} of {len(spec['curves'])} RWA curves from {where}; the others computed here "
              f"up to M = {rwa_max_qubits}", flush=True)
    for ci, c in enumerate(spec["curves"]):
        model = model_of(c)
        t0 = time.perf_counter()
        res = sc.sweep(model, x, cfg)
        best = [sc_observables(r.best) for r in res]
        other = [sc_observables(r.minima[1]) if r.bistable else None for r in res]
        t_sc = time.perf_counter() - t0
        rwa, rwa_x = None, None
        if steady is not None and steady[ci] is not None:
            rwa_x, rwa = steady[ci]
        elif c.get("rwa", True) and model.M <= rwa_max_qubits:
            rwa_x = x
            rwa = [exact_point(model, w, c.get("cap", model.levels)) for w in x]
        print(f"  {name} {c['label'] or 'curve'}: semiclassical {t_sc:.1f} s"
              + (f", RWA {time.perf_counter() - t0 - t_sc:.1f} s (n_c {min(p['levels'] for p in rwa)}-"
                 f"{max(p['levels'] for p in rwa)})" if rwa else ""), flush=True)
        data["labels"].append(c["label"])
        data["sc"].append(best)
        data["sc_other"].append(other)
        data["rwa"].append(rwa)
        data["rwa_x"].append(rwa_x)
    return data


def _series(pts, key, index=None):
    if pts is None:
        return None
    vals = []
    for p in pts:
        if p is None or key not in p:
            vals.append(np.nan)
        else:
            v = p[key]
            vals.append(v[index] if index is not None else v)
    return np.array(vals, float)


def plot(name: str, spec: dict, data: dict, path: Path) -> None:
    plt, colors = pyplot()
    x = data["x"]
    obs = spec["obs"]
    sx = spec.get("xscale", 1.0)
    second = "higher semiclassical minimum (bistable)"
    if name == "A5":
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for ci, lab in enumerate(data["labels"]):
            ax.plot(x, _series(data["sc"][ci], "epsilon") / 0.2, color=colors[ci], label=lab)
        ax.set_ylabel(r"$\epsilon/\gamma$")
        ax.set_yscale("log")
        axes = [ax]
    elif obs == "bloch":
        nrow = len(data["labels"])
        fig, axes = plt.subplots(nrow, 3, figsize=(15, 4.2 * nrow), squeeze=False)
        for ci, lab in enumerate(data["labels"]):
            for q in range(2):
                ax = axes[ci, q]
                for k, comp in enumerate("xyz"):
                    ax.plot(x, 0.5 * _series(data["sc"][ci], "bloch", (q, k)), "--", color=colors[k],
                            label=rf"$\langle S_{{{q + 1}{comp}}}\rangle$ semiclassical")
                    if data["rwa"][ci] is not None:
                        y = 0.5 * _series(data["rwa"][ci], "bloch", (q, k))
                        ax.plot(data["rwa_x"][ci], y, ":", color=colors[k], lw=2.5,
                                label=rf"$\langle S_{{{q + 1}{comp}}}\rangle$ RWA")
                        mark_truncated(ax, data["rwa_x"][ci], y, _series(data["rwa"][ci], "edge"))
                ax.set_title(f"{lab}, qubit {q + 1}")
                ax.set_ylabel(rf"$\langle S_{{{q + 1}x,y,z}}\rangle$")
            ax = axes[ci, 2]
            for k, key in enumerate(("alpha_x", "alpha_y")):
                ax.plot(x, _series(data["sc"][ci], key), "--", color=colors[3 + k],
                        label=rf"$\alpha_{key[-1]}$ semiclassical")
                if data["rwa"][ci] is not None:
                    y = _series(data["rwa"][ci], key)
                    ax.plot(data["rwa_x"][ci], y, ":", color=colors[3 + k], lw=2.5,
                            label=rf"$\alpha_{key[-1]}$ RWA")
                    mark_truncated(ax, data["rwa_x"][ci], y, _series(data["rwa"][ci], "edge"))
            ax.set_title(f"{lab}, cavity")
            ax.set_ylabel(r"$\alpha_x, \alpha_y$  ($\alpha=\langle a\rangle$)")
        axes = axes.ravel()
    else:
        keys = ("S1x", "S2") if obs == "pair" else ("Sx",)
        fig, axes = plt.subplots(1, len(keys), figsize=(7.5 * len(keys), 6.2 if len(data["labels"]) > 2 else 4.8),
                                 squeeze=False)
        axes = axes.ravel()
        for ax, key in zip(axes, keys):
            for ci, lab in enumerate(data["labels"]):
                ax.plot(x / sx, _series(data["sc"][ci], key), "--", color=colors[ci],
                        label=f"{lab} semiclassical".strip())
                y2 = _series(data["sc_other"][ci], key)
                ax.plot(x / sx, y2, ".", ms=3, alpha=0.5, color=colors[ci],
                        label=second if np.isfinite(y2).any() and second not in ax.get_legend_handles_labels()[1]
                        else None)
                if data["rwa"][ci] is not None:
                    y = _series(data["rwa"][ci], key)
                    ax.plot(data["rwa_x"][ci] / sx, y, "-", color=colors[ci], label=f"{lab} RWA".strip())
                    mark_truncated(ax, data["rwa_x"][ci] / sx, y, _series(data["rwa"][ci], "edge"))
            ax.set_ylabel(OBS_LABEL[key])
    for ax in axes:
        ax.set_xlabel(spec.get("xlabel", XLABEL))
        if name != "A5" and obs != "bloch" and len(data["labels"]) > 2:   # many entries: below the axes
            ax.legend(fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.14))
        else:
            ax.legend(fontsize=8)
    levs = [p["levels"] for r in data["rwa"] if r is not None for p in r]
    nrwa = max((len(r) for r in data["rwa"] if r is not None), default=0)   # the RWA grid may be coarser
    note = resolution_note(bool(data.get("paper", False)), f"{len(x)} semiclassical points" + (
        f"; RWA {nrwa} points, $n_c$ = {min(levs)}" + (f"-{max(levs)} per point" if max(levs) > min(levs) else "")
        if levs else ""))
    fig.suptitle((spec["title"] if name != "A5" else r"Fig. A5: $\epsilon/\gamma$ of Fig. 11's semiclassical minima")
                 + "\n" + note, fontsize=11)
    save(fig, path)


def write(name: str, spec: dict, data: dict, png: Path, paper: bool) -> Path:
    curves = []
    x = data["x"]
    for ci, c in enumerate(spec["curves"]):
        params = {k: c[k] for k in ("deltas", "F", "gamma", "gamma_s")}
        keys = [k for k in ("Sx", "S1x", "S2", "alpha_x", "alpha_y", "epsilon") if k in data["sc"][ci][0]]
        vals = {k: _series(data["sc"][ci], k) for k in keys}
        if data["sc"][ci][0]["bloch"] is not None:
            vals["bloch"] = [np.asarray(p["bloch"]).tolist() for p in data["sc"][ci]]
        curves.append(data_curve(f"{c['label']} semiclassical".strip(), "semiclassical", x, vals, parameters=params))
        r = data["rwa"][ci]
        if r is not None:
            keys = [k for k in ("Sx", "S1x", "S2", "alpha_x", "alpha_y") if k in r[0]]
            vals = {k: _series(r, k) for k in keys}
            if "bloch" in r[0]:
                vals["bloch"] = [np.asarray(p["bloch"]).tolist() for p in r]
            curves.append(data_curve(f"{c['label']} RWA".strip(), "rwa", data["rwa_x"][ci], vals,
                                     [p["levels"] for p in r], _series(r, "edge"), params))
    return write_data(png, name, "fig_semiclassical.py", paper,
                      {"title": spec["title"], "x_range": spec["xrange"], "x_unit": "lambda",
                       "rwa_from": data.get("rwa_from")}, curves)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fig", action="append", choices=[*FIGS, "A5"], help="figure(s) to draw (default: all but M100)")
    ap.add_argument("--points", type=int, help="points per curve (default: the figure's own)")
    ap.add_argument("--paper", action="store_true", help="the paper's grid density: 4x the default points "
                    "(Fig. 5: fig5_steady's 241)")
    ap.add_argument("--starts", type=int, default=3, help="fresh starting points per sweep point")
    ap.add_argument("--rwa-max-qubits", type=int, help="exact RWA curves computed here up to this many qubits "
                    "(default 2); Figs. 11 and A4 take theirs, for every M, from fig_steady.py's data files")
    ap.add_argument("--replot", action="store_true", help="redraw from the saved .npz data")
    ap.add_argument("--out", help="output folder (default: docs/figures with --paper, else results/figures/small)")
    args = ap.parse_args(argv)
    require_matplotlib("fig_semiclassical.py")
    import petsc4py
    petsc4py.init([sys.argv[0]])
    out = output_dir(args.paper, args.out)
    out.mkdir(parents=True, exist_ok=True)
    figs = args.fig or ["5", "6", "10", "11", "A4", "A5"]
    cache = {}
    for name in figs:
        src = "11" if name == "A5" else name
        spec = FIGS[src]
        npz = out / f"fig{src}_semiclassical.npz"
        if src in cache:
            data = cache[src]
        elif args.replot:
            if not npz.is_file():
                print(f"fig_semiclassical.py: error: {shown(npz)} not found: run without --replot first"
                      + paper_hint(args.paper, args.out, "--replot --paper"),
                      file=sys.stderr)
                return 2
            data = np.load(npz, allow_pickle=True)["data"].item()
            # the RWA curves of fig_steady.py's data file, where it has them now (drawn after this script)
            steady, source = rwa_from_steady(spec["rwa_from"], spec, out) if "rwa_from" in spec else (None, None)
            for ci, r in enumerate(steady or []):
                if r is not None:
                    data["rwa_x"][ci], data["rwa"][ci] = r
                    data["rwa_from"] = source
        else:
            t0 = time.perf_counter()
            limit = args.rwa_max_qubits if args.rwa_max_qubits is not None else spec.get("rwa_max_qubits", 2)
            points = args.points or (spec.get("paper_points", 4 * spec["points"] - 3) if args.paper
                                     else spec["points"])
            data = compute(src, spec, points, args.starts, limit, out)
            data["paper"] = bool(args.paper)
            np.savez(npz, data=np.array(data, dtype=object))
            print(f"fig {src}: {time.perf_counter() - t0:.1f} s", flush=True)
        cache[src] = data
        png = out / f"fig{name}_semiclassical.png"
        plot(name, spec, data, png)
        path = write(name, spec, data, png, bool(data.get("paper", False)))
        print(f"wrote {shown(png)}, {shown(path)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
