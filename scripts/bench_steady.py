#!/usr/bin/env python
"""Steady-state benchmark: pjcsync's methods against QuTiP, in the same run (issue 8).

    .venv/bin/python scripts/bench_steady.py              # default set, about 15 minutes (busy machine)
    .venv/bin/python scripts/bench_steady.py --paper      # + ladder n_c = 32, 64 and Fig. 11 at n_c = 100
                                                          #   (M = 1..4; M = 4 on 2 ranks, ~16 min alone)
    .venv/bin/python scripts/bench_steady.py --big        # + Fig. 8's parameters with M = 5, n_c = 100
    .venv/bin/python scripts/bench_steady.py --scaling    # only: 1 and 2 ranks, Fig. 11, M = 4, n_c = 100
    .venv/bin/python scripts/bench_steady.py --only fig8  # cases whose name contains "fig8"
    .venv/bin/python scripts/bench_steady.py --targets    # only issue 12's targets (~1 h on 2 cores)
    .venv/bin/python scripts/bench_steady.py --fixed-point  # only: the paper's fixed point, plain
                                                          #   against Anderson mixing (and krylov)

Every solve runs in its own process (``pjcsync steady --json`` under ``scripts/mpirun.sh`` for
several ranks; a small QuTiP driver for ``qutip.steadystate`` with ``method="direct"`` (scipy's
sparse LU) and ``"iterative-gmres"``), so wall time and peak memory (VmHWM, summed over ranks)
are those of that solve alone.  A run that exceeds ``--timeout`` is reported as such.  The table
is printed and written to docs/performance.md between the ``bench:start``/``bench:end`` markers.
BLAS runs single-threaded (OMP_NUM_THREADS=1) so that 1 and 2 ranks compare honestly.
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
PY = sys.executable
DOC = ROOT / "docs" / "performance.md"

FIG11 = dict(decay=0.2, detunings=[1.0, 1.5, 2.0, 2.5, 3.0], gamma_s=0.2, F=0.77, wr=0.0)
FIG8 = dict(decay=0.3, detunings=[1.0, -1.0, 0.5, -0.5, 0.25], gamma_s=3e-3, F=0.25, wr=0.0)

QUTIP_DRIVER = r"""
import json, sys, time, numpy as np
import qutip as qt
p = json.loads(sys.argv[1]); method = sys.argv[2]
nc, M = p["nc"], p["M"]
a = qt.tensor(qt.destroy(nc), *[qt.qeye(2)] * M)
H = p["wr"] * a.dag() * a + p["F"] * (a + a.dag())
c_ops = [np.sqrt(p["decay"]) * a]
for l in range(M):
    ops = [qt.qeye(nc)] + [qt.qeye(2)] * M
    ops[l + 1] = qt.sigmam(); sm = qt.tensor(*ops)
    ops[l + 1] = qt.sigmaz(); sz = qt.tensor(*ops)
    H += a * sm.dag() + a.dag() * sm + 0.5 * (p["detunings"][l] + p["wr"]) * sz
    c_ops.append(np.sqrt(p["gamma_s"]) * sm)
t0 = time.perf_counter()
kw = {"tol": 1e-10, "atol": 1e-14, "maxiter": 5000} if method.startswith("iterative") else {}
rho = qt.steadystate(H, c_ops, method=method, **kw)
dt = time.perf_counter() - t0
L = qt.liouvillian(H, c_ops)
res = np.linalg.norm((L * qt.operator_to_vector(rho)).full())
hwm = [int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
n = qt.expect(a.dag() * a, rho)
print(json.dumps({"seconds": dt, "peak": hwm, "residual": float(res), "n": float(n)}))
"""


def env():
    e = dict(os.environ)
    e["OMP_NUM_THREADS"] = "1"
    e["OPENBLAS_NUM_THREADS"] = "1"
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def config_text(p: dict) -> str:
    det = ", ".join(str(d) for d in p["detunings"][:p["M"]])
    return (f"[cavity]\nlevels = {p['nc']}\ndecay = {p['decay']}\n[qubits]\ndetuning = [{det}]\n"
            f"coupling = 1.0\ndecay = {p['gamma_s']}\n[drive]\namplitude = {p['F']}\n"
            f"detuning = {-p['wr']}\n")


def run_pjcsync(p: dict, method: str, ranks: int, timeout: float, extra=()) -> dict:
    """One solve of the model ``p`` by ``method`` in its own process (see :func:`run_file`)."""
    path = _temp_config(p)
    try:
        r = run_file(path, ranks, timeout, ("--set", f"solver.method={method}",
                                            "--set", "solver.max_iterations=3000", *extra))
    finally:
        os.unlink(path)
    if r["status"] != "ok":
        return r
    s = r["solver"]
    pre = s.get("preconditioner", {})
    return {"status": "ok", "seconds": s["seconds"], "wall": r["wall"], "iterations": s["iterations"],
            "applications": s.get("operator_applications", ""),
            "solve_seconds": s.get("solve_seconds", s["seconds"]), "residual": s["residual"],
            "peak": s["peak_memory"]["total_bytes"], "n": r["observables"]["n"],
            "note": (f"{pre.get('kind')} cond_V={pre['cond_V']:.1e}" if pre.get("cond_V") else pre.get("kind", ""))
            + (f" setup {pre['setup_seconds']:.1f}s" if pre else "")}


def run_qutip(p: dict, method: str, timeout: float) -> dict:
    try:
        out = subprocess.run([PY, "-c", QUTIP_DRIVER, json.dumps(p), method], capture_output=True,
                             text=True, timeout=timeout, env=env())
    except subprocess.TimeoutExpired:
        return {"status": f"timeout > {timeout:.0f} s"}
    if out.returncode != 0:
        return {"status": f"failed: {out.stderr.strip().splitlines()[-1][:120] if out.stderr.strip() else out.returncode}"}
    d = json.loads(out.stdout.strip().splitlines()[-1])
    return {"status": "ok", "seconds": d["seconds"], "iterations": "", "residual": d["residual"],
            "peak": d["peak"], "n": d["n"], "note": ""}


SCALING_DRIVER = r"""
import json, sys, time, tomllib
import petsc4py; petsc4py.init(sys.argv[4:])
import numpy as np
from petsc4py import PETSc
from pjcsync.config import validate
from pjcsync.model import Model
from pjcsync.parallel import RowLayout, gather_peak_memory
from pjcsync import steady, superoperator as so
from pjcsync.sylvester import SylvesterInverse
cfg = validate(tomllib.loads(sys.argv[1])); precision = sys.argv[2]; its = int(sys.argv[3])
model = Model.from_config(cfg)
lay = RowLayout.create(model.N)
H, c_ops = model.hamiltonian(), model.collapse_operators()
t0 = time.perf_counter()
L = so.petsc_matrix(so.local_rows(H, c_ops, lay), lay)
t_assembly = time.perf_counter() - t0
t0 = time.perf_counter()
sylv = SylvesterInverse(H, c_ops, lay, kind="schur", precision=precision)
t_setup = time.perf_counter() - t0
x0, _ = steady.initial_rows(model, {}, lay)
C = np.array(x0)
lay.comm.Barrier(); t0 = time.perf_counter()
for _ in range(3):
    sylv.apply(C)
lay.comm.Barrier(); t_apply = (time.perf_counter() - t0) / 3
PETSc.Options().setValue("ksp_converged_maxits", "")   # stop after `its` iterations, no error
rho, info = steady.solve_krylov(model, lay, L, sylv, x0, 1e-14, its)
peak = gather_peak_memory(lay.comm)
if lay.comm.rank == 0:
    print(json.dumps({"assembly": t_assembly, "setup": t_setup, "apply": t_apply,
                      "per_iteration": info["solve_seconds"] / max(info["iterations"], 1),
                      "iterations": info["iterations"], "ksp": info["ksp_type"],
                      "peak": peak["total_bytes"]}))
"""


def run_scaling(p: dict, ranks: int, precision: str, its: int, timeout: float) -> dict:
    """Fixed work (``its`` Krylov iterations) at 1 or more ranks: per-iteration time, L0^-1 set-up
    and application, assembly, peak memory.  The iteration count of a solve does not depend on
    the rank count, so the ratio of per-iteration times is the speed-up of the whole solve."""
    cmd = [str(ROOT / "scripts" / "mpirun.sh"), "-n", str(ranks), PY, "-c", SCALING_DRIVER,
           config_text(p), precision, str(its)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env())
    except subprocess.TimeoutExpired:
        return {"status": f"timeout > {timeout:.0f} s"}
    if out.returncode != 0:
        return {"status": f"exit {out.returncode}: {out.stderr.strip()[-160:]}"}
    return {"status": "ok", **json.loads(out.stdout.strip().splitlines()[-1])}


def scaling_table(its: int, timeout: float) -> list[str]:
    """Fig. 11, M = 4, n_c = 100 at omega = omega_0 (N^2 = 2.56 million): 1 and 2 ranks."""
    p = {**FIG11, "M": 4, "nc": 100}
    lines = ["| precision | ranks | assembly s | L0^-1 set-up s | L0^-1 apply s | s / iteration | "
             "speed-up | KSP | peak memory |", "|" + "---|" * 9]
    for precision in ("double", "single"):
        base = None
        for ranks in (1, 2):
            r = run_scaling(p, ranks, precision, its, timeout)
            if r["status"] != "ok":
                lines.append(f"| {precision} | {ranks} | {r['status']} | | | | | | |")
                continue
            base = base or r["per_iteration"]
            lines.append(f"| {precision} | {ranks} | {r['assembly']:.2f} | {r['setup']:.2f} | {r['apply']:.3f} | "
                         f"{r['per_iteration']:.3f} | {base / r['per_iteration']:.2f}x | {r['ksp']} "
                         f"({r['iterations']} its) | {fmt_bytes(r['peak'])} |")
            print(lines[-1], flush=True)
    return lines


FAST = ["--set", 'solver.preconditioner_precision="single"', "-ksp_type", "fbcgs"]   # hard points

# the resonant point of issue 12 where the plain fixed point (eq. 14) needs more than 1000 steps
ISSUE12 = dict(decay=0.3, detunings=[1.2, -0.7], gamma_s=0.015, F=0.35, wr=0.0)


def fixed_point_table(timeout: float) -> list[str]:
    """The paper's fixed point (``method = "sylvester"``) plain (``acceleration = "none"``) and
    with Anderson mixing (the default), and GMRES (``krylov``) for reference, one rank each, on
    Fig. 8 at resonance (examples/fig8.toml), Fig. 11 with M = 2 at resonance and the issue-12
    point.  Iteration limit 3000 (the stagnation test projects against it)."""
    cases = [("fig8 resonance nc=20", {**FIG8, "M": 2, "nc": 20}),
             ("fig11 M=2 nc=16", {**FIG11, "M": 2, "nc": 16}),
             ("issue-12 point nc=20", {**ISSUE12, "M": 2, "nc": 20}),
             ("issue-12 point nc=50", {**ISSUE12, "M": 2, "nc": 50})]
    runs = [("sylvester, plain (eq. 14)", "sylvester", ["--set", "solver.acceleration=none"]),
            ("sylvester, anderson 10", "sylvester", []),
            ("krylov (gmres)", "krylov", [])]
    lines = ["| case | N^2 | method | seconds | iterations | s / iteration | <n> |", "|" + "---|" * 7]
    for name, p in cases:
        n2 = (p["nc"] * 2 ** p["M"]) ** 2
        for label, method, extra in runs:
            r = run_pjcsync(p, method, 1, timeout, ["--set", "solver.progress=0", "--set",
                                                    "solver.coarse_start=false", *extra])
            if r["status"] != "ok":
                lines.append(f"| {name} | {n2:,} | {label} | {r['status']} | | | |")
            else:
                lines.append(f"| {name} | {n2:,} | {label} | {r['seconds']:.2f} | {r['iterations']} | "
                             f"{r['solve_seconds'] / max(r['iterations'], 1):.4f} | {r['n']:.8f} |")
            print(lines[-1], flush=True)
    return lines


def cases(args):
    """(name, parameters, methods, rank counts, run QuTiP too, extra pjcsync arguments).  The
    default set stays near 15 minutes on a busy 2-core machine: QuTiP's LU at M = 4, n_c = 16
    alone reaches the timeout.  The n_c = 100 cases use the single-precision L0^-1 with flexible
    BiCGStab, the fastest measured setting there (docs/performance.md)."""
    out = []
    for M in (1, 2, 3, 4):
        methods = ["krylov", "sylvester", "direct"] if M < 4 else ["krylov", "sylvester"]
        out.append((f"fig11 M={M} nc=16", {**FIG11, "M": M, "nc": 16}, methods, [1], True, []))
    out.append(("fig8 resonance nc=20", {**FIG8, "M": 2, "nc": 20}, ["krylov", "sylvester", "direct"], [1], True, []))
    out.append(("fig8 resonance nc=40", {**FIG8, "M": 2, "nc": 40}, ["krylov"], [1], True, []))
    if args.paper:
        out.append(("fig11 M=4 nc=100 omega-omega0=-3", {**FIG11, "M": 4, "nc": 100, "wr": 3.0}, ["krylov"], [2],
                    False, FAST))
        for nc in (32, 64):
            out.append((f"ladder M=4 nc={nc}", {**FIG11, "M": 4, "nc": nc}, ["krylov"], [1], False, FAST))
        for M in (1, 2, 3):
            out.append((f"fig11 M={M} nc=100", {**FIG11, "M": M, "nc": 100}, ["krylov"], [1], M <= 2, FAST))
        out.append(("fig11 M=4 nc=100", {**FIG11, "M": 4, "nc": 100}, ["krylov"], [2], False, FAST))
    if args.big:
        out.append(("fig8 M=5 nc=100", {**FIG8, "M": 5, "nc": 100}, ["krylov"], [2], False, FAST))
    if args.only:
        out = [c for c in out if args.only in c[0]]
    return out


HARD = dict(decay=0.3, detunings=[1.2, -0.7], gamma_s=0.015, F=0.35, wr=0.0)   # issue 12's hard point


def run_file(path, ranks: int, timeout: float, extra=()) -> dict:
    """``pjcsync steady PATH --json EXTRA`` on ``ranks`` ranks: the parsed output, or a status."""
    cmd = [PY, "-m", "pjcsync", "steady", str(path), "--json", "--force", *extra]
    if ranks > 1:
        cmd = [str(ROOT / "scripts" / "mpirun.sh"), "-n", str(ranks), *cmd]
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env())
    except subprocess.TimeoutExpired:
        return {"status": f"timeout > {timeout:.0f} s", "wall": timeout}
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        err = [l for l in out.stderr.splitlines() if l.startswith("pjcsync")]
        return {"status": f"exit {out.returncode}: {(err[-1] if err else out.stderr[-200:])[:200]}", "wall": wall}
    return {"status": "ok", "wall": wall, **json.loads(out.stdout)}


def _temp_config(p: dict) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(config_text(p))
        return f.name


def _obs_diff(a: dict, b: dict) -> float:
    """Largest difference of the scalar observables (n, S2, singlet, negativity, Sz, chsh)."""
    keys = [k for k in ("n", "Sx", "Sy", "Sz", "S2", "singlet", "negativity", "chsh") if k in a and k in b]
    return max(abs(a[k] - b[k]) for k in keys)


def _target_line(name: str, r: dict, target: str, extra: str = "") -> str:
    if r["status"] != "ok":
        return f"| {name} | {r['status']} (wall {r['wall']:.0f} s) | | | | {target} | {extra} |"
    s = r["solver"]
    lv = s.get("levels")
    levels = (f"auto: {lv['chosen']} (tried {', '.join(str(x['levels']) for x in lv['steps'])})" if lv
              else str(r["config"]["cavity"]["levels"]))
    coarse = ", ".join(f"{c['levels']}: {c['iterations']} its" for c in s.get("coarse_start", []))
    return (f"| {name} | {s['seconds']:.1f} s (wall {r['wall']:.1f} s) | {s['iterations']} | {levels} | "
            f"{s.get('auto') or s.get('krylov_choice') or s['method']}{'; coarse ' + coarse if coarse else ''} | "
            f"{target} | {extra} |")


def targets_table(timeout: float, which: str = "") -> list[str]:
    """Issue 12's targets, each solve in its own process, in one run (see --targets)."""
    lines = ["| case | time to solution | iterations | n_c | what auto chose | target | notes |", "|" + "---|" * 7]

    def emit(line):
        lines.append(line)
        print(line, flush=True)
    fig11 = ROOT / "examples" / "fig11.toml"
    if not which or "fig11" in which:
        r100 = run_file(fig11, 2, timeout)
        emit(_target_line("Fig. 11, M = 4, n_c = 100, no flags, 2 ranks", r100, "<= 300 s"))
        ra = run_file(fig11, 2, timeout, ("--set", 'cavity.levels="auto"'))
        d = f"max |obs - obs(n_c = 100)| = {_obs_diff(ra['observables'], r100['observables']):.1e}" \
            if ra["status"] == "ok" and r100["status"] == "ok" else ""
        emit(_target_line("Fig. 11, M = 4, levels = auto, 2 ranks", ra, "<= 60 s, obs to 1e-6", d))
    if not which or "m5" in which:
        r5 = run_file(ROOT / "examples" / "fig8_m5.toml", 2, timeout)
        emit(_target_line("examples/fig8_m5.toml (N^2 = 10.24 M), no flags, 2 ranks", r5, "<= 1200 s"))
    if not which or "hard" in which:
        path = _temp_config({**HARD, "M": 2, "nc": 50})
        for method, target in (("krylov", "converges"), ("sylvester", "converges or fails < 60 s, plainly")):
            r = run_file(path, 1, timeout, ("--set", f"solver.method={method}"))
            emit(_target_line(f"hard point (M = 2, n_c = 50), {method}, 1 rank", r, target))
        os.unlink(path)
    if not which or "auto" in which:
        for M, ref_nc in ((1, 120), (2, 140)):
            ref = run_file(path := _temp_config({**FIG11, "M": M, "nc": ref_nc}), 2, timeout,
                           ("--set", "solver.coarse_start=false"))
            os.unlink(path)
            emit(_target_line(f"Fig. 11, M = {M}, fixed n_c = {ref_nc} (reference), 2 ranks", ref, "",
                              f"edge {ref['observables']['edge_population']:.1e}" if ref["status"] == "ok" else ""))
            ra = run_file(path := _temp_config({**FIG11, "M": M, "nc": ref_nc}), 2, timeout,
                          ("--set", 'cavity.levels="auto"'))
            os.unlink(path)
            d = f"max |obs - obs(ref)| = {_obs_diff(ra['observables'], ref['observables']):.1e}" \
                if ra["status"] == "ok" and ref["status"] == "ok" else ""
            emit(_target_line(f"Fig. 11, M = {M}, levels = auto, 2 ranks", ra, "obs to 1e-6", d))
    return lines


def fmt_bytes(b):
    return f"{b / 2**30:.2f} GB" if b >= 2**30 else f"{b / 2**20:.0f} MB"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paper", action="store_true", help="add Fig. 11 at n_c = 100 (M = 1..4; M = 4 on 2 ranks)")
    ap.add_argument("--big", action="store_true", help="add Fig. 8's parameters with M = 5, n_c = 100 (2 ranks)")
    ap.add_argument("--only", default="", help="run only cases whose name contains this")
    ap.add_argument("--scaling", action="store_true",
                    help="only the 1- and 2-rank scaling of Fig. 11, M = 4, n_c = 100 (fixed Krylov "
                         "iterations, double and single precision L0^-1); written between "
                         "scaling:start/end markers")
    ap.add_argument("--fixed-point", action="store_true",
                    help="only the paper's fixed point, plain against Anderson mixing, and krylov, on "
                         "Fig. 8, Fig. 11 (M = 2) and the issue-12 point; written between "
                         "fixedpoint:start/end markers")
    ap.add_argument("--scaling-iterations", type=int, default=20, help="Krylov iterations timed (default 20)")
    ap.add_argument("--timeout", type=float, default=180, help="seconds allowed per solve (default 180)")
    ap.add_argument("--big-timeout", type=float, default=1800, help="seconds per solve for --paper/--big cases")
    ap.add_argument("--no-doc", action="store_true", help="do not write docs/performance.md")
    ap.add_argument("--targets", nargs="?", const="all", default=None,
                    help="only issue 12's targets (fig11, m5, hard, auto: a comma list selects; "
                         "about an hour on 2 cores); written between targets:start/end markers")
    args = ap.parse_args()
    if args.targets:
        load0 = open("/proc/loadavg").read().split()[0]
        lines = targets_table(args.big_timeout, "" if args.targets == "all" else args.targets)
        load1 = open("/proc/loadavg").read().split()[0]
        if not args.no_doc:
            write_block("targets", f"`scripts/bench_steady.py --targets {args.targets}` (load average "
                        f"{load0} at the start, {load1} at the end):\n\n" + "\n".join(lines))
        return
    if args.scaling:
        print("Fig. 11, M = 4, n_c = 100: fixed-work scaling", flush=True)
        lines = scaling_table(args.scaling_iterations, args.big_timeout)
        if not args.no_doc:
            write_block("scaling", f"`scripts/bench_steady.py --scaling` ({args.scaling_iterations} "
                        "Krylov iterations per run):\n\n" + "\n".join(lines))
        return
    if args.fixed_point:
        load = open("/proc/loadavg").read().split()[:3]
        print(f"fixed point, plain against Anderson mixing (load average {' '.join(load)})", flush=True)
        lines = fixed_point_table(args.timeout if args.timeout != 180 else 1800)
        load_end = open("/proc/loadavg").read().split()[:3]
        if not args.no_doc:
            write_block("fixedpoint", "`scripts/bench_steady.py --fixed-point` (one rank, load average "
                        f"{' '.join(load)} at the start, {' '.join(load_end)} at the end):\n\n" + "\n".join(lines))
        return
    rows = []
    header = "| case | N^2 | method | ranks | seconds | iterations | residual | peak memory | <n> | vs QuTiP best | notes |"
    print(header, flush=True)
    for name, p, methods, ranks_list, with_qutip, fast in cases(args):
        big = p["nc"] >= 100
        timeout = args.big_timeout if big else args.timeout
        results = []
        if with_qutip:
            for qm in ("direct", "iterative-gmres"):
                results.append((f"qutip {qm}", 1, run_qutip(p, qm, timeout)))
        for m in methods:
            for r in ranks_list:
                results.append((m, r, run_pjcsync(p, m, r, timeout, fast)))
        q_ok = [res["seconds"] for meth, _, res in results if meth.startswith("qutip") and res["status"] == "ok"]
        q_best = min(q_ok) if q_ok else None
        q_timeout = (not q_ok) and any(meth.startswith("qutip") and res["status"].startswith("timeout")
                                       for meth, _, res in results)
        n2 = (p["nc"] * 2 ** p["M"]) ** 2
        for meth, r, res in results:
            if res["status"] != "ok":
                line = f"| {name} | {n2:,} | {meth} | {r} | {res['status']} | | | | | | |"
            else:
                ratio = ""
                if not meth.startswith("qutip"):
                    if q_best:
                        ratio = f"{q_best / res['seconds']:.1f}x faster"
                    elif q_timeout:   # QuTiP did not finish: its time is at least the timeout
                        ratio = f"> {timeout / res['seconds']:.0f}x faster"
                line = (f"| {name} | {n2:,} | {meth} | {r} | {res['seconds']:.2f} | {res['iterations']} | "
                        f"{res['residual']:.1e} | {fmt_bytes(res['peak'])} | {res['n']:.6f} | {ratio} | {res['note']} |")
            print(line, flush=True)
            rows.append(line)
    table = "\n".join([header, "|" + "---|" * 11, *rows])
    if not args.no_doc:
        flags = " ".join(a for a in sys.argv[1:]) or "(default)"
        write_block("bench", f"`scripts/bench_steady.py {flags}`:\n\n{table}")


def write_block(marker: str, body: str) -> None:
    """Replace the text between ``<!-- MARKER:start -->`` and ``<!-- MARKER:end -->`` in
    docs/performance.md (appended if absent), stamped with the date."""
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    block = f"{start}\nMeasured {stamp}, {body}\n{end}"
    text = DOC.read_text() if DOC.exists() else "# Performance\n"
    if start in text:
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1] if end in rest else ""
        text = head + block + tail
    else:
        text += "\n" + block + "\n"
    DOC.write_text(text)
    print(f"table written to {DOC}")


if __name__ == "__main__":
    main()
