"""The inverse of the Sylvester part L0 of the Lindbladian (paper eqs. 10-13, DESIGN section 2).

Split ``L(rho) = -L0(rho) + L1(rho)`` with

    L0(X) = G X + X G^+,    G = iH + K/2,  K = sum_k L_k^+ L_k     (eqs. 10, 11)
    L1(X) = sum_k L_k X L_k^+                                      (eq. 12)

:class:`SylvesterInverse` solves ``G X + X G^+ + s X = C`` for X given C, for any complex
scalar shift s (``s = 0`` for the steady state; ``s = 2ik omega`` for the harmonics of a
periodic steady state), on the row-distributed layout of :mod:`pjcsync.parallel` (each rank
owns whole rows of C and of X).  G is dense N x N and decomposed once per parameter point on
rank 0 (LAPACK), then broadcast: every rank holds the N x N factors.

* ``kind = "eigen"``: ``G = V D V^-1``, ``X = V Y V^+``, ``Y_ij = (V^-1 C V^-+)_ij / (d_i + conj(d_j) + s)``
  (eq. 13).  Four local GEMMs and two all-to-all transposes (:func:`~pjcsync.parallel.transpose_rows`),
  ``O(N^3 / P)`` flops per rank.  Exact only when ``cond(V)`` is moderate.
* ``kind = "schur"`` (Bartels-Stewart): ``G = Q T Q^+`` with T upper triangular and Q unitary,
  ``X = Q Y Q^+`` with ``(T + s) Y + Y T^+ = Q^+ C Q``.  The unitary transforms are the same four
  distributed GEMMs; the triangular Sylvester solve is gathered on rank 0 and solved by a
  recursive blocked algorithm (GEMM updates, a C column sweep on small diagonal blocks, :mod:`pjcsync.trsyl`).  With
  two ranks or more, rank 1 solves the off-diagonal quadrant ``Y12`` of every level of the
  recursion while rank 0 solves ``Y21`` (:meth:`SylvesterInverse._solve_triangular`).
  Backward stable whatever ``cond(V)``.
* ``kind = "auto"``: the eigen-decomposition, kept if ``cond_1(V) <= COND_LIMIT`` and its inverse
  reproduces a random right-hand side to ``VERIFY_TOL``; otherwise the Schur form.  Above
  ``N = AUTO_EIGEN_MAX_N`` the Schur form directly.  The choice
  and ``cond_V`` are reported.

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
SPLIT_MIN = 128           # with >= 2 ranks the triangular solve is split down to quadrants this small
TRSYL_BLOCK = 96          # size below which the triangular Sylvester solve calls pjcsync.trsyl.solve_small
KINDS = ("auto", "eigen", "schur")
PRECISIONS = {"double": (np.complex128, MPI.C_DOUBLE_COMPLEX), "single": (np.complex64, MPI.C_FLOAT_COMPLEX)}
_STOP = -1                # header of the message that ends rank 1's help with a triangular solve


# --- the triangular Sylvester solve ------------------------------------------------------------

def solve_triangular_sylvester(A: np.ndarray, B: np.ndarray, F: np.ndarray,
                               block: int = TRSYL_BLOCK) -> np.ndarray:
    """Solve ``A Y + Y B^+ = F`` for upper-triangular A (m x m) and B (n x n); F is overwritten.

    Recursive splitting (Jonsson-Kagstrom): with ``A = [[A11, A12], [0, A22]]``
    ``A22 Y2 + Y2 B^+ = F2`` is solved first, then ``A11 Y1 + Y1 B^+ = F1 - A12 Y2``; columns
    split the same way through ``B = [[B11, B12], [0, B22]]``:
    ``A Y2 + Y2 B22^+ = F2``, ``A Y1 + Y1 B11^+ = F1 - Y2 B12^+``.  All the flops but those of
    the small diagonal blocks are GEMMs; those are solved by :func:`pjcsync.trsyl.solve_small`."""
    m, n = F.shape
    if m <= block and n <= block:
        return solve_small(A, B, F)         # not LAPACK's trsyl: see pjcsync.trsyl
    if m >= n:
        h = m // 2
        solve_triangular_sylvester(A[h:, h:], B, F[h:], block)
        F[:h] -= A[:h, h:] @ F[h:]
        solve_triangular_sylvester(A[:h, :h], B, F[:h], block)
    else:
        h = n // 2
        solve_triangular_sylvester(A, B[h:, h:], F[:, h:], block)
        F[:, :h] -= F[:, h:] @ B[:h, h:].conj().T
        solve_triangular_sylvester(A, B[:h, :h], F[:, :h], block)
    return F


# --- the distributed inverse ---------------------------------------------------------------------

def dense_G(H: sp.spmatrix, c_ops: list[sp.spmatrix]) -> np.ndarray:
    """``G = iH + K/2`` (eq. 11) as a dense array."""
    return (-drift_operator(H, c_ops)).toarray()


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
                self.d = self._bcast(d, (layout.N,))
                self.V = self._bcast(V, (layout.N, layout.N))
                self.Vinv = self._bcast(Vinv, (layout.N, layout.N))
                self.kind = "eigen"
                if kind == "auto":
                    self._VinvH = np.ascontiguousarray(self.Vinv.conj().T)   # double-precision trial
                    self._VH = np.ascontiguousarray(self.V.conj().T)
                    self.dtype = DTYPE                               # the trial is in double
                    self.verify_error = self.verify()
                    self.dtype = PRECISIONS[precision][0]
                    if not self.verify_error <= VERIFY_TOL:
                        use_eigen = False
            if not use_eigen:
                self.d = self.V = self.Vinv = self._VinvH = self._VH = None
                kind = "schur"
        if kind == "schur":
            T = Q = None
            if comm.Get_rank() == 0:
                T, Q = sla.schur(self.G.toarray(), output="complex")
            # T lives on rank 0, which gathers the triangular problem, and on rank 1, which
            # solves the off-diagonal quadrants (see _solve_triangular)
            self._split = comm.Get_size() > 1 and layout.N >= 2 * SPLIT_MIN
            self.T = None
            if comm.Get_rank() == 0 or (self._split and comm.Get_rank() == 1):
                self.T = np.asarray(T, dtype=DTYPE) if comm.Get_rank() == 0 else \
                    np.empty((layout.N, layout.N), dtype=DTYPE)
            if self._split:
                if comm.Get_rank() == 0:
                    comm.Send([np.ascontiguousarray(self.T), MPI.C_DOUBLE_COMPLEX], dest=1, tag=11)
                elif comm.Get_rank() == 1:
                    comm.Recv([self.T, MPI.C_DOUBLE_COMPLEX], source=0, tag=11)
            self.Q = self._bcast(Q, (layout.N, layout.N))
            self.kind = "schur"
        self._cast()
        self.setup_seconds = time.perf_counter() - t0

    # --- set-up helpers ---
    def _cast(self) -> None:
        """Store the factors in the working precision, with the conjugates the GEMMs use."""
        dt = self.dtype
        if self.kind == "eigen":
            self.d = self.d.astype(dt)
            self.V, self.Vinv = self.V.astype(dt), self.Vinv.astype(dt)
            self._VinvH = np.ascontiguousarray(self.Vinv.conj().T)
            self._VH = np.ascontiguousarray(self.V.conj().T)
        else:
            self.Q = self.Q.astype(dt, copy=False)
            self._Qc = np.conj(self.Q)
            if self.T is not None:
                self.T = self.T.astype(dt, copy=False)

    @staticmethod
    def _eigen(G: np.ndarray):
        d, V = np.linalg.eig(G)
        try:
            Vinv = np.linalg.inv(V)
        except np.linalg.LinAlgError:
            return d, V, None, np.inf
        cond = float(np.linalg.norm(V, 1) * np.linalg.norm(Vinv, 1))
        return d, V, Vinv, cond

    def _bcast(self, arr, shape):
        comm = self.layout.comm
        if comm.Get_size() == 1:
            return arr
        if comm.Get_rank() != 0:
            arr = np.empty(shape, dtype=DTYPE)
        arr = np.ascontiguousarray(arr, dtype=DTYPE)
        comm.Bcast([arr, MPI.C_DOUBLE_COMPLEX], root=0)
        return arr

    # --- application ---
    def apply(self, C_rows: np.ndarray, shift: complex | None = None) -> np.ndarray:
        """This rank's rows of X with ``G X + X G^+ + s X = C`` (``s = shift``, default ``self.shift``)."""
        s = self.shift if shift is None else complex(shift)
        C_rows = np.asarray(C_rows).reshape(self.layout.rows, self.layout.N).astype(self.dtype, copy=False)
        X = self._apply_eigen(C_rows, s) if self.kind == "eigen" else self._apply_schur(C_rows, s)
        return X.astype(DTYPE, copy=False)

    def _apply_eigen(self, C_rows, s):
        lay = self.layout
        W = C_rows @ self._VinvH                            # rows of C V^-+
        ZT = transpose_rows(W, lay) @ self.Vinv.T             # rows of (V^-1 C V^-+)^T
        j = np.arange(lay.i0, lay.i1)
        ZT /= (self.d[None, :] + np.conj(self.d[j])[:, None] + s)   # Y^T_ji = Z^T_ji / (d_i + d_j^* + s)
        UT = ZT @ self.V.T                                   # rows of (V Y)^T
        return transpose_rows(UT, lay) @ self._VH            # rows of V Y V^+

    def _apply_schur(self, C_rows, s):
        lay = self.layout
        comm = lay.comm
        W = C_rows @ self.Q                                  # rows of C Q
        FT = transpose_rows(W, lay) @ self._Qc               # rows of (Q^+ C Q)^T
        b = lay.all_bounds()
        counts = [(b[r + 1] - b[r]) * lay.N for r in range(comm.Get_size())]
        mpi = self._mpi_type
        full = np.empty((lay.N, lay.N), dtype=self.dtype) if comm.Get_rank() == 0 else None
        if comm.Get_size() > 1:
            comm.Gatherv(np.ascontiguousarray(FT), [full, (counts, None), mpi] if full is not None else None,
                         root=0)
        else:
            full = FT
        YT = np.empty((lay.rows, lay.N), dtype=self.dtype)
        YTfull = None
        if comm.Get_rank() == 0:
            Y = self._solve_triangular(np.ascontiguousarray(full.T), s)
            YTfull = np.ascontiguousarray(Y.T)
        elif comm.Get_rank() == 1 and self._split:
            self._help_triangular(s)
        if comm.Get_size() > 1:
            comm.Scatterv([YTfull, (counts, None), mpi] if YTfull is not None else None, YT, root=0)
        else:
            YT = YTfull
        UT = YT @ self.Q.T                                   # rows of (Q Y)^T
        return transpose_rows(UT, lay) @ self._Qc.T          # rows of Q Y Q^+

    def _shifted(self, lo: int, hi: int, s: complex) -> np.ndarray:
        """``T[lo:hi, lo:hi] + s``."""
        A = self.T[lo:hi, lo:hi]
        return A + s * np.eye(hi - lo, dtype=self.dtype) if s != 0 else A

    def _solve_triangular(self, F: np.ndarray, s: complex) -> np.ndarray:
        """``(T + s) Y + Y T^+ = F`` on rank 0 (F is overwritten by Y).

        With two ranks or more, recursively split 2 x 2 (``T = [[T11, T12], [0, T22]]``):
        ``Y22`` first (split again), then ``Y21`` on rank 0 and ``Y12`` on rank 1 at the same
        time, then ``Y11`` (split again).  Rank 1 works at every level of the recursion down to
        quadrants of ``SPLIT_MIN``; the critical path is about two thirds of the serial solve."""
        if not self._split:
            return solve_triangular_sylvester(self._shifted(0, self.layout.N, s), self.T, F)
        try:
            self._split_solve(0, self.layout.N, F, s)
        finally:
            self.layout.comm.Send([np.array([_STOP, 0, 0], dtype=np.int64), MPI.INT64_T], dest=1, tag=13)
        return F

    def _split_solve(self, lo: int, hi: int, F: np.ndarray, s: complex) -> None:
        """Rank 0's part for the diagonal block ``[lo, hi)``: F is the (hi-lo)^2 view to solve."""
        n = hi - lo
        T = self.T
        if n < 2 * SPLIT_MIN:
            solve_triangular_sylvester(self._shifted(lo, hi, s), T[lo:hi, lo:hi], F)
            return
        comm, h, m = self.layout.comm, n // 2, lo + n // 2
        self._split_solve(m, hi, F[h:, h:], s)                                        # Y22
        T12 = T[lo:m, m:hi]
        R12 = np.ascontiguousarray(F[:h, h:] - T12 @ F[h:, h:])
        comm.Send([np.array([lo, m, hi], dtype=np.int64), MPI.INT64_T], dest=1, tag=13)
        req = comm.Isend([R12, self._mpi_type], dest=1, tag=14)
        F[h:, :h] -= F[h:, h:] @ T12.conj().T
        solve_triangular_sylvester(self._shifted(m, hi, s), T[lo:m, lo:m], F[h:, :h])   # Y21
        req.Wait()
        comm.Recv([R12, self._mpi_type], source=1, tag=15)                             # Y12
        F[:h, h:] = R12
        F[:h, :h] -= T12 @ F[h:, :h] + R12 @ T12.conj().T
        self._split_solve(lo, m, F[:h, :h], s)                                        # Y11

    def _help_triangular(self, s: complex) -> None:
        """Rank 1's part of :meth:`_solve_triangular`: ``(T11 + s) Y12 + Y12 T22^+ = R12`` for each
        quadrant rank 0 sends, until the stop header."""
        comm = self.layout.comm
        header = np.empty(3, dtype=np.int64)
        while True:
            comm.Recv([header, MPI.INT64_T], source=0, tag=13)
            lo, m, hi = (int(v) for v in header)
            if lo == _STOP:
                return
            R12 = np.empty((m - lo, hi - m), dtype=self.dtype)
            comm.Recv([R12, self._mpi_type], source=0, tag=14)
            solve_triangular_sylvester(self._shifted(lo, m, s), self.T[m:hi, m:hi], R12)
            comm.Send([R12, self._mpi_type], dest=0, tag=15)

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
