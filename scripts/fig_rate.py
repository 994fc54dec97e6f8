"""Figures 3, 4, 10 and 12 of the paper: the rate-equation series (R), (R)* next to the exact
RWA steady state.

    .venv/bin/python scripts/fig_rate.py                 # all four, small grids (a few minutes)
    .venv/bin/python scripts/fig_rate.py --fig 3 --fig 12 --points 161 --levels 60
    .venv/bin/python scripts/fig_rate.py --full          # the paper's sizes (long; Fig. 12 to M = 4)
    .venv/bin/python scripts/fig_rate.py --replot        # redraw from docs/figures/fig*_rate.npz

For every parameter point the exact curve is ``pjcsync.steady.steady_state`` (``--exact-method``,
default ``krylov``; ``direct`` where that fails: MUMPS is not the default because this build's
MUMPS keeps about 10 MB per factorization) and the series come from ``pjcsync.rate.rate_series``;
both run in this single process.  Points where a series diverged (its best partial sum misses ``rtol``) are drawn
as faint crosses at the value of that best partial sum: the series is not an answer there.
The computed curves are saved next to the PNGs (``docs/figures/figN_rate.npz``).

Parameters (units of lambda, DESIGN.md section 8): Fig. 3: M = 1, Delta = 2, F = 1,
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

from _plotting import require_matplotlib, OBS_LABEL, XLABEL, pyplot, save  # noqa: E402  (scripts/_plotting.py)

FIGS = {
    3: dict(title="Fig. 3: RWA vs (R), (R)*  (F = 1, gamma = gamma_s = 0.3)", xrange=(-4.0, 4.0),
            levels=60, full_levels=100, points=81, full_points=321, series=("rate", "rate*"),
            curves=[dict(label="", deltas=[2.0], F=1.0, gamma=0.3, gamma_s=0.3)], obs=("Sx",)),
    4: dict(title="Fig. 4: RWA vs (R)  (gamma = gamma_s = 0.005)", xrange=(-4.0, 4.0),
            levels=30, full_levels=60, points=161, full_points=801, series=("rate",),
            curves=[dict(label="F = 0.1", deltas=[2.0], F=0.1, gamma=0.005, gamma_s=0.005),
                    dict(label="F = 0.2", deltas=[2.0], F=0.2, gamma=0.005, gamma_s=0.005)], obs=("Sx",)),
    10: dict(title="Fig. 10: RWA vs (R), (R)*  (Fig. 8: Delta = +-1, F = 0.25)", xrange=(-3.0, 3.0),
             levels=16, full_levels=30, points=81, full_points=241, series=("rate", "rate*"),
             curves=[dict(label="", deltas=[1.0, -1.0], F=0.25, gamma=0.3, gamma_s=3e-3)],
             obs=("S1x", "S2")),
    12: dict(title="Fig. 12: RWA vs (R)*  (Delta_l = 1, 1.5, 2, 2.5, F = 0.77, gamma = gamma_s = 0.2)",
             xrange=(-3.0, 5.0), levels=30, full_levels=100, points=61, full_points=241, series=("rate*",),
             curves=[dict(label=f"M = {m}", deltas=[1.0, 1.5, 2.0, 2.5][:m], F=0.77, gamma=0.2, gamma_s=0.2)
                     for m in (1, 2, 3, 4)], obs=("Sx",), small_max_qubits=3),
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


def compute(fig: int, spec: dict, levels: int, points: int, max_qubits: int, exact_method: str) -> dict:
    from mpi4py import MPI
    from pjcsync.model import Model
    from pjcsync.observables import EDGE_WARNING, edge_levels
    from pjcsync.parallel import PjcsyncError, RowLayout
    from pjcsync.rate import rate_series
    from pjcsync.steady import steady_state

    x = np.linspace(*spec["xrange"], points)
    data = {"x": x, "labels": [], "levels": levels}
    curves = [c for c in spec["curves"] if len(c["deltas"]) <= max_qubits]
    for ci, c in enumerate(curves):
        data["labels"].append(c["label"])
        t0 = time.perf_counter()
        for det_i, det in enumerate(x):
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
                    break
                except PjcsyncError as exc:
                    print(f"fig {fig} {c['label']} x = {det:g}: exact {method} failed: {str(exc)[:160]}",
                          file=sys.stderr)
            for k, v in observables(model, rho).items():
                data.setdefault(f"exact_{k}_{ci}", np.full(points, np.nan))[det_i] = v
            pops = np.real(np.diag(rho)).reshape(levels, -1).sum(axis=1)
            data.setdefault(f"edge_{ci}", np.full(points, np.nan))[det_i] = pops[-edge_levels(model):].sum()
            for method in spec["series"]:
                s = rate_series(model.hamiltonian(), model.collapse_operators(), star=(method == "rate*"))
                tag = method.replace("*", "star")
                for k, v in observables(model, s.density_matrix()).items():
                    data.setdefault(f"{tag}_{k}_{ci}", np.full(points, np.nan))[det_i] = v
                data.setdefault(f"{tag}_ok_{ci}", np.zeros(points, bool))[det_i] = s.info["status"] == "converged"
                data.setdefault(f"{tag}_rel_{ci}", np.full(points, np.nan))[det_i] = s.info["best_relative_residual"]
        edge = np.nanmax(data[f"edge_{ci}"])
        print(f"fig {fig} {c['label'] or 'curve'}: N = {model.N}, {points} points, "
              f"{time.perf_counter() - t0:.1f} s, largest cavity-edge population {edge:.1e}"
              + ("  (truncated: raise --levels)" if edge > EDGE_WARNING else ""), flush=True)
    data["ncurves"] = len(curves)
    return data


def plot(fig: int, spec: dict, data: dict, out: Path) -> None:
    plt, colors = pyplot()
    obs = [o for o in spec["obs"] if f"exact_{o}_0" in data]
    figure, axes = plt.subplots(1, len(obs), figsize=(6.0 * len(obs), 4.2), squeeze=False)
    x = data["x"]
    styles = {"rate": ("--", "(R)", "x", 1), "ratestar": (":", "(R)*", "+", 2)}
    single = int(data["ncurves"]) == 1
    for ax, o in zip(axes[0], obs):
        for ci in range(int(data["ncurves"])):
            col = "k" if single else colors[ci % len(colors)]
            lab = str(data["labels"][ci])
            ax.plot(x, data[f"exact_{o}_{ci}"], "-", color=col, lw=1.4, label=f"RWA {lab}".strip())
            for tag in ("rate", "ratestar"):
                key = f"{tag}_{o}_{ci}"
                if key not in data:
                    continue
                ls, name, marker, c_single = styles[tag]
                scol = colors[c_single] if single else col
                ok = data[f"{tag}_ok_{ci}"].astype(bool)
                y = np.where(ok, data[key], np.nan)
                ax.plot(x, y, ls, color=scol, lw=2.0, label=f"{name} {lab}".strip())
                ax.plot(x[~ok], data[key][~ok], marker, color=scol, ms=4, alpha=0.5,
                        label=f"{name} diverged" if single else None)
        ax.set_xlabel(XLABEL)
        ax.set_ylabel(OBS_LABEL[o])
        exact = np.concatenate([data[f"exact_{o}_{ci}"] for ci in range(int(data["ncurves"]))])
        lo, hi = np.nanmin(exact), np.nanmax(exact)
        pad = 0.25 * (hi - lo + 1e-3)
        ax.set_ylim(lo - pad, hi + pad)   # diverged partial sums may run off the scale
        ax.legend(fontsize=7, ncol=2)
    figure.suptitle(spec["title"] + f"\nn_c = {int(data['levels'])}; markers: best partial sum of a "
                    f"diverged series", fontsize=8)
    save(figure, out, dpi=130)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fig", type=int, action="append", choices=sorted(FIGS), help="figure(s) to draw")
    ap.add_argument("--points", type=int, help="detuning points per curve")
    ap.add_argument("--levels", type=int, help="cavity levels n_c")
    ap.add_argument("--full", action="store_true", help="the paper's sizes (slow)")
    ap.add_argument("--exact-method", default="krylov",
                    help="[solver] method of the exact curve (direct leaks MUMPS memory per point here)")
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
        else:
            levels = args.levels or spec["full_levels" if args.full else "levels"]
            points = args.points or spec["full_points" if args.full else "points"]
            max_q = 4 if args.full else spec.get("small_max_qubits", 4)
            data = compute(fig, spec, levels, points, max_q, args.exact_method)
            data["labels"] = np.array(data["labels"], dtype=str)
            np.savez(npz, **data)
        png = out / f"fig{fig}_rate.png"
        plot(fig, spec, data, png)
        print(f"wrote {png}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
