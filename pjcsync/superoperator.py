"""The vectorized Lindblad superoperator as a distributed PETSc matrix (DESIGN section 1).

Row-major vectorization, ``r = i*N + j`` holds ``rho_ij``, so ``vec(A rho B) = (A (x) B^T) vec(rho)``
and the Lindbladian of eq. (9),

    L(rho) = A rho + rho A^+ + sum_k L_k rho L_k^+,     A = -iH - K/2,  K = sum_k L_k^+ L_k,

is ``L = A (x) I + I (x) conj(A) + sum_k L_k (x) conj(L_k)``.  The rows of rho owned by a rank
(``RowLayout``) select rows of the first factor only, so each rank builds its block of rows
from the small N x N operators with three local sparse Kronecker products -- vectorized, with
its exact CSR structure -- and hands the CSR arrays to PETSc in one call (exact preallocation).
No rank ever forms the global matrix.

QuTiP stacks columns: ``vec_qutip(rho) = vec_ours(rho^T)``; see :mod:`pjcsync.observables`.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from petsc4py import PETSc

from .model import DTYPE, Model
from .parallel import PjcsyncError, RowLayout

BYTES_PER_NONZERO = 16 + np.dtype(PETSc.IntType).itemsize   # complex value + column index


def _clean(op: sp.spmatrix) -> sp.csr_matrix:
    out = sp.csr_matrix(op, dtype=DTYPE)
    out.eliminate_zeros()
    out.sort_indices()
    return out


def drift_operator(H: sp.spmatrix, c_ops: list[sp.spmatrix]) -> sp.csr_matrix:
    """``A = -iH - K/2`` with ``K = sum_k L_k^+ L_k``; ``G = -A`` is the paper's eq. (11) operator."""
    A = -1j * sp.csr_matrix(H, dtype=DTYPE)
    for c in c_ops:
        A = A - 0.5 * (c.conj().T @ c)
    return _clean(A)


def local_rows(H: sp.spmatrix, c_ops: list[sp.spmatrix], layout: RowLayout,
               hamiltonian_only: bool = False) -> sp.csr_matrix:
    """This rank's rows of L as a scipy CSR matrix (global column indices).

    With ``hamiltonian_only`` the rows of ``-i[H, .]`` alone (used for drive terms)."""
    N = layout.N
    A = _clean(-1j * H) if hamiltonian_only else drift_operator(H, c_ops)
    select = sp.identity(N, dtype=DTYPE, format="csr")[layout.i0:layout.i1]
    blocks = [sp.kron(A[layout.i0:layout.i1], sp.identity(N, dtype=DTYPE, format="csr"), format="csr"),
              sp.kron(select, A.conj(), format="csr")]
    if not hamiltonian_only:
        for c in c_ops:
            c = _clean(c)
            blocks.append(sp.kron(c[layout.i0:layout.i1], c.conj(), format="csr"))
    out = blocks[0]
    for b in blocks[1:]:
        out = out + b
    out = sp.csr_matrix(out)
    out.sum_duplicates()
    out.sort_indices()
    return out


def nonzeros_upper_bound(H: sp.spmatrix, c_ops: list[sp.spmatrix], layout: RowLayout) -> int:
    """Upper bound of the nonzeros of this rank's rows, without building them."""
    N = layout.N
    A = drift_operator(H, c_ops)
    nnz = A[layout.i0:layout.i1].nnz * N + layout.rows * A.nnz
    for c in c_ops:
        c = _clean(c)
        nnz += c[layout.i0:layout.i1].nnz * c.nnz
    return int(nnz)


def petsc_matrix(csr: sp.csr_matrix, layout: RowLayout) -> PETSc.Mat:
    """An MPIAIJ matrix from this rank's CSR rows (exact preallocation from the CSR)."""
    n_loc, n_glob = layout.local_size, layout.global_size
    if n_glob > np.iinfo(PETSc.IntType).max:
        raise PjcsyncError(f"N^2 = {n_glob} exceeds this PETSc build's {np.dtype(PETSc.IntType).itemsize * 8}-bit "
                           f"indices: use a PETSc configured --with-64-bit-indices")
    if csr.nnz > np.iinfo(PETSc.IntType).max:
        raise PjcsyncError(f"{csr.nnz} nonzeros on one rank exceed 32-bit indices: use more ranks")
    itype = PETSc.IntType
    mat = PETSc.Mat().createAIJ(size=((n_loc, n_glob), (n_loc, n_glob)),
                                csr=(csr.indptr.astype(itype, copy=False),
                                     csr.indices.astype(itype, copy=False),
                                     csr.data), comm=layout.comm)
    mat.assemble()
    return mat


def liouvillian(model: Model, layout: RowLayout) -> PETSc.Mat:
    """The RWA Liouvillian of eq. (6) as a distributed PETSc matrix."""
    return petsc_matrix(local_rows(model.hamiltonian(), model.collapse_operators(), layout), layout)


def lab_frame_pieces(model: Model, layout: RowLayout) -> tuple[PETSc.Mat, PETSc.Mat]:
    """``(L_s, L_F)`` with ``L(t) = L_s + cos(omega t) L_F`` for the lab frame, eq. (1).

    ``L_s`` holds the static Hamiltonian and the dissipators, ``L_F = -i[2F(a + a^+), .]``."""
    Ls = petsc_matrix(local_rows(model.lab_hamiltonian_static(), model.collapse_operators(), layout), layout)
    LF = petsc_matrix(local_rows(model.lab_drive_operator(), [], layout, hamiltonian_only=True), layout)
    return Ls, LF


def trace_vector(layout: RowLayout) -> PETSc.Vec:
    """``vec(I)``: ``t^T vec(rho) = Tr rho``, distributed like rho."""
    v = PETSc.Vec().createMPI((layout.local_size, layout.global_size), comm=layout.comm)
    arr = np.zeros((layout.rows, layout.N), dtype=DTYPE)
    i = np.arange(layout.i0, layout.i1)
    arr[i - layout.i0, i] = 1.0
    v.setArray(arr.ravel())
    return v


def operator_vector(op: sp.spmatrix, layout: RowLayout) -> PETSc.Vec:
    """``vec(op)`` as a distributed vector (rows [i0, i1) of the N x N operator)."""
    v = PETSc.Vec().createMPI((layout.local_size, layout.global_size), comm=layout.comm)
    v.setArray(sp.csr_matrix(op)[layout.i0:layout.i1].toarray().ravel())
    return v
