"""Validation of user-supplied density matrices (initial states, warm starts).

One routine, :func:`check_density_matrix`, decides whether an N x N array is a density matrix:
finite, Hermitian, unit trace and positive semidefinite to a tolerance.  Mistakes are
:class:`~pjcsync.parallel.InputError` (exit status 2 on the command line).
"""
from __future__ import annotations

import numpy as np

from .parallel import InputError

DEFAULT_TOLERANCE = 1e-8
POSITIVITY_CHECK_MAX_N = 6000   # positivity is checked by a dense eigen-decomposition up to this N
                                # (a distributed rho is gathered on rank 0 for it)


def check_density_matrix(rho, what: str = "rho", tolerance: float = DEFAULT_TOLERANCE,
                         normalize: bool = False) -> np.ndarray:
    """``rho`` as a complex N x N array after checking it is a density matrix.

    Parameters
    ----------
    rho : array_like
        The candidate (N x N).
    what : str
        Its name in messages.
    tolerance : float
        Allowed ``||rho - rho^+||_max``, ``|Tr rho - 1|`` and negative eigenvalue.
    normalize : bool
        Divide by the trace instead of requiring it to be 1.

    Returns
    -------
    numpy.ndarray
        The exactly Hermitian part ``(rho + rho^+) / 2`` (unit trace).
    """
    arr = np.asarray(rho, dtype=complex)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise InputError(f"{what} must be a square matrix, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{what} has entries that are not finite")
    herm = float(np.abs(arr - arr.conj().T).max()) if arr.size else 0.0
    if herm > tolerance:
        raise InputError(f"{what} is not Hermitian (max |rho - rho^+| = {herm:.2e})")
    arr = 0.5 * (arr + arr.conj().T)
    tr = float(np.trace(arr).real)
    if normalize:
        if not tr > 0:
            raise InputError(f"{what} has trace {tr:.6g}: not a density matrix")
        arr = arr / tr
    elif abs(tr - 1) > tolerance:
        raise InputError(f"{what} has trace {tr:.10g}, not 1")
    if arr.shape[0] <= POSITIVITY_CHECK_MAX_N:
        low = float(np.linalg.eigvalsh(arr).min())
        if low < -tolerance:
            raise InputError(f"{what} is not positive (smallest eigenvalue {low:.2e})")
    return arr
