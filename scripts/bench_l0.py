#!/usr/bin/env python
"""One application of L0^-1 against this machine's GEMM rate, at 1 and 2 ranks (issue 12).

    .venv/bin/python scripts/bench_l0.py                 # N = 1600 (Fig. 11, M = 4) and N = 800
    .venv/bin/python scripts/bench_l0.py --levels 100    # only N = 1600
    .venv/bin/python scripts/bench_l0.py --ranks 1 2 4   # more rank counts (oversubscribed here)

Measures, each in its own process with one BLAS thread per rank (OMP_NUM_THREADS=1), in CPU
time (``time.process_time``, best of ``--repeat``) so that a machine shared with other jobs
slows the numbers less (wall times of the applications are printed too; OpenMPI polls while it
waits, so a rank waiting for a message still counts CPU time):

* the GEMM rate ``N^3 / t`` (complex multiply-adds per second) of ZGEMM and CGEMM at N = 1600;
* the MPI ping-pong latency and bandwidth between 2 ranks, and one all-to-all of an
  N x N complex128 matrix (the transposes of the inverse);
* one application of :class:`pjcsync.sylvester.SylvesterInverse` (Schur route) on the model of
  ``examples/fig11.toml`` (``cavity.levels`` overridden for the smaller N), double and single,
  best of ``--repeat`` after one warm-up application, at each rank count.

An application costs ``5 N^3`` complex multiply-adds (four basis-change GEMMs and ``N^3`` in the
triangular solve), so ``5 N^3 / rate`` is its GEMM limit on one core; the table gives the
fraction of that limit reached and the ratio of 1-rank to 2-rank times.  The cost model
(printed last, written up in docs/performance.md) projects larger rank counts from these
numbers.  Timings on a shared machine: the load average (/proc/loadavg) is printed with them.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MPIRUN = ROOT / "scripts" / "mpirun.sh"
FIG11 = ROOT / "examples" / "fig11.toml"


# --- workers (run under mpirun) ------------------------------------------------------------------

def worker_gemm(N: int, repeat: int) -> dict:
    import time
    import numpy as np
    out = {}
    rng = np.random.default_rng(0)
    for name, dt in (("zgemm", np.complex128), ("cgemm", np.complex64)):
        a = (rng.standard_normal((N, N)) + 1j * rng.standard_normal((N, N))).astype(dt)
        b = (rng.standard_normal((N, N)) + 1j * rng.standard_normal((N, N))).astype(dt)
        c = np.empty_like(a)
        best = np.inf
        for _ in range(repeat):
            t0 = time.process_time()
            np.matmul(a, b, out=c)
            best = min(best, time.process_time() - t0)
        out[name] = N ** 3 / best
    return out


def worker_kernels(N: int, block: int, wide: int, repeat: int) -> dict:
    """Rates (multiply-adds per second) of the GEMM shapes of one application on many ranks:
    ``wide`` the rows/columns of one rank (N / P), ``block`` the side of a block of the
    triangular solve; the time of the solve of one diagonal block (as in the wavefront); the Python/MPI overhead of one
    block message (sent to self, both sides)."""
    import time
    import numpy as np
    from mpi4py import MPI
    from pjcsync.sylvester import LEAF_BLOCK, solve_triangular_sylvester
    rng = np.random.default_rng(1)

    def rnd(m, n):
        return rng.standard_normal((m, n)) + 1j * rng.standard_normal((m, n))

    def best(f, k):
        t = np.inf
        for _ in range(k):
            t0 = time.process_time()
            f()
            t = min(t, time.process_time() - t0)
        return t

    out = {}
    m = min(N, 1600)       # sides capped at 1600 (memory and time on a shared machine)
    c = min(wide, 1600)
    for name, (a, k, n) in {"rows_x_N_x_cols": (c, N if c * c * N <= 4e9 else m, c),
                            "N_x_N_x_cols": (m, m, c), "N_x_cols_x_rows": (m, c, c),
                            "panel_block": (m, block, block)}.items():
        A, B = rnd(a, k), rnd(k, n)
        out[name] = a * k * n / best(lambda: A @ B, max(repeat, 5))
    T = np.triu(rnd(block, block)) + 3 * np.eye(block)
    F = rnd(block, block)
    out["trsyl_s"] = best(lambda: solve_triangular_sylvester(T, T, F.copy(), LEAF_BLOCK, 0.1), 20)
    comm = MPI.COMM_SELF
    msg, buf, st = rnd(block * block + 1, 1).ravel(), np.empty(block * block + 1, complex), MPI.Status()

    def roundtrip():
        r = comm.Isend([msg, MPI.C_DOUBLE_COMPLEX], dest=0, tag=7)
        comm.Iprobe(source=MPI.ANY_SOURCE, tag=7, status=st)
        comm.Recv([buf, MPI.C_DOUBLE_COMPLEX], source=0, tag=7)
        r.Wait()
    roundtrip()
    out["message_s"] = best(roundtrip, 50)
    return out


def worker_mpi(N: int, repeat: int) -> dict:
    import time
    import numpy as np
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    res = {}
    if size >= 2 and rank < 2:
        other = 1 - rank
        for nbytes in (8, 8 << 20):
            buf = np.zeros(nbytes, dtype=np.uint8)
            best = np.inf
            for _ in range(max(repeat, 20) if nbytes == 8 else repeat):
                t0 = time.perf_counter()
                if rank == 0:
                    comm.Send(buf, dest=other)
                    comm.Recv(buf, source=other)
                else:
                    comm.Recv(buf, source=other)
                    comm.Send(buf, dest=other)
                best = min(best, (time.perf_counter() - t0) / 2)
            if nbytes == 8:
                res["latency_s"] = best
            else:
                res["bandwidth_Bps"] = nbytes / best
    comm.Barrier()
    rows = N // size
    send = np.ones(rows * N, dtype=np.complex128)
    recv = np.empty_like(send)
    best = np.inf
    for _ in range(repeat):
        comm.Barrier()
        t0 = time.perf_counter()
        comm.Alltoall(send, recv)
        best = min(best, time.perf_counter() - t0)
    res["alltoall_s"] = best
    res["alltoall_bytes_per_rank"] = send.nbytes * (size - 1) / size
    return res


def worker_apply(levels: int, precision: str, repeat: int) -> dict:
    import time
    import numpy as np
    import petsc4py
    petsc4py.init()
    from mpi4py import MPI
    from pjcsync.config import load_config
    from pjcsync.model import Model
    from pjcsync.parallel import RowLayout
    from pjcsync.sylvester import SylvesterInverse
    model = Model.from_config(load_config(FIG11, [f"cavity.levels={levels}"]))
    lay = RowLayout.create(model.N)
    t0 = time.perf_counter()
    S = SylvesterInverse(model.hamiltonian(), model.collapse_operators(), lay, kind="schur",
                         precision=precision)
    setup = time.perf_counter() - t0
    rng = np.random.default_rng(lay.i0)
    C = rng.standard_normal((lay.rows, lay.N)) + 1j * rng.standard_normal((lay.rows, lay.N))
    S.apply(C)                                     # warm-up (work arrays, first touch)
    best = cpu = np.inf
    for _ in range(repeat):
        lay.comm.Barrier()
        t0, c0 = time.perf_counter(), time.process_time()
        S.apply(C)
        c1 = time.process_time() - c0
        lay.comm.Barrier()
        best = min(best, time.perf_counter() - t0)
        cpu = min(cpu, lay.comm.allreduce(c1, op=MPI.MAX))
    err = S.verify()
    return {"N": model.N, "apply_s": best, "cpu_s": cpu, "setup_s": setup, "error": err, "kind": S.kind}


def worker(argv: list[str]) -> None:
    from mpi4py import MPI
    what = argv[0]
    if what == "gemm":
        res = worker_gemm(int(argv[1]), int(argv[2]))
    elif what == "mpi":
        res = worker_mpi(int(argv[1]), int(argv[2]))
    elif what == "kernels":
        res = worker_kernels(*map(int, argv[1:5]))
    else:
        res = worker_apply(int(argv[1]), argv[2], int(argv[3]))
    if MPI.COMM_WORLD.Get_rank() == 0:
        print(json.dumps(res), flush=True)


# --- driver ----------------------------------------------------------------------------------

def run(ranks: int, *args) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [str(MPIRUN), "-n", str(ranks), sys.executable, __file__, "--worker", *map(str, args)]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if p.returncode != 0:
        sys.exit(f"bench_l0: {' '.join(cmd)} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def simulate_wavefront(N: int, P: int, k: dict, lat: float, bw: float) -> float:
    """Seconds of the distributed triangular solve on P ranks: a discrete-event replay of
    ``SylvesterInverse._wavefront`` (the same blocks, owners, priorities and messages) with the
    measured kernel costs ``k`` (:func:`worker_kernels`), MPI latency ``lat`` and bandwidth
    ``bw``: the eager ``T Y`` update of each solved block and the ``Y T^+`` update of each
    received block over the receiver's columns left of it at the panel GEMM rate, one trsyl per
    block, the per-message overhead on both sides."""
    import bisect
    import heapq
    import numpy as np
    from pjcsync.sylvester import column_blocks
    e, owner = column_blocks(N, P)
    nb = len(e) - 1
    w = [e[J + 1] - e[J] for J in range(nb)]
    own = [[J for J in range(nb) if owner[J] == r] for r in range(P)]
    below = [np.cumsum([0] + [w[J] for J in own[r]]) for r in range(P)]
    dests = [sorted({owner[L] for L in range(J)}) for J in range(nb)]
    rate, trsyl, omsg, b = k["panel_block"], k["trsyl_s"], k["message_s"] / 2, k["block"]
    clock = [0.0] * P
    need = [np.tile(np.array([nb - 1 - J for J in own[r]]), (nb, 1)) for r in range(P)]
    nxt = [[nb - 1] * len(own[r]) for r in range(P)]
    inbox = [[] for _ in range(P)]
    events = [(0.0, r) for r in range(P)]        # (time, rank): look at rank r again at time t

    def contribute(r, I, K):
        cnt = bisect.bisect_left(own[r], K)
        need[r][I, :cnt] -= 1
        return w[I] * w[K] * below[r][cnt] / rate

    while events:
        t, r = heapq.heappop(events)
        clock[r] = max(clock[r], t)
        while inbox[r] and inbox[r][0][0] <= clock[r]:
            _, I, K = heapq.heappop(inbox[r])
            clock[r] += omsg + contribute(r, I, K)
        best = None
        for j, J in enumerate(own[r]):
            I = nxt[r][j]
            if I >= 0 and need[r][I, j] == 0 and (best is None or I + J > best[0] + best[1]):
                best = (I, J, j)
        if best is not None:
            I, J, j = best
            clock[r] += trsyl * w[I] * w[J] * (w[I] + w[J]) / (2 * b ** 3) + e[I] * w[I] * w[J] / rate
            for d in dests[J]:
                if d != r:
                    clock[r] += omsg
                    arrive = clock[r] + lat + 16 * w[I] * w[J] / bw
                    heapq.heappush(inbox[d], (arrive, I, J))
                    heapq.heappush(events, (arrive, d))
            clock[r] += contribute(r, I, J)
            nxt[r][j] -= 1
            heapq.heappush(events, (clock[r], r))
        # else: idle until the next arrival, whose event was queued when it was sent
    assert all(v < 0 for r in range(P) for v in nxt[r]), "simulation stalled"
    return max(clock)


def project(N: int, P: int, k: dict, lat: float, bw: float) -> dict:
    """Seconds of one double application on P ranks (docs/performance.md): the four
    basis-change products at the measured rates of their shapes, the two all-to-alls
    (``N^2 (P-1) / P^2`` entries out of and into each rank each, plus ``P - 1`` latencies) and
    the triangular solve (simulated; on one rank ``N^3`` at the panel rate plus the trsyl of
    the ``(N / 96)^2`` leaves); communication is not assumed to overlap anything."""
    gemm = N ** 3 / P * (1 / k["rows_x_N_x_cols"] + 2 / k["N_x_N_x_cols"] + 1 / k["N_x_cols_x_rows"])
    a2a = 2 * (16 * N * N * (P - 1) / P ** 2 / bw + (P - 1) * lat) if P > 1 else 0.0
    if P == 1:
        tri = N ** 3 / k["panel_block"] + (N / k["block"]) ** 2 * k["trsyl_s"]
    else:
        tri = simulate_wavefront(N, P, k, lat, bw)
    return {"gemm": gemm, "alltoall": a2a, "triangular": tri, "total": gemm + a2a + tri}


def cost_model(a, m: dict) -> None:
    from pjcsync.sylvester import column_blocks
    print("\nCost model, one double application (kernels measured at the shapes of each case, MPI "
          "latency/bandwidth from the ping-pong above, triangular solve simulated):")
    print("| N | ranks | block | GEMMs (s) | all-to-all (s) | triangular (s) | total (s) | speed-up | efficiency |")
    print("|---|---|---|---|---|---|---|---|---|")
    for N in a.model_sizes:
        base = None
        for P in a.model_ranks:
            e, _ = column_blocks(N, P)
            blk = e[1] - e[0] if P > 1 else 96
            k = run(1, "kernels", N, blk, N // P, a.repeat)
            k["block"] = blk
            t = project(N, P, k, m["latency_s"], m["bandwidth_Bps"])
            base = base or t["total"]
            print(f"| {N} | {P} | {blk} | {t['gemm']:.3f} | {t['alltoall']:.3f} | {t['triangular']:.3f} | "
                  f"{t['total']:.3f} | {base / t['total']:.2f} | {base / P / t['total']:.0%} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--levels", type=int, nargs="*", default=[100, 50],
                    help="cavity levels of Fig. 11 (M = 4: N = 16 n_c); default 100 50")
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--precisions", nargs="+", default=["double", "single"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--model-sizes", type=int, nargs="*", default=[1600, 6400])
    ap.add_argument("--model-ranks", type=int, nargs="+", default=[1, 2, 16, 64])
    ap.add_argument("--worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker is not None:
        return worker(a.worker)

    print(f"load average before: {loadavg()}")
    g = run(1, "gemm", 1600, a.repeat)
    m = run(2, "mpi", 1600, a.repeat)
    print(f"ZGEMM N=1600, 1 thread: {g['zgemm'] / 1e9:.2f} G N^3/s ({8 * g['zgemm'] / 1e9:.1f} GFLOP/s); "
          f"CGEMM: {g['cgemm'] / 1e9:.2f} G N^3/s ({8 * g['cgemm'] / 1e9:.1f} GFLOP/s)")
    print(f"MPI (2 ranks): latency {m['latency_s'] * 1e6:.1f} us, bandwidth {m['bandwidth_Bps'] / 1e9:.2f} GB/s, "
          f"all-to-all of 1600^2 complex128 {m['alltoall_s'] * 1e3:.1f} ms")
    if a.levels:
        print("| N | precision | ranks | setup (s) | apply, wall (s) | apply, CPU (s) | GEMM limit 5N^3/rate/P (s) "
              "| of limit (CPU) | 1 rank / ranks (wall, CPU) | error |")
        print("|" + "---|" * 10)
    for levels in a.levels:
        for prec in a.precisions:
            rate = g["zgemm" if prec == "double" else "cgemm"]
            t1 = None
            for P in a.ranks:
                r = run(P, "apply", levels, prec, a.repeat)
                N = r["N"]
                limit = 5 * N ** 3 / rate / P
                if P == 1:
                    t1 = r
                ratio = f"{t1['apply_s'] / r['apply_s']:.2f}, {t1['cpu_s'] / r['cpu_s']:.2f}" if t1 and P > 1 else "-"
                print(f"| {N} | {prec} | {P} | {r['setup_s']:.2f} | {r['apply_s']:.3f} | {r['cpu_s']:.3f} | "
                      f"{limit:.3f} | {limit / r['cpu_s']:.0%} | {ratio} | {r['error']:.1e} |", flush=True)
    print(f"load average after the applications: {loadavg()}")
    if a.model_sizes:
        cost_model(a, m)


if __name__ == "__main__":
    main()
