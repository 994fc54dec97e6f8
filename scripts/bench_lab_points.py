#!/usr/bin/env python
"""Cost of one point of each lab-frame figure of scripts/fig_evolve.py at the paper's resolution.

Each case runs in its own process (one rank, as fig_evolve.py's points do; its peak resident
memory is that of the point alone) and prints one line: wall and CPU seconds (user + system:
on a loaded machine at low priority the wall time is inflated, the CPU time much less), peak
memory, and the projection to ``fig_evolve.py --paper`` (the case times the number of such
points or the ratio of periods); ``--json`` prints the list instead.  The projected cost of a
figure is the sum over its points, divided by the ranks.

    .venv/bin/python scripts/bench_lab_points.py                     # every case (tens of minutes)
    .venv/bin/python scripts/bench_lab_points.py --cases fig8_rwa,fig8_w10

Cases (fig_evolve.py's paper parameters; detuning (omega - omega_0)/lambda = 0 for the steady
states, 0.5 for Fig. A1's integration): ``fig12_rwa`` and ``fig12_w<omega_0>`` (n_c = 100,
omega_0 = 10, 30, 50, 100 with fig_evolve.harmonics_for(omega_0, paper=True) harmonics),
``fig8_rwa`` and ``fig8_w<omega_0>`` (n_c = 30, omega_0 = 10, 20, 30), ``figA1_w50`` and
``figA1_w100`` (n_c = 100, 100 periods of the integration), ``figA3_50`` (n_c = 60, 50 periods).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

# case -> (point of fig_evolve.compute_point, how many such points fig_evolve.py --paper has)
P12 = 61          # fig_evolve.py --paper: detunings of Figs. 1/2 (one RWA + one lab point per omega_0 each)
A1_PERIODS = 20000.0


def cases() -> dict:
    import numpy as np
    import fig_evolve as fe
    n8 = len(np.union1d(np.linspace(-1.5, 1.5, 61), np.linspace(-0.3, 0.5, 61)).round(12))
    out = {"fig12_rwa": (fe.steady_point(fe.FIG12_KEEP, 100, 10.0, [2.0], 1.0, 0.3, 0.0, 0.0), P12, 1.0)}
    for w0 in (10.0, 30.0, 50.0, 100.0):
        out[f"fig12_w{w0:g}"] = (fe.steady_point(fe.FIG12_KEEP, 100, w0, [2.0], 1.0, 0.3, 0.0, 0.0,
                                                 fe.harmonics_for(w0, True)), P12, 1.0)
    out["fig8_rwa"] = (fe.steady_point(("S2", "edge_population"), 30, 10.0, [1.0, -1.0], 0.25, 0.3, 3e-3, 0.0), n8, 1.0)
    for w0 in (10.0, 20.0, 30.0):
        out[f"fig8_w{w0:g}"] = (fe.steady_point(("S2", "edge_population"), 30, w0, [1.0, -1.0], 0.25, 0.3, 3e-3, 0.0,
                                                fe.harmonics_for(w0, True)), n8, 1.0)
    for w0 in (50.0, 100.0):    # the integration only (its two steady states: the fig12 cases)
        out[f"figA1_w{w0:g}"] = ({"kind": "bench_evolve", "args": dict(levels=100, omega0=w0, dw=0.5, periods=100.0)},
                                 3, A1_PERIODS / 100.0)
    out["figA3_50"] = ({"kind": "A3", "args": dict(levels=60, periods=50.0, harmonics=fe.harmonics_for(10.0, True))},
                       1, 1000.0 / 50.0)
    return out


def run_case(name: str) -> dict:
    import petsc4py
    petsc4py.init(sys.argv[:1])
    import fig_evolve as fe
    point, count, scale = cases()[name]
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu0, t0 = ru.ru_utime + ru.ru_stime, time.perf_counter()
    if point["kind"] == "bench_evolve":
        g = point["args"]
        ev = {"frame": "lab", "periods": g["periods"], "output_every_periods": 1.0}
        fe.run_evolve(fe.make_cfg(g["levels"], g["omega0"], [2.0], 1.0, 0.3, 0.0, g["dw"], evolve=ev))
    else:
        fe.compute_point(point)
    s = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ru.ru_utime + ru.ru_stime - cpu0
    return {"case": name, "seconds": round(s, 2), "cpu_seconds": round(cpu, 2), "peak_rss_mb": round(ru.ru_maxrss / 1024),
            "points_in_paper_run": count, "scale": scale, "projected_seconds": round(s * count * scale, 1),
            "projected_cpu_seconds": round(cpu * count * scale, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", help="comma-separated (default: all)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--case", help=argparse.SUPPRESS)           # the child process: one case
    a = ap.parse_args()
    if a.case:
        print(json.dumps(run_case(a.case)))
        return 0
    names = list(cases())
    todo = [c.strip() for c in a.cases.split(",")] if a.cases else names
    bad = [c for c in todo if c not in names]
    if bad:
        print(f"bench_lab_points.py: error: unknown case(s) {', '.join(bad)} (have {', '.join(names)})", file=sys.stderr)
        return 2
    rows = []
    for c in todo:
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        p = subprocess.run([sys.executable, __file__, "--case", c], capture_output=True, text=True, env=env)
        if p.returncode != 0:
            print(f"bench_lab_points.py: error: case {c} failed: {p.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            return 1
        row = json.loads(p.stdout.strip().splitlines()[-1])
        row["loadavg"] = open("/proc/loadavg").read().split()[0]
        rows.append(row)
        if not a.json:
            print(f"{c:12s} wall {row['seconds']:8.1f} s, cpu {row['cpu_seconds']:8.1f} s, peak {row['peak_rss_mb']:6d} MB;"
                  f" x {row['points_in_paper_run']} points x {row['scale']:g} = wall {row['projected_seconds'] / 3600:6.2f} h,"
                  f" cpu {row['projected_cpu_seconds'] / 3600:6.2f} h (load {row['loadavg']})", flush=True)
    if a.json:
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
