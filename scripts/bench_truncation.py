#!/usr/bin/env python
"""Adaptive truncation (``[cavity] levels = "auto"``): the n_c ladder chosen by the tail fit of
:func:`pjcsync.truncation.levels_needed` against the geometric fit used before session 10 (the
baseline, patched in for the same run), at Fig. 11's points (Delta_l = 1, 1.5, 2, F = 0.77,
gamma = gamma_s = 0.2) from n_c = 30 up to 150 with the figures' tolerance 1e-6, one rank.

    .venv/bin/python scripts/bench_truncation.py          # M = 1, 2 by MUMPS: about 5 min quiet
    .venv/bin/python scripts/bench_truncation.py --m3     # also M = 3 by krylov: about 30 min more

For every point and predictor it prints the n_c of each step with its seconds and edge
population, the total time, and "enough": the smallest n_c whose top-5 population in the final
(converged) state is at most the tolerance, a lower bound the ladder cannot know in advance.
Results go to results/bench_truncation.json.  Run it on a quiet machine: wall-clock seconds.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

POINTS = {1: (0.0, -0.3), 2: (0.0, 0.3, -0.5), 3: (0.0, -0.3)}    # M: detunings omega - omega_0
TOL, START, CAP = 1e-6, 30, 150


def geometric_levels_needed(levels: int, pops: np.ndarray, k: int, tolerance: float) -> float:
    """The baseline: the predictor before session 10 (a geometric tail fitted to the 2k levels
    under the top k, 20 % margin plus 2 levels)."""
    edge = float(pops[-k:].sum())
    if edge <= tolerance:
        return float(levels)
    window = pops[max(0, levels - 3 * k): levels - k]
    if window.size >= 3 and np.all(window > 0):
        slope = np.polyfit(np.arange(window.size), np.log(window), 1)[0]
        if slope < -1e-9:
            return math.ceil(levels + math.log(tolerance / edge) / slope * 1.2) + 2
    return math.inf


def run(m: int, x: float, predictor: str) -> dict:
    from mpi4py import MPI
    from pjcsync import truncation
    from pjcsync.parallel import release_petsc_garbage
    from pjcsync.model import Model
    deltas = (1.0, 1.5, 2.0)[:m]
    model = Model(levels=START, gamma=0.2, detunings=deltas, couplings=(1.0,) * m, gamma_s=(0.2,) * m,
                  amplitude=0.77, drive_detuning=x)
    solver = {"method": "direct" if m <= 2 else "krylov", "rtol": 1e-10}
    saved = truncation.levels_needed
    if predictor == "geometric":
        truncation.levels_needed = geometric_levels_needed
    try:
        state = truncation.adaptive_steady_state(model, solver, {"levels_start": START, "levels_max": CAP,
                                                                 "levels_tolerance": TOL}, comm=MPI.COMM_SELF)
    finally:
        truncation.levels_needed = saved
    pops = np.real(truncation.edge_population(state)[1])
    enough = next((nc for nc in range(10, pops.size + 1) if pops[nc - 5:nc].sum() <= TOL), None)
    lv = state.solver["levels"]
    state.rho.destroy()
    release_petsc_garbage(MPI.COMM_SELF)
    return {"M": m, "x": x, "predictor": predictor, "enough": enough, "converged": lv["converged"],
            "total_seconds": round(lv["total_seconds"], 2),
            "steps": [{"levels": s["levels"], "seconds": round(s["seconds"], 2),
                       "edge": s["edge_population"]} for s in lv["steps"]]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--m3", action="store_true", help="also the three-qubit points (krylov, slow)")
    a = ap.parse_args()
    rows = []
    print(f"{'M':>2} {'x':>5} {'predictor':>9}  steps: n_c (s, edge)  total s  enough", flush=True)
    for m, xs in POINTS.items():
        if m == 3 and not a.m3:
            continue
        for x in xs:
            for predictor in ("geometric", "tail"):
                r = run(m, x, predictor)
                rows.append(r)
                steps = ", ".join(f"{s['levels']} ({s['seconds']:.1f}, {s['edge']:.0e})" for s in r["steps"])
                print(f"{m:>2} {x:>5.2f} {predictor:>9}  {steps}  {r['total_seconds']:.1f}  {r['enough']}",
                      flush=True)
    pairs = [(g, t) for g, t in zip(rows[::2], rows[1::2])]
    tot = [sum(p[i]["total_seconds"] for p in pairs) for i in (0, 1)]
    print(f"total: geometric {tot[0]:.1f} s, tail {tot[1]:.1f} s, ratio {tot[1] / tot[0]:.2f}", flush=True)
    out = ROOT / "results" / "bench_truncation.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "total_seconds": {"geometric": tot[0], "tail": tot[1]},
                               "load": os.getloadavg()[0]}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
