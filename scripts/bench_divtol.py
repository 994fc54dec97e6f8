#!/usr/bin/env python
"""The automatic BiCGStab's divergence tolerance (``pjcsync.choices.AUTO_DIVTOL``) against PETSc's
default (1e4), in the same run: Fig. 5's strong damping (gamma = gamma_s = 2) at F = 5, where
BiCGStab's residual spikes above 1e4 ||b|| within its first 10 iterations.

    .venv/bin/python scripts/bench_divtol.py                 # n_c = 60 (N = 240), 8 detunings, ~5 min
    .venv/bin/python scripts/bench_divtol.py --levels 40 --detunings -1 0 1

Each solve is ``pjcsync steady --json`` in its own process on one rank (``method = "krylov"``,
the automatic KSP, no checkpoint file), once with ``-ksp_divtol 1e4`` (the baseline: PETSc's
default, what pjcsync used before) and once as pjcsync runs it.  Printed: KSP that finished,
iterations, seconds, the fallback's reason, and the largest relative residual of the history
kept; a failed solve prints its error line.  Run it on a quiet machine for the times.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "1e4"


def solve(levels: int, x: float, divtol: str | None) -> dict:
    cmd = [sys.executable, "-m", "pjcsync", "steady", str(ROOT / "examples" / "fig5.toml"), "--json", "--quiet",
           "--set", "drive.amplitude=5.0", "--set", f"cavity.levels={levels}", "--set", f"drive.detuning={x}",
           "--set", 'solver.method="krylov"', "--set", "solver.checkpoint=none"]
    if divtol is not None:
        cmd += ["-ksp_divtol", divtol]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1"))
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["?"])[-1][:120]}
    s = json.loads(p.stdout)["solver"]
    return {"ksp": s["ksp_type"], "its": s["iterations"], "s": s["seconds"],
            "fallback": (s.get("ksp_fallback") or "").split(";")[0][:60],
            "peak": s["peak_residual"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", type=int, default=60)
    ap.add_argument("--detunings", type=float, nargs="+", default=[-2, -1, -0.5, 0, 0.5, 1, 2, 3])
    args = ap.parse_args()
    from pjcsync.choices import AUTO_DIVTOL
    print(f"Fig. 5, F = 5, n_c = {args.levels}; baseline -ksp_divtol {BASELINE} (PETSc's default) against "
          f"AUTO_DIVTOL = {AUTO_DIVTOL:.0e}; load {os.getloadavg()[0]:.1f}")
    print("| x | divtol | KSP | iterations | seconds | peak residual | fallback |\n|---|---|---|---|---|---|---|")
    for x in args.detunings:
        for label, divtol in ((BASELINE, BASELINE), (f"{AUTO_DIVTOL:.0e}", None)):
            r = solve(args.levels, x, divtol)
            if "error" in r:
                print(f"| {x:g} | {label} | failed | | | | {r['error']} |", flush=True)
            else:
                print(f"| {x:g} | {label} | {r['ksp']} | {r['its']} | {r['s']:.1f} | {r['peak']:.1e} | "
                      f"{r['fallback']} |", flush=True)


if __name__ == "__main__":
    main()
