"""Checkpoints of ``pjcsync steady``: the last iterate of a krylov or sylvester solve, kept so that
a long solve that stops unconverged (or is killed) is not thrown away.

A checkpoint is a results file (:mod:`pjcsync.results`, kind ``steady``) that is marked as
*not* a result: ``solver.converged = false``, ``solver.status = "checkpoint"``, the relative
residual and iterations reached, a warning saying so, **no observables**, and the full iterate
as ``rho`` (its trace may differ slightly from 1).  ``pjcsync show`` prints it as an
unconverged checkpoint; :func:`pjcsync.results.load` returns the same marks.  It is a starting
point: ``pjcsync steady CONFIG --resume`` (or ``[solver] initial_guess = FILE``) continues from
it, and it is removed once a solve converges.

Where (``[solver] checkpoint``): a path; ``"auto"`` (default): ``OUT.checkpoint.h5`` next to
``--out OUT``, else ``CONFIG.checkpoint.h5`` in the current directory; ``"none"``: never.  It is
written every ``[solver] checkpoint_every`` seconds during the solve and when the solve stops
unconverged -- with ``"auto"`` only for solves that ran at least ``AUTO_MIN_SECONDS`` (a short
failed solve is cheaper to repeat than a file to clean up).
"""
from __future__ import annotations

import time
from pathlib import Path

from .parallel import InputError, PjcsyncError, RowLayout

AUTO_MIN_SECONDS = 30.0
STATUS = "checkpoint"
WARNING = ("UNCONVERGED: this file is a checkpoint (the last iterate of a solve that stopped before "
           "its tolerance), not a steady state; pjcsync steady --resume continues from it")


def checkpoint_path(solver_cfg: dict, config_path: str | None, out: str | None) -> tuple[Path | None, bool]:
    """``(path, explicit)`` of the checkpoint for ``[solver] checkpoint`` (None: no checkpoint)."""
    value = solver_cfg.get("checkpoint", "auto")
    if value in ("none", ""):
        return None, False
    if value != "auto":
        return Path(value), True
    if out:
        p = Path(out)
        return p.with_name(p.stem + ".checkpoint.h5"), False
    if config_path:
        return Path(Path(config_path).stem + ".checkpoint.h5"), False
    return None, False


def is_checkpoint(data: dict) -> bool:
    """True for a loaded results file (:func:`pjcsync.results.load`) that is a checkpoint."""
    solver = data.get("solver") or {}
    return solver.get("converged") is False or solver.get("status") == STATUS


class Checkpoint:
    """Writes the checkpoint of one solve (collective over ``layout.comm``); pass it to
    :func:`pjcsync.steady.steady_state` as ``checkpoint``."""

    def __init__(self, path: Path, explicit: bool, cfg: dict, layout: RowLayout, command=None):
        self.path, self.explicit, self.cfg, self.layout = Path(path), explicit, cfg, layout
        self.command = command
        self.t0 = time.perf_counter()
        self.written = False

    def __call__(self, rows, status: dict) -> Path:
        """Write ``rows`` (this rank's rows of the iterate) with ``status`` (iterations,
        relative_residual ...); atomic (:func:`pjcsync.results.write_steady`)."""
        from .results import ResultsFileError, write_steady
        solver = {**status, "converged": False, "status": STATUS,
                  "seconds_so_far": time.perf_counter() - self.t0}
        point = {"config": self.cfg, "solver": solver, "checks": {}, "warnings": [WARNING],
                 "observables": {}}
        try:
            write_steady(self.path, point, rows, self.layout, command=self.command)
        except ResultsFileError as exc:       # raised on every rank alike
            raise PjcsyncError(f"checkpoint: {exc}", collective=True) from None
        self.written = True
        return self.path

    def final(self, exc) -> Path | None:
        """Keep the iterate of a solve that stopped unconverged (:class:`UnconvergedError`);
        returns the path written, or None (no finite iterate, or an ``auto`` checkpoint of a
        short solve)."""
        if exc.rho is None:
            return None
        if not self.explicit and not self.written and time.perf_counter() - self.t0 < AUTO_MIN_SECONDS:
            return None
        L = self.layout
        rows = exc.rho.getArray(readonly=True).reshape(L.rows, L.N)
        info = exc.info or {}
        return self(rows, {"method": info.get("method"), "iterations": info.get("iterations"),
                           "relative_residual": exc.relative_residual,
                           "residual_norm": info.get("residual_norm", "||L rho||_F / ||e||_F"),
                           "stopped": str(exc)})

    def remove(self) -> None:
        """Delete the checkpoint (after a converged solve); rank 0."""
        if self.layout.comm.Get_rank() == 0:
            self.path.unlink(missing_ok=True)
        self.layout.comm.Barrier()


def resume_source(path: Path | None, resume: bool, comm) -> None:
    """Check the checkpoint against ``--resume`` before any work: ``--resume`` needs one; an
    existing one without ``--resume`` is not overwritten.  Raises InputError (every rank)."""
    exists = comm.bcast(bool(path is not None and path.is_file()) if comm.Get_rank() == 0 else None, root=0)
    if resume and path is None:
        raise InputError("--resume continues from the checkpoint, but [solver] checkpoint = 'none'")
    if resume and not exists:
        raise InputError(f"--resume: no checkpoint {str(path)!r} (it is written by a krylov or sylvester "
                         f"solve that stops unconverged or runs longer than [solver] checkpoint_every)")
    if exists and not resume:
        raise InputError(f"{str(path)!r} holds the last iterate of an earlier unconverged solve: "
                         f"--resume continues from it; delete it to start afresh")
