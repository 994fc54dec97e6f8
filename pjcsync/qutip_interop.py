"""Conversions between pjcsync's arrays and QuTiP ``Qobj`` (states, operators, superoperators).

Conventions (docs/conventions.md): pjcsync vectorizes rho row-major, ``vec(rho)[i*N + j] = rho_ij``;
QuTiP stacks columns (``operator_to_vector``), so ``vec_QuTiP(rho) = vec_ours(rho^T)``.  Both
use the same tensor order (cavity first, then qubit 1, 2, ...) and the same qubit basis
(index 0 = up), so operators and density matrices convert without any permutation; only
vectorized density matrices and superoperators are reordered, explicitly, here.

QuTiP is imported only when a function runs: ``import pjcsync`` stays light.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _dims_for(N: int, model=None, dims=None) -> list[int]:
    if dims is None and model is not None:
        dims = list(model.dims)
    if dims is None:
        dims = [N]
    dims = [int(d) for d in dims]
    if int(np.prod(dims)) != N:
        raise ValueError(f"dims {dims} do not match dimension {N}")
    return dims


def _row_to_col_permutation(N: int) -> np.ndarray:
    """Index array p with ``vec_QuTiP = vec_ours[p]``: column-stacked position k = j*N + i
    holds rho_ij, which pjcsync stores at i*N + j."""
    k = np.arange(N * N)
    j, i = np.divmod(k, N)
    return i * N + j


def gather_state(state) -> np.ndarray:
    """The full density matrix of a distributed ``SteadyState`` (or any object with ``rho``
    (PETSc Vec) and ``layout``), on every rank.  Collective; needs N^2 memory per rank."""
    layout = state.layout
    rows = state.rho.getArray(readonly=True).reshape(layout.rows, layout.N)
    return np.concatenate(layout.comm.allgather(np.array(rows)), axis=0)


def to_qutip(x, model=None, dims=None, kind: str | None = None):
    """A QuTiP ``Qobj`` from pjcsync data, with the tensor dims of ``model`` (or ``dims``).

    ``x`` may be: a state object with ``rho`` and ``layout`` (a ``SteadyState``; gathered,
    collective), an N x N array or scipy sparse matrix (density matrix or operator), a
    length-N vector (ket), a length-N^2 row-major ``vec(rho)`` (``kind="vector"``, or
    automatically when its length is N^2 for the model), or an N^2 x N^2 superoperator
    in pjcsync's row-major convention (``kind="super"``, e.g. the Liouvillian's CSR), which is
    reordered to QuTiP's column stacking.

    Parameters
    ----------
    x : state object, array_like or scipy sparse matrix
        What to convert (see above).
    model : Model, optional
        Gives the tensor ``dims`` (cavity first, then the qubits: docs/conventions.md).
    dims : list of int, optional
        The tensor dims when there is no model (default ``[N]``).
    kind : {None, "oper", "ket", "vector", "super"}, optional
        How to read ``x`` when its shape alone does not say.

    Returns
    -------
    qutip.Qobj
        A ket, operator, operator-ket or superoperator with those ``dims``.
    """
    import qutip
    if hasattr(x, "rho") and hasattr(x, "layout"):
        model = model if model is not None else getattr(x, "model", None)
        x = gather_state(x)
    if isinstance(x, qutip.Qobj):
        return x
    if sp.issparse(x):
        x = sp.csr_matrix(x)
        is_matrix = True
    else:
        x = np.asarray(x, dtype=complex)
        is_matrix = x.ndim == 2 and x.shape[0] == x.shape[1] and x.shape[0] > 1
    n = x.shape[0]
    if kind is None:
        if not is_matrix:
            n_model = model.N if model is not None else (int(np.prod(dims)) if dims is not None else None)
            kind = "vector" if n_model is not None and n == n_model ** 2 and n_model > 1 else "ket"
        else:
            n_model = model.N if model is not None else (int(np.prod(dims)) if dims is not None else None)
            kind = "super" if n_model is not None and n == n_model ** 2 and n_model > 1 else "oper"
    if kind == "oper":
        d = _dims_for(n, model, dims)
        return qutip.Qobj(x, dims=[d, d])
    if kind == "ket":
        x = np.asarray(x).reshape(-1, 1)
        d = _dims_for(x.shape[0], model, dims)
        return qutip.Qobj(x, dims=[d, [1] * len(d)])
    if kind == "vector":
        vec = np.asarray(x).ravel()
        N = int(round(np.sqrt(vec.size)))
        if N * N != vec.size:
            raise ValueError(f"a vectorized density matrix needs a square length, got {vec.size}")
        d = _dims_for(N, model, dims)
        return qutip.Qobj(vec.reshape(N, N), dims=[d, d])
    if kind == "super":
        N = int(round(np.sqrt(n)))
        if N * N != n:
            raise ValueError(f"a superoperator needs a size N^2, got {n}")
        d = _dims_for(N, model, dims)
        p = _row_to_col_permutation(N)
        S = x[p][:, p] if sp.issparse(x) else x[np.ix_(p, p)]
        return qutip.Qobj(S, dims=[[d, d], [d, d]], superrep="super")
    raise ValueError(f"unknown kind {kind!r} (use 'oper', 'ket', 'vector' or 'super')")


def from_qutip(q, vectorize: bool = False):
    """pjcsync data from a QuTiP ``Qobj``.

    Operators and density matrices give an N x N numpy array (``rho[i, j]``, same tensor
    order), or with ``vectorize=True`` pjcsync's row-major ``vec(rho)`` of length N^2 (ready
    for a PETSc vector); kets give a length-N vector; operator-kets (QuTiP's column-stacked
    vectors) give the row-major ``vec(rho)``; bras give the vector of the ket; superoperators
    (``superrep="super"``) give the N^2 x N^2 matrix in pjcsync's row-major convention.

    Parameters
    ----------
    q : qutip.Qobj
        The object to convert.
    vectorize : bool
        Give an operator as pjcsync's row-major ``vec(rho)`` instead of an N x N array.

    Returns
    -------
    numpy.ndarray
        As described above.

    Raises
    ------
    TypeError
        ``q`` is not a ``qutip.Qobj``.
    """
    import qutip
    if not isinstance(q, qutip.Qobj):
        raise TypeError(f"from_qutip needs a qutip.Qobj, got {type(q).__name__}")
    if q.isoper:
        a = q.full()
        return a.ravel().copy() if vectorize else a
    if q.isket:
        return q.full().ravel()
    if q.isbra:
        return q.full().ravel().conj()
    if q.isoperket:
        return qutip.vector_to_operator(q).full().ravel().copy()
    if q.issuper:
        if getattr(q, "superrep", "super") != "super":
            q = qutip.to_super(q)
        S = q.full()
        N = int(round(np.sqrt(S.shape[0])))
        p = _row_to_col_permutation(N)
        inv = np.empty_like(p)
        inv[p] = np.arange(p.size)
        return S[np.ix_(inv, inv)]
    raise ValueError(f"cannot convert a Qobj of type {q.type!r}")
