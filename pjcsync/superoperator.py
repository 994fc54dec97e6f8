"""The vectorized Lindblad superoperator as a distributed PETSc matrix (eq. 9;
docs/conventions.md).

Row-major vectorization, ``r = i*N + j`` holds ``rho_ij``, so ``vec(A rho B) = (A (x) B^T) vec(rho)``
and the Lindbladian of eq. (9),

    L(rho) = A rho + rho A^+ + sum_k L_k rho L_k^+,     A = -iH - K/2,  K = sum_k L_k^+ L_k,

is ``L = A (x) I + I (x) conj(A) + sum_k L_k (x) conj(L_k)``.  The rows of rho owned by a rank
(``RowLayout``) select rows of the first factor only, so each rank builds its rows from the
small N x N operators with local sparse Kronecker products -- vectorized, in blocks of rows
that bound the temporaries -- counts them for PETSc's exact preallocation and inserts them
block by block.  No rank ever forms the global matrix.

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


def jump_sum(c_ops: list[sp.spmatrix], N: int) -> sp.csr_matrix:
    """``K = sum_k L_k^+ L_k`` (the anticommutator part of eq. 9), N x N."""
    K = sp.csr_matrix((N, N), dtype=DTYPE)
    for c in c_ops:
        K = K + c.conj().T @ c
    return _clean(K)


def drift_operator(H: sp.spmatrix, c_ops: list[sp.spmatrix]) -> sp.csr_matrix:
    """``A = -iH - K/2`` with ``K = sum_k L_k^+ L_k``; ``G = -A`` is the paper's eq. (11) operator."""
    return _clean(-1j * sp.csr_matrix(H, dtype=DTYPE) - 0.5 * jump_sum(c_ops, H.shape[0]))


def row_blocks(H: sp.spmatrix, c_ops: list[sp.spmatrix], layout: RowLayout,
               hamiltonian_only: bool = False, max_entries: int = 1 << 22):
    """This rank's rows of L in blocks: yields ``(r0, r1, csr)`` for rows ``r0 <= i < r1`` of rho.

    Each block is a scipy CSR matrix of ``(r1 - r0) * N`` rows with global column indices.
    Blocks hold about ``max_entries`` nonzeros so that the construction temporaries stay small.
    With ``hamiltonian_only`` the rows of ``-i[H, .]`` alone (used for drive terms)."""
    N = layout.N
    A = _clean(-1j * H) if hamiltonian_only else drift_operator(H, c_ops)
    c_ops = [] if hamiltonian_only else [_clean(c) for c in c_ops]
    eye = sp.identity(N, dtype=DTYPE, format="csr")
    per_row = 2 * A.nnz / N + sum(c.nnz ** 2 for c in c_ops) / N ** 2 + 1
    step = max(1, int(max_entries / (per_row * N)))
    for r0 in range(layout.i0, layout.i1, step):
        r1 = min(r0 + step, layout.i1)
        block = sp.kron(A[r0:r1], eye, format="csr") + sp.kron(eye[r0:r1], A.conj(), format="csr")
        for c in c_ops:
            block = block + sp.kron(c[r0:r1], c.conj(), format="csr")
        block = sp.csr_matrix(block)
        block.sum_duplicates()
        block.sort_indices()
        yield r0, r1, block


def local_rows(H: sp.spmatrix, c_ops: list[sp.spmatrix], layout: RowLayout,
               hamiltonian_only: bool = False) -> sp.csr_matrix:
    """This rank's rows of L as one scipy CSR matrix (global column indices)."""
    blocks = [b for _, _, b in row_blocks(H, c_ops, layout, hamiltonian_only)]
    if not blocks:
        return sp.csr_matrix((0, layout.global_size), dtype=DTYPE)
    return sp.vstack(blocks, format="csr")


def assemble(H: sp.spmatrix, c_ops: list[sp.spmatrix], layout: RowLayout,
             hamiltonian_only: bool = False) -> PETSc.Mat:
    """The MPIAIJ matrix of L built block by block (exact preallocation, small temporaries).

    The blocks are built once and kept (about 20 bytes per nonzero), their diagonal and
    off-diagonal counts give PETSc's exact preallocation, and each block is inserted and
    released in turn: the peak is about twice PETSc's own storage."""
    _check_index_range(layout)
    lo, hi = layout.i0 * layout.N, layout.i1 * layout.N
    itype = PETSc.IntType
    blocks, d_nnz, o_nnz = [], [], []
    for r0, _, b in row_blocks(H, c_ops, layout, hamiltonian_only):
        inside = ((b.indices >= lo) & (b.indices < hi)).astype(np.int64)
        d = np.add.reduceat(inside, b.indptr[:-1]) if b.nnz else np.zeros(b.shape[0], np.int64)
        d[np.diff(b.indptr) == 0] = 0
        d_nnz.append(d)
        o_nnz.append(np.diff(b.indptr) - d)
        blocks.append((r0, b))
    n_loc, n_glob = layout.local_size, layout.global_size
    mat = PETSc.Mat().create(comm=layout.comm)
    mat.setSizes(((n_loc, n_glob), (n_loc, n_glob)))
    mat.setType(PETSc.Mat.Type.AIJ)
    d_all = np.concatenate(d_nnz).astype(itype) if d_nnz else np.zeros(0, itype)
    o_all = np.concatenate(o_nnz).astype(itype) if o_nnz else np.zeros(0, itype)
    mat.setPreallocationNNZ((d_all, o_all))
    mat.setOption(PETSc.Mat.Option.NEW_NONZERO_ALLOCATION_ERR, True)
    del d_nnz, o_nnz, d_all, o_all
    while blocks:
        r0, b = blocks.pop(0)
        rows = np.arange(r0 * layout.N, r0 * layout.N + b.shape[0], dtype=itype)
        mat.setValuesIJV(b.indptr.astype(itype), b.indices.astype(itype), b.data,
                         addv=PETSc.InsertMode.INSERT_VALUES, rowmap=rows)
        del b
    mat.assemble()
    return mat


def _check_index_range(layout: RowLayout) -> None:
    if layout.global_size > np.iinfo(PETSc.IntType).max:
        raise PjcsyncError(f"N^2 = {layout.global_size} exceeds this PETSc build's "
                           f"{np.dtype(PETSc.IntType).itemsize * 8}-bit indices: use a PETSc configured "
                           f"--with-64-bit-indices")


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
    _check_index_range(layout)
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
    return assemble(model.hamiltonian(), model.collapse_operators(), layout)


def lab_frame_pieces(model: Model, layout: RowLayout) -> tuple[PETSc.Mat, PETSc.Mat]:
    """``(L_s, L_F)`` with ``L(t) = L_s + cos(omega t) L_F`` for the lab frame, eq. (1).

    ``L_s`` holds the static Hamiltonian and the dissipators, ``L_F = -i[2F(a + a^+), .]``."""
    Ls = assemble(model.lab_hamiltonian_static(), model.collapse_operators(), layout)
    LF = assemble(model.lab_drive_operator(), [], layout, hamiltonian_only=True)
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
