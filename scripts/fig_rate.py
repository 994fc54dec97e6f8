"""Figures 3, 4, 10 and 12 of the paper: the rate-equation series (R), (R)* next to the exact
RWA steady state.

    .venv/bin/python scripts/fig_rate.py                 # all four, small grids (a few minutes)
    .venv/bin/python scripts/fig_rate.py --fig 3 --fig 12 --points 161 --levels 60
    .venv/bin/python scripts/fig_rate.py --full          # the paper's sizes (long; Fig. 12 to M = 4)
    .venv/bin/python scripts/fig_rate.py --replot        # redraw from docs/figures/fig*_rate.npz

For every parameter point the exact curve is ``pjcsync.steady.steady_state`` (``--exact-method``,
default ``krylov``, ``direct`` where that fails, and ``direct`` for Fig. 4, whose weak damping
stalls the Krylov solver; every MUMPS factor is freed after its point) and the series come from
``pjcsync.rate.rate_series``; both run in this single process.  n_c per point: the figure's ``levels``, raised 1.5x while the
edge population exceeds 1e-6, up to its ``cap``; points still above are marked (scripts/_plotting.py).
A series is drawn as a curve where the relative residual of its best partial sum is at most 1e-4
(there it matches the exact curve to about 1e-4: the usable part of an asymptotic series, even
where it does not converge to ``rtol``); elsewhere its best partial sum is a faint cross.
The computed curves are saved next to the PNGs (``docs/figures/figN_rate.npz``, and the common data
file ``docs/figures/data/figN_rate.json``).

Parameters (units of lambda, from the paper's captions): Fig. 3: M = 1, Delta = 2, F = 1,
gamma = gamma_s = 0.3, <S_x>; Fig. 4: gamma = gamma_s = 0.005, F = 0.1 and 0.2, <S_x>, (R);
Fig. 10: Fig. 8's parameters (Delta = +-1, F = 0.25, gamma = 0.3, gamma_s = 3e-3), <S_1x> and
<S^2>; Fig. 12: M = 1..4, Delta = 1, 1.5, 2, 2.5, F = 0.77, gamma = gamma_s = 0.2, total <S_x>, (R)*.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _plotting import (EDGE_TOL, OBS_LABEL, XLABEL, curve as data_curve, mark_truncated, pyplot,  # noqa: E402
                       require_matplotlib, resolution_note, save, write_data)

USABLE = 1e-4   # a series' best partial sum is drawn as a curve where its relative residual is below this

FIGS = {
    3: dict(title=r"Fig. 3: RWA vs (R), (R)*; $\Delta=2$, $F=1$, $\gamma=\gamma_s=0.3$", xrange=(-4.0, 4.0),
            levels=60, full_levels=100, cap=120, full_cap=160, points=81, full_points=321, series=("rate", "rate*"),
            curves=[dict(label="", deltas=[2.0], F=1.0, gamma=0.3, gamma_s=0.3)], obs=("Sx",)),
    4: dict(title=r"Fig. 4: RWA vs (R); $\Delta=2$, $\gamma=\gamma_s=0.005$", xrange=(-4.0, 4.0),
            levels=30, full_levels=60, cap=150, full_cap=200, points=161, full_points=801, series=("rate",),
            exact="direct",   # gamma = 0.005: Krylov stalls at n_c >= 60 near resonance; direct (M = 1) is cheap
            curves=[dict(label="$F=0.1$", deltas=[2.0], F=0.1, gamma=0.005, gamma_s=0.005),
                    dict(label="$F=0.2$", deltas=[2.0], F=0.2, gamma=0.005, gamma_s=0.005)], obs=("Sx",)),
    10: dict(title=r"Fig. 10: RWA vs (R), (R)*; Fig. 8: $\Delta=\pm1$, $F=0.25$, $\gamma=0.3$, $\gamma_s=3\cdot10^{-3}$", xrange=(-3.0, 3.0),
             levels=16, full_levels=30, cap=40, full_cap=45, points=81, full_points=241, series=("rate", "rate*"),
             curves=[dict(label="", deltas=[1.0, -1.0], F=0.25, gamma=0.3, gamma_s=3e-3)],
             obs=("S1x", "S2")),
    12: dict(title=r"Fig. 12: RWA vs (R)*; $\Delta_l=1,1.5,2,2.5$, $F=0.77$, $\gamma=\gamma_s=0.2$",
             xrange=(-3.0, 5.0), levels=30, full_levels=100, cap=60, full_cap=150, points=61, full_points=241,
             series=("rate*",),
             curves=[dict(label=f"$M={m}$", deltas=[1.0, 1.5, 2.0, 2.5][:m], F=0.77, gamma=0.2, gamma_s=0.2,
                          levels=(30, 30, 16, 12)[m - 1], cap=(120, 60, 30, 15)[m - 1]) for m in (1, 2, 3, 4)],
             obs=("Sx",)),
}


def observables(model, rho: np.ndarray) -> dict:
    """<S_x> (total), <S_1x> and the pair's <S^2> = 3/2 + <sigma_1 . sigma_2>/2 from a dense rho."""
    from pjcsync.model import sigmax, sigmay, sigmaz
    out = {}
    sx = [np.trace(model.qubit(sigmax(), l) @ rho).real for l in range(model.M)]
    out["Sx"] = 0.5 * sum(sx)
    out["S1x"] = 0.5 * sx[0]
    if model.M >= 2:
        dot = sum(np.trace((model.qubit(s(), 0) @ model.qubit(s(), 1)) @ rho).real
                  for s in (sigmax, sigmay, sigmaz))
        out["S2"] = 1.5 + 0.5 * dot
    return out


def exact_point(c: dict, det: float, levels: int, cap: int, exact_method: str):
    """The exact RWA steady state at one detuning, n_c raised by 1.5x from ``levels`` until the
    edge population is at most EDGE_TOL or n_c = ``cap``: (model, dense rho, edge population)."""
    from mpi4py import MPI
    from petsc4py import PETSc
    from pjcsync.model import Model
    from pjcsync.observables import edge_levels
    from pjcsync.parallel import PjcsyncError, RowLayout
    from pjcsync.steady import steady_state
    while True:
        model = Model(levels=levels, gamma=c["gamma"], detunings=tuple(c["deltas"]),
                      couplings=(1.0,) * len(c["deltas"]), gamma_s=(c["gamma_s"],) * len(c["deltas"]),
                      amplitude=c["F"], drive_detuning=float(det))
        layout = RowLayout.create(model.N, MPI.COMM_SELF)
        rho = np.full((model.N, model.N), np.nan)
        for method in dict.fromkeys((exact_method, "direct")):   # direct: the fallback
            try:
                state = steady_state(model, {"method": method, "rtol": 1e-10, "check_tolerance": 1e-7,
                                             "max_iterations": 1000}, layout)
                rho = state.rows().copy()
                state.rho.destroy()
                PETSc.garbage_cleanup()     # petsc4py 3.18 defers destruction: free each MUMPS factor
                break
            except PjcsyncError as exc:
                print(f"exact {method} failed at x = {det:g}, n_c = {levels}: {str(exc)[:160]}", file=sys.stderr)
        pops = np.real(np.diag(rho)).reshape(levels, -1).sum(axis=1)
        edge = float(pops[-edge_levels(model):].sum())
        if not edge > EDGE_TOL or levels >= cap:
            return model, rho, edge
        levels = min(cap, int(np.ceil(1.5 * levels)))


def compute(fig: int, spec: dict, levels: int, cap: int, points: int, exact_method: str) -> dict:
    from pjcsync.rate import rate_series

    x = np.linspace(*spec["xrange"], points)
    data = {"x": x, "labels": [], "levels": levels}
    for ci, c in enumerate(spec["curves"]):
        data["labels"].append(c["label"])
        t0 = time.perf_counter()
        lev0, cap_c = (levels, cap) if "levels" not in c or levels != spec["levels"] else (c["levels"], c["cap"])
        for det_i, det in enumerate(x):
            model, rho, edge = exact_point(c, det, lev0, max(cap_c, lev0), exact_method)
            for k, v in observables(model, rho).items():
                data.setdefault(f"exact_{k}_{ci}", np.full(points, np.nan))[det_i] = v
            data.setdefault(f"edge_{ci}", np.full(points, np.nan))[det_i] = edge
            data.setdefault(f"levels_{ci}", np.zeros(points, int))[det_i] = model.levels
            for method in spec["series"]:
                s = rate_series(model.hamiltonian(), model.collapse_operators(), star=(method == "rate*"))
                tag = method.replace("*", "star")
                for k, v in observables(model, s.density_matrix()).items():
                    data.setdefault(f"{tag}_{k}_{ci}", np.full(points, np.nan))[det_i] = v
                data.setdefault(f"{tag}_ok_{ci}", np.zeros(points, bool))[det_i] = s.info["status"] == "converged"
                data.setdefault(f"{tag}_rel_{ci}", np.full(points, np.nan))[det_i] = s.info["best_relative_residual"]
        e = data[f"edge_{ci}"]
        print(f"fig {fig} {c['label'] or 'curve'}: {points} points, n_c {data[f'levels_{ci}'].min()}-"
              f"{data[f'levels_{ci}'].max()}, {time.perf_counter() - t0:.1f} s, {int(np.sum(e > EDGE_TOL))} point(s) "
              f"with edge population > {EDGE_TOL:g} (largest {np.nanmax(e):.1e})", flush=True)
    data["ncurves"] = len(spec["curves"])
    return data


def plot(fig: int, spec: dict, data: dict, out: Path, paper: bool) -> None:
    plt, colors = pyplot()
    obs = [o for o in spec["obs"] if f"exact_{o}_0" in data]
    figure, axes = plt.subplots(1, len(obs), figsize=(max(8.0, 6.4 * len(obs)), 5.6), squeeze=False)
    x = data["x"]
    styles = {"rate": ("--", "(R)", "x", 1), "ratestar": (":", "(R)*", "+", 2)}
    single = int(data["ncurves"]) == 1
    for ax, o in zip(axes[0], obs):
        for ci in range(int(data["ncurves"])):
            col = "k" if single else colors[ci % len(colors)]
            lab = str(data["labels"][ci])
            ax.plot(x, data[f"exact_{o}_{ci}"], "-", color=col, lw=1.4, label=f"RWA {lab}".strip())
            mark_truncated(ax, x, data[f"exact_{o}_{ci}"], data[f"edge_{ci}"])
            for tag in ("rate", "ratestar"):
                key = f"{tag}_{o}_{ci}"
                if key not in data:
                    continue
                ls, name, marker, c_single = styles[tag]
                scol = colors[c_single] if single else col
                ok = data[f"{tag}_rel_{ci}"] <= USABLE
                y = np.where(ok, data[key], np.nan)
                ax.plot(x, y, ls, color=scol, lw=2.0, label=f"{name} {lab}".strip())
                ax.plot(x[~ok], data[key][~ok], marker, color=scol, ms=5, alpha=0.6,
                        label=(f"{name}: diverged (best partial sum)" if single or ci == 0 else None))
        ax.set_xlabel(XLABEL)
        ax.set_ylabel(OBS_LABEL[o])
        exact = np.concatenate([data[f"exact_{o}_{ci}"] for ci in range(int(data["ncurves"]))])
        lo, hi = np.nanmin(exact), np.nanmax(exact)
        pad = 0.25 * (hi - lo + 1e-3)
        ax.set_ylim(lo - pad, hi + pad)   # diverged partial sums may run off the scale
        ax.legend(ncol=3, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    lev = np.concatenate([data[f"levels_{ci}"] for ci in range(int(data["ncurves"]))])
    nc = f"{lev.min()}" if lev.min() == lev.max() else f"{lev.min()}-{lev.max()} per point"
    figure.suptitle(spec["title"] + "\n" + resolution_note(paper, f"{len(x)} points, $n_c$ = {nc}") +
                    "; series drawn where the relative residual\nof their best partial sum is $\\leq 10^{-4}$",
                    fontsize=10)
    save(figure, out)


def write(fig: int, spec: dict, data: dict, png: Path, paper: bool) -> Path:
    curves = []
    for ci, c in enumerate(spec["curves"][: int(data["ncurves"])]):
        params = {k: c[k] for k in ("deltas", "F", "gamma", "gamma_s")}
        x, lev, edge = data["x"], data[f"levels_{ci}"], data[f"edge_{ci}"]
        vals = {k[len("exact_"):-len(f"_{ci}")]: data[k] for k in data if k.startswith("exact_") and k.endswith(f"_{ci}")}
        curves.append(data_curve(c["label"] or "RWA", "rwa", x, vals, lev, edge, params))
        for tag in ("rate", "ratestar"):
            if f"{tag}_rel_{ci}" not in data:
                continue
            vals = {k[len(tag) + 1:-len(f"_{ci}")]: data[k] for k in data
                    if k.startswith(f"{tag}_") and k.endswith(f"_{ci}")}
            curves.append(data_curve(f"{'(R)' if tag == 'rate' else '(R)*'} {c['label']}".strip(), "series",
                                     x, vals, lev, edge, dict(params, usable_relative_residual=USABLE)))
    return write_data(png, str(fig), "fig_rate.py", paper,
                      {"title": spec["title"], "x_range": spec["xrange"], "x_unit": "lambda",
                       "series": list(spec["series"])}, curves)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fig", type=int, action="append", choices=sorted(FIGS), help="figure(s) to draw")
    ap.add_argument("--points", type=int, help="detuning points per curve")
    ap.add_argument("--levels", type=int, help="cavity levels n_c")
    ap.add_argument("--full", action="store_true", help="the paper's sizes (slow)")
    ap.add_argument("--exact-method", help="[solver] method of the exact curve (default: krylov; direct for "
                    "Fig. 4, whose weak damping stalls the Krylov solver)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "figures"))
    ap.add_argument("--replot", action="store_true", help="redraw from the saved .npz files")
    args = ap.parse_args(argv)
    require_matplotlib("fig_rate.py")

    import petsc4py
    petsc4py.init([sys.argv[0]])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for fig in args.fig or sorted(FIGS):
        spec = FIGS[fig]
        npz = out / f"fig{fig}_rate.npz"
        if args.replot:
            if not npz.is_file():
                print(f"fig_rate: {npz} not found: run without --replot first", file=sys.stderr)
                return 2
            data = dict(np.load(npz, allow_pickle=False))
            if "edge_0" not in data:
                print(f"fig_rate: {npz.name} predates the edge populations: run without --replot", file=sys.stderr)
                return 2
            for ci in range(int(data["ncurves"])):       # files written before n_c varied per point
                data.setdefault(f"levels_{ci}", np.full(len(data["x"]), int(data["levels"])))
        else:
            levels = args.levels or spec["full_levels" if args.full else "levels"]
            cap = max(levels, spec["full_cap" if args.full else "cap"])
            points = args.points or spec["full_points" if args.full else "points"]
            data = compute(fig, spec, levels, cap, points, args.exact_method or spec.get("exact", "krylov"))
            data["labels"] = np.array(data["labels"], dtype=str)
            data["paper"] = bool(args.full)
            np.savez(npz, **data)
        png = out / f"fig{fig}_rate.png"
        paper = bool(data.get("paper", False))
        plot(fig, spec, data, png, paper)
        write(fig, spec, data, png, paper)
        print(f"wrote {png}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
