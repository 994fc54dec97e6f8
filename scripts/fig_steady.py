"""The paper's steady-state (RWA) figures redrawn from ``pjcsync sweep`` result files.

    .venv/bin/python scripts/fig_steady.py                  # all, reduced grids (minutes here),
                                                            # into results/figures/small/
    .venv/bin/python scripts/fig_steady.py --fig 7 --fig 8  # some of them
    .venv/bin/python scripts/fig_steady.py --paper          # the paper's grids and cavity sizes,
                                                            # into docs/figures/
    .venv/bin/python scripts/fig_steady.py --paper --fig 11 --reduced-curve 2 --reduced-curve 3
                                                            # M = 1, 2 at the paper's, M = 3, 4 reduced
    .venv/bin/python scripts/fig_steady.py --paper --fig 7 --levels-max 100
                                                            # the paper's grid, n_c at most 100
    .venv/bin/python scripts/fig_steady.py --replot         # redraw from the existing files
    .venv/bin/python scripts/fig_steady.py --ranks 4        # mpirun -n 4 ... --groups 4
    FIG_MPIRUN=srun .venv/bin/python scripts/fig_steady.py --paper --ranks 64   # a cluster (slurm/)

Figures 3, 5, 6, 7, 8, 9, 11, A2 and A4 (units of lambda; parameters in ``FIGS`` below, from
the paper's captions).  Every curve is one or more sweeps: a TOML file with a ``[sweep.drive]``
table is written to ``results/figures/`` and run with ``scripts/mpirun.sh -n RANKS pjcsync
sweep CONFIG --groups RANKS --resume`` (one rank per group), so an interrupted run continues
where it stopped and a finished sweep is not recomputed.  Figs. 8 and 9 share their sweeps.

Cavity size per point: each curve is one sweep with ``[cavity] levels = "auto"``
(:mod:`pjcsync.truncation`): every point starts at ``levels`` (``paper_levels`` with
``--paper``: the paper's 100, or 30/40 where it says so; the M = 3, 4 curves of Figs. 11 and A4
start at 30 and 40, where the paper's 100 would be N = 800 and 1600 and the edge criterion asks
for fewer: Fig. A4's M = 1, 2 from 30 levels agree with the paper's 100 to 1e-11 at the 61
points of the reduced grid, and its M = 3 needed at most 59) and its n_c grows until the edge
population (top levels, :func:`pjcsync.observables.edge_levels`) is at most 1e-6 or the curve's
cap (``cap``, ``paper_cap``) is reached.  A point still above 1e-6 at the cap is marked in the
plot and its legend (scripts/_plotting.py); the data file records every point's n_c.

Outputs: ``figN_steady.png`` and ``data/figN_steady.json`` (parameters, grid, n_c and edge
population per point, the plotted values) in ``docs/figures/`` with ``--paper``, else in
``results/figures/small/`` (scripts/_plotting.py's ``output_dir``; ``--out``: another folder);
a line per figure names them and reports the wall time of its sweeps and the features the
paper describes (``--check``: exit 1 if one is missing): the dip of <S^2> at resonance for
antisymmetric detunings and not for (2, 3) (Fig. 7, converged points), the multiphoton
oscillations of <S_x> between 0 and Delta (Fig. 3), <S^2> at resonance (Fig. 8), the two
synchronization peaks growing with the number of qubits (Fig. 11, converged points).
The same features are checked on the data files by tests/test_figures.py.

Methods: MUMPS (direct) for a curve whose cap keeps N = 2^M n_c <= 480 (M = 1) or 240 (M = 2);
else the solver's ``auto`` (krylov with its defaults: BiCGStab, the Sylvester preconditioner,
single-precision factors from N = 256, the coarse start, and MUMPS for a point whose Krylov solve
is slow when MUMPS fits: the direct switch; docs/performance.md).  Points where
that fails (BiCGStab diverges near resonance at strong damping, gamma = 2: Figs. 5, A4) are
solved again in a second sweep by MUMPS, all ranks on one point at a time, and those MUMPS cannot
fit in a third by flexible GMRES with up to ``RETRY_MAX_ITERATIONS`` iterations (``--no-retry``:
left out); points left out
are listed per curve in the data file (``not_solved``) and counted on the PNG.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from _plotting import (EDGE_TOL, OBS_LABEL, XLABEL, curve as data_curve, mark_truncated, output_dir,  # noqa: E402
                       pyplot, require_matplotlib, resolution_note, save, shown, write_data)

WORK = ROOT / "results" / "figures"
DIRECT_MAX_N = {1: 480, 2: 240}              # per M, above: krylov (MUMPS fill-in and memory grow fast)

F8 = dict(deltas=[1.0, -1.0], F=0.25, gamma=0.3, gamma_s=3e-3)
GA4 = 2.0                                    # Fig. A4: lambda = gamma / 2, so gamma = 2 lambda


def _c(label, deltas, F, gamma, gamma_s, levels, cap, paper_levels=100, paper_cap=None, **kw):
    return dict(label=label, deltas=list(deltas), F=F, gamma=gamma, gamma_s=gamma_s, levels=levels, cap=cap,
                paper_levels=paper_levels, paper_cap=paper_cap or max(paper_levels, cap), **kw)


# name -> title, x range (lambda), points (reduced / paper), observables, curves with their
# cavity sizes: start ``levels`` and ``cap`` (reduced), ``paper_levels`` and ``paper_cap``.
FIGS = {
    "3": dict(title=r"Fig. 3: one qubit, $\Delta=2$, $F=1$, $\gamma=\gamma_s=0.3$", x=(-2.0, 4.0),
              points=61, paper_points=301, obs=["Sx", "Sz"],
              curves=[_c("RWA", [2.0], 1.0, 0.3, 0.3, 40, 120, paper_cap=160)]),
    "5": dict(title=r"Fig. 5: $\Delta=(2,-1)$, $\gamma=\gamma_s=2$; $S=\sigma/2$, $\alpha=\langle a\rangle$",
              x=(-6.0, 6.0), points=49, paper_points=241, obs=["S1x", "S2x", "alpha_x", "alpha_y"],
              curves=[_c("$F=1$", [2.0, -1.0], 1.0, 2.0, 2.0, 20, 60),
                      _c("$F=5$", [2.0, -1.0], 5.0, 2.0, 2.0, 40, 60)]),
    "6": dict(title=r"Fig. 6: one qubit, $\Delta=2$, $F=1$", x=(-2.0, 4.0),
              points=61, paper_points=301, obs=["Sx"],
              curves=[_c(r"$\gamma=0.3$, $\gamma_s=0$", [2.0], 1.0, 0.3, 0.0, 40, 120, paper_cap=160),
                      _c(r"$\gamma=\gamma_s=0.3$", [2.0], 1.0, 0.3, 0.3, 40, 120, paper_cap=160),
                      _c(r"$\gamma=\gamma_s=2$", [2.0], 1.0, 2.0, 2.0, 20, 60)]),
    "7": dict(title=r"Fig. 7: two qubits, $F=1.5$, $\gamma=\gamma_s=0.2$", x=(-3.0, 3.0),
              points=41, paper_points=241, obs=["S2"],
              curves=[_c(r"$\Delta=(2,3)$", [2.0, 3.0], 1.5, 0.2, 0.2, 30, 60, paper_cap=225),
                      _c(r"$\Delta=(2,-2)$", [2.0, -2.0], 1.5, 0.2, 0.2, 30, 60, paper_cap=225)]),
    "8": dict(title=r"Fig. 8: $\Delta=\pm1$, $F=0.25$, $\gamma=0.3$, $\gamma_s=3\cdot10^{-3}$", x=(-2.0, 2.0),
              points=81, paper_points=401, obs=["S2", "singlet"],
              curves=[_c("RWA", **F8, levels=16, cap=40, paper_levels=30, paper_cap=45)]),
    "9": dict(title=r"Fig. 9: CHSH and negativity at Fig. 8's parameters", x=(-2.0, 2.0),
              points=81, paper_points=401, obs=["chsh", "negativity"],
              curves=[_c("RWA", **F8, levels=16, cap=40, paper_levels=30, paper_cap=45)], same_as="8"),
    "11": dict(title=r"Fig. 11: $\Delta_l=1,1.5,2,2.5$, $F=0.77$, $\gamma=\gamma_s=0.2$", x=(-2.0, 4.0),
               points=31, paper_points=241, obs=["Sx"],
               curves=[_c(f"$M={m}$", [1.0, 1.5, 2.0, 2.5][:m], 0.77, 0.2, 0.2, (30, 20, 16, 12)[m - 1],
                          (120, 130, 30, 15)[m - 1], paper_levels=(100, 100, 30, 30)[m - 1], paper_cap=150)
                       for m in (1, 2, 3, 4)]),
    "A2": dict(title=r"Fig. A2: $\Delta=\pm0.5$, $\gamma=0.025$, $\gamma_s=5\cdot10^{-4}$",
               x=(-0.1, 0.1), points=41, paper_points=201, obs=["chsh"],
               curves=[_c(rf"$\langle n\rangle = 4F^2/\gamma^2 = {n}$", [0.5, -0.5], 0.025 * np.sqrt(n) / 2,
                          0.025, 5e-4, 20, 40, paper_levels=40, paper_cap=60) for n in (1, 3, 10)]),
    "A4": dict(title=r"Fig. A4: $\lambda=\gamma/2$, $\Delta_l=(10,15,12.5,17.5)\gamma$, $F=2.2\gamma$, "
               r"$\gamma_s=\gamma$", x=(-5.0 * GA4, 25.0 * GA4), points=61, paper_points=301, obs=["Sx"],
               xscale=GA4, xlabel=r"$(\omega-\omega_0)/\gamma$",
               curves=[_c(f"$M={m}$", [d * GA4 for d in (10.0, 15.0, 12.5, 17.5)][:m], 2.2 * GA4, GA4, GA4,
                          (30, 30, 20, 14)[m - 1], (90, 60, 30, 15)[m - 1], paper_levels=(100, 100, 40, 40)[m - 1],
                          paper_cap=120) for m in (1, 2, 3, 4)]),
}


def method_for(curve: dict, cap: int) -> str:
    """MUMPS for one or two qubits when every cavity size the curve may reach (up to ``cap``) has
    N <= DIRECT_MAX_N[M], else the library's choice (``auto``: MUMPS up to N = 64, above that krylov
    with its default KSP, preconditioner precision and coarse start, docs/performance.md).
    With three qubits MUMPS is slower already at N = 240 (its fill grows with the qubits' terms):
    Fig. 11, M = 3, n_c = 30, omega - omega_0 = -0.6, nice 19 at load ~8: 114 s against 16 s
    for krylov (89 BiCGStab iterations).  With one qubit MUMPS is the faster up to N = 480:
    Fig. 3 at the paper's n_c = 100 (N = 200), 296 points by krylov in 913 s on 2 ranks, 5 by
    MUMPS in 2.7 s (load 5)."""
    m = len(curve["deltas"])
    return "direct" if m in DIRECT_MAX_N and cap * 2 ** m <= DIRECT_MAX_N[m] else "auto"


# the FGMRES retry's iteration limit: FGMRES stopped at the default 1000 while still converging at
# Fig. A4's M = 3, x = -0.2 (8.3e-10, rtol 1e-10) and M = 4 (2.6e-7) in session 11
RETRY_MAX_ITERATIONS = 3000


def config_text(curve: dict, levels: int, cap: int, detunings, ksp_type: str | None = None,
                method: str | None = None) -> str:
    """The sweep's TOML: ``[cavity] levels = "auto"`` from ``levels`` up to ``cap`` with the
    figures' tolerance EDGE_TOL; ``detunings`` is (start, stop, num) or a list of values.

    No warm start along the sweep: with ``levels = "auto"`` a warm start would begin at the
    neighbour's n_c, so every point after a resonance would keep its large cavity; cold, each
    point starts at ``levels`` and is reproduced by ``pjcsync steady`` on its own."""
    lines = _model_lines(curve, ['levels = "auto"', f"levels_start = {levels}", f"levels_max = {cap}",
                                 f"levels_tolerance = {EDGE_TOL!r}"], [], method or method_for(curve, cap))
    if ksp_type:        # the FGMRES retry, the last resort: more iterations than the default 1000
        lines += [f'ksp_type = "{ksp_type}"', f"max_iterations = {RETRY_MAX_ITERATIONS}"]
    lines += ["[sweep]", "warm_start = false", "[sweep.drive]"]
    if isinstance(detunings, tuple):
        lines.append(f"detuning = {{start = {detunings[0]!r}, stop = {detunings[1]!r}, num = {detunings[2]}}}")
    else:
        lines.append(f"detuning = {[float(d) for d in detunings]!r}")
    return "\n".join(lines) + "\n"


def point_config_text(curve: dict, levels: int, cap: int, x: float) -> str:
    """One point of a curve at a fixed n_c = ``levels`` (no sweep), solved with the method the
    curve's sweep uses up to ``cap``: the input of :func:`cost`."""
    return "\n".join(_model_lines(curve, [f"levels = {levels}"], [f"detuning = {float(x)!r}"],
                                  method_for(curve, cap))) + "\n"


def _model_lines(curve: dict, cavity: list[str], drive: list[str], method: str) -> list[str]:
    """The TOML lines of a curve's model and solver method, with ``cavity`` (the levels keys)
    and ``drive`` (e.g. a fixed detuning) lines added to those tables: shared by the sweep's and
    the single point's configuration."""
    return ["[cavity]", *cavity, f"decay = {curve['gamma']!r}",
            "[qubits]", f"detuning = {list(map(float, curve['deltas']))!r}", f"decay = {curve['gamma_s']!r}",
            "[drive]", f"amplitude = {float(curve['F'])!r}", *drive,
            "[solver]", f'method = "{method}"']


def cost(name: str, spec: dict, timeout: float, ranks: int) -> list[dict]:
    """Time per point at the paper's resolution, measured: every curve of figure ``name`` solved
    by ``pjcsync steady --json`` (one rank, the sweep's method) at its paper n_c at two points,
    the left end of the grid (off resonance) and the cavity resonance omega = omega_0, where the
    solvers work hardest.  A solve that exceeds ``timeout`` seconds is stopped and reported as a
    lower bound.  The projection of a curve is a range: the faster and the slower of its two
    solve times (without the interpreter's start, as inside a sweep) times the paper's number
    of points, divided by ``ranks`` (one point per rank): most points are off resonance, so the
    truth lies near the lower end for a narrow resonance.  It leaves out the refinement of
    points above the edge tolerance at the paper's n_c (``levels = "auto"`` then solves them
    again with more levels)."""
    WORK.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    rows = []
    for k, c in enumerate(spec["curves"]):
        times = []
        for x in (float(spec["x"][0]), 0.0):
            cfg = WORK / f"cost_fig{name}_{k}_x{x:+.4g}.toml"
            cfg.write_text(point_config_text(c, c["paper_levels"], c["paper_cap"], x))
            cmd = [sys.executable, "-m", "pjcsync", "steady", str(cfg), "--json", "--quiet",
                   "--set", "solver.checkpoint=none"]     # a stopped solve leaves no file behind
            t0 = time.perf_counter()
            try:
                p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                row = {"seconds": None, "stopped_after": timeout}
            else:
                wall = time.perf_counter() - t0
                if p.returncode != 0:
                    row = {"seconds": round(wall, 1), "error": (p.stderr.strip().splitlines() or ["?"])[-1][:200]}
                else:
                    out = json.loads(p.stdout)
                    sol = out["solver"]
                    row = {"seconds": round(wall, 2), "solve_seconds": round(sol["seconds"], 3),
                           "iterations": sol["iterations"], "ksp_type": sol.get("ksp_type"),
                           "peak_bytes": sol["peak_memory"]["max_rank_bytes"],
                           "edge_population": out["observables"]["edge_population"]}
            row.update(figure=name, curve=c["label"], x=x, levels=c["paper_levels"],
                       N=c["paper_levels"] * 2 ** len(c["deltas"]), load=os.getloadavg()[0])
            rows.append(row)
            times.append(row.get("solve_seconds") or row.get("seconds") or timeout)
            print(f"  cost {name} {c['label']} x = {x:+.3g}: {_cost_text(row)}", flush=True)
        rows[-1]["projected_curve_seconds"] = [round(t * spec["paper_points"] / ranks) for t in (min(times), max(times))]
    return rows


def _cost_text(row: dict) -> str:
    if row.get("seconds") is None:
        return f"stopped after {row['stopped_after']:.0f} s (N = {row['N']}, load {row['load']:.1f})"
    if "error" in row:
        return f"failed after {row['seconds']} s: {row['error']}"
    return (f"{row['seconds']} s ({row['iterations']} its, {row['ksp_type']}), N = {row['N']}, "
            f"peak {row['peak_bytes'] / 2**30:.2f} GiB, edge {row['edge_population']:.1e}, load {row['load']:.1f}")


def run_sweep(tag: str, text: str, ranks: int, replot: bool, npoints: int,
              one_group: bool = False) -> tuple[Path, float]:
    """Run (or resume) one sweep, one point per rank (``one_group``: every rank on each point in
    turn, so that a MUMPS factor is split over all of them); returns its results file and wall
    time.  The sweep's stderr (progress, and why a point failed) is appended to ``TAG.log``."""
    WORK.mkdir(parents=True, exist_ok=True)
    cfg, out = WORK / f"{tag}.toml", WORK / f"{tag}.h5"
    if not cfg.exists() or cfg.read_text() != text:
        cfg.write_text(text)
        for stale in (out, Path(f"{out}.parts")):               # a changed sweep starts over
            if stale.is_dir():
                shutil.rmtree(stale)
            elif stale.exists():
                stale.unlink()
    t0 = time.perf_counter()
    if not (replot and out.exists()):
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        cmd = [sys.executable, "-m", "pjcsync", "sweep", str(cfg), "--out", str(out), "--resume"]
        r = ranks if one_group else min(ranks, npoints)
        if r > 1:       # FIG_MPIRUN: the launcher, e.g. "srun" inside a SLURM allocation
            launcher = shlex.split(os.environ.get("FIG_MPIRUN", str(ROOT / "scripts" / "mpirun.sh")))
            cmd = [*launcher, "-n", str(r), *cmd, "--groups", str(1 if one_group else r)]
        p = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        with open(WORK / f"{tag}.log", "a") as log:       # the sweep's messages, failed points' included
            log.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} {shlex.join(cmd)}: exit {p.returncode}\n{p.stderr}")
        if p.returncode != 0 and "problem too large for this node" in p.stderr:    # e.g. MUMPS in a retry
            print(f"  {tag}: not run: {[l for l in p.stderr.splitlines() if 'too large' in l][0][:300]}", flush=True)
            return out, time.perf_counter() - t0
        if p.returncode != 0 and "point(s) failed" not in p.stderr:
            sys.exit(f"fig_steady.py: sweep {tag} failed:\n{p.stderr[-2000:]}")
        if p.returncode != 0:       # some points failed, the others are in the file (run_curve retries)
            print(f"  {tag}: {[l for l in p.stderr.splitlines() if 'point(s) failed' in l][-1][:300]}", flush=True)
        summary = [l for l in p.stderr.splitlines() if l.startswith("sweep:") and "computed" in l]
        print(f"  {tag}: {summary[-1] if summary else ''}", flush=True)
    return out, time.perf_counter() - t0


def _key(x: float) -> float:
    return round(float(x), 10)


def point_levels(p: dict) -> int:
    """The n_c a sweep point was solved at (``levels = "auto"``: the last one it tried)."""
    lv = p["solver"].get("levels")
    return int(lv["chosen"] if isinstance(lv, dict) else p["config"]["cavity"]["levels"])


def run_curve(name: str, k: int, curve: dict, spec: dict, paper: bool, ranks: int, replot: bool,
              retry: bool = True) -> tuple[dict, float, list]:
    """All points of one curve, one sweep with ``levels = "auto"``: each point's n_c grows from
    the curve's start until its edge population is at most EDGE_TOL, or the curve's cap is
    reached (then the point is drawn marked).  Points the solver failed at are solved again with
    MUMPS, all ranks on one point at a time, then those still failing (MUMPS refuses a point whose
    estimate does not fit) with flexible GMRES, unless ``retry`` is false (then the results of
    earlier retries of the same points are used where they exist); those still failing are left
    out of the curve.
    Returns ``{x: (levels, point)}``, seconds and the x of the points left out."""
    levels = curve["paper_levels"] if paper else curve["levels"]
    cap = curve["paper_cap"] if paper else curve["cap"]
    points = spec["paper_points"] if paper else spec["points"]
    base = f"fig{spec.get('same_as', name)}_{k}_{'paper' if paper else 'small'}"
    import pjcsync
    grid = (float(spec["x"][0]), float(spec["x"][1]), points)
    f, seconds = run_sweep(f"{base}_auto{levels}-{cap}", config_text(curve, levels, cap, grid), ranks, replot, points)
    best = {_key(p["parameters"]["drive.detuning"]): (point_levels(p), p)
            for p in (pjcsync.load(f, rho=False)["points"] if f.exists() else [])}
    failed = [x for x in np.linspace(*grid) if _key(x) not in best]
    if failed and method_for(curve, cap) != "direct":
        # the default BiCGStab can diverge where the Sylvester preconditioner is poor (strong
        # damping and drive: Figs. 5, A4 near resonance), and the solver's fallback, flexible
        # GMRES, can stall in its 1000 iterations (Fig. 3 at n_c = 100-150 near x = 0.3-0.5;
        # Fig. A4, M = 3, n_c = 59 near resonance at 1.9e-8) when the direct switch finds no room
        # for one MUMPS factor per rank: MUMPS over all ranks, then flexible GMRES for the rest
        # (``retry`` false: only the results of earlier retries of these same points are used)
        for how in ("direct", "fgmres"):
            if not failed:
                break
            tag2 = f"{base}_auto{levels}-{cap}_{how}"
            text2 = config_text(curve, levels, cap, failed, "fgmres" if how == "fgmres" else None,
                                "direct" if how == "direct" else None)
            if retry:
                f2, s2 = run_sweep(tag2, text2, ranks, replot, len(failed), one_group=how == "direct")
            else:
                cfg2 = WORK / f"{tag2}.toml"
                if not (cfg2.exists() and cfg2.read_text() == text2):
                    continue
                f2, s2 = WORK / f"{tag2}.h5", 0.0
            seconds += s2
            for p in (pjcsync.load(f2, rho=False)["points"] if f2.exists() else []):
                best[_key(p["parameters"]["drive.detuning"])] = (point_levels(p), p)
            failed = [x for x in failed if _key(x) not in best]
    if failed:
        print(f"  curve {curve['label']}: no solution at omega - omega_0 = {[round(x, 4) for x in failed]} "
              f"(not drawn)", flush=True)
    return best, seconds, [float(x) for x in failed]


def series(best: dict, obs: str) -> tuple:
    """x, values, n_c, edge population of one curve, in increasing x."""
    xs = sorted(best)
    pts = [best[x][1]["observables"] for x in xs]
    if obs in ("S1x", "S2x"):
        y = [0.5 * o["sigma"][int(obs[1]) - 1][0] for o in pts]
    elif obs in ("alpha_x", "alpha_y"):
        y = [o["a"][0 if obs == "alpha_x" else 1] for o in pts]
    else:
        y = [o[obs] for o in pts]
    return (np.array(xs), np.array(y, float), np.array([best[x][0] for x in xs]),
            np.array([o["edge_population"] for o in pts]))


def features(name: str, curves: list) -> list[tuple[str, bool]]:
    """The paper's qualitative features, measured on the curves: (text, present)."""
    out = []
    if name == "3":
        x, y, _, _ = series(curves[0], "Sx")
        inside = (x > 0.05) & (x < 1.95)
        yi = y[inside]
        extrema = int(np.sum(np.diff(np.sign(np.diff(yi))) != 0))
        out.append((f"<S_x> has {extrema} local extrema between 0 and Delta = 2 (multiphoton "
                    f"oscillations; >= 2 expected)", extrema >= 2))
    if name == "7":                           # converged points only (tests/test_figures.py: the same)
        x, y23, _, e23 = series(curves[0], "S2")
        _, yas, _, eas = series(curves[1], "S2")
        left = x < -2.0                       # far below resonance, away from the qubits' own resonances
        near = abs(x) <= 1.0
        a, b = yas[near & (eas <= EDGE_TOL)].min(), y23[near & (e23 <= EDGE_TOL)].min()
        out.append((f"<S^2> near resonance (|omega - omega_0| <= 1, converged points): min {a:.3f} for (2, -2) "
                    f"against {b:.3f} for (2, 3); below resonance {yas[left].mean():.3f} and {y23[left].mean():.3f}",
                    a < b - 0.15 and a < yas[left].mean() - 0.2 and y23[left].mean() > 1.95))
    if name == "8":
        x, y, _, _ = series(curves[0], "S2")
        out.append((f"<S^2> minimum {y.min():.3f} at omega - omega_0 = {x[y.argmin()]:+.3f} (paper: about 0.5 "
                    f"at resonance)", abs(x[y.argmin()]) < 0.15 and y.min() < 0.8))
    if name == "11":                          # converged points only, as tests/test_figures.py
        res, side = [], []
        for c in curves:
            x, y, _, e = series(c, "Sx")
            x, y = x[e <= EDGE_TOL], y[e <= EDGE_TOL]
            near = abs(x) <= 1.0
            if near.sum() >= 3:
                res.append(abs(y[near]).max())      # the sign of <S_x> is the phase convention's
            hi = (x > 1.0) & (x < 3.8)
            side.append((y[hi].max(), x[hi][y[hi].argmax()]))
        txt = ", ".join(f"M={m + 1}: {s:.2f} at {xs:.2f}" for m, (s, xs) in enumerate(side))
        out.append((f"second peak and its position: {txt}; largest |<S_x>| near resonance (|omega - omega_0| "
                    f"<= 1) where converged: {', '.join(f'{r:.2f}' for r in res)} (both grow with M)",
                    len(res) >= 3 and all(np.diff(res) > 0) and all(np.diff([s for s, _ in side]) > 0)))
    return out


def plot(name: str, spec: dict, curves: list, paper: bool, out: Path, missing: int = 0, reduced=()) -> Path:
    plt, colors = pyplot()
    obs = spec["obs"]
    panels = [["S1x", "S2x"], ["alpha_x", "alpha_y"]] if name == "5" else [[o] for o in obs]
    fig, axes = plt.subplots(len(panels), 1, figsize=(7.0, 2.9 * len(panels) + 0.9), sharex=True, squeeze=False)
    scale = spec.get("xscale", 1.0)
    levels_used = []
    for ax, group in zip(axes[:, 0], panels):
        for j, o in enumerate(group):
            for ci, (c, best) in enumerate(zip(spec["curves"], curves)):
                x, y, lev, edge = series(best, o)
                levels_used += list(lev)
                lab = c["label"] + (f", {OBS_LABEL.get(o, _ALPHA.get(o))}" if len(group) > 1 else "")
                ax.plot(x / scale, y, ("-", "--")[j], color=colors[ci % len(colors)], label=lab)
                mark_truncated(ax, x / scale, y, edge)
        ax.set_ylabel(OBS_LABEL.get(group[0]) if len(group) == 1 else
                      (r"$\langle S_{lx}\rangle$" if group[0] == "S1x" else r"$\alpha_{x,y}$"))
        if group == ["chsh"]:
            ax.axhline(2.0, color="0.4", lw=1.0, ls=":", label=r"local bound $B=2$")
        ax.legend(ncol=2 if len(spec["curves"]) * len(group) > 3 else 1)
    axes[-1, 0].set_xlabel(spec.get("xlabel", XLABEL))
    lo, hi = min(levels_used), max(levels_used)
    left_out = f"; {missing} points not solved, left out" if missing else ""
    if reduced:           # --reduced-curve: name the curves on the paper's grid and the others
        part = lambda cis: _grid_note(spec, [curves[i] for i in cis], [spec["curves"][i]["label"] for i in cis])  # noqa: E731
        full = [i for i in range(len(curves)) if i not in reduced]
        note = resolution_note(True, part(full)) + ";\nreduced: " + part(reduced) + left_out
    else:
        note = resolution_note(paper, f"{spec['paper_points' if paper else 'points']} points, $n_c$ = {lo}"
                               + (f"-{hi} per point" if hi > lo else "") + left_out)
    fig.suptitle(spec["title"] + "\n" + note, fontsize=11)
    png = out / f"fig{name}_steady.png"
    out.mkdir(parents=True, exist_ok=True)
    save(fig, png)
    return png


def _grid_note(spec: dict, curves: list, labels: list) -> str:
    """``"M=1, M=2: 241 points, $n_c$ = 100-150"`` for some curves of a mixed-resolution figure."""
    lev = [n_c for best in curves for n_c in series(best, spec["obs"][0])[2]]
    n = sorted({len(best) for best in curves})
    names = ", ".join(lab.strip("$") for lab in labels)
    return (f"${names}$: {'/'.join(map(str, n))} points, $n_c$ = {min(lev)}"
            + (f"-{max(lev)}" if max(lev) > min(lev) else ""))


_ALPHA = {"alpha_x": r"$\alpha_x=\mathrm{Re}\,\langle a\rangle$", "alpha_y": r"$\alpha_y=\mathrm{Im}\,\langle a\rangle$"}


def write(name: str, spec: dict, curves: list, paper: bool, png: Path, failed: list, reduced=()) -> Path:
    out = []
    for ci, (c, best, left_out) in enumerate(zip(spec["curves"], curves, failed)):
        values, x, lev, edge = {}, None, None, None
        for o in spec["obs"]:
            x, values[o], lev, edge = series(best, o)
        for o in ("Sx", "alpha_x", "alpha_y") + (("S1x", "S2") if len(c["deltas"]) == 2 else ()):
            values.setdefault(o, series(best, o)[1])
        values["sigma"] = [best[k][1]["observables"]["sigma"] for k in sorted(best)]   # per qubit <sigma_x,y,z>
        params = {k: c[k] for k in ("deltas", "F", "gamma", "gamma_s")}
        params["not_solved"] = left_out          # grid points where the solver failed: not drawn
        params["levels_max"] = c["paper_cap"] if paper and ci not in reduced else c["cap"]
        if reduced:                              # --reduced-curve: which curves are at the paper's
            params["resolution"] = "small" if ci in reduced else "paper"
        out.append(data_curve(c["label"], "rwa", x, values, lev, edge, params))
    return write_data(png, name, "fig_steady.py", paper,
                      {"title": spec["title"], "x_range": spec["x"], "x_unit": "lambda",
                       "points": spec["paper_points" if paper else "points"], "edge_tol": EDGE_TOL}, out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fig", action="append", choices=list(FIGS), help="only these figures (repeatable)")
    ap.add_argument("--paper", action="store_true", help="the paper's grids and cavity sizes (hours)")
    ap.add_argument("--ranks", type=int, default=2, help="MPI ranks (one group per rank)")
    ap.add_argument("--replot", action="store_true", help="do not run sweeps whose file exists")
    ap.add_argument("--no-retry", action="store_true", help="leave out the points where the default "
                    "Krylov method fails instead of solving them again (MUMPS, then flexible GMRES); "
                    "the results of earlier retries of the same points are still used")
    ap.add_argument("--check", action="store_true", help="exit 1 if a feature of the paper is missing")
    ap.add_argument("--out", help="output folder (default: docs/figures with --paper, else results/figures/small)")
    ap.add_argument("--reduced-curve", type=int, action="append", default=[], metavar="I",
                    help="with --paper and one --fig: curve I (0, 1, ..) on the reduced grid and n_c, the "
                    "others at the paper's (repeatable; e.g. Fig. 11's M = 3, 4: --reduced-curve 2 "
                    "--reduced-curve 3)")
    ap.add_argument("--cost", type=float, metavar="TIMEOUT", help="measure instead of drawing: the time of one "
                    "point per curve at the paper's n_c, off resonance and at resonance (each stopped after "
                    "TIMEOUT s), and the projected time of the figure at the paper's resolution on --ranks "
                    "ranks (results/figures/cost_paper.json)")
    ap.add_argument("--levels-max", type=int, metavar="N", help="with --paper: no curve's n_c above N (nor "
                    "below the paper's own): for a machine without the memory or the hours for the "
                    "figure's cap (Fig. 7: 225); the points it leaves above the edge tolerance are marked")
    args = ap.parse_args()
    if args.levels_max is not None and (not args.paper or args.levels_max < 2):
        print("fig_steady.py: error: --levels-max N needs --paper and N >= 2", file=sys.stderr)
        return 2
    if args.levels_max is not None:
        for spec in FIGS.values():
            for c in spec["curves"]:
                c["paper_cap"] = max(c["paper_levels"], min(c["paper_cap"], args.levels_max))
    reduced = sorted(set(args.reduced_curve))
    bad = [i for i in reduced if not args.paper or len(args.fig or []) != 1
           or not 0 <= i < len(FIGS[args.fig[0]]["curves"])]
    if bad:
        print(f"fig_steady.py: error: --reduced-curve {bad[0]} needs --paper, one --fig and a curve index of "
              "that figure", file=sys.stderr)
        return 2
    if args.cost:
        path = WORK / "cost_paper.json"
        rows = json.loads(path.read_text()) if path.exists() else []
        for name in args.fig or list(FIGS):
            new = cost(name, FIGS[name], args.cost, args.ranks)
            rows = [r for r in rows if r["figure"] != name] + new
            lo, hi = (sum(r["projected_curve_seconds"][i] for r in new if "projected_curve_seconds" in r)
                      for i in (0, 1))
            print(f"fig {name}: projected {lo / 3600:.2f}-{hi / 3600:.2f} h on {args.ranks} rank(s) at the paper's "
                  f"resolution (before refining points above {EDGE_TOL:g})", flush=True)
            path.write_text(json.dumps(rows, indent=1))
        return 0
    require_matplotlib("fig_steady.py")
    out = output_dir(args.paper, args.out)   # --paper --reduced-curve too: its data file names the reduced curves
    missing = []
    report = {}
    for name in args.fig or list(FIGS):
        spec = FIGS[name]
        print(f"fig {name}: {spec['title']}", flush=True)
        curves, seconds, failed = [], 0.0, []
        for k, c in enumerate(spec["curves"]):
            best, s, left_out = run_curve(name, k, c, spec, args.paper and k not in reduced, args.ranks,
                                          args.replot, not args.no_retry)
            curves.append(best)
            failed.append(left_out)
            seconds += s
        png = plot(name, spec, curves, args.paper, out, sum(map(len, failed)), reduced)
        data = write(name, spec, curves, args.paper, png, failed, reduced)
        feats = features(name, curves)
        report[name] = {"png": shown(png), "sweep_seconds": round(seconds, 1),
                        "features": [{"text": t, "present": bool(ok)} for t, ok in feats]}
        print(f"  -> {shown(png)}, {shown(data)}; sweeps {seconds:.1f} s", flush=True)
        for text, ok in feats:
            print(f"  feature {'OK     ' if ok else 'MISSING'} {text}", flush=True)
            if not ok:
                missing.append(f"fig {name}: {text}")
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"report_{'paper' if args.paper else 'small'}.json"   # figures run before stay in it
    path.write_text(json.dumps({**(json.loads(path.read_text()) if path.exists() else {}), **report}, indent=1))
    if missing and args.check:
        print("missing features:\n  " + "\n  ".join(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
