"""The inverse of the Sylvester part L0 of the Lindbladian (paper eqs. 10-13).

Split ``L(rho) = -L0(rho) + L1(rho)`` with

    L0(X) = G X + X G^+,    G = iH + K/2,  K = sum_k L_k^+ L_k     (eqs. 10, 11)
    L1(X) = sum_k L_k X L_k^+                                      (eq. 12)

Both routes are the same sandwich of four dense products around a middle step, on the
row-distributed layout of :mod:`pjcsync.parallel` (each rank owns whole rows of C and of X):

    schur:  F = Q^+ C Q,   (T + s) Y + Y T^+ = F,             X = Q Y Q^+
    eigen:  Z = V^-1 C V^-+,  Y_ij = Z_ij / (d_i + conj(d_j) + s),  X = V Y V^+      (eq. 13)

:class:`SylvesterInverse` solves ``G X + X G^+ + s X = C`` for X given C, for any complex
scalar shift s (``s = 0`` for the steady state; ``s = 2ik omega`` for the harmonics of a
periodic steady state).  G is dense N x N and decomposed once per parameter point on rank 0
(LAPACK ``zgees``/``zgeev``, the only serial step), then broadcast once in the working
precision: every rank holds one N x N factor (``Q^+``; eigen: ``V^-1`` and ``V^+``) and, for
Schur, T.  An application on P ranks:

1. ``W = C Q`` on my rows, written by one GEMM per destination rank straight into the chunks
   of an all-to-all that leaves on each rank ``W[:, my columns]`` (N x N/P);
2. ``F[:, my columns] = Q^+ W[:, my columns]``;
3. the middle step on my columns: the elementwise division (eigen), or the triangular
   Sylvester solve (Schur, below);
4. ``U[:, my columns] = Q Y[:, my columns]``, an all-to-all back to rows, and
   ``X = sum_p U[:, columns of p] Q[:, columns of p]^+`` accumulated in place.

The four products are ZGEMM/CGEMM calls with transpose/conjugate flags on the stored factor
(``scipy.linalg.blas``; no conjugated or transposed copy of Q is made or kept); work arrays
are kept per working precision across calls; ``4 N^3 / P`` multiply-adds per rank.  "My
columns" are the column blocks of :func:`column_blocks`, dealt to the ranks cyclically in
snake order; Q's columns are stored permuted into that order, so that the all-to-all chunks
are contiguous.

* ``kind = "schur"`` (Bartels-Stewart): ``G = Q T Q^+`` with T upper triangular and Q unitary.
  The triangular solve ``(T + s) Y + Y T^+ = F`` (another ``N^3`` multiply-adds) runs on every
  rank at once (:meth:`SylvesterInverse._wavefront`): block ``Y_IJ`` of a ``nb x nb`` block
  partition needs the blocks below it in its column (local) and right of it in its row
  (other ranks), so the blocks are solved in a wavefront over anti-diagonals, each solved
  block being sent to the ranks owning columns left of it; all updates are GEMMs, the
  diagonal blocks are solved by :func:`solve_triangular_sylvester` (a C column sweep,
  :mod:`pjcsync.trsyl`, below ``LEAF_BLOCK``).  On one rank, that recursive blocked solve on
  the whole of T.  Backward stable whatever ``cond(V)``.
* ``kind = "eigen"``: ``G = V D V^-1``.  Exact only when ``cond(V)`` is moderate.
* ``kind = "auto"``: the eigen-decomposition, kept if ``cond_1(V) <= COND_LIMIT`` and its inverse
  reproduces a random right-hand side to ``VERIFY_TOL``; otherwise the Schur form.  Above
  ``N = AUTO_EIGEN_MAX_N`` the Schur form directly.  The choice
  and ``cond_V`` are reported.

Measured costs against the GEMM rate, and the projection to many ranks: docs/performance.md,
"Distributed L0^-1 (issue 12)" (``scripts/bench_l0.py``).

``precision = "single"`` keeps the factors in complex64 and applies the inverse in single
precision (complex128 in and out): half the memory of the factors and 1.7-1.8 times faster
applications (measured at N = 1600).  The inverse is then exact to about 1e-6 only: a flexible
Krylov method (FGMRES, flexible BiCGStab) absorbs that and still converges the steady state in
double precision; the paper's fixed point, which iterates the inverse itself, needs
``"double"``.

:class:`L0PC` wraps the inverse as a PETSc preconditioner (``-pc_type python
-pc_python_type pjcsync.sylvester.L0PC``): it applies ``sign * L0^-1`` (``sign = -1`` because
``L ~ -L0``).
"""
from __future__ import annotations

import bisect
import time

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from mpi4py import MPI
from petsc4py import PETSc

from .model import DTYPE
from .parallel import PjcsyncError, RowLayout, allreduce_sum, transpose_rows
from .superoperator import drift_operator
from .trsyl import solve_small

COND_LIMIT = 1e4          # auto: eigenvectors with cond_1(V) above this are not trusted ...
SINGLE_COND_LIMIT = 1e3   # ... in single precision (the error grows like cond(V)^2 * 6e-8)
VERIFY_TOL = 1e-11        # auto: relative error of the eigen inverse on a random C allowed
AUTO_EIGEN_MAX_N = 1024   # auto above this N: Schur directly.  Measured at N = 1600 (Fig. 11, M = 4):
                          # cond(V) = 1.6e16, and the eigen trial (zgeev + inverse + check) costed
                          # twice the Schur set-up for nothing; Schur is always exact and its
                          # application costs one extra triangular solve (~25 %).
TRSYL_BLOCK = 96          # size below which the triangular Sylvester solve calls pjcsync.trsyl.solve_small
WAVE_BLOCK = 96           # target size of the blocks Y_IJ of the distributed triangular solve
LEAF_BLOCK = 64           # ... each solved recursively, small blocks below this size (measured
                          # with LAPACK ztrsyl at N = 1600: a 100 x 100 block of T cost 15 GEMMs of
                          # that size, 11 when split to 50 x 50)
KINDS = ("auto", "eigen", "schur")
PRECISIONS = {"double": (np.complex128, MPI.C_DOUBLE_COMPLEX), "single": (np.complex64, MPI.C_FLOAT_COMPLEX)}
_MPI_TYPE = {np.complex128: MPI.C_DOUBLE_COMPLEX, np.complex64: MPI.C_FLOAT_COMPLEX}
_WAVE_TAG = 23617         # tag of the blocks of Y exchanged by the distributed triangular solve


# --- the triangular Sylvester solve ------------------------------------------------------------

def solve_triangular_sylvester(A: np.ndarray, B: np.ndarray, F: np.ndarray,
                               block: int = TRSYL_BLOCK, shift: complex = 0.0, floor: float = 0.0) -> np.ndarray:
    """Solve ``(A + shift) Y + Y B^+ = F`` for upper-triangular A (m x m) and B (n x n); F is
    overwritten by Y and returned.

    Recursive splitting (Jonsson-Kagstrom): with ``A = [[A11, A12], [0, A22]]``
    ``A22 Y2 + Y2 B^+ = F2`` is solved first, then ``A11 Y1 + Y1 B^+ = F1 - A12 Y2``; columns
    split the same way through ``B = [[B11, B12], [0, B22]]``:
    ``A Y2 + Y2 B22^+ = F2``, ``A Y1 + Y1 B11^+ = F1 - Y2 B12^+``.  All the flops but those of
    the diagonal blocks of size ``<= block`` (:func:`pjcsync.trsyl.solve_small`) are GEMMs;
    the shift enters only those blocks (no shifted copy of A).  ``floor > 0``: components of each
    solved block below it are set to zero before they enter the GEMMs (single precision: see
    :func:`_single_scaled`)."""
    m, n = F.shape
    if m <= block and n <= block:
        if shift != 0:
            A = A + shift * np.eye(m, dtype=A.dtype)
        return solve_small(A, B, F, floor)  # not LAPACK's trsyl: see pjcsync.trsyl
    if m >= n:
        h = m // 2
        solve_triangular_sylvester(A[h:, h:], B, F[h:], block, shift, floor)
        F[:h] -= A[:h, h:] @ F[h:]
        solve_triangular_sylvester(A[:h, :h], B, F[:h], block, shift, floor)
    else:
        h = n // 2
        solve_triangular_sylvester(A, B[h:, h:], F[:, h:], block, shift, floor)
        F[:, :h] -= F[:, h:] @ B[:h, h:].conj().T
        solve_triangular_sylvester(A, B[:h, :h], F[:, :h], block, shift, floor)
    return F


def column_blocks(N: int, size: int, block: int | None = None) -> tuple[list[int], list[int]]:
    """Edges of the ``nb`` column (and row) blocks of the distributed triangular solve, and the
    rank owning each column block.

    ``nb = k P`` blocks of about ``block`` (default :data:`WAVE_BLOCK`) columns, with k even
    (at least 2) where ``N >= 2P``; ownership is cyclic in snake order (0, 1, .., P-1, P-1, ..,
    0, 0, ..) so that every rank gets columns from every part of the matrix and the work of
    the ``Y T^+`` coupling, which grows linearly towards the left, is balanced exactly."""
    block = block or WAVE_BLOCK
    if size == 1:
        return [0, N], [0]
    k = max(1, min(2 * max(1, round(N / (2 * size * block))), N // size))
    nb = size * k
    edges = [(J * N) // nb for J in range(nb + 1)]
    owner = [J % size if (J // size) % 2 == 0 else size - 1 - J % size for J in range(nb)]
    return edges, owner


# --- the distributed inverse ---------------------------------------------------------------------

def dense_G(H: sp.spmatrix, c_ops: list[sp.spmatrix]) -> np.ndarray:
    """``G = iH + K/2`` (eq. 11) as a dense array."""
    return (-drift_operator(H, c_ops)).toarray()


# single precision (see _single_scaled): data components below SINGLE_FLOOR (the input scaled to
# max |C| = 1) and factor entries below FACTOR_FLOOR times the largest are dropped, so that no
# product falls below the smallest normal float (1.2e-38)
SINGLE_FLOOR = 1e-20
FACTOR_FLOOR = 1e-15


def _flush_small(a: np.ndarray, floor: float) -> np.ndarray:
    """``a`` (complex, last axis contiguous) with every real and imaginary part below ``floor`` in
    magnitude set to 0, in place."""
    v = a.view(a.real.dtype)
    v[np.abs(v) < floor] = 0.0
    return a


def _single_scaled(C: np.ndarray, comm, dtype) -> tuple[np.ndarray, float]:
    """``(C / c, c)`` with ``C / c`` in ``dtype`` (complex64), ``c = max |C|`` over every rank,
    and components below ``SINGLE_FLOOR`` dropped (collective).

    A single-precision GEMM slows down 10-160 times on subnormal operands (below 1.2e-38; cgemm
    at N = 400: 5 ms, 62 ms at 1e-36, 820 ms at 1e-40).  A nearly converged residual has them:
    its norm is about rtol (1e-10) and its Fock tail many orders of magnitude below that, so an
    application inside a Krylov solve started from a good guess (coarse or warm start) was
    32-36 times slower at Fig. 5's N = 400 (scripts/bench_near_converged.py, docs/performance.md)
    and lost the tail's digits.  Scaling by the largest entry and dropping what single precision
    cannot resolve anyway keeps every operand normal."""
    c = comm.allreduce(float(np.abs(C).max()) if C.size else 0.0, op=MPI.MAX)
    if not c > 0.0:
        return C.astype(dtype), 1.0
    return _flush_small((C * (1.0 / c)).astype(dtype), SINGLE_FLOOR), c


class _Work:
    """Work arrays of one application, kept across calls (one set per working dtype)."""

    def __init__(self, rows: int, N: int, ncols: int, dtype):
        self.R = np.empty(rows * N, dtype=dtype)          # send chunks / received chunks (rows x N)
        self.A = np.empty((N, ncols), dtype=dtype)        # this rank's columns of W, F, Y, U
        self.B = np.empty((N, ncols), dtype=dtype)        # the same, rows in the permuted order
        self.X = np.empty((rows, N), dtype=dtype) if dtype != DTYPE else None
        self.gemm = sla.blas.cgemm if dtype == np.complex64 else sla.blas.zgemm


class SylvesterInverse:
    """``X = (L0 + s)^-1 C`` on row blocks: ``G X + X G^+ + s X = C`` (see the module docstring).

    Attributes: ``kind`` ("eigen" or "schur", after the automatic choice), ``cond_V``
    (``||V||_1 ||V^-1||_1`` of the unit-column eigenvectors, None if not computed),
    ``verify_error`` (relative error of the eigen inverse on a random C, auto only),
    ``setup_seconds``."""

    def __init__(self, H: sp.spmatrix, c_ops: list[sp.spmatrix], layout: RowLayout,
                 kind: str = "auto", shift: complex = 0.0, cond_limit: float = COND_LIMIT,
                 precision: str = "double"):
        if kind not in KINDS:
            raise PjcsyncError(f"unknown Sylvester inverse kind {kind!r} (have {', '.join(KINDS)})")
        if precision not in PRECISIONS:
            raise PjcsyncError(f"unknown precision {precision!r} (have {', '.join(PRECISIONS)})")
        self.precision = precision
        self.dtype, self._mpi_type = PRECISIONS[precision]
        t0 = time.perf_counter()
        self.layout = layout
        self.shift = complex(shift)
        self.G = -drift_operator(H, c_ops)           # sparse, for verification and L0
        self.cond_V = None
        self.verify_error = None
        self.requested_kind = kind
        self._plan()
        self._work = {}
        comm = layout.comm
        if kind == "auto" and layout.N > AUTO_EIGEN_MAX_N:
            kind = "schur"      # large N: skip the eigen trial (see AUTO_EIGEN_MAX_N)
        if kind in ("auto", "eigen"):
            d = V = Vinv = None
            if comm.Get_rank() == 0:
                d, V, Vinv, cond = self._eigen(self.G.toarray())
            else:
                cond = None
            self.cond_V = comm.bcast(cond, root=0)
            if precision == "single":
                cond_limit = min(cond_limit, SINGLE_COND_LIMIT)
            use_eigen = kind == "eigen" or (np.isfinite(self.cond_V) and self.cond_V <= cond_limit)
            if use_eigen:
                # the auto trial runs in double, then the factors are cast (_cast)
                dt = DTYPE if kind == "auto" else self.dtype
                if comm.Get_rank() == 0:
                    Lh, Rh = Vinv[self._perm], np.ascontiguousarray(V[:, self._perm].conj().T)
                else:
                    Lh = Rh = None
                self.d = self._bcast(d, (layout.N,), dt)
                self._Lh = self._bcast(Lh, (layout.N, layout.N), dt)
                self._Rh = self._bcast(Rh, (layout.N, layout.N), dt)
                self.kind = "eigen"
                if kind == "auto":
                    self.dtype = DTYPE
                    self.verify_error = self.verify()
                    self.dtype = PRECISIONS[precision][0]
                    if self.dtype != DTYPE:
                        self._work.pop(DTYPE, None)                 # the trial's work arrays
                    if not self.verify_error <= VERIFY_TOL:
                        use_eigen = False
            if not use_eigen:
                self.d = self._Lh = self._Rh = None
                kind = "schur"
            d = V = Vinv = None
        if kind == "schur":
            T = QH = None
            if comm.Get_rank() == 0:
                T, Q = sla.schur(self.G.toarray(), output="complex")
                QH = np.ascontiguousarray(Q[:, self._perm].conj().T)
                del Q
            # every rank holds T (the T Y products of its columns) and Q^+ with its rows in the
            # column-block order (the four basis-change GEMMs); both in the working precision
            self.T = self._bcast(T, (layout.N, layout.N), self.dtype)
            self._Lh = self._Rh = self._bcast(QH, (layout.N, layout.N), self.dtype)
            self._Tc = np.conj(self.T[self._cols]) if comm.Get_size() > 1 else None
            self.kind = "schur"
        self._cast()
        self.setup_seconds = time.perf_counter() - t0

    # --- set-up helpers ---
    def _plan(self) -> None:
        """Column blocks of this rank (:func:`column_blocks`) and the permutation that groups the
        columns by owner: ``perm = [cols of rank 0, cols of rank 1, ...]``."""
        lay = self.layout
        size, rank = lay.comm.Get_size(), lay.comm.Get_rank()
        self._edges, self._owner = column_blocks(lay.N, size)
        e = self._edges
        cols = [[] for _ in range(size)]
        for J, r in enumerate(self._owner):
            cols[r].append(np.arange(e[J], e[J + 1]))
        cols = [np.concatenate(c) for c in cols]
        self._ncols = [len(c) for c in cols]
        self._offs = [0, *np.cumsum(self._ncols)[:-1].tolist()]
        self._perm = np.concatenate(cols)
        self._invperm = np.argsort(self._perm)
        self._cols = cols[rank]
        self._own = [J for J, r in enumerate(self._owner) if r == rank]

    def _cast(self) -> None:
        """The eigen factors in the working precision (after a double-precision auto trial)."""
        if self.kind == "eigen":
            self.d = self.d.astype(self.dtype, copy=False)
            self._Lh = self._Lh.astype(self.dtype, copy=False)
            self._Rh = self._Rh.astype(self.dtype, copy=False)
        if self.dtype != DTYPE:       # no products that underflow (see _single_scaled)
            factors = {id(a): a for a in (self._Lh, self._Rh, getattr(self, "T", None)) if a is not None}
            for a in factors.values():          # Schur: Q^+ serves as both _Lh and _Rh
                if a.dtype == self.dtype and a.size:
                    _flush_small(a, FACTOR_FLOOR * float(np.abs(a).max()))

    @staticmethod
    def _eigen(G: np.ndarray):
        d, V = np.linalg.eig(G)
        try:
            Vinv = np.linalg.inv(V)
        except np.linalg.LinAlgError:
            return d, V, None, np.inf
        cond = float(np.linalg.norm(V, 1) * np.linalg.norm(Vinv, 1))
        return d, V, Vinv, cond

    def _bcast(self, arr, shape, dtype):
        """``arr`` of rank 0 on every rank, in ``dtype`` (one broadcast, no double round trip)."""
        comm = self.layout.comm
        if comm.Get_rank() == 0:
            arr = np.ascontiguousarray(arr, dtype=dtype)
        if comm.Get_size() == 1:
            return arr
        if comm.Get_rank() != 0:
            arr = np.empty(shape, dtype=dtype)
        comm.Bcast([arr, _MPI_TYPE[np.dtype(dtype).type]], root=0)
        return arr

    def _workspace(self) -> _Work:
        w = self._work.get(self.dtype)
        if w is None:
            lay = self.layout
            w = self._work[self.dtype] = _Work(lay.rows, lay.N, len(self._cols), self.dtype)
        return w

    # --- application ---
    def apply(self, C_rows: np.ndarray, shift: complex | None = None) -> np.ndarray:
        """This rank's rows of X with ``G X + X G^+ + s X = C`` (``s = shift``, default
        ``self.shift``); complex128 in and out, a new array."""
        s = self.shift if shift is None else complex(shift)
        lay = self.layout
        C = np.asarray(C_rows).reshape(lay.rows, lay.N)
        if C.dtype == self.dtype:
            return self._apply(C, s)
        C, scale = _single_scaled(C, lay.comm, self.dtype)
        X = self._apply(C, s).astype(DTYPE)
        X *= scale
        return X

    def _apply(self, C: np.ndarray, s: complex) -> np.ndarray:
        """The four products and the middle step of the module docstring, on this rank's rows."""
        lay, w = self.layout, self._workspace()
        comm, size = lay.comm, lay.comm.Get_size()
        N, rows, ncols = lay.N, lay.rows, len(self._cols)
        gemm, Lh, Rh, offs, ns = w.gemm, self._Lh, self._Rh, self._offs, self._ncols
        mpi = _MPI_TYPE[np.dtype(self.dtype).type]
        single = self.dtype != DTYPE      # C scaled to max |C| = 1: the floor is absolute
        # 1. W[my rows, cols of p] = C Q[:, cols of p]  (eigen: C V^-+), straight into the send chunks
        for p in range(size):
            o, n = offs[p], ns[p]
            chunk = w.R[rows * o:rows * (o + n)].reshape(rows, n)
            gemm(1.0, Lh[o:o + n].T, C.T, trans_a=2, c=chunk.T, overwrite_c=1)
        if single:
            _flush_small(w.R, SINGLE_FLOOR)
        # 2. all-to-all: W[:, my cols] (N x ncols, C order) on this rank
        b = lay.all_bounds()
        if size > 1:
            comm.Alltoallv([w.R, ([rows * n for n in ns], [rows * o for o in offs]), mpi],
                           [w.A, ([(b[q + 1] - b[q]) * ncols for q in range(size)],
                                  [b[q] * ncols for q in range(size)]), mpi])
            WS = w.A
        else:
            WS = w.R.reshape(N, N)
        # 3. (Q^+ W)[perm] (eigen: (V^-1 W)[perm]): rows in the column-block order
        np.matmul(Lh, WS, out=w.B)
        if self.kind == "eigen":
            # Y = Z / (d_i + conj(d_j) + s), rows still permuted
            np.add(self.d[self._perm][:, None], np.conj(self.d[self._cols])[None, :] + s, out=w.A)
            np.divide(w.B, w.A, out=w.B)
        elif size == 1:
            solve_triangular_sylvester(self.T, self.T, w.B, shift=s, floor=SINGLE_FLOOR if single else 0.0)
        else:
            np.take(w.B, self._invperm, axis=0, out=w.A)       # F[:, my cols], natural row order
            self._wavefront(w.A, s, w.B, SINGLE_FLOOR if single else 0.0)
            np.take(w.A, self._perm, axis=0, out=w.B)
        if single:
            _flush_small(w.B, SINGLE_FLOOR)
        # 4. U[:, my cols] = Q Y = Q[:, perm] Y[perm]  (eigen: V Y)
        gemm(1.0, w.B.T, Rh.T, trans_b=2, c=w.A.T, overwrite_c=1)
        # 5. all-to-all back: U[my rows, cols of p] from every p
        if size > 1:
            comm.Alltoallv([w.A, ([(b[q + 1] - b[q]) * ncols for q in range(size)],
                                  [b[q] * ncols for q in range(size)]), mpi],
                           [w.R, ([rows * n for n in ns], [rows * o for o in offs]), mpi])
            U = w.R
        else:
            U = w.A.reshape(-1)
        # 6. X = sum_p U[:, cols of p] Q[:, cols of p]^+  (eigen: V^+), accumulated in place
        X = np.empty((rows, N), dtype=DTYPE) if w.X is None else w.X
        for p in range(size):
            o, n = offs[p], ns[p]
            chunk = U[rows * o:rows * (o + n)].reshape(rows, n)
            gemm(1.0, Rh[o:o + n].T, chunk.T, beta=0.0 if p == 0 else 1.0, c=X.T, overwrite_c=1)
        return X

    def _wavefront(self, F: np.ndarray, s: complex, acc: np.ndarray, floor: float = 0.0) -> None:
        """``(T + s) Y + Y T^+ = F`` on this rank's columns of F (N x ncols; overwritten by Y),
        with every rank working: a dataflow over the blocks ``Y_IJ`` of :func:`column_blocks`.

        ``(T_II + s) Y_IJ + Y_IJ T_JJ^+ = F_IJ - sum_{K>I} T_IK Y_KJ - sum_{K>J} Y_IK T_JK^+``:
        block ``(I, J)`` needs the blocks below it in its own column (local; their ``T_IK Y_KJ``
        is subtracted as soon as each is solved) and the blocks right of it in its row (from
        other ranks: each solved block is sent to every rank owning a column left of it, which
        subtracts ``Y_IK T_JK^+`` from all its columns ``J < K`` in one GEMM on arrival).  A
        rank solves its ready block on the longest remaining path (largest ``I + J``) first and
        otherwise waits for a block; the critical path has ``2 nb - 1`` small solves.  ``floor``:
        as in :func:`solve_triangular_sylvester`."""
        comm, rank = self.layout.comm, self.layout.comm.Get_rank()
        e, owner, own, T, Tc = self._edges, self._owner, self._own, self.T, self._Tc
        nb, dt = len(e) - 1, self.dtype
        mpi = _MPI_TYPE[np.dtype(dt).type]
        lo = np.cumsum([0] + [e[J + 1] - e[J] for J in own])      # local column offsets
        nxt = [nb - 1] * len(own)           # next row block to solve in each of my columns
        nextK = [nb - 1] * nb               # row I: the Y_IK (K descending) to subtract next
        held = {}                           # blocks received ahead of their turn
        left = nb * len(own)
        expect = nb * sum(1 for K in range(own[0] + 1, nb) if owner[K] != rank)
        dests = [sorted({owner[L] for L in range(J)} - {rank}) for J in range(nb)]
        wmax = max(e[J + 1] - e[J] for J in range(nb))
        scratch = np.empty(wmax * wmax + 1, dtype=dt)
        sends, msgs, status = [], [], MPI.Status()
        acc.fill(0)                         # sum_K Y_IK T_JK^+, kept apart from the T Y terms in F

        def subtract(I, K, Yt):
            """acc_IJ += Y_IK T_JK^+ for my columns J < K (Yt = Y_IK^T, C order), then any held
            block next in line.  Every row takes its K in the same (descending) order and F
            takes the T Y terms of each column in row order, whatever the order of arrival:
            the result does not depend on the timing."""
            while True:
                cnt = bisect.bisect_left(own, K)
                if cnt:
                    acc[e[I]:e[I + 1], :lo[cnt]] += Yt.T @ Tc[:lo[cnt], e[K]:e[K + 1]].T
                nextK[I] = K = K - 1
                Yt = held.pop((I, K), None)
                if Yt is None:
                    return

        def receive(block: bool) -> bool:
            if not comm.Iprobe(source=MPI.ANY_SOURCE, tag=_WAVE_TAG, status=status):
                if not block:
                    return False
                comm.Probe(source=MPI.ANY_SOURCE, tag=_WAVE_TAG, status=status)
            n = status.Get_count(mpi)
            comm.Recv([scratch[:n], mpi], source=status.Get_source(), tag=_WAVE_TAG)
            I, K = int(scratch[0].real), int(scratch[0].imag)
            Yt = scratch[1:n].reshape(e[K + 1] - e[K], e[I + 1] - e[I])
            if nextK[I] == K:
                subtract(I, K, Yt)
            else:
                held[I, K] = Yt.copy()
            return True

        while left:
            while expect and receive(False):
                expect -= 1
            best = None
            for j, J in enumerate(own):
                I = nxt[j]
                if I >= 0 and nextK[I] == J and (best is None or I + J > best[0] + best[1]):
                    best = (I, J, j)
            if best is None:
                receive(True)
                expect -= 1
                continue
            I, J, j = best
            r0, r1, c0, c1 = e[I], e[I + 1], lo[j], lo[j + 1]
            Y = solve_triangular_sylvester(T[r0:r1, r0:r1], T[e[J]:e[J + 1], e[J]:e[J + 1]],
                                           F[r0:r1, c0:c1] - acc[r0:r1, c0:c1], LEAF_BLOCK, s, floor)
            F[r0:r1, c0:c1] = Y
            if r0:
                F[:r0, c0:c1] -= T[:r0, r0:r1] @ Y
            if dests[J]:
                msg = np.empty(Y.size + 1, dtype=dt)
                msg[0] = complex(I, J)
                msg[1:] = Y.T.ravel()
                sends += [comm.Isend([msg, mpi], dest=d, tag=_WAVE_TAG) for d in dests[J]]
                msgs.append(msg)
            subtract(I, J, Y.T)
            nxt[j] -= 1
            left -= 1
        while expect:                       # blocks of columns left of all mine: none are sent
            receive(True)
            expect -= 1
        MPI.Request.Waitall(sends)

    # --- checks ---
    def L0(self, X_rows: np.ndarray, shift: complex | None = None) -> np.ndarray:
        """Rows of ``G X + X G^+ + s X`` (sparse G; one transpose for the left product)."""
        s = self.shift if shift is None else complex(shift)
        lay = self.layout
        # (G X)^T = X^T G^T: rows of X^T times G^T
        GX_T = (self.G @ transpose_rows(X_rows, lay).T).T
        GX = transpose_rows(np.ascontiguousarray(GX_T), lay)
        XGh = (self.G.conj() @ X_rows.T).T
        return GX + XGh + s * X_rows

    def verify(self, seed: int = 12345) -> float:
        """Relative error ``||L0(L0^-1 C) - C|| / ||C||`` on a random C (collective)."""
        lay = self.layout
        rng = np.random.default_rng(seed + lay.i0)
        C = rng.standard_normal((lay.rows, lay.N)) + 1j * rng.standard_normal((lay.rows, lay.N))
        R = self.L0(self.apply(C)) - C
        num, den = allreduce_sum(np.array([np.vdot(R, R).real, np.vdot(C, C).real]), lay.comm)
        return float(np.sqrt(num / den))

    def report(self) -> dict:
        return {"kind": self.kind, "requested_kind": self.requested_kind,
                "cond_V": self.cond_V, "verify_error": self.verify_error, "precision": self.precision,
                "setup_seconds": self.setup_seconds}


# --- PETSc preconditioner -------------------------------------------------------------------------

class L0PC:
    """PETSc ``python`` preconditioner applying ``sign * L0^-1`` (default ``sign = -1``).

    Built directly with :func:`as_pc`, or from the options database with
    ``-pc_type python -pc_python_type pjcsync.sylvester.L0PC``: then the operator must be one
    of pjcsync's python matrices whose context has ``H``, ``c_ops`` and ``layout`` (or a ready
    ``sylvester`` attribute), as the ``krylov`` method's bordered operator does.
    ``-pjcsync_pc_kind auto|eigen|schur`` chooses the decomposition in that case and
    ``-pjcsync_pc_precision double|single`` its arithmetic."""

    def __init__(self, inverse: SylvesterInverse | None = None, sign: float = -1.0):
        self.inverse = inverse
        self.sign = sign

    def setUp(self, pc):
        if self.inverse is not None:
            return
        _, P = pc.getOperators()
        ctx = P.getPythonContext() if P.getType() == "python" else None
        if ctx is not None and getattr(ctx, "sylvester", None) is not None:
            self.inverse = ctx.sylvester
            return
        if ctx is None or not all(hasattr(ctx, k) for k in ("H", "c_ops", "layout")):
            raise PjcsyncError("pjcsync.sylvester.L0PC needs pjcsync's operator (a python Mat whose "
                               "context has H, c_ops, layout): use it with the krylov steady state")
        opts = PETSc.Options()
        self.inverse = SylvesterInverse(ctx.H, ctx.c_ops, ctx.layout,
                                        kind=opts.getString("pjcsync_pc_kind", "auto"),
                                        precision=opts.getString("pjcsync_pc_precision", "double"))
        ctx.sylvester = self.inverse

    def apply(self, pc, x, y):
        lay = self.inverse.layout
        X = self.inverse.apply(x.getArray(readonly=True).reshape(lay.rows, lay.N))
        if self.sign != 1.0:
            X *= self.sign
        y.setArray(X.ravel())

    def view(self, pc, viewer):
        if self.inverse is not None:
            r = self.inverse.report()
            viewer.printfASCII(f"  pjcsync L0^-1 ({r['kind']}, cond_V = {r['cond_V']}), sign {self.sign:+g}\n")


def as_pc(inverse: SylvesterInverse, sign: float = -1.0, comm=None) -> PETSc.PC:
    """A PETSc PC (python type) applying ``sign * L0^-1`` with a ready :class:`SylvesterInverse`."""
    pc = PETSc.PC().create(comm=comm or inverse.layout.comm)
    pc.setType(PETSc.PC.Type.PYTHON)
    pc.setPythonContext(L0PC(inverse, sign))
    return pc
