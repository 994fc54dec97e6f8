#!/usr/bin/env python
"""Solves that start close to the answer: the single-precision L0^-1 on a nearly converged
residual, and the coarse start's tolerance (Fig. 5, N = 400, one rank).

    .venv/bin/python scripts/bench_near_converged.py             # ~1 min on a quiet core
    .venv/bin/python scripts/bench_near_converged.py --old-pc    # also the solves with the old
                                                                 # L0^-1 (minutes per point)

A. One application of the single-precision ``L0^-1`` (:class:`pjcsync.sylvester.SylvesterInverse`)
   to a random right-hand side and to one shaped like the residual of a nearly converged solve
   (norm 1e-10, decaying as exp(-0.7 (n + m)) with the Fock indices: entries down to 1e-70).
   "scaled" is pjcsync's path (:func:`pjcsync.sylvester._single_scaled`: scaled into the float
   range, components that would underflow dropped); "as cast" the baseline of the same run, the
   right-hand side cast to complex64 as it is, no floors.
B. Fig. 5's points (Delta = (2, -1), gamma = gamma_s = 2, n_c = 100), coarse-started
   (n_c 25 -> 50 -> 100): the coarse solves to ``COARSE_RTOL`` x rtol (pjcsync) and to rtol
   (the baseline), with the scaled L0^-1; with ``--old-pc`` also the baseline with the old L0^-1.
Run it on a quiet machine: the times are wall-clock seconds of one process (BLAS one thread).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

POINTS = ((-5.7, 1.0), (0.65, 1.0), (0.9, 1.0), (1.4, 1.0), (-2.0, 5.0))     # (x, F)


def fig5(levels: int, x: float, F: float = 1.0) -> dict:
    """The validated configuration of a Fig. 5 point (the solver's defaults, no progress lines)."""
    from pjcsync.config import load_config
    data = {"cavity": {"levels": levels, "decay": 2.0}, "qubits": {"detuning": [2.0, -1.0], "decay": 2.0},
            "drive": {"amplitude": F, "detuning": x}}
    return load_config(data=data, overrides=["solver.progress=0"])


class old_pc:
    """The baseline L0^-1: the right-hand side cast as it is, no floors (set-up and application)."""

    def __enter__(self):
        from pjcsync import sylvester as sy
        self.saved = sy._single_scaled, sy.SINGLE_FLOOR, sy.FACTOR_FLOOR
        sy._single_scaled = lambda C, comm, dtype: (C.astype(dtype), 1.0)
        sy.SINGLE_FLOOR = sy.FACTOR_FLOOR = 0.0

    def __exit__(self, *exc):
        from pjcsync import sylvester as sy
        sy._single_scaled, sy.SINGLE_FLOOR, sy.FACTOR_FLOOR = self.saved


def bench_apply(repeat: int = 5) -> list[str]:
    from pjcsync.model import Model
    from pjcsync.parallel import RowLayout
    from pjcsync.sylvester import SylvesterInverse
    rows = ["| L0^-1 (N = 400) | right-hand side | scaled (pjcsync) | as cast (baseline) | baseline / pjcsync |",
            "|---|---|---|---|---|"]
    rng = np.random.default_rng(0)
    for x, kind in ((-5.7, "eigen"), (1.5, "schur")):
        m = Model.from_config(fig5(100, x))
        N = m.N
        C = rng.normal(size=(N, N)) + 1j * rng.normal(size=(N, N))
        n = np.arange(N) // 2 ** m.M
        tail = C * np.exp(-0.7 * (n[:, None] + n[None, :]))
        tail *= 1e-10 / np.linalg.norm(tail)
        times = {}
        for label, ctx in (("scaled", contextlib.nullcontext), ("as cast", old_pc)):
            with ctx():
                inv = SylvesterInverse(m.hamiltonian(), m.collapse_operators(), RowLayout.create(N), kind=kind,
                                       precision="single")
                for name, rhs in (("random", C), ("near converged", tail)):
                    inv.apply(rhs.ravel())
                    t0 = time.perf_counter()
                    for _ in range(repeat):
                        inv.apply(rhs.ravel())
                    times[label, name] = (time.perf_counter() - t0) / repeat
        for name in ("random", "near converged"):
            a, b = times["scaled", name], times["as cast", name]
            rows.append(f"| {kind} (x = {x}) | {name} | {1e3 * a:.1f} ms | {1e3 * b:.1f} ms | {b / a:.1f} |")
    return rows


def solve(x: float, F: float, coarse_rtol: float) -> tuple[float, int, list]:
    from pjcsync import truncation
    from pjcsync.model import Model
    from pjcsync.parallel import RowLayout
    saved = truncation.COARSE_RTOL
    truncation.COARSE_RTOL = coarse_rtol
    try:
        cfg = fig5(100, x, F)
        m = Model.from_config(cfg)
        t0 = time.perf_counter()
        st = truncation.coarse_started_steady_state(m, cfg["solver"], RowLayout.create(m.N))
        sec = time.perf_counter() - t0
        its = st.solver["iterations"]
        coarse = [c["iterations"] for c in st.solver.get("coarse_start", [])]
        st.rho.destroy()
        return sec, its, coarse
    finally:
        truncation.COARSE_RTOL = saved


def bench_solves(old: bool) -> list[str]:
    from pjcsync import truncation
    rows = ["| Fig. 5 (n_c = 100): F, x | pjcsync (coarse to COARSE_RTOL x rtol) | coarse to rtol |"
            + (" coarse to rtol, old L0^-1 |" if old else ""),
            "|---|---|---|" + ("---|" if old else "")]
    for x, F in POINTS:
        cells = []
        runs = [(truncation.COARSE_RTOL, contextlib.nullcontext), (1.0, contextlib.nullcontext)]
        runs += [(1.0, old_pc)] if old else []
        for cr, ctx in runs:
            with ctx():
                sec, its, coarse = solve(x, F, cr)
            cells.append(f"{sec:.2f} s, {its} iterations (coarse {'/'.join(map(str, coarse))})")
            print(f"  F = {F}, x = {x}: coarse_rtol {cr:g}{' old L0^-1' if ctx is old_pc else ''}: {cells[-1]}", file=sys.stderr, flush=True)
        rows.append(f"| {F:g}, {x} | " + " | ".join(cells) + " |")
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old-pc", action="store_true", help="also the solves with the old L0^-1 (slow)")
    args = ap.parse_args(argv)
    import petsc4py
    petsc4py.init([sys.argv[0]])
    print(f"load average at start: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    print("\n".join(bench_apply()))
    print()
    print("\n".join(bench_solves(args.old_pc)))
    print(f"load average at end: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
