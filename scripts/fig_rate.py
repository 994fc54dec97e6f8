"""Figures 3, 4, 10 and 12 of the paper: the rate-equation series (R), (R)* next to the exact
RWA steady state.

    .venv/bin/python scripts/fig_rate.py                 # all four, small grids (a few minutes)
                                                         # into results/figures/small/
    .venv/bin/python scripts/fig_rate.py --fig 3 --fig 12 --points 161 --levels 60
    .venv/bin/python scripts/fig_rate.py --full --ranks 2    # the paper's sizes (long; Fig. 12 to M = 4)
                                                         # into docs/figures/
    .venv/bin/python scripts/fig_rate.py --full --fig 12 --reduced-curve 2 --reduced-curve 3
                                                         # M = 1, 2 at the paper's n_c, M = 3, 4 reduced
    FIG_MPIRUN=srun .venv/bin/python scripts/fig_rate.py --full --ranks 64   # a cluster (SLURM)
    .venv/bin/python scripts/fig_rate.py --replot --full # redraw from docs/figures/fig*_rate.npz

For every parameter point the exact curve is ``pjcsync.steady.steady_state`` (``--exact-method``;
default ``krylov`` on the reduced grids, ``direct`` for Fig. 4, whose weak damping stalls the
Krylov solver, and with ``--full`` ``direct`` for Figs. 3, 10 and Fig. 12's M <= 2, where MUMPS
is several times cheaper than the Krylov solver at n_c >= 100 (scripts/bench_fig_rate.py); a
failed solve is retried with ``direct``; every MUMPS factor is freed after its point) and the
series come from ``pjcsync.rate.rate_series``.  n_c per point: the library's adaptive truncation
from the figure's (or curve's) ``levels`` until the edge population is at most 1e-6, up to its
``cap``; points still above are marked (scripts/_plotting.py).  A series is drawn as a curve
where the relative residual of its best partial sum is at most 1e-4 (there it matches the exact
curve to about 1e-4: the usable part of an asymptotic series, even where it does not converge to
``rtol``); elsewhere its best partial sum is a faint cross.

Points: every (curve, detuning) is one independent point (:func:`run_points`): with ``--ranks R``
(or under ``mpirun -n R``) each rank computes whole points alone, its PETSc objects on
``COMM_SELF``; each finished point is written at once to
``results/figures/rate/fig<N>_<paper|small>/`` (``--cache``) and a rerun computes only the
missing ones (resume; ``--fresh`` starts over, e.g. after a change to pjcsync).  Rank 0 writes
the outputs to ``docs/figures/`` with ``--full``, else to ``results/figures/small/`` (``--out``:
another folder; scripts/_plotting.py's ``output_dir``): the PNGs, the computed curves next to
them (``figN_rate.npz``, read by ``--replot``) and the common data file ``data/figN_rate.json``.

Parameters (units of lambda, from the paper's captions): Fig. 3: M = 1, Delta = 2, F = 1,
gamma = gamma_s = 0.3, <S_x>; Fig. 4: gamma = gamma_s = 0.005, F = 0.1 and 0.2, <S_x>, (R);
Fig. 10: Fig. 8's parameters (Delta = +-1, F = 0.25, gamma = 0.3, gamma_s = 3e-3), <S_1x> and
<S^2>; Fig. 12: M = 1..4, Delta = 1, 1.5, 2, 2.5, F = 0.77, gamma = gamma_s = 0.2, total <S_x>, (R)*.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CACHE = ROOT / "results" / "figures" / "rate"     # one JSON per computed point: fig<N>_<paper|small>/

from _plotting import (EDGE_TOL, OBS_LABEL, XLABEL, curve as data_curve, mark_truncated, output_dir,  # noqa: E402
                       paper_hint, pyplot, require_matplotlib, resolution_note, save, shown, write_data)
from _points import relaunch, run_points  # noqa: E402

USABLE = 1e-4   # a series' best partial sum is drawn as a curve where its relative residual is below this

FIGS = {
    3: dict(title=r"Fig. 3: RWA vs (R), (R)*; $\Delta=2$, $F=1$, $\gamma=\gamma_s=0.3$", xrange=(-4.0, 4.0),
            levels=60, full_levels=100, cap=120, full_cap=160, points=81, full_points=321, series=("rate", "rate*"),
            full_exact="direct",
            curves=[dict(label="", deltas=[2.0], F=1.0, gamma=0.3, gamma_s=0.3)], obs=("Sx",)),
    4: dict(title=r"Fig. 4: RWA vs (R); $\Delta=2$, $\gamma=\gamma_s=0.005$", xrange=(-4.0, 4.0),
            levels=30, full_levels=60, cap=150, full_cap=200, points=161, full_points=801, series=("rate",),
            exact="direct",   # gamma = 0.005: Krylov stalls at n_c >= 60 near resonance; direct (M = 1) is cheap
            curves=[dict(label="$F=0.1$", deltas=[2.0], F=0.1, gamma=0.005, gamma_s=0.005),
                    dict(label="$F=0.2$", deltas=[2.0], F=0.2, gamma=0.005, gamma_s=0.005)], obs=("Sx",)),
    10: dict(title=r"Fig. 10: RWA vs (R), (R)*; Fig. 8: $\Delta=\pm1$, $F=0.25$, $\gamma=0.3$, $\gamma_s=3\cdot10^{-3}$", xrange=(-3.0, 3.0),
             levels=16, full_levels=30, cap=40, full_cap=45, points=81, full_points=241, series=("rate", "rate*"),
             full_exact="direct",
             curves=[dict(label="", deltas=[1.0, -1.0], F=0.25, gamma=0.3, gamma_s=3e-3)],
             obs=("S1x", "S2")),
    12: dict(title=r"Fig. 12: RWA vs (R)*; $\Delta_l=1,1.5,2,2.5$, $F=0.77$, $\gamma=\gamma_s=0.2$",
             xrange=(-3.0, 5.0), levels=30, full_levels=100, cap=60, full_cap=150, points=61, full_points=241,
             series=("rate*",),
             curves=[dict(label=f"$M={m}$", deltas=[1.0, 1.5, 2.0, 2.5][:m], F=0.77, gamma=0.2, gamma_s=0.2,
                          levels=(30, 30, 16, 12)[m - 1], cap=(120, 60, 30, 15)[m - 1],
                          full_levels=(100, 100, 30, 30)[m - 1],
                          full_exact=("direct", "direct", "krylov", "krylov")[m - 1]) for m in (1, 2, 3, 4)],
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
    """The exact RWA steady state at one detuning, its n_c chosen by the library's adaptive
    truncation (:func:`pjcsync.truncation.adaptive_steady_state`, ``[cavity] levels = "auto"``):
    from ``levels`` up until the edge population is at most EDGE_TOL or n_c = ``cap``.  Returns
    (model, dense rho, edge population); NaN where ``exact_method`` and then MUMPS both failed."""
    from mpi4py import MPI
    from pjcsync.model import Model
    from pjcsync.parallel import PjcsyncError, release_petsc_garbage
    from pjcsync.truncation import adaptive_steady_state
    model = Model(levels=levels, gamma=c["gamma"], detunings=tuple(c["deltas"]),
                  couplings=(1.0,) * len(c["deltas"]), gamma_s=(c["gamma_s"],) * len(c["deltas"]),
                  amplitude=c["F"], drive_detuning=float(det))
    cavity = {"levels_start": levels, "levels_max": cap, "levels_tolerance": EDGE_TOL}
    for method in dict.fromkeys((exact_method, "direct")):   # direct: the fallback
        try:
            state = adaptive_steady_state(model, {"method": method, "rtol": 1e-10, "check_tolerance": 1e-7,
                                                  "max_iterations": 1000}, cavity, comm=MPI.COMM_SELF)
        except PjcsyncError as exc:
            print(f"exact {method} failed at x = {det:g} (n_c from {levels}): {str(exc)[:160]}", file=sys.stderr)
            continue
        rho = state.rows().copy()
        state.rho.destroy()
        release_petsc_garbage(MPI.COMM_SELF)   # free each MUMPS factor
        # (on COMM_SELF: a COMM_WORLD cleanup is collective, and ranks solve different points)
        return state.model, rho, float(state.solver["levels"]["steps"][-1]["edge_population"])
    return model, np.full((model.N, model.N), np.nan), float("nan")


def compute_point(p: dict) -> dict:
    """One point of a curve (a JSON-able dict, see :func:`points`): the exact steady state with its
    n_c and edge population, and each series' observables, status and best relative residual."""
    from pjcsync.rate import rate_series
    model, rho, edge = exact_point(p, p["x"], p["levels"], p["cap"], p["exact"])
    out = {"levels": model.levels, "edge": edge, "exact": observables(model, rho), "series": {}}
    for method in p["series"]:
        s = rate_series(model.hamiltonian(), model.collapse_operators(), star=(method == "rate*"))
        out["series"][method.replace("*", "star")] = {
            "obs": observables(model, s.density_matrix()), "ok": s.info["status"] == "converged",
            "rel": s.info["best_relative_residual"]}
    return out


def curve_sizes(spec: dict, c: dict, levels: int, cap: int, reduced: bool) -> tuple[int, int]:
    """(start n_c, cap) of one curve: the curve's own reduced sizes (Fig. 12) where the figure runs
    at its reduced ``levels`` or the curve is ``reduced`` (``--reduced-curve``), else the figure's;
    at the paper's sizes a curve's own ``full_levels`` replaces the figure's start (Fig. 12's
    M = 3, 4 start at 30 levels, not the paper's 100, N = 800 and 1600: the edge population
    raises n_c only where it is needed; ``--levels`` overrides both)."""
    if "levels" in c and (reduced or levels == spec["levels"]):
        return c["levels"], max(c["cap"], c["levels"])
    if reduced:
        return spec["levels"], max(spec["cap"], spec["levels"])
    if levels == spec["full_levels"]:
        levels = c.get("full_levels", levels)
    return levels, max(cap, levels)


def exact_method(spec: dict, c: dict, full: bool, reduced: bool, override: str | None) -> str:
    """The exact solver of a curve: ``--exact-method``, else with ``--full`` (curves not reduced)
    the curve's or figure's ``full_exact``, else the figure's ``exact`` (default krylov)."""
    if override:
        return override
    if full and not reduced and (c.get("full_exact") or spec.get("full_exact")):
        return c.get("full_exact") or spec["full_exact"]
    return spec.get("exact", "krylov")


def points(fig: int, spec: dict, x: np.ndarray, levels: int, cap: int, full: bool, reduced: set,
           override: str | None) -> list[dict]:
    """Every (curve, detuning) of the figure as a point of :func:`run_points`: all that fixes its
    result (the point's cache key)."""
    out = []
    for ci, c in enumerate(spec["curves"]):
        lev0, cap_c = curve_sizes(spec, c, levels, cap, ci in reduced)
        method = exact_method(spec, c, full, ci in reduced, override)
        out += [{"fig": fig, "curve": ci, "deltas": list(c["deltas"]), "F": c["F"], "gamma": c["gamma"],
                 "gamma_s": c["gamma_s"], "x": float(det), "levels": lev0, "cap": cap_c, "exact": method,
                 "series": list(spec["series"])} for det in x]
    return out


def point_cost(p: dict) -> float:
    """Relative cost of a point for dealing the points to the ranks: N^3 at its start n_c
    (N = n_c 2^M; the dense series and the sparse factorizations grow about so)."""
    return float(p["levels"] * 2 ** len(p["deltas"])) ** 3


def compute(fig: int, spec: dict, levels: int, cap: int, npoints: int, full: bool, reduced: set,
            override: str | None, cache: Path) -> dict | None:
    """Every point of the figure over the MPI ranks (:func:`run_points`, cached in ``cache``);
    rank 0 returns the arrays saved in figN_rate.npz, the other ranks None."""
    from mpi4py import MPI
    x = np.linspace(*spec["xrange"], npoints)
    pts = points(fig, spec, x, levels, cap, full, reduced, override)
    rank0 = MPI.COMM_WORLD.Get_rank() == 0
    t0 = time.perf_counter()
    values = run_points(pts, compute_point, cache, prog="fig_rate.py", cost=point_cost,
                        log=lambda m: print(m, file=sys.stderr, flush=True))
    if not rank0:
        return None
    data = {"x": x, "labels": [], "levels": levels}
    for ci, c in enumerate(spec["curves"]):
        data["labels"].append(c["label"])
        for det_i, v in enumerate(values[ci * npoints:(ci + 1) * npoints]):
            for k, val in v["exact"].items():
                data.setdefault(f"exact_{k}_{ci}", np.full(npoints, np.nan))[det_i] = val
            data.setdefault(f"edge_{ci}", np.full(npoints, np.nan))[det_i] = v["edge"]
            data.setdefault(f"levels_{ci}", np.zeros(npoints, int))[det_i] = v["levels"]
            for method in spec["series"]:
                tag = method.replace("*", "star")
                sv = v["series"][tag]
                for k, val in sv["obs"].items():
                    data.setdefault(f"{tag}_{k}_{ci}", np.full(npoints, np.nan))[det_i] = val
                data.setdefault(f"{tag}_ok_{ci}", np.zeros(npoints, bool))[det_i] = sv["ok"]
                data.setdefault(f"{tag}_rel_{ci}", np.full(npoints, np.nan))[det_i] = sv["rel"]
        e = data[f"edge_{ci}"]
        print(f"fig {fig} {c['label'] or 'curve'}: {npoints} points, n_c {data[f'levels_{ci}'].min()}-"
              f"{data[f'levels_{ci}'].max()}, {int(np.sum(e > EDGE_TOL))} point(s) "
              f"with edge population > {EDGE_TOL:g} (largest {np.nanmax(e):.1e})", flush=True)
    print(f"fig {fig}: {len(pts)} points in {time.perf_counter() - t0:.1f} s on "
          f"{MPI.COMM_WORLD.Get_size()} rank(s)", flush=True)
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
    figure.suptitle(spec["title"] + "\n" + note(spec, data, paper) +
                    "; series drawn where the relative residual\nof their best partial sum is $\\leq 10^{-4}$",
                    fontsize=10)
    save(figure, out)


def _nc(lev: np.ndarray, per_point: str = " per point") -> str:
    return f"{lev.min()}" if lev.min() == lev.max() else f"{lev.min()}-{lev.max()}{per_point}"


def note(spec: dict, data: dict, paper: bool) -> str:
    """The resolution line of the title; with ``--reduced-curve`` it names the curves at the
    paper's n_c and those at the reduced one (all on the paper's detuning grid)."""
    n = int(data["ncurves"])
    lev = lambda cis: np.concatenate([data[f"levels_{ci}"] for ci in cis])   # noqa: E731
    reduced = [int(ci) for ci in data.get("reduced_curves", [])]
    if not paper or not reduced:
        return resolution_note(paper, f"{len(data['x'])} points, $n_c$ = {_nc(lev(range(n)))}")
    full = [ci for ci in range(n) if ci not in reduced]
    name = lambda cis: ", ".join(str(data["labels"][ci]).strip("$") for ci in cis)   # noqa: E731
    return (resolution_note(True, f"{len(data['x'])} points; ${name(full)}$: $n_c$ = {_nc(lev(full), '')}") +
            f";\nreduced $n_c$ for ${name(reduced)}$: {_nc(lev(reduced), '')}")


def write(fig: int, spec: dict, data: dict, png: Path, paper: bool) -> Path:
    curves = []
    for ci, c in enumerate(spec["curves"][: int(data["ncurves"])]):
        params = {k: c[k] for k in ("deltas", "F", "gamma", "gamma_s")}
        reduced = [int(i) for i in data.get("reduced_curves", [])]
        if reduced:          # --reduced-curve: which curves are at the paper's n_c
            params["resolution"] = "small" if ci in reduced else "paper"
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
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fig", type=int, action="append", choices=sorted(FIGS), help="figure(s) to draw")
    ap.add_argument("--points", type=int, help="detuning points per curve")
    ap.add_argument("--levels", type=int, help="cavity levels n_c (start)")
    ap.add_argument("--cap", type=int, help="largest n_c a point is raised to (default: the figure's)")
    ap.add_argument("--full", action="store_true", help="the paper's sizes (slow)")
    ap.add_argument("--reduced-curve", type=int, action="append", default=[], metavar="I",
                    help="with --full: curve I (0-based) at its reduced cavity sizes, on the paper's grid "
                    "(repeatable; the title says which curves)")
    ap.add_argument("--exact-method", help="[solver] method of the exact curve (default: krylov; direct for "
                    "Fig. 4, whose weak damping stalls the Krylov solver, and with --full for Figs. 3, 10, 12 M <= 2)")
    ap.add_argument("--ranks", type=int, default=1, help="MPI ranks, one point per rank at a time "
                    "(re-runs this script under FIG_MPIRUN or scripts/mpirun.sh)")
    ap.add_argument("--cache", help=f"folder of the computed points (default: {CACHE.relative_to(ROOT)})")
    ap.add_argument("--fresh", action="store_true", help="delete the cached points of these figures first")
    ap.add_argument("--out", help="output folder (default: docs/figures with --full, else results/figures/small)")
    ap.add_argument("--replot", action="store_true", help="redraw from the .npz files of the output folder")
    args = ap.parse_args(argv)
    for name in ("points", "levels", "cap", "ranks"):
        v = getattr(args, name)
        if v is not None and v < (2 if name == "levels" else 1):
            print(f"fig_rate.py: error: --{name} must be at least {2 if name == 'levels' else 1}, not {v}",
                  file=sys.stderr)
            return 2
    figs = args.fig or sorted(FIGS)
    bad = [i for i in args.reduced_curve if not args.full or len(figs) != 1 or not 0 <= i < len(FIGS[figs[0]]["curves"])]
    if bad:
        print(f"fig_rate.py: error: --reduced-curve {bad[0]} needs --full, one --fig and a curve index of that "
              f"figure", file=sys.stderr)
        return 2
    require_matplotlib("fig_rate.py")
    if args.ranks > 1 and not args.replot:
        return relaunch(Path(__file__), args.ranks, argv)

    import petsc4py
    petsc4py.init([sys.argv[0]])
    from mpi4py import MPI
    rank0 = MPI.COMM_WORLD.Get_rank() == 0
    out = output_dir(args.full, args.out)
    cache_root = Path(args.cache) if args.cache else CACHE
    if rank0:
        out.mkdir(parents=True, exist_ok=True)
    for fig in figs:
        spec = FIGS[fig]
        npz = out / f"fig{fig}_rate.npz"
        if args.replot:
            if not rank0:
                continue
            if not npz.is_file():
                print(f"fig_rate: {shown(npz)} not found: run without --replot first"
                      + paper_hint(args.full, args.out, "--replot --full"),
                      file=sys.stderr)
                return 2
            data = dict(np.load(npz, allow_pickle=False))
            if "edge_0" not in data:
                print(f"fig_rate: {npz.name} predates the edge populations: run without --replot", file=sys.stderr)
                return 2
            for ci in range(int(data["ncurves"])):       # files written before n_c varied per point
                data.setdefault(f"levels_{ci}", np.full(len(data["x"]), int(data["levels"])))
        else:
            levels = args.levels or spec["full_levels" if args.full else "levels"]
            cap = max(levels, args.cap or spec["full_cap" if args.full else "cap"])
            if args.cap:       # --cap: every curve's largest n_c
                spec = dict(spec, curves=[dict(c, cap=args.cap) for c in spec["curves"]])
            npoints = args.points or spec["full_points" if args.full else "points"]
            cache = cache_root / f"fig{fig}_{'paper' if args.full else 'small'}"
            if args.fresh and rank0 and cache.exists():
                shutil.rmtree(cache)
            MPI.COMM_WORLD.Barrier()
            data = compute(fig, spec, levels, cap, npoints, args.full, set(args.reduced_curve),
                           args.exact_method, cache)
            if not rank0:
                continue
            data["labels"] = np.array(data["labels"], dtype=str)
            data["paper"] = bool(args.full)
            if args.reduced_curve:
                data["reduced_curves"] = np.array(sorted(set(args.reduced_curve)), int)
            np.savez(npz, **data)
        png = out / f"fig{fig}_rate.png"
        paper = bool(data.get("paper", False))
        plot(fig, spec, data, png, paper)
        path = write(fig, spec, data, png, paper)
        print(f"wrote {shown(png)}, {shown(path)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
