"""Semiclassical curves of Figs. 5, 6, 10, 11, A4 and A5 (and a many-qubit extension), next to the
exact RWA steady state where that is cheap.

    .venv/bin/python scripts/fig_semiclassical.py                  # all, small grids (minutes)
    .venv/bin/python scripts/fig_semiclassical.py --fig 5 --fig A5 --points 121
    .venv/bin/python scripts/fig_semiclassical.py --fig M100       # M = 100 detuned qubits
    .venv/bin/python scripts/fig_semiclassical.py --replot         # redraw from the .npz files

Semiclassical curves: :func:`pjcsync.semiclassical.sweep` (the exact functional of eq. 31 for the
ansatz 41, warm-started along the sweep; ``--starts`` fresh starts per point).  Where two distinct
minima compete (Appendix A.3's bistability) the higher one is drawn as faint dots.  Exact curves:
``pjcsync.steady.steady_state`` (direct, this process) with ``--levels`` cavity levels (or the
figure's own); they are skipped where they would be expensive (Fig. 11 beyond ``--rwa-max-qubits``).
PNGs and .npz data go to ``docs/figures/figN_semiclassical.*``.

Parameters (units of lambda, DESIGN.md section 8): Fig. 5: Delta = (2, -1), gamma = gamma_s = 2,
F = 1 and 5, per-qubit <sigma_x,y,z>; Fig. 6: M = 1, Delta = 2, F = 1, (gamma, gamma_s) = (0.3, 0),
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

from _plotting import require_matplotlib, OBS_LABEL, XLABEL, pyplot, save  # noqa: E402  (scripts/_plotting.py)

OUT = ROOT / "docs" / "figures"

F11 = [1.0, 1.5, 2.0, 2.5]
FA4 = [20.0, 30.0, 25.0, 35.0]       # (10, 15, 12.5, 17.5) gamma with gamma = 2 lambda

FIGS = {
    "5": dict(title="Fig. 5: semiclassical (dashed) vs RWA (dotted); Delta = (2, -1), gamma = gamma_s = 2",
              xrange=(-6.0, 6.0), points=41, obs="bloch",
              curves=[dict(label="F = 1", deltas=[2.0, -1.0], F=1.0, gamma=2.0, gamma_s=2.0, levels=20),
                      dict(label="F = 5", deltas=[2.0, -1.0], F=5.0, gamma=2.0, gamma_s=2.0, levels=40)]),
    "6": dict(title="Fig. 6: <S_x>, one qubit, Delta = 2, F = 1", xrange=(-4.0, 4.0), points=81, obs="Sx",
              curves=[dict(label="gamma = 0.3, gamma_s = 0", deltas=[2.0], F=1.0, gamma=0.3, gamma_s=0.0, levels=60),
                      dict(label="gamma = gamma_s = 0.3", deltas=[2.0], F=1.0, gamma=0.3, gamma_s=0.3, levels=60),
                      dict(label="gamma = gamma_s = 2", deltas=[2.0], F=1.0, gamma=2.0, gamma_s=2.0, levels=20)]),
    "10": dict(title="Fig. 10: Fig. 8's parameters (Delta = +-1, F = 0.25, gamma = 0.3, gamma_s = 3e-3)",
               xrange=(-3.0, 3.0), points=61, obs="pair",
               curves=[dict(label="", deltas=[1.0, -1.0], F=0.25, gamma=0.3, gamma_s=3e-3, levels=16)]),
    "11": dict(title="Fig. 11: total <S_x>, Delta_l = 1, 1.5, 2, 2.5, F = 0.77, gamma = gamma_s = 0.2",
               xrange=(-3.0, 5.0), points=61, obs="Sx", rwa_max_qubits=1,
               curves=[dict(label=f"M = {m}", deltas=F11[:m], F=0.77, gamma=0.2, gamma_s=0.2, levels=60)
                       for m in (1, 2, 3, 4)]),
    "A4": dict(title="Fig. A4: weak coupling lambda = gamma/2, total <S_x>", xrange=(-10.0, 45.0), points=56,
               obs="Sx", curves=[dict(label=f"M = {m}", deltas=FA4[:m], F=4.4, gamma=2.0, gamma_s=2.0, levels=30)
                                 for m in (1, 2, 3, 4)]),
    "M100": dict(title="many qubits: total <S_x>, Delta spread over [1, 2.5], F = 0.77, gamma = gamma_s = 0.2",
                 xrange=(-12.0, 5.0), points=69, obs="Sx", functional="relative",
                 curves=[dict(label=f"M = {m}", deltas=list(np.linspace(1.0, 2.5, m)), F=0.77, gamma=0.2,
                              gamma_s=0.2, levels=2, rwa=False) for m in (4, 16, 100)]),
}


def model_of(c: dict, levels: int | None = None):
    from pjcsync.model import Model
    M = len(c["deltas"])
    return Model(levels=levels or c["levels"], gamma=c["gamma"], detunings=tuple(c["deltas"]),
                 couplings=(1.0,) * M, gamma_s=(c["gamma_s"],) * M, amplitude=c["F"], drive_detuning=0.0)


def sc_observables(m) -> dict:
    b = np.asarray(m.b)
    out = {"Sx": 0.5 * b[:, 0].sum(), "bloch": b.copy(), "epsilon": m.epsilon}
    if len(b) >= 2:
        out["S1x"] = 0.5 * b[0, 0]
        out["S2"] = 1.5 + 0.5 * float(b[0] @ b[1])
    return out


def exact_observables(model, rows, layout) -> dict:
    from pjcsync.model import sigmax, sigmay, sigmaz
    from pjcsync.observables import expect
    sig = np.array([[expect(model.qubit(s(), l), rows, layout).real for s in (sigmax, sigmay, sigmaz)]
                    for l in range(model.M)])
    out = {"Sx": 0.5 * sig[:, 0].sum(), "bloch": sig}
    if model.M >= 2:
        dot = sum(expect(model.qubit(s(), 0) @ model.qubit(s(), 1), rows, layout).real
                  for s in (sigmax, sigmay, sigmaz))
        out["S1x"] = 0.5 * sig[0, 0]
        out["S2"] = 1.5 + 0.5 * dot
    return out


def compute(name: str, spec: dict, points: int, starts: int, rwa_max_qubits: int) -> dict:
    from pjcsync import semiclassical as sc
    x = np.linspace(*spec["xrange"], points)
    data = {"x": x, "labels": [], "sc": [], "sc_other": [], "rwa": []}
    cfg = {"starts": starts, "functional": spec.get("functional", "absolute")}
    for c in spec["curves"]:
        model = model_of(c)
        t0 = time.perf_counter()
        res = sc.sweep(model, x, cfg)
        best = [sc_observables(r.best) for r in res]
        other = [sc_observables(r.minima[1]) if r.bistable else None for r in res]
        t_sc = time.perf_counter() - t0
        rwa = None
        if c.get("rwa", True) and model.M <= rwa_max_qubits:
            from pjcsync.parallel import RowLayout
            from pjcsync.steady import steady_state
            from petsc4py import PETSc
            layout = RowLayout.create(model.N)
            rwa = []
            for w in x:
                m = replace(model, drive_detuning=float(w))
                st = steady_state(m, {"method": "direct", "rtol": 1e-9}, layout)
                rwa.append(exact_observables(m, st.rows(), layout))
                st.rho.destroy()
                PETSc.garbage_cleanup()     # petsc4py 3.18 defers destruction: free each MUMPS factor
        print(f"  {name} {c['label'] or 'curve'}: semiclassical {t_sc:.1f} s"
              + (f", RWA {time.perf_counter() - t0 - t_sc:.1f} s (n_c = {model.levels})" if rwa else ""), flush=True)
        data["labels"].append(c["label"])
        data["sc"].append(best)
        data["sc_other"].append(other)
        data["rwa"].append(rwa)
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
    if name == "A5":
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for ci, lab in enumerate(data["labels"]):
            ax.plot(x, _series(data["sc"][ci], "epsilon") / 0.2, color=colors[ci], label=lab)
        ax.set_ylabel(r"$\epsilon/\gamma$")
        ax.set_yscale("log")
        axes = [ax]
    elif obs == "bloch":
        fig, axes = plt.subplots(len(data["labels"]), 2, figsize=(11, 4 * len(data["labels"])), squeeze=False)
        for ci, lab in enumerate(data["labels"]):
            for q in range(2):
                ax = axes[ci, q]
                for k, comp in enumerate("xyz"):
                    ax.plot(x, [p["bloch"][q][k] for p in data["sc"][ci]], "--", color=colors[k],
                            label=rf"$\langle\sigma_{comp}\rangle$ semiclassical")
                    if data["rwa"][ci] is not None:
                        ax.plot(x, [p["bloch"][q][k] for p in data["rwa"][ci]], ":", color=colors[k], lw=2.5,
                                label=rf"$\langle\sigma_{comp}\rangle$ RWA")
                ax.set_title(f"{lab}, qubit {q + 1}")
        axes = axes.ravel()
    else:
        keys = ("S1x", "S2") if obs == "pair" else ("Sx",)
        fig, axes = plt.subplots(1, len(keys), figsize=(7 * len(keys), 4.5), squeeze=False)
        axes = axes.ravel()
        for ax, key in zip(axes, keys):
            for ci, lab in enumerate(data["labels"]):
                ax.plot(x, _series(data["sc"][ci], key), "--", color=colors[ci], label=f"{lab} semiclassical".strip())
                ax.plot(x, _series(data["sc_other"][ci], key), ".", ms=3, alpha=0.4, color=colors[ci])
                if data["rwa"][ci] is not None:
                    ax.plot(x, _series(data["rwa"][ci], key), "-", color=colors[ci], label=f"{lab} RWA".strip())
            ax.set_ylabel(OBS_LABEL[key])
    for ax in axes:
        ax.set_xlabel(XLABEL)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(spec["title"] if name != "A5" else "Fig. A5: epsilon/gamma of Fig. 11's semiclassical minima",
                 fontsize=10)
    save(fig, path, dpi=110)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fig", action="append", choices=[*FIGS, "A5"], help="figure(s) to draw (default: all but M100)")
    ap.add_argument("--points", type=int, help="points per curve (default: the figure's own)")
    ap.add_argument("--starts", type=int, default=3, help="fresh starting points per sweep point")
    ap.add_argument("--rwa-max-qubits", type=int, help="exact RWA curves up to this many qubits (default: "
                    "2, but 1 for Fig. 11, whose M = 2 curve takes ~10 min with 60 levels)")
    ap.add_argument("--replot", action="store_true", help="redraw from the saved .npz data")
    ap.add_argument("--out", default=str(OUT), help="output directory")
    args = ap.parse_args(argv)
    require_matplotlib("fig_semiclassical.py")
    import petsc4py
    petsc4py.init([sys.argv[0]])
    out = Path(args.out)
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
            data = np.load(npz, allow_pickle=True)["data"].item()
        else:
            t0 = time.perf_counter()
            limit = args.rwa_max_qubits if args.rwa_max_qubits is not None else spec.get("rwa_max_qubits", 2)
            data = compute(src, spec, args.points or spec["points"], args.starts, limit)
            np.savez(npz, data=np.array(data, dtype=object))
            print(f"fig {src}: {time.perf_counter() - t0:.1f} s", flush=True)
        cache[src] = data
        png = out / f"fig{name}_semiclassical.png"
        plot(name, spec, data, png)
        print(f"wrote {png}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
