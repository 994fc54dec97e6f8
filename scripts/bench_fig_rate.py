#!/usr/bin/env python
"""Cost of one point of scripts/fig_rate.py at a fixed cavity size: the exact RWA steady state
and each rate series of the figure, timed separately (issue 15: the cost of ``fig_rate.py --full``).

    nice -n 19 .venv/bin/python scripts/bench_fig_rate.py                   # the default cases below
    nice -n 19 .venv/bin/python scripts/bench_fig_rate.py --case 12 1 0 100  # fig curve x n_c

Every case solves one point exactly as ``fig_rate.exact_point`` does (same solver settings, one
process, ``COMM_SELF``) but at the one ``n_c`` given (no raising), then sums each series of the
figure (``pjcsync.rate.rate_series``).  Printed per case: n_c, N, wall and CPU seconds of the exact
solve (and its method), seconds and best order of each series, the edge population and the peak
memory of the process so far (VmHWM).  State the machine load (/proc/loadavg, printed) with the
numbers: on a shared machine the wall times are upper bounds and the CPU times (this process
only, BLAS single-threaded) are what a dedicated core would take.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fig_rate  # noqa: E402

# (figure, curve index, x, n_c): fig_rate's full sizes, off and on resonance
CASES = [(3, 0, -3.0, 100), (3, 0, 0.0, 100), (3, 0, 0.0, 160),
         (4, 0, -3.0, 60), (4, 0, 0.0, 60), (4, 1, -3.0, 60), (4, 1, 0.0, 60), (4, 1, 0.0, 200),
         (10, 0, -2.0, 30), (10, 0, 0.0, 30), (10, 0, 0.0, 45),
         (12, 0, -2.0, 100), (12, 0, 0.0, 100), (12, 1, -2.0, 100), (12, 1, 0.0, 100),
         (12, 2, -2.0, 100), (12, 2, 0.0, 100)]


def vmhwm() -> str:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return f"{int(line.split()[1]) / 1024:.0f} MB"
    return "?"


def run_case(fig: int, ci: int, x: float, levels: int, exact_method: str | None) -> None:
    from pjcsync.rate import rate_series
    spec = fig_rate.FIGS[fig]
    c = spec["curves"][ci]
    method = exact_method or spec.get("exact", "krylov")
    t0, c0 = time.perf_counter(), time.process_time()
    model, rho, edge = fig_rate.exact_point(c, x, levels, levels, method)
    t_exact, c_exact = time.perf_counter() - t0, time.process_time() - c0
    parts = [f"fig {fig} curve {ci} ({c['label'] or 'RWA'}) x = {x:g}: n_c {model.levels}, N {model.N}, "
             f"exact {method} {t_exact:.1f} s (cpu {c_exact:.1f} s){' (FAILED)' if np.isnan(rho).any() else ''}, edge {edge:.1e}"]
    for s in spec["series"]:
        t0, c0 = time.perf_counter(), time.process_time()
        r = rate_series(model.hamiltonian(), model.collapse_operators(), star=(s == "rate*"))
        parts.append(f"{s} {time.perf_counter() - t0:.1f} s (cpu {time.process_time() - c0:.1f} s, order {r.info['best_order']}/"
                     f"{len(r.info['orders']) - 1}, rel {r.info['best_relative_residual']:.0e})")
    print(", ".join(parts) + f"; VmHWM {vmhwm()}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", nargs=4, action="append", metavar=("FIG", "CURVE", "X", "NC"),
                    help="one case: figure, curve index, detuning x (lambda), n_c (repeatable)")
    ap.add_argument("--exact-method", help="exact solver (default: fig_rate.py's for the figure)")
    args = ap.parse_args(argv)
    cases = [(int(f), int(c), float(x), int(n)) for f, c, x, n in args.case] if args.case else CASES
    for fig, ci, _, levels in cases:
        if fig not in fig_rate.FIGS or not 0 <= ci < len(fig_rate.FIGS[fig]["curves"]) or levels < 2:
            print(f"bench_fig_rate.py: no case fig {fig} curve {ci} n_c {levels}", file=sys.stderr)
            return 2
    import petsc4py
    petsc4py.init([sys.argv[0]])
    print(f"load: {Path('/proc/loadavg').read_text().strip()}", flush=True)
    for case in cases:
        run_case(*case, args.exact_method)
    print(f"load: {Path('/proc/loadavg').read_text().strip()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
