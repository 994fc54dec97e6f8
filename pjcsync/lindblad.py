"""Any Lindblad problem ``(H, c_ops)`` as the model the solvers take.

The steady-state, evolution and gap solvers of pjcsync read their problem through four
members: ``N``, ``hamiltonian()``, ``collapse_operators()`` (sparse N x N CSR, complex128) and
``ground_state_index()``.  :class:`~pjcsync.model.Model` (the driven Tavis-Cummings model) has
them; :class:`Lindbladian` gives them to any Hamiltonian and collapse operators, so that the
Lindbladian of eq. (9),

    L(rho) = -i[H, rho] + sum_k (L_k rho L_k^+ - {L_k^+ L_k, rho} / 2),

and its Sylvester split (eqs. 10-13) work for any problem, not only the paper's.

Inputs may be QuTiP ``Qobj`` (their tensor ``dims`` are kept), scipy sparse matrices or numpy
arrays (anything ``numpy.asarray`` turns into a square matrix).  Operators are taken exactly as
given: pjcsync and QuTiP share the matrix of an operator and of a density matrix (only the
vectorization differs, see docs/conventions.md).
"""
from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.sparse as sp

from .model import DTYPE
from .parallel import InputError

HERMITICITY_TOL = 1e-10     # relative ||H - H^+|| / ||H|| allowed for a Hamiltonian


def _is_qobj(x) -> bool:
    return type(x).__name__ == "Qobj" and hasattr(x, "dims") and hasattr(x, "full")


def operator_matrix(x, what: str = "operator") -> tuple[sp.csr_matrix, list[int] | None]:
    """``(csr, dims)`` of an operator given as a ``Qobj``, scipy sparse matrix or array.

    ``dims`` is the ``Qobj``'s list of subsystem dimensions (None for plain matrices).  Raises
    :class:`~pjcsync.parallel.InputError` for anything that is not a finite square matrix."""
    dims = None
    if _is_qobj(x):
        if not x.isoper:
            raise InputError(f"{what} must be an operator (a square Qobj), got a Qobj of type {x.type!r}")
        dims = [int(d) for d in x.dims[0]]
        if [int(d) for d in x.dims[1]] != dims:
            raise InputError(f"{what} has different left and right dims {x.dims}")
        data = x.data
        m = data.as_scipy() if hasattr(data, "as_scipy") else x.full()
        m = sp.csr_matrix(m, dtype=DTYPE)
    elif sp.issparse(x):
        m = sp.csr_matrix(x, dtype=DTYPE)
    else:
        try:
            arr = np.asarray(x, dtype=DTYPE)
        except (TypeError, ValueError):
            raise InputError(f"{what} must be a Qobj, a scipy sparse matrix or an array, "
                             f"got {type(x).__name__}") from None
        if arr.ndim != 2:
            raise InputError(f"{what} must be a square matrix, got an array of shape {arr.shape}")
        m = sp.csr_matrix(arr)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 1:
        raise InputError(f"{what} must be a square matrix, got shape {m.shape}")
    if not np.all(np.isfinite(m.data)):
        raise InputError(f"{what} has entries that are not finite")
    m.eliminate_zeros()
    m.sort_indices()
    return m, dims


class Lindbladian:
    """A Lindblad problem ``(H, c_ops)`` with the interface of :class:`~pjcsync.model.Model`.

    Parameters
    ----------
    H : Qobj, scipy sparse matrix or array_like
        The Hamiltonian (N x N, Hermitian), hbar = 1; its units set the time unit.
    c_ops : sequence of Qobj, sparse matrices or arrays, optional
        The collapse (jump) operators ``L_k``, rates included (``sqrt(gamma_k) A_k``).
    dims : list of int, optional
        Tensor dimensions of the Hilbert space (product N); default: the ``dims`` of the first
        ``Qobj`` among ``H`` and ``c_ops``, else ``[N]``.

    Raises
    ------
    InputError
        Non-square, mismatched, non-finite or non-Hermitian input.
    """

    def __init__(self, H, c_ops=(), dims=None):
        if c_ops is None:
            c_ops = []
        elif _is_qobj(c_ops) or sp.issparse(c_ops) or (isinstance(c_ops, np.ndarray) and c_ops.ndim == 2):
            c_ops = [c_ops]
        if _is_qobj(H) and getattr(H, "issuper", False):
            raise InputError("H is a superoperator: pass the Hamiltonian and the collapse operators, "
                             "pjcsync builds the Lindbladian (eq. 9) itself")
        self.H, qdims = operator_matrix(H, "H")
        N = self.H.shape[0]
        ops = []
        for k, c in enumerate(c_ops):
            m, d = operator_matrix(c, f"c_ops[{k}]")
            if m.shape[0] != N:
                raise InputError(f"c_ops[{k}] is {m.shape[0]} x {m.shape[0]} but H is {N} x {N}")
            if qdims is None:
                qdims = d
            elif d is not None and d != qdims:
                raise InputError(f"c_ops[{k}] has dims {d} but H has {qdims}")
            ops.append(m)
        self.c_ops = ops
        anti = abs(self.H - self.H.conj().T)
        scale = max(abs(self.H).max() if self.H.nnz else 0.0, 1e-300)
        if anti.nnz and anti.max() > HERMITICITY_TOL * scale:
            raise InputError(f"H is not Hermitian (max |H - H^+| = {anti.max():.2e}): a non-Hermitian "
                             f"part belongs in c_ops")
        dims = qdims if dims is None else [int(d) for d in dims]
        if dims is None:
            dims = [N]
        if int(np.prod(dims)) != N:
            raise InputError(f"dims {dims} do not multiply to the dimension {N} of H")
        self.dims = list(dims)

    # --- the interface the solvers use -------------------------------------------------------
    @property
    def N(self) -> int:
        """Hilbert-space dimension."""
        return self.H.shape[0]

    def hamiltonian(self) -> sp.csr_matrix:
        """H as a CSR matrix (complex128)."""
        return self.H

    def collapse_operators(self) -> list[sp.csr_matrix]:
        """The collapse operators as CSR matrices (complex128)."""
        return list(self.c_ops)

    def ground_state_index(self) -> int:
        """Basis state of ``initial_guess = "ground"``: the lowest diagonal entry of H."""
        return int(np.argmin(self.H.diagonal().real))

    def decay_rates(self) -> list[float]:
        """The rate scale of each decay channel: the largest diagonal entry of ``L_k^+ L_k``
        (channels with none omitted); used for the default target of the gap."""
        rates = []
        for c in self.c_ops:
            d = (c.conj().T @ c).diagonal().real
            if d.size and d.max() > 0:
                rates.append(float(d.max()))
        return rates

    @cached_property
    def identity(self) -> sp.csr_matrix:
        return sp.identity(self.N, dtype=DTYPE, format="csr")

    def __repr__(self) -> str:
        return f"Lindbladian(N={self.N}, dims={self.dims}, c_ops={len(self.c_ops)})"


def as_problem(H, c_ops=None, dims=None):
    """A problem object for the solvers: a :class:`~pjcsync.model.Model` is returned as it is
    (``c_ops`` must then be omitted), anything else becomes a :class:`Lindbladian`."""
    if hasattr(H, "hamiltonian") and hasattr(H, "collapse_operators"):
        if c_ops:
            raise InputError("a model brings its own collapse operators: do not pass c_ops with it")
        return H
    return Lindbladian(H, c_ops, dims)
