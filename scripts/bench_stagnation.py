#!/usr/bin/env python
"""The stagnation test far from rtol (``pjcsync.steady.STAGNATION_PROGRESS``) against the test
without it, in the same run: Fig. A4 with three qubits (gamma = gamma_s = 2, lambda = gamma / 2),
where BiCGStab can stall three or more decades below its first residual but far above rtol.

    .venv/bin/python scripts/bench_stagnation.py                       # 3 detunings, ~8 min
    .venv/bin/python scripts/bench_stagnation.py --detunings -2.4

Each point is solved as the figure's sweep solves it (the configuration is scripts/fig_steady.py's
``config_text`` of the curve at the paper's resolution: ``levels = "auto"`` from 40 up to 120
levels, ``method = "auto"``), by ``pjcsync steady --json`` in its own process
on one rank, twice: with ``STAGNATION_PROGRESS = 0`` (the baseline: the test only near rtol or
after a spike, as before) and as pjcsync runs it.  Printed per run: how the point was finished
(the KSP, or MUMPS after the direct switch), the iterations of the last KSP (BiCGStab's, or
the fallback FGMRES's; the fallback note gives BiCGStab's), seconds, peak memory, the fallback
note, and the largest difference in <n> and sigma from the baseline's state.  Run it on a
quiet machine for the times.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# pjcsync's command line with the far-from-rtol stagnation test switched off (the baseline)
BASELINE = ("import sys, pjcsync.steady as s; s.STAGNATION_PROGRESS = 0.0; from pjcsync.cli import main; "
            "sys.exit(main(sys.argv[1:]))")


def solve(cfg: Path, x: float, baseline: bool) -> dict:
    head = [sys.executable, "-c", BASELINE] if baseline else [sys.executable, "-m", "pjcsync"]
    cmd = head + ["steady", str(cfg), "--json", "--quiet", "--set", f"drive.detuning={x}",
                  "--set", "solver.checkpoint=none"]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1"))
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["?"])[-1][:120]}
    d = json.loads(p.stdout)
    s = d["solver"]
    how = "MUMPS (direct switch)" if s["method"] == "direct" else s.get("ksp_type", s["method"])
    return {"how": how, "its": s["krylov_iterations"] if s["method"] == "direct" else s["iterations"],
            "s": s["seconds"], "gb": s["peak_memory"]["max_rank_bytes"] / 1e9,
            "stagnation": (s.get("ksp_fallback") or "").split(";")[0][:90], "obs": d["observables"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detunings", type=float, nargs="+", default=[-2.4, -2.8, 2.0],
                    help="omega - omega_0 in units of lambda (gamma = 2 lambda)")
    ap.add_argument("--out", default="results/bench_stagnation.toml", help="the configuration written")
    args = ap.parse_args()
    from pjcsync.steady import STAGNATION_PROGRESS
    sys.path.insert(0, str(ROOT / "scripts"))
    from fig_steady import FIGS, config_text
    spec = FIGS["A4"]
    curve = spec["curves"][2]                           # M = 3, the sweep's own configuration
    cfg = ROOT / args.out
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(config_text(curve, curve["paper_levels"], curve["paper_cap"], (*spec["x"], spec["paper_points"])))
    print(f"Fig. A4, M = 3, levels auto from 40; baseline STAGNATION_PROGRESS = 0 against {STAGNATION_PROGRESS:g}, "
          f"one rank per solve, load {os.getloadavg()[0]:.1f} at start")
    print("| x (lambda) | run | finished by | iterations of the last KSP | seconds | peak GB | fallback | "
          "max diff from baseline |\n|---|---|---|---|---|---|---|---|")
    for x in args.detunings:
        base = solve(cfg, x, True)
        new = solve(cfg, x, False)
        for label, r in (("baseline", base), ("pjcsync", new)):
            if "error" in r:
                print(f"| {x:g} | {label} | failed: {r['error']} | | | | | |", flush=True)
                continue
            diff = ""
            if label == "pjcsync" and "error" not in base:
                a, b = base["obs"], r["obs"]
                diff = f"{max([abs(a['n'] - b['n'])] + [abs(u - v) for p, q in zip(a['sigma'], b['sigma']) for u, v in zip(p, q)]):.1e}"
            print(f"| {x:g} | {label} | {r['how']} | {r['its']} | {r['s']:.1f} | {r['gb']:.2f} | {r['stagnation']} | {diff} |",
                  flush=True)
    print(f"load {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
