"""The density-matrix checks: one routine for every state pjcsync takes in or gives out.

:func:`density_matrix_checks` decides, collectively on a row-distributed rho (``RowLayout``),
whether it is a density matrix: finite, unit trace, Hermitian, and positive semidefinite (the
smallest eigenvalue, rho gathered on rank 0, while ``N <= POSITIVITY_CHECK_MAX_N``).  It is used

* after every solve: :func:`pjcsync.steady.check_state` (with the residual of ``L rho``) and the
  periodic steady state of :mod:`pjcsync.floquet` (with the symmetry of the harmonics), whose
  failures are :class:`~pjcsync.parallel.PjcsyncError` (exit status 1, no result);
* on user input: :func:`check_density_matrix` (a whole N x N array: ``rho0`` of
  :func:`pjcsync.mesolve`, :mod:`pjcsync.states`), whose failures are
  :class:`~pjcsync.parallel.InputError` (exit status 2).

One tolerance: ``[solver] check_tolerance`` (:data:`pjcsync.config.SCHEMA`; its default is
``DEFAULT_TOLERANCE``) bounds ``|Tr rho - 1|``, the relative hermiticity
``||rho - rho^+||_F / ||rho||_F`` and the most negative eigenvalue.
"""
from __future__ import annotations

import numpy as np
from mpi4py import MPI

from .config import SCHEMA
from .parallel import InputError, RowLayout, allreduce_sum, transpose_rows

DEFAULT_TOLERANCE = SCHEMA["solver"]["check_tolerance"].default   # [solver] check_tolerance
POSITIVITY_CHECK_MAX_N = 6000   # positivity is checked by a dense eigen-decomposition up to this N
                                # (a distributed rho is gathered on rank 0 for it)
NO_TRACE = 1e-300               # a trace below this (or not finite) is no density matrix at all


def density_matrix_checks(rows: np.ndarray, layout, tolerance: float = DEFAULT_TOLERANCE, *,
                          what: str = "rho", normalize: bool = True,
                          unit_trace: bool = True) -> tuple[dict, list[str]]:
    """The checks of a density matrix given by this rank's rows (collective).

    Parameters
    ----------
    rows : numpy.ndarray
        This rank's rows of rho, shape ``(layout.rows, N)``, complex.  Changed in place:
        divided by the trace (``normalize``) and replaced by its Hermitian part
        ``(rho + rho^+) / 2``, so that observables see no round-off anti-Hermitian part.
    layout : RowLayout
        The distribution of rho's rows.
    tolerance : float
        Allowed ``|Tr rho - 1|``, ``||rho - rho^+||_F / ||rho||_F`` and negative eigenvalue.
    what : str
        The state's name in the problems.
    normalize : bool
        Divide rho by its trace.
    unit_trace : bool
        Require ``|Tr rho - 1| <= tolerance`` (of rho as given, before any normalization).

    Returns
    -------
    checks : dict
        ``trace_before_normalization`` ([real, imag]), ``hermiticity``, ``min_eigenvalue``
        (None when not checked) and ``positivity_checked``.
    problems : list of str
        One phrase per failed check, naming ``what``; empty for a density matrix.  A rho that is
        not finite or has no trace gives that one problem (and rows are left as they are).
    """
    comm = layout.comm
    finite = bool(comm.allreduce(int(np.isfinite(rows).all()), op=MPI.MIN))
    i = np.arange(layout.i0, layout.i1)
    trace = complex(allreduce_sum(rows[i - layout.i0, i].sum(), comm)) if finite else complex(np.nan)
    checks = {"trace_before_normalization": [trace.real, trace.imag], "hermiticity": None,
              "min_eigenvalue": None, "positivity_checked": False}
    if not finite:
        return checks, [f"{what} has entries that are not finite"]
    if abs(trace) < NO_TRACE:
        return checks, [f"{what} has trace {trace}: not a density matrix"]
    if normalize:
        rows /= trace
    rows_t = transpose_rows(rows, layout).conj()
    herm, norm2 = allreduce_sum(np.array([np.sum(np.abs(rows - rows_t) ** 2), np.sum(np.abs(rows) ** 2)]),
                                comm)
    hermiticity = float(np.sqrt(herm / norm2)) if norm2 > 0 else 0.0
    rows[:] = 0.5 * (rows + rows_t)
    min_eig = None
    if layout.N <= POSITIVITY_CHECK_MAX_N:
        full = comm.gather(rows.copy(), root=0)
        if comm.Get_rank() == 0:
            min_eig = float(np.linalg.eigvalsh(np.concatenate(full, axis=0)).min())
        min_eig = comm.bcast(min_eig, root=0)
    checks.update(hermiticity=hermiticity, min_eigenvalue=min_eig, positivity_checked=min_eig is not None)
    problems = []
    if unit_trace and abs(trace - 1) > tolerance:
        problems.append(f"{what} has trace {trace.real:.10g}{trace.imag:+.2g}i, not 1")
    if hermiticity > tolerance:
        problems.append(f"{what} is not Hermitian (||rho - rho^+|| / ||rho|| = {hermiticity:.2e})")
    if min_eig is not None and min_eig < -tolerance:
        problems.append(f"{what} is not positive (smallest eigenvalue {min_eig:.2e})")
    return checks, problems


def check_density_matrix(rho, what: str = "rho", tolerance: float = DEFAULT_TOLERANCE,
                         normalize: bool = False) -> np.ndarray:
    """``rho`` as a complex N x N array after checking it is a density matrix (user input).

    Parameters
    ----------
    rho : array_like
        The candidate (N x N), whole on this process.
    what : str
        Its name in messages.
    tolerance : float
        See :func:`density_matrix_checks`.
    normalize : bool
        Divide by the trace instead of requiring it to be 1 (the trace must then be positive).

    Returns
    -------
    numpy.ndarray
        The Hermitian part ``(rho + rho^+) / 2`` (unit trace).

    Raises
    ------
    pjcsync.parallel.InputError
        Not square, not finite, not Hermitian, trace not 1 (or not positive with ``normalize``),
        or not positive semidefinite; the message lists every failed check.
    """
    arr = np.array(rho, dtype=complex)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] < 1:
        raise InputError(f"{what} must be a square matrix, got shape {arr.shape}")
    tr = np.trace(arr)
    if normalize and np.isfinite(tr) and not tr.real > 0:
        raise InputError(f"{what} has trace {tr.real:.6g}: not a density matrix")
    _, problems = density_matrix_checks(arr, RowLayout.create(arr.shape[0], MPI.COMM_SELF), tolerance,
                                        what=what, normalize=normalize, unit_trace=not normalize)
    if problems:
        raise InputError("; ".join(problems))
    return arr
