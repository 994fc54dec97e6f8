"""The direct switch of ``method = "auto"`` (pjcsync.choices.direct_switch_iterations) against
Krylov alone, and MUMPS's fill against the memory estimate's law (pjcsync.memory.direct_fill).

    .venv/bin/python scripts/bench_direct_switch.py              # the points below, 1 rank (~10 min)
    .venv/bin/python scripts/bench_direct_switch.py --large 900  # also Fig. 7 at n_c = 140, 180
                                                                 # (Krylov alone stopped after 900 s)
    .venv/bin/python scripts/bench_direct_switch.py --fill 1:60 2:100 3:30   # M:n_c, MUMPS INFOG(29)
    .venv/bin/python scripts/bench_direct_switch.py --fill 2:16 --json       # one JSON list

Every point is one ``pjcsync steady --json`` process (one rank, OMP_NUM_THREADS=1), run with
``direct_switch = "never"`` (the baseline: Krylov alone, the behaviour before the switch) and
with the default ``"auto"``, in the same run; the table gives seconds (the solve, without the
interpreter's start), iterations, the method that finished and the peak memory.  ``--fill``
factors L of the Fig. 7 model (Delta = 2, 3, -2, 1 for the first M qubits, F = 1.5,
gamma = gamma_s = 0.2, resonance) with MUMPS and prints its factor entries per nonzero of L
(INFOG(29)), the law and their ratio.  Benchmark on a quiet machine: the times are compared
within a row.
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

DELTAS = [2.0, 3.0, -2.0, 1.0]


def model_toml(deltas, levels, F, gamma, gamma_s, x, switch: str) -> str:
    return "\n".join(["[cavity]", f"levels = {levels}", f"decay = {gamma!r}",
                      "[qubits]", f"detuning = {list(map(float, deltas))!r}", f"decay = {gamma_s!r}",
                      "[drive]", f"amplitude = {F!r}", f"detuning = {x!r}",
                      "[solver]", f'direct_switch = "{switch}"', ""])


# (label, deltas, levels, F, gamma, gamma_s, x): the paper's hard points at n_c = 100 and one easy one
POINTS = [
    ("Fig. 7 (2, 3), resonance", [2.0, 3.0], 100, 1.5, 0.2, 0.2, 0.0),
    ("Fig. 7 (2, 3), x = -3", [2.0, 3.0], 100, 1.5, 0.2, 0.2, -3.0),
    ("Fig. 7 (2, -2), resonance", [2.0, -2.0], 100, 1.5, 0.2, 0.2, 0.0),
    ("Fig. 11 M = 2, resonance", [1.0, 1.5], 100, 0.77, 0.2, 0.2, 0.0),
    ("Fig. 11 M = 2, x = 0.5", [1.0, 1.5], 100, 0.77, 0.2, 0.2, 0.5),
    ("Fig. 5 F = 5, x = 0.5", [2.0, -1.0], 100, 5.0, 2.0, 2.0, 0.5),
]
LARGE = [("Fig. 7 (2, 3), resonance", [2.0, 3.0], n, 1.5, 0.2, 0.2, 0.0) for n in (140, 180)]


def run_point(text: str, timeout: float | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "point.toml"
        cfg.write_text(text)
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        cmd = [sys.executable, "-m", "pjcsync", "steady", str(cfg), "--json", "--quiet", "--force"]
        try:
            p = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"stopped_after": timeout}
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["?"])[-1][:160]}
    out = json.loads(p.stdout)
    s = out["solver"]
    return {"seconds": s["seconds"], "method": s["method"], "iterations": s.get("iterations"),
            "krylov_iterations": s.get("krylov_iterations"), "peak_gb": s["peak_memory"]["max_rank_bytes"] / 2 ** 30,
            "S2": out["observables"].get("S2"), "n": out["observables"]["n"]}


def _cell(r: dict) -> str:
    if "stopped_after" in r:
        return f"> {r['stopped_after']:.0f} s (stopped)"
    if "error" in r:
        return f"failed: {r['error']}"
    its = (f"{r['krylov_iterations']} its, then MUMPS" if r.get("krylov_iterations") is not None
           else ("MUMPS" if r["method"] == "direct" else f"{r['iterations']} its"))
    return f"{r['seconds']:.1f} s ({its}; {r['peak_gb']:.1f} GB)"


def switch_table(points, timeout: float | None) -> list[dict]:
    rows = []
    print("| point | N | Krylov alone (direct_switch = never) | auto (switch) | ratio |")
    print("|---|---|---|---|---|")
    for label, deltas, levels, F, g, gs, x in points:
        row = {"point": label, "levels": levels, "N": levels * 2 ** len(deltas)}
        for switch in ("never", "auto"):
            row[switch] = run_point(model_toml(deltas, levels, F, g, gs, x, switch), timeout if switch == "never" else None)
        a, b = row["never"], row["auto"]
        ratio = (f"{a['seconds'] / b['seconds']:.2f}" if "seconds" in a and "seconds" in b else
                 (f"> {a['stopped_after'] / b['seconds']:.1f}" if "stopped_after" in a and "seconds" in b else ""))
        if "n" in a and "n" in b and abs(a["n"] - b["n"]) > 1e-6 * max(1.0, abs(b["n"])):
            ratio += f" (<n> differs: {a['n']:.8g} against {b['n']:.8g})"
        print(f"| {label}, n_c = {levels} | {row['N']} | {_cell(a)} | {_cell(b)} | {ratio} |", flush=True)
        rows.append(row)
    return rows


def mumps_fill(M: int, levels: int) -> dict:
    """MUMPS's factor entries per nonzero of L (INFOG(29)) for the Fig. 7 model with M qubits."""
    from petsc4py import PETSc
    from pjcsync import superoperator as so
    from pjcsync.config import validate
    from pjcsync.memory import direct_fill
    from pjcsync.model import Model
    from pjcsync.parallel import RowLayout
    from pjcsync.steady import _direct_rows
    cfg = validate({"cavity": {"levels": levels, "decay": 0.2}, "qubits": {"detuning": DELTAS[:M], "decay": 0.2},
                    "drive": {"amplitude": 1.5}})
    model = Model.from_config(cfg)
    lay = RowLayout.create(model.N)
    csr, _ = _direct_rows(so.local_rows(model.hamiltonian(), model.collapse_operators(), lay), lay)
    A = so.petsc_matrix(csr, lay)
    ksp = PETSc.KSP().create()
    ksp.setOperators(A)
    ksp.setType("preonly")
    pc = ksp.getPC()
    pc.setType("lu")
    pc.setFactorSolverType("mumps")
    t0 = time.perf_counter()
    ksp.setUp()
    seconds = time.perf_counter() - t0
    entries = pc.getFactorMatrix().getMumpsInfog(29)
    entries = -entries * 1e6 if entries < 0 else entries        # negative: millions
    out = {"M": M, "levels": levels, "N": model.N, "nnz": csr.nnz, "fill": entries / csr.nnz,
           "law": direct_fill(model), "factor_seconds": seconds}
    pc.destroy()
    ksp.destroy()
    A.destroy()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--large", type=float, metavar="TIMEOUT", help="also Fig. 7 at n_c = 140 and 180; "
                    "Krylov alone is stopped after TIMEOUT s")
    ap.add_argument("--fill", nargs="+", metavar="M:LEVELS", help="only MUMPS's fill at these sizes")
    ap.add_argument("--json", action="store_true", help="print the rows as one JSON list")
    args = ap.parse_args()
    if args.fill:
        try:
            sizes = [tuple(int(v) for v in s.split(":")) for s in args.fill]
        except ValueError:
            print("bench_direct_switch.py: error: --fill takes M:LEVELS pairs, e.g. 2:100", file=sys.stderr)
            return 2
        rows = [mumps_fill(M, n) for M, n in sizes]
        if args.json:
            print(json.dumps(rows))
            return 0
        print("| M | N | nnz(L) | MUMPS fill (INFOG(29) / nnz) | law | law / fill | factorization |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['M']} | {r['N']} | {r['nnz']:,} | {r['fill']:.1f} | {r['law']:.1f} | "
                  f"{r['law'] / r['fill']:.2f} | {r['factor_seconds']:.2f} s |", flush=True)
        return 0
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()[0]:.1f}", flush=True)
    rows = switch_table(POINTS + (LARGE if args.large else []), args.large)
    print(f"# load at the end {os.getloadavg()[0]:.1f}", flush=True)
    if args.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
