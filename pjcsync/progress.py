"""Progress lines of long iterative solves, and the ``--quiet`` switch.

A solve reports every iteration to a :class:`Progress` (on every rank; no communication); at
most every ``interval`` seconds (``[solver] progress``) rank 0 of the solve's communicator
prints one line to stderr, e.g.::

    pjcsync: krylov (fgmres) iteration 120: ||b - A x||_2 / ||b||_2 = 3.2e-07 (rtol 1e-10),
    x0.962 per iteration, ~210 iterations (~1.4 min) left, 2.1 min elapsed

(one line).  The rate is ``exp`` of the least-squares slope of ``log(residual)`` against the
iteration over the recent history (:func:`log_slope`); the iterations left are
``log(rtol / residual) / slope`` and the time left uses the recent seconds per iteration.

``--quiet`` (:func:`set_quiet`) silences progress lines and the informational lines of
:func:`info`; warnings and errors are still printed.  Standard output is never used, so
``--json`` output stays one clean object.
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np

_QUIET = False
DEFAULT_INTERVAL = 5.0        # seconds between progress lines ([solver] progress)
RATE_WINDOW = 50              # iterations (at most) over which the rate is fitted


def set_quiet(quiet: bool = True) -> None:
    """Silence (or restore) progress and informational lines in this process."""
    global _QUIET
    _QUIET = bool(quiet)


def is_quiet() -> bool:
    return _QUIET


def info(text: str, comm=None) -> None:
    """An informational line on stderr from rank 0 of ``comm`` (COMM_WORLD), unless quiet."""
    if _QUIET:
        return
    if comm is None:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
    if comm.Get_rank() == 0:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def log_slope(values, window: int = RATE_WINDOW) -> float | None:
    """Least-squares slope of ``log(values)`` against their index over the last ``window``
    entries (``None`` with fewer than 3 positive finite entries): the log of the mean
    contraction factor per iteration."""
    v = np.asarray(values[-window:], dtype=float)
    ok = np.isfinite(v) & (v > 0)
    if ok.sum() < 3:
        return None
    k = np.arange(len(v))[ok]
    return float(np.polyfit(k, np.log(v[ok]), 1)[0])


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class Progress:
    """Throttled progress lines of one iterative solve.

    ``label``: what is solving (``"krylov (fgmres)"``); ``norm``: how the residual is measured
    (``"||b - A x||_2 / ||b||_2"``); ``rtol``: its target; ``interval``: seconds between lines
    (``0`` or ``None``: no lines, the history is still kept for :meth:`estimate`)."""

    def __init__(self, label: str, norm: str, rtol: float, comm, interval: float | None = DEFAULT_INTERVAL):
        self.label, self.norm, self.rtol = label, norm, rtol
        self.interval = interval or 0.0
        self.rank = comm.Get_rank()
        self.t0 = time.perf_counter()
        self.last_print = self.t0
        self.iterations: list[int] = []
        self.residuals: list[float] = []
        self.times: list[float] = []
        self.lines = 0

    def update(self, iteration: int, residual: float) -> None:
        """Record ``residual`` (relative, in the norm named) at ``iteration``; print if due."""
        now = time.perf_counter()
        self.iterations.append(int(iteration))
        self.residuals.append(float(residual))
        self.times.append(now)
        if (self.interval > 0 and not _QUIET and self.rank == 0
                and now - self.last_print >= self.interval):
            self.last_print = now
            self.lines += 1
            sys.stderr.write(self.line() + "\n")
            sys.stderr.flush()

    def estimate(self) -> dict:
        """``rate`` (mean contraction per iteration), ``iterations_left`` and ``seconds_left``
        (None when the residual is not decreasing), ``seconds_per_iteration``."""
        out = {"rate": None, "iterations_left": None, "seconds_left": None, "seconds_per_iteration": None}
        n = len(self.residuals)
        if n >= 2:
            w = min(n, RATE_WINDOW)
            its = self.iterations[-1] - self.iterations[-w]
            if its > 0:
                out["seconds_per_iteration"] = (self.times[-1] - self.times[-w]) / its
        slope = log_slope(self.residuals)
        if slope is not None:
            out["rate"] = math.exp(slope)
            r = self.residuals[-1]
            if slope < 0 and r > 0 and math.isfinite(r):
                left = max(0.0, math.log(self.rtol / r) / slope) if self.rtol > 0 else None
                out["iterations_left"] = left
                if left is not None and out["seconds_per_iteration"] is not None:
                    out["seconds_left"] = left * out["seconds_per_iteration"]
        return out

    def line(self) -> str:
        e = self.estimate()
        text = (f"pjcsync: {self.label} iteration {self.iterations[-1]}: {self.norm} = "
                f"{self.residuals[-1]:.2e} (rtol {self.rtol:.0e})")
        if e["rate"] is not None:
            text += f", x{e['rate']:.4f} per iteration"
        if e["iterations_left"] is not None:
            text += f", ~{e['iterations_left']:.0f} iterations"
            if e["seconds_left"] is not None:
                text += f" (~{_duration(e['seconds_left'])})"
            text += " left"
        elif e["rate"] is not None:
            text += ", not decreasing"
        return text + f", {_duration(time.perf_counter() - self.t0)} elapsed"
