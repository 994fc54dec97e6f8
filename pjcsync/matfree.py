"""The Lindbladian applied without assembling it: sparse-times-dense products on the rows of rho.

For a row-distributed rho (each rank owns rows ``[i0, i1)``, :class:`~pjcsync.parallel.RowLayout`)

    L(rho) = A rho + rho A^+ + sum_k L_k rho L_k^+,     A = -iH - K/2 = -G        (eq. 9)

* ``rho A^+`` and ``(.) L_k^+`` act on the columns: local work on the rows a rank owns;
* ``A rho`` and ``L_k rho`` act on the rows: row i needs the rows j of rho with ``A_ij != 0``.
  The operators of this model are banded (the cavity ladder moves an index by ``2**M``), so
  each rank needs only a *halo* of rows from its neighbours: one point-to-point exchange per
  application (:meth:`RowOperator.halo`), never the whole matrix.

Memory: the small N x N sparse operators plus ``(rows + halo) x N`` dense entries per rank,
instead of the ``~30 N^2`` stored entries of the assembled L.  ``L0(rho) = G rho + rho G^+``
(eq. 10) and ``L1(rho) = sum_k L_k rho L_k^+`` (eq. 12) are available separately for the
paper's fixed-point iteration (eq. 14).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from mpi4py import MPI
from petsc4py import PETSc

from .model import DTYPE
from .parallel import RowLayout, allreduce_sum
from .superoperator import _clean, drift_operator


class RowOperator:
    """``L``, ``L0`` and ``L1`` on row blocks of rho (arrays of shape ``(rows, N)``)."""

    def __init__(self, H: sp.spmatrix, c_ops: list[sp.spmatrix], layout: RowLayout):
        self.layout = layout
        N, i0, i1 = layout.N, layout.i0, layout.i1
        self.A = drift_operator(H, c_ops)
        self.c_ops = [_clean(c) for c in c_ops]
        # right factors X -> X B^+ computed as (conj(B) X^T)^T: keep conj(B) in CSR
        self.A_conj = self.A.conj().tocsr()
        self.c_conj = [c.conj().tocsr() for c in self.c_ops]
        left = [self.A[i0:i1]] + [c[i0:i1] for c in self.c_ops]
        cols = np.concatenate([m.indices for m in left] + [np.arange(i0, i1)])
        self.lo, self.hi = int(cols.min()), int(cols.max()) + 1
        self.A_loc = self.A[i0:i1, self.lo:self.hi].tocsr()
        self.c_loc = [c[i0:i1, self.lo:self.hi].tocsr() for c in self.c_ops]
        self._plan = self._halo_plan()

    # --- halo exchange -------------------------------------------------------------------------
    def _halo_plan(self):
        lay = self.layout
        ranges = lay.comm.allgather((self.lo, self.hi))
        b = lay.all_bounds()
        me = lay.comm.Get_rank()
        sends, recvs = [], []
        for s in range(lay.comm.Get_size()):
            if s == me:
                continue
            lo, hi = max(ranges[s][0], lay.i0), min(ranges[s][1], lay.i1)   # my rows s needs
            if lo < hi:
                sends.append((s, lo, hi))
            lo, hi = max(self.lo, b[s]), min(self.hi, b[s + 1])            # s's rows I need
            if lo < hi:
                recvs.append((s, lo, hi))
        return sends, recvs

    def halo(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``[lo, hi)`` of rho: this rank's rows plus the halo from its neighbours."""
        lay = self.layout
        ext = np.empty((self.hi - self.lo, lay.N), dtype=DTYPE)
        ext[lay.i0 - self.lo:lay.i1 - self.lo] = rows
        sends, recvs = self._plan
        reqs = [lay.comm.Irecv([ext[lo - self.lo:hi - self.lo], MPI.C_DOUBLE_COMPLEX], source=s, tag=7)
                for s, lo, hi in recvs]
        blocks = [np.ascontiguousarray(rows[lo - lay.i0:hi - lay.i0]) for _, lo, hi in sends]
        reqs += [lay.comm.Isend([blk, MPI.C_DOUBLE_COMPLEX], dest=s, tag=7)
                 for (s, _, _), blk in zip(sends, blocks)]
        MPI.Request.Waitall(reqs)
        return ext

    @staticmethod
    def _right(X: np.ndarray, B_conj: sp.csr_matrix) -> np.ndarray:
        """``X B^+`` for dense X and sparse B (given conj(B))."""
        return (B_conj @ X.T).T

    # --- the superoperators --------------------------------------------------------------------
    def drift_part(self, rows: np.ndarray, ext: np.ndarray) -> np.ndarray:
        """``A rho + rho A^+ = -L0(rho)``."""
        return self.A_loc @ ext + self._right(rows, self.A_conj)

    def jump_part(self, ext: np.ndarray) -> np.ndarray:
        """``L1(rho) = sum_k L_k rho L_k^+`` (eq. 12)."""
        out = np.zeros((self.layout.rows, self.layout.N), dtype=DTYPE)
        for c_loc, c_conj in zip(self.c_loc, self.c_conj):
            out += self._right(c_loc @ ext, c_conj)
        return out

    def L(self, rows: np.ndarray) -> np.ndarray:
        ext = self.halo(rows)
        return self.drift_part(rows, ext) + self.jump_part(ext)

    def L0(self, rows: np.ndarray) -> np.ndarray:
        """``L0(rho) = G rho + rho G^+`` (eq. 10)."""
        return -self.drift_part(rows, self.halo(rows))

    def L1(self, rows: np.ndarray) -> np.ndarray:
        return self.jump_part(self.halo(rows))

    def norm_inf_bound(self) -> float:
        """An upper bound of ``||L||_inf`` (max absolute row sum), without assembling L."""
        ra = np.abs(self.A).sum(axis=1).max()
        rc = sum(np.abs(c).sum(axis=1).max() ** 2 for c in self.c_ops)
        return float(2 * ra + rc)


class MatFreeContext:
    """Python context of a PETSc shell matrix applying L matrix-free (``operator = "matrix-free"``)."""

    def __init__(self, op: RowOperator):
        self.op = op

    def mult(self, mat, x, y):
        lay = self.op.layout
        rows = x.getArray(readonly=True).reshape(lay.rows, lay.N)
        y.setArray(self.op.L(rows).ravel())


def matfree_liouvillian(H: sp.spmatrix, c_ops: list[sp.spmatrix], layout: RowLayout) -> PETSc.Mat:
    """L as a PETSc ``python`` matrix (sizes and layout as the assembled one)."""
    ctx = MatFreeContext(RowOperator(H, c_ops, layout))
    n = (layout.local_size, layout.global_size)
    mat = PETSc.Mat().createPython((n, n), context=ctx, comm=layout.comm)
    mat.setUp()
    return mat


def local_trace(rows: np.ndarray, layout: RowLayout) -> complex:
    i = np.arange(layout.i0, layout.i1)
    return complex(allreduce_sum(rows[i - layout.i0, i].sum(), layout.comm))
