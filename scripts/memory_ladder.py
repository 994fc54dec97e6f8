"""Memory estimate against the measured peak, on a ladder of sizes (issue 14 item 7).

Every case runs ``pjcsync COMMAND`` through the command line in its own process tree (under
``scripts/mpirun.sh`` for 2 ranks); the measured peak is the largest resident set of any process
of the tree (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a fresh wrapper: the busiest rank,
interpreter and libraries included).  The estimate is :func:`pjcsync.memory.estimate_sizes` for
the same configuration, ranks and this node's available memory, as ``pjcsync info`` computes it.
GMRES allocates its basis as the iterations need it: the Krylov cases run with
``-ksp_gmres_preallocate`` so that the measured peak is that of a solve using its whole restart
(what the estimate counts; a solve converging in fewer iterations uses less).

    .venv/bin/python scripts/memory_ladder.py            # the full ladder (minutes)
    .venv/bin/python scripts/memory_ladder.py --quick    # the subset the default tests run
    .venv/bin/python scripts/memory_ladder.py --only krylov --json

Prints a Markdown table: case, N^2, ranks, estimate, measured, estimate / measured.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MPIRUN = str(ROOT / "scripts" / "mpirun.sh")

# well-damped parameters: every method converges in few iterations, so sizes up to N^2 = 1e6 take
# seconds; the memory of a method depends on the sizes, not on the parameters
EASY = """
[cavity]
levels = {levels}
decay = 1.0
frequency = 40.0
[qubits]
detuning = {detuning}
coupling = 1.0
decay = 0.5
[drive]
amplitude = 0.3
detuning = 1.0
[solver]
rtol = 1e-8
{solver}
[evolve]
t_end = 0.2
output_every = 0.1
progress = 0
{evolve}
[floquet]
{floquet}
[gap]
nev = 2
{gap}
"""

WRAPPER = ("import json, resource, subprocess, sys, time\n"
           "t = time.time(); p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
           "print(json.dumps({'rc': p.returncode, 'seconds': time.time() - t, 'stderr': p.stderr[-2000:],\n"
           "  'peak': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))\n")


def case(name, levels, command="steady", ranks=1, M=2, solver="", evolve="", floquet="", gap="",
         petsc=(), quick=False):
    detuning = [1.0, -1.0, 1.5, -1.5, 2.0][:M]
    return {"name": name, "levels": levels, "M": M, "command": command, "ranks": ranks,
            "text": EASY.format(levels=levels, detuning=detuning, solver=solver, evolve=evolve,
                                floquet=floquet, gap=gap),
            "petsc": list(petsc), "quick": quick}


PRE = ("-ksp_gmres_preallocate",)
GM = 'method = "krylov"\nksp_type = "gmres"\npreconditioner_precision = "double"'


def cases() -> list[dict]:
    out = []
    for lv in (25, 50, 100, 200):                     # M = 2: N^2 = 1e4, 4e4, 1.6e5, 6.4e5
        out.append(case(f"krylov gmres eigen double", lv, solver=f'{GM}\npreconditioner = "eigen"',
                        petsc=PRE, quick=lv == 25))
        out.append(case(f"krylov gmres schur double", lv, solver=f'{GM}\npreconditioner = "schur"',
                        petsc=PRE))
        out.append(case(f"krylov fgmres schur single", lv, solver='method = "krylov"\npreconditioner = "schur"\n'
                        'preconditioner_precision = "single"\nksp_type = "fgmres"', petsc=PRE))
        out.append(case(f"krylov gmres assembled", lv, solver=f'{GM}\noperator = "assembled"',
                        petsc=PRE, quick=lv == 50))
        out.append(case(f"krylov auto (fbcgs)", lv, solver='method = "krylov"'))
        out.append(case(f"sylvester fixed point", lv, solver='method = "sylvester"'))
        out.append(case(f"evolve rotating", lv, "evolve", quick=lv == 50))
        out.append(case(f"evolve lab + checkpoint", lv, "evolve",
                        evolve='frame = "lab"\ncheckpoint = "{tmp}/ck"'))
    out.append(case("krylov gmres", 250, solver=GM, petsc=PRE))         # N^2 = 1e6
    out.append(case("krylov auto (fbcgs)", 250, solver='method = "krylov"'))
    out.append(case("krylov gmres, 2 ranks", 100, ranks=2, solver=GM, petsc=PRE))
    out.append(case("krylov auto, 2 ranks", 200, ranks=2, solver='method = "krylov"', quick=True))
    for lv in (10, 25, 40, 60):                       # direct: MUMPS fill grows with N
        out.append(case("direct", lv, solver='method = "direct"'))
        out.append(case("gap (MUMPS)", lv, "gap"))
    out.append(case("direct, 2 ranks", 40, ranks=2, solver='method = "direct"'))
    for lv in (25, 50, 100):
        out.append(case("rate*", lv, "rate", solver='method = "rate*"'))
    for lv in (6, 10, 16):
        for K, meth in ((1, "direct"), (2, "direct"), (1, "gmres"), (3, "gmres"), (2, "sylvester")):
            out.append(case(f"floquet K={K} {meth}", lv, floquet=f"harmonics = {K}\nmethod = \"{meth}\"",
                            ))
    for lv in (4, 8):                                 # M = 4 (Fig. 11's qubits)
        out.append(case("krylov gmres M=4", lv, M=4, solver=GM, petsc=PRE))
        out.append(case("direct M=4", lv, M=4, solver='method = "direct"'))
        out.append(case("floquet K=3 M=4 gmres", lv, M=4, floquet='harmonics = 3\nmethod = "gmres"'))
    return out


def run_case(c: dict, tmp: Path) -> dict:
    from pjcsync.config import load_config
    from pjcsync.memory import estimate_sizes
    from pjcsync.model import Model
    from pjcsync.parallel import available_memory_bytes
    cfg_path = tmp / f"case{abs(hash((c['name'], c['levels'], c['M'], c['ranks'])))}.toml"
    cfg_path.write_text(c["text"].replace("{tmp}", str(tmp)))
    cfg = load_config(cfg_path)
    model = Model.from_config(cfg)
    avail = available_memory_bytes()
    est = estimate_sizes(model, cfg, c["ranks"], avail / c["ranks"], c["command"], c["ranks"], avail)
    cmd = [sys.executable, "-m", "pjcsync", c["command"], str(cfg_path), "--force", *c["petsc"]]
    if c["command"] == "rate":
        cmd.insert(5, "--star")
    if c["ranks"] > 1:
        cmd = [MPIRUN, "-n", str(c["ranks"]), *cmd]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], capture_output=True, text=True, env=env)
    res = json.loads(p.stdout)
    return {"case": c["name"], "levels": c["levels"], "M": c["M"], "N2": model.N ** 2, "ranks": c["ranks"],
            "command": c["command"], "method": est["method"], "estimate": est["bytes_per_rank"],
            "measured": res["peak"], "ratio": est["bytes_per_rank"] / res["peak"], "rc": res["rc"],
            "seconds": res["seconds"], "error": res["stderr"].strip().splitlines()[-1:] if res["rc"] else [],
            "parts": est["parts"]}


def table(rows: list[dict]) -> str:
    mb = 2.0 ** 20
    lines = ["| case | M | n_c | N^2 | ranks | method | estimate | measured peak | estimate / measured |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        flag = "" if r["rc"] == 0 else f" (exit {r['rc']})"
        lines.append(f"| {r['case']} | {r['M']} | {r['levels']} | {r['N2']:,} | {r['ranks']} | {r['method']} | "
                     f"{r['estimate'] / mb:.0f} MB | {r['measured'] / mb:.0f} MB{flag} | {r['ratio']:.2f} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only the subset the default tests run")
    ap.add_argument("--only", help="cases whose name contains this text")
    ap.add_argument("--max-n2", type=float, default=float("inf"), help="skip cases above this N^2")
    ap.add_argument("--json", action="store_true", help="one JSON object per case instead of the table")
    args = ap.parse_args()
    todo = [c for c in cases() if (not args.quick or c["quick"]) and (not args.only or args.only in c["name"])]
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for c in todo:
            if (c["levels"] * 2 ** c["M"]) ** 2 > args.max_n2:
                continue
            r = run_case(c, Path(d))
            rows.append(r)
            if args.json:
                print(json.dumps(r), flush=True)
            else:
                print(f"{r['case']:28s} n_c={r['levels']:4d} M={r['M']} P={r['ranks']} est {r['estimate'] / 2**20:8.0f} MB"
                      f"  measured {r['measured'] / 2**20:8.0f} MB  ratio {r['ratio']:.2f}  rc {r['rc']}  "
                      f"{r['seconds']:.0f} s {' '.join(r['error'])}", file=sys.stderr, flush=True)
    if not args.json:
        with open("/proc/loadavg") as f:
            load = f.read().split()[:3]
        print(f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {' '.join(load)}:\n")
        print(table(rows))
    return 0 if all(r["rc"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
