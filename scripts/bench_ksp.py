#!/usr/bin/env python
"""KSP study for the Sylvester-preconditioned steady state (issue 12): which Krylov method and
which precision of L0^-1 is fastest, on a ladder of Fig. 8, Fig. 11 and a hard resonant point.

    .venv/bin/python scripts/bench_ksp.py                 # the default ladder (~20 min on 2 quiet cores)
    .venv/bin/python scripts/bench_ksp.py --only fig11    # cases whose name contains "fig11"
    .venv/bin/python scripts/bench_ksp.py --ksp gmres,fbcgs --no-doc

Every solve is one ``pjcsync steady --json`` process on one rank (BLAS single-threaded), with
``solver.method = krylov``, the given ``-ksp_type`` and ``solver.preconditioner_precision``.
Reported: iterations, operator applications (about the number of L0^-1 applications), the
solve's seconds and peak memory.  A non-flexible KSP is run in double only (a single-precision
L0^-1 is not exactly linear; pjcsync refuses that combination).  The table is written to
docs/performance.md between the ``ksp:start``/``ksp:end`` markers; the fastest configuration per
case is marked.  The default of ``method = "auto"`` (pjcsync.choices.krylov_settings) rests on it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_steady import FIG8, FIG11, fmt_bytes, run_pjcsync, write_block  # noqa: E402

# the hard resonant point of issue 12: weak qubit damping at the cavity resonance
HARD = dict(decay=0.3, detunings=[1.2, -0.7], gamma_s=0.015, F=0.35, wr=0.0)

CASES = [
    ("fig8 res M=2 n_c=40", dict(FIG8, M=2, nc=40)),
    ("fig11 res M=2 n_c=50", dict(FIG11, M=2, nc=50)),
    ("fig11 res M=4 n_c=32", dict(FIG11, M=4, nc=32)),
    ("fig11 off M=4 n_c=32 (w-w0=2)", dict(FIG11, M=4, nc=32, wr=-2.0)),
    ("hard M=2 n_c=50", dict(HARD, M=2, nc=50)),
    ("fig11 res M=3 n_c=64", dict(FIG11, M=3, nc=64)),
]
# (label, -ksp_type, precision, extra options)
CONFIGS = [
    ("gmres(30) double", "gmres", "double", ("-ksp_gmres_restart", "30")),
    ("gmres(100) double", "gmres", "double", ("-ksp_gmres_restart", "100")),
    ("bcgs double", "bcgs", "double", ()),
    ("bcgsl(2) double", "bcgsl", "double", ()),
    ("tfqmr double", "tfqmr", "double", ()),
    ("fgmres(30) single", "fgmres", "single", ("-ksp_gmres_restart", "30")),
    ("fgmres(100) single", "fgmres", "single", ("-ksp_gmres_restart", "100")),
    ("fbcgs single", "fbcgs", "single", ()),
    ("fbcgsr single", "fbcgsr", "single", ()),
    ("gcr(30) single", "gcr", "single", ()),
    ("fbcgs double", "fbcgs", "double", ()),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="run only cases whose name contains this")
    ap.add_argument("--ksp", default="", help="comma-separated KSP labels' prefixes to run (default: all)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds allowed per solve")
    ap.add_argument("--no-doc", action="store_true", help="do not write docs/performance.md")
    args = ap.parse_args()
    wanted = [k for k in args.ksp.split(",") if k]
    header = "| case | N^2 | KSP, L0^-1 precision | iterations | applications | seconds | peak memory | |"
    print(header, flush=True)
    rows = []
    for name, p in CASES:
        if args.only and args.only not in name:
            continue
        results = []
        for label, ksp, prec, extra in CONFIGS:
            if wanted and not any(label.startswith(w) for w in wanted):
                continue
            res = run_pjcsync(p, "krylov", 1, args.timeout,
                              ("--set", f"solver.preconditioner_precision={prec}", "-ksp_type", ksp, *extra))
            results.append((label, res))
        ok = [r["seconds"] for _, r in results if r["status"] == "ok"]
        best = min(ok) if ok else None
        n2 = (p["nc"] * 2 ** p["M"]) ** 2
        for label, r in results:
            if r["status"] != "ok":
                line = f"| {name} | {n2:,} | {label} | {r['status']} | | | | |"
            else:
                mark = "**fastest**" if r["seconds"] == best else f"{r['seconds'] / best:.2f}x"
                line = (f"| {name} | {n2:,} | {label} | {r['iterations']} | {r.get('applications', '')} | "
                        f"{r['seconds']:.2f} | {fmt_bytes(r['peak'])} | {mark} |")
            print(line, flush=True)
            rows.append(line)
    if not args.no_doc and rows:
        load = open("/proc/loadavg").read().split()[:3]
        write_block("ksp", f"`scripts/bench_ksp.py {' '.join(sys.argv[1:]) or '(default)'}`, one rank, "
                    f"load average at the end {' '.join(load)}:\n\n" + "\n".join([header, "|" + "---|" * 8, *rows]))


if __name__ == "__main__":
    main()
