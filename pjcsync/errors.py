"""The errors of pjcsync: one hierarchy, one exit status for each kind.

* :class:`InputError` -- bad input found before or during the set-up (a configuration key, an
  option, an operator, a file, a problem too large for memory).  The command line prints one
  line and exits with status **2** (:data:`EXIT_INPUT`).
  :class:`ConfigError` is the input error of a configuration (TOML file, ``--set``, keyword
  options of the Python API).
* :class:`PjcsyncError` -- a computation that failed (no convergence, a rejected steady state,
  a PETSc failure): one line, exit status **1** (:data:`EXIT_FAILURE`), no result written.
  ``collective=True`` says every rank raises it at the same point (its condition came from
  reduced values), so the job ends cleanly; otherwise the raising rank aborts the MPI job.

Both derive from :class:`Error`; :func:`exit_code` maps any exception to the command line's
status.  The classes are also importable from their historical homes
(``pjcsync.parallel.PjcsyncError``, ``pjcsync.parallel.InputError``,
``pjcsync.config.ConfigError``).  This module imports nothing of pjcsync.
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1      # a failed computation
EXIT_INPUT = 2        # bad input (as argparse's usage errors)


class Error(Exception):
    """Base class of every error pjcsync reports as one line."""

    exit_code = EXIT_FAILURE


class PjcsyncError(Error, RuntimeError):
    """A failed computation, reported as one line with exit status 1 (no traceback).

    ``collective=True`` says every rank raises the same error at the same point (its
    condition was computed from reduced values), so the job can end cleanly without
    MPI_Abort; otherwise the raising rank aborts the whole job."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, collective: bool = False):
        super().__init__(message)
        self.collective = collective


class InputError(Error, ValueError):
    """Bad input (found before or after the configuration was read, such as a problem too
    large for memory): reported as one line with exit status 2."""

    exit_code = EXIT_INPUT


class ConfigError(InputError):
    """A configuration mistake (TOML, ``--set`` or an option of the Python API), reported as
    one line with exit status 2."""


ComputationError = PjcsyncError


def exit_code(exc: BaseException) -> int:
    """The command line's exit status for ``exc``: 2 for bad input (also plain ``ValueError``
    raised while reading input files), 1 for anything else."""
    if isinstance(exc, Error):
        return exc.exit_code
    return EXIT_FAILURE
