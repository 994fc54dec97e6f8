"""Steady states of the RWA Lindblad equation, eq. (7): ``L rho = 0``, ``Tr rho = 1``.

Methods (``[solver] method``):

* ``direct``: sparse LU (MUMPS through PETSc) of L with the equation of ``rho_00`` replaced by
  the trace condition (the rows of L are linearly dependent because L's range is traceless).
  PETSc options (``-pc_factor_mat_solver_type``, ``-mat_mumps_icntl_14`` ...) reach the solver.
* ``krylov``: the bordered, nonsingular system ``(L + e t^T) rho = e`` (DESIGN section 2), with
  ``t^T rho = Tr rho`` and ``e = K / Tr K`` (``K = L0(I)``), solved by a PETSc KSP (GMRES by
  default, right preconditioned so that the monitored residual is the true one) with the
  preconditioner ``-L0^-1`` of :mod:`pjcsync.sylvester` (eqs. 10-13).  Every KSP and PC option
  of PETSc applies (``-ksp_type fgmres``, ``-ksp_gmres_restart 100``, ``-pc_type none`` ...);
  ``-pjcsync_pc none`` switches the Sylvester preconditioner off.
* ``sylvester``: the paper's fixed point ``L0 rho_{m+1} = L1 rho_m`` (eq. 14), trace renormalized
  each step; it stops when ``||L rho_m|| <= rtol ||e||``.
* ``rate`` / ``rate*``: the series of :mod:`pjcsync.rate` (eqs. 15-30).
* ``auto``: ``direct`` for small problems, ``krylov`` otherwise (:func:`auto_method`).

``[solver] operator``: ``"matrix-free"`` applies L through :mod:`pjcsync.matfree` instead of the
assembled matrix (krylov and sylvester); ``"auto"`` (default) means matrix-free for those and
assembled for ``direct`` (:func:`auto_operator`).  Initial guesses (krylov, sylvester): ``initial``
argument (a warm start from a previous point), else ``[solver] initial_guess``.

Every result is checked after the solve: unit trace, Hermitian and positive to
``[solver] check_tolerance``, and the residual ``||L rho||`` below ``rtol * ||L|| ||rho||``.
A failed check raises :class:`~pjcsync.parallel.PjcsyncError`: it is never returned as a result.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg  # noqa: F401  (sp.linalg.norm)
from mpi4py import MPI
from petsc4py import PETSc

from .model import DTYPE, Model

from .parallel import (InputError, PjcsyncError, RowLayout, allreduce_sum, gather_peak_memory,
                       transpose_rows)
from . import superoperator as so

POSITIVITY_CHECK_MAX_N = 6000   # rho is gathered on rank 0 for the eigenvalue check up to this N


@dataclass
class SteadyState:
    """A checked steady state: ``rho`` (distributed, row-major vec) and solver statistics."""

    model: Model
    layout: RowLayout
    rho: PETSc.Vec
    solver: dict = field(default_factory=dict)
    checks: dict = field(default_factory=dict)

    def rows(self) -> np.ndarray:
        """This rank's rows of rho, shape (rows, N)."""
        return self.rho.getArray(readonly=True).reshape(self.layout.rows, self.layout.N)


def _direct_rows(csr: sp.csr_matrix, layout: RowLayout) -> tuple[sp.csr_matrix, float]:
    """Replace the equation of rho_00 (owned by rank 0) by ``s * Tr rho = s``.

    ``s`` is the mean magnitude of L's diagonal so the trace row is scaled like the others."""
    diag_mag = allreduce_sum(np.array([np.abs(csr.diagonal(k=layout.i0 * layout.N)).sum(), csr.shape[0]]),
                             layout.comm)
    scale = float(diag_mag[0] / max(diag_mag[1], 1)) or 1.0
    if layout.i0 == 0:
        N = layout.N
        csr = csr.tolil()
        row = np.zeros(csr.shape[1], dtype=DTYPE)
        row[np.arange(N) * (N + 1)] = scale
        csr[0, :] = row
        csr = csr.tocsr()
        csr.eliminate_zeros()
        csr.sort_indices()
    return csr, scale


def solve_direct(model: Model, layout: RowLayout, rtol: float = 1e-10, options_prefix: str = "") -> tuple[PETSc.Vec, dict]:
    """Direct sparse LU of the trace-constrained system (MUMPS where available)."""
    t0 = time.perf_counter()
    csr, scale = _direct_rows(so.local_rows(model.hamiltonian(), model.collapse_operators(), layout), layout)
    A = so.petsc_matrix(csr, layout)
    del csr
    t_assembly = time.perf_counter() - t0
    b = A.createVecLeft()
    b.set(0.0)
    if layout.i0 == 0:
        b.setValue(0, scale)
    b.assemble()
    x, info = lu_solve(A, b, layout.comm, options_prefix, "direct solve")
    A.destroy()
    info = {"method": "direct", "iterations": 1, "assembly_seconds": t_assembly, **info}
    return x, info


def lu_solve(A: PETSc.Mat, b: PETSc.Vec, comm, options_prefix: str = "",
             what: str = "direct solve") -> tuple[PETSc.Vec, dict]:
    """Sparse LU (MUMPS where available) of ``A x = b``; PETSc options may change the solver.

    Failures are PjcsyncErrors naming ``what``.  The factors are freed before returning."""
    x = A.createVecRight()
    ksp = PETSc.KSP().create(comm=comm)
    ksp.setOptionsPrefix(options_prefix)
    ksp.setOperators(A)
    ksp.setType("preonly")
    pc = ksp.getPC()
    pc.setType("lu")
    if PETSc.Sys.hasExternalPackage("mumps"):
        pc.setFactorSolverType("mumps")
    elif comm.Get_size() > 1:
        raise PjcsyncError(f"{what} on several ranks needs a PETSc build with MUMPS", collective=True)
    ksp.setFromOptions()
    try:
        ksp.solve(b, x)
    except PETSc.Error as exc:
        raise PjcsyncError(f"{what} failed in PETSc (error {exc.ierr}); "
                           f"the factorization may have run out of memory") from None
    reason = ksp.getConvergedReason()
    if reason < 0:
        raise PjcsyncError(f"{what} failed: KSP reason {reason}", collective=True)
    info = {"factorization": pc.getFactorSolverType() or "petsc",
            "ksp_type": ksp.getType(), "pc_type": pc.getType()}
    # petsc4py 3.18 defers destruction of objects still referenced from Python: destroy the
    # PC (which holds the MUMPS factors) explicitly and collect, or every solve keeps its factors
    pc.destroy()
    ksp.destroy()
    if hasattr(PETSc, "garbage_cleanup"):
        PETSc.garbage_cleanup(comm)
    return x, info


def check_state(model: Model, layout: RowLayout, rho: PETSc.Vec, L: PETSc.Mat, rtol: float,
                tolerance: float, trace_constrained: bool = True, norm_L: float | None = None,
                require_residual: bool = True) -> dict:
    """Trace, hermiticity, positivity and residual of a computed steady state.

    Normalizes rho to unit trace in place.  For methods that impose ``Tr rho = 1`` in their
    equations (``trace_constrained``) a trace off by more than ``tolerance`` is an error.
    ``norm_L`` replaces ``||L||_inf`` for operators that cannot compute it (matrix-free: a bound);
    ``require_residual=False`` reports the residual without rejecting (approximate series)."""
    N = layout.N
    rows = rho.getArray().reshape(layout.rows, N)
    i = np.arange(layout.i0, layout.i1)
    trace = complex(allreduce_sum(rows[i - layout.i0, i].sum(), layout.comm))
    if not np.isfinite(trace) or abs(trace) < 1e-300:
        raise PjcsyncError(f"solution has trace {trace}: the solver produced no density matrix",
                           collective=True)
    rows /= trace
    herm_local = np.abs(rows - transpose_rows(rows, layout).conj()) ** 2
    norm_local = np.abs(rows) ** 2
    herm, norm2 = allreduce_sum(np.array([herm_local.sum(), norm_local.sum()]), layout.comm)
    hermiticity = float(np.sqrt(herm / norm2))
    # hermitize: removes round-off anti-Hermitian parts before observables
    rows[:] = 0.5 * (rows + transpose_rows(rows, layout).conj())
    r = L.createVecLeft()
    L.mult(rho, r)
    residual = r.norm()
    if norm_L is None:
        norm_L = L.norm(PETSc.NormType.NORM_INFINITY)
    relative = residual / (norm_L * rho.norm())
    min_eig = None
    if N <= POSITIVITY_CHECK_MAX_N:
        full = layout.comm.gather(rows.copy(), root=0)
        if layout.comm.Get_rank() == 0:
            min_eig = float(np.linalg.eigvalsh(np.concatenate(full, axis=0)).min())
        min_eig = layout.comm.bcast(min_eig, root=0)
    checks = {"trace_before_normalization": [trace.real, trace.imag],
              "hermiticity": hermiticity, "min_eigenvalue": min_eig,
              "positivity_checked": min_eig is not None,
              "residual": float(residual), "relative_residual": float(relative),
              "norm_L_inf": float(norm_L)}
    problems = []
    if trace_constrained and abs(trace - 1) > tolerance:
        problems.append(f"trace {trace.real:.6g}{trace.imag:+.2g}i is not 1")
    if hermiticity > tolerance:
        problems.append(f"rho is not Hermitian (||rho - rho^+|| / ||rho|| = {hermiticity:.2e})")
    if min_eig is not None and min_eig < -tolerance:
        problems.append(f"rho is not positive (smallest eigenvalue {min_eig:.2e})")
    if require_residual and not relative <= rtol:
        problems.append(f"residual ||L rho|| = {residual:.3e} (relative {relative:.2e}) misses rtol = {rtol:.1e}")
    if problems:
        raise PjcsyncError("steady state rejected: " + "; ".join(problems), collective=True)
    return checks


METHODS = ("direct", "krylov", "sylvester", "rate", "rate*")
AUTO_DIRECT_MAX_N2 = 4096      # auto: MUMPS up to this many entries of rho (N = 64), krylov above
FLEXIBLE_KSPS = ("fgmres", "fbcgs", "fbcgsr", "gcr", "fcg", "pipefgmres", "pipegcr")
HISTORY_SHOWN = 6              # residuals quoted from each end of a failed solve's history


def auto_method(model: Model, solver_cfg: dict) -> str:
    """The method ``[solver] method = "auto"`` picks for this problem.

    ``direct`` (MUMPS) while ``N^2 <= AUTO_DIRECT_MAX_N2``: below that size the factorization is
    instantaneous and its fill harmless; above it the fill of these Liouvillians grows
    quickly (docs/performance.md) while the Krylov solve with the Sylvester preconditioner
    costs ``O(N^3)`` dense flops per iteration, so ``krylov``."""
    return "direct" if model.N ** 2 <= AUTO_DIRECT_MAX_N2 else "krylov"


AUTO_SINGLE_MIN_N = 256        # auto: single-precision L0^-1 from this N on (below, applications are cheap)
AUTO_KSP = "fbcgs"             # auto: flexible BiCGStab (docs/performance.md, "KSP study")
AUTO_KSP_SMALL = "fbcgs"       # auto below AUTO_SINGLE_MIN_N too (with a double-precision L0^-1):
                               # GMRES is up to 1.3x faster off resonance but needs 3-10x the
                               # iterations at hard points (Fig. 11, M = 1, n_c = 80: 1651 against
                               # 410) and fails there with the default iteration limit


def krylov_settings(model: Model, solver_cfg: dict, options_prefix: str = "") -> dict:
    """The Krylov method and the precision of L0^-1 for ``method = "krylov"``, with the reason.

    Order of precedence for the KSP: the ``-ksp_type`` option, ``[solver] ksp_type``, then the
    automatic choice: flexible BiCGStab, with a single-precision inverse from
    ``N = AUTO_SINGLE_MIN_N`` on and a double-precision one below (measured in
    docs/performance.md, "KSP study": BiCGStab needs no orthogonalization or Krylov basis, is
    fastest or within 1.3x of the fastest on every case measured, while GMRES needs several
    times the iterations at resonant points; the single-precision factors halve the cost of
    the dominant GEMMs).  ``preconditioner_precision = "auto"`` is
    single only for a flexible KSP (a single-precision L0^-1 is not exactly linear)."""
    opts = PETSc.Options(options_prefix)
    configured = solver_cfg.get("ksp_type", "auto")
    precision = solver_cfg.get("preconditioner_precision", "auto")
    if opts.hasName("ksp_type"):
        ksp, why = opts.getString("ksp_type"), "-ksp_type"
    elif configured != "auto":
        ksp, why = configured, "[solver] ksp_type"
    elif model.N >= AUTO_SINGLE_MIN_N:
        ksp, why = AUTO_KSP, f"auto (N >= {AUTO_SINGLE_MIN_N})"
    elif precision == "single":
        ksp, why = "fgmres", "auto (single-precision L0^-1 configured)"
    else:
        ksp, why = AUTO_KSP_SMALL, f"auto (N < {AUTO_SINGLE_MIN_N})"
    if precision == "auto":
        precision = "single" if (ksp in FLEXIBLE_KSPS and model.N >= AUTO_SINGLE_MIN_N) else "double"
        pwhy = "auto"
    else:
        pwhy = "configured"
    return {"ksp_type": ksp, "precision": precision,
            "reason": f"{ksp} ({why}), {precision}-precision L0^-1 ({pwhy})"}


def auto_operator(model: Model, solver_cfg: dict, method: str) -> tuple[str, str]:
    """``(operator, reason)`` for ``[solver] operator``: ``"auto"`` is matrix-free for the
    iterative methods (measured: an application costs about as much as the assembled mat-vec,
    while assembling L takes seconds and ~3 nnz(L) x 20 bytes; docs/performance.md) and
    assembled for ``direct``, which factors the matrix."""
    op = solver_cfg.get("operator", "auto")
    if method == "direct":
        return "assembled", "direct factors the assembled L"
    if op == "auto":
        return "matrix-free", "auto: iterative method"
    return op, "configured"


# --- vectors ----------------------------------------------------------------------------------

def _vec(rows: np.ndarray, layout: RowLayout) -> PETSc.Vec:
    v = PETSc.Vec().createMPI((layout.local_size, layout.global_size), comm=layout.comm)
    v.setArray(np.ascontiguousarray(rows, dtype=DTYPE).ravel())
    return v


def _trace(rows: np.ndarray, layout: RowLayout) -> complex:
    i = np.arange(layout.i0, layout.i1)
    return complex(allreduce_sum(rows[i - layout.i0, i].sum(), layout.comm))


def _frob(rows: np.ndarray, layout: RowLayout) -> float:
    return float(np.sqrt(allreduce_sum(np.vdot(rows, rows).real, layout.comm)))


def initial_rows(model: Model, solver_cfg: dict, layout: RowLayout, initial=None) -> tuple[np.ndarray, str]:
    """This rank's rows of the starting density matrix (unit trace) and where it came from.

    ``initial``: a PETSc Vec distributed like rho, or a numpy array (the full N x N rho, or this
    rank's rows) -- a warm start.  Otherwise ``[solver] initial_guess``: ``"identity"`` (I/N),
    ``"ground"`` (|0, down...down><...|), ``"rate"`` (the (R)* series, :mod:`pjcsync.rate`) or the
    path of a results file holding ``rho`` (:func:`pjcsync.results.load`)."""
    N = layout.N
    source = "argument"
    if initial is not None:
        if isinstance(initial, PETSc.Vec):
            rows = initial.getArray(readonly=True).copy()
        else:
            rows = np.asarray(initial, dtype=DTYPE)
            if rows.shape == (N, N):
                rows = rows[layout.i0:layout.i1]
        if rows.size != layout.local_size:
            raise InputError(f"initial guess has {rows.size} local entries, expected {layout.local_size} "
                             f"(rows {layout.i0}..{layout.i1} of a {N} x {N} density matrix)")
        rows = np.array(rows, dtype=DTYPE).reshape(layout.rows, N)
    else:
        guess = solver_cfg.get("initial_guess", "identity")
        source = guess
        rows = np.zeros((layout.rows, N), dtype=DTYPE)
        if guess == "identity":
            i = np.arange(layout.i0, layout.i1)
            rows[i - layout.i0, i] = 1.0 / N
        elif guess == "ground":
            g = model.ground_state_index()
            if layout.i0 <= g < layout.i1:
                rows[g - layout.i0, g] = 1.0
        elif guess == "rate":
            from .rate import solve_rate
            vec, _ = solve_rate(model, solver_cfg, layout, star=True, allow_diverged=True)
            rows = vec.getArray(readonly=True).copy().reshape(layout.rows, N)
        else:
            rows = _rows_from_file(guess, layout)
    tr = _trace(rows, layout)
    if not np.isfinite(tr) or abs(tr) < 1e-300:
        raise InputError(f"initial guess ({source}) has trace {tr}: not a density matrix")
    return rows / tr, source


def _rows_from_file(path: str, layout: RowLayout) -> np.ndarray:
    import os
    if not os.path.isfile(path):
        raise InputError(f"[solver] initial_guess = {path!r}: not 'identity', 'ground', 'rate' "
                         f"or an existing results file")
    try:
        from .results import load
    except ImportError:
        raise InputError("[solver] initial_guess from a results file needs pjcsync.results, "
                         "which this installation lacks") from None
    try:
        data = load(path)
    except Exception as exc:  # a foreign or damaged file
        raise InputError(f"[solver] initial_guess: cannot read {path!r}: {exc}") from None
    rho = data.get("rho") if isinstance(data, dict) else None
    if rho is None:
        raise InputError(f"[solver] initial_guess: {path!r} holds no density matrix 'rho'")
    rho = np.asarray(rho)
    if rho.shape != (layout.N, layout.N):
        raise InputError(f"[solver] initial_guess: {path!r} holds a {rho.shape} rho, this problem "
                         f"needs {layout.N} x {layout.N}")
    return np.array(rho[layout.i0:layout.i1], dtype=DTYPE)


# --- krylov -------------------------------------------------------------------------------------

class BorderedOperator:
    """Python context of the PETSc matrix ``x -> L x + e (t^T x)`` (``t^T x = Tr x``).

    Exposes ``H``, ``c_ops``, ``layout`` and ``sylvester`` so that
    ``-pc_type python -pc_python_type pjcsync.sylvester.L0PC`` can build its inverse."""

    def __init__(self, L: PETSc.Mat, e: PETSc.Vec, H, c_ops, layout: RowLayout, sylvester=None):
        self.L, self.e, self.H, self.c_ops, self.layout, self.sylvester = L, e, H, c_ops, layout, sylvester
        self.mults = 0

    def mult(self, mat, x, y):
        self.L.mult(x, y)
        rows = x.getArray(readonly=True).reshape(self.layout.rows, self.layout.N)
        y.axpy(_trace(rows, self.layout), self.e)
        self.mults += 1


def _history_text(hist) -> str:
    h = [float(abs(v)) for v in hist]
    if len(h) > 2 * HISTORY_SHOWN:
        shown = [f"{v:.2e}" for v in h[:HISTORY_SHOWN]] + ["..."] + [f"{v:.2e}" for v in h[-HISTORY_SHOWN:]]
    else:
        shown = [f"{v:.2e}" for v in h]
    return ", ".join(shown)


def _gmres_restart(layout: RowLayout, vectors_per_step: int = 1) -> int:
    from .memory import gmres_restart
    from .parallel import available_memory_bytes, ranks_on_this_node
    avail = layout.comm.allreduce(available_memory_bytes(), op=MPI.MIN) / max(ranks_on_this_node(layout.comm), 1)
    return gmres_restart(layout.global_size, layout.comm.Get_size(), avail, vectors_per_step)


def solve_krylov(model: Model, layout: RowLayout, L: PETSc.Mat, sylv, x0: np.ndarray, rtol: float,
                 max_it: int, options_prefix: str = "", ksp_type: str | None = None) -> tuple[PETSc.Vec, dict]:
    """GMRES (or any KSP) on the bordered system, right-preconditioned by ``-L0^-1``."""
    from .sylvester import L0PC
    H, c_ops = model.hamiltonian(), model.collapse_operators()
    K = so.jump_sum(c_ops, layout.N)
    trK = float(K.diagonal().real.sum())
    if trK <= 0:
        raise InputError("the krylov method needs some dissipation (Tr K = 0)")
    e = so.operator_vector(K / trK, layout)
    ctx = BorderedOperator(L, e, H, c_ops, layout, sylv)
    n = (layout.local_size, layout.global_size)
    A = PETSc.Mat().createPython((n, n), context=ctx, comm=layout.comm)
    A.setUp()
    ksp = PETSc.KSP().create(comm=layout.comm)
    ksp.setOptionsPrefix(options_prefix)
    ksp.setOperators(A)
    # a single-precision L0^-1 is not exactly linear: flexible GMRES keeps the preconditioned
    # vectors it used, so that the solution it assembles has the residual it monitored
    flexible = getattr(sylv, "precision", "double") != "double"
    ksp.setType(ksp_type or ("fgmres" if flexible else "gmres"))
    restart = _gmres_restart(layout, 2 if flexible else 1)
    ksp.setGMRESRestart(restart)
    ksp.setPCSide(PETSc.PC.Side.RIGHT)
    ksp.setTolerances(rtol=rtol, atol=0.0, max_it=max_it)
    pc = ksp.getPC()
    opts = PETSc.Options(options_prefix)
    if opts.getString("pjcsync_pc", "l0") == "none":
        pc.setType("none")
    else:
        pc.setType(PETSc.PC.Type.PYTHON)
        pc.setPythonContext(L0PC(sylv, sign=-1.0))
    ksp.setConvergenceHistory()
    ksp.setInitialGuessNonzero(True)
    try:
        ksp.setFromOptions()
    except PETSc.Error as exc:
        raise InputError(f"PETSc options for the krylov solve rejected (PETSc error {exc.ierr}; "
                         f"see PETSc's message above)") from None
    if flexible and ksp.getType() not in FLEXIBLE_KSPS and pc.getType() == PETSc.PC.Type.PYTHON:
        raise InputError(f"-ksp_type {ksp.getType()} needs an exactly linear preconditioner; with "
                         f"preconditioner_precision = 'single' use a flexible one: {', '.join(FLEXIBLE_KSPS)}")
    x = _vec(x0, layout)
    b = e.copy()
    t0 = time.perf_counter()
    try:
        ksp.solve(b, x)
    except PETSc.Error as exc:
        raise PjcsyncError(f"krylov solve failed in PETSc (error {exc.ierr})", collective=True) from None
    seconds = time.perf_counter() - t0
    reason = ksp.getConvergedReason()
    hist = ksp.getConvergenceHistory()
    its = ksp.getIterationNumber()
    info = {"method": "krylov", "iterations": int(its), "ksp_type": ksp.getType(),
            "pc_type": pc.getType(), "ksp_reason": int(reason), "solve_seconds": seconds,
            "operator_applications": ctx.mults,
            "residual_history": [float(abs(v)) for v in hist[:: max(1, len(hist) // 50)]],
            "bordering": "e = K / Tr K"}
    if ksp.getType() in ("gmres", "fgmres"):
        info["gmres_restart"] = opts.getInt("ksp_gmres_restart", restart)
    if reason < 0:
        ksp.destroy()
        raise PjcsyncError(f"krylov ({info['ksp_type']}) did not converge to rtol {rtol:.1e} in {its} "
                           f"iterations (KSP reason {reason}); residual history: {_history_text(hist)}",
                           collective=True)
    ksp.destroy()
    A.destroy()
    e.destroy()
    return x, info


# --- the paper's fixed point (eq. 14) -------------------------------------------------------------

def solve_fixed_point(model: Model, layout: RowLayout, sylv, x0: np.ndarray, rtol: float,
                      max_it: int) -> tuple[PETSc.Vec, dict]:
    """``L0 rho_{m+1} = L1 rho_m`` (eq. 14), trace renormalized: the power method on ``L0^-1 L1``.

    Converged when ``||L rho_m|| <= rtol ||e||`` with ``e = K / Tr K``: the same residual the
    krylov method reaches with the same rtol.  L is applied matrix-free (it costs little next to
    the Sylvester solve)."""
    from .matfree import RowOperator
    H, c_ops = model.hamiltonian(), model.collapse_operators()
    op = RowOperator(H, c_ops, layout)
    K = so.jump_sum(c_ops, layout.N)
    trK = float(K.diagonal().real.sum())
    if trK <= 0:
        raise InputError("the sylvester method needs some dissipation (Tr K = 0)")
    e_norm = float(sp.linalg.norm(K)) / trK
    rows = x0
    hist = []
    t0 = time.perf_counter()
    for it in range(max_it + 1):
        ext = op.halo(rows)
        jump = op.jump_part(ext)
        res = _frob(op.drift_part(rows, ext) + jump, layout) / e_norm
        hist.append(res)
        if res <= rtol:
            break
        if it == max_it or not np.isfinite(res):
            raise PjcsyncError(f"sylvester fixed point (eq. 14) did not reach rtol {rtol:.1e} in {it} "
                               f"iterations; residual history: {_history_text(hist)}", collective=True)
        rows = sylv.apply(jump)
        rows /= _trace(rows, layout)
    info = {"method": "sylvester", "iterations": it, "solve_seconds": time.perf_counter() - t0,
            "residual_history": hist[:: max(1, len(hist) // 50)],
            "contraction": float(np.exp(np.polyfit(np.arange(len(hist[-10:])), np.log(hist[-10:]), 1)[0]))
            if len(hist) >= 4 and min(hist[-10:]) > 0 else None}
    return _vec(rows, layout), info


# --- dispatch -------------------------------------------------------------------------------------

def steady_state(model: Model, solver_cfg: dict, layout: RowLayout | None = None,
                 initial=None) -> SteadyState:
    """Solve ``L rho = 0``, ``Tr rho = 1`` with the method of ``solver_cfg`` and check the result.

    ``initial``: optional warm start (PETSc Vec distributed like rho, or numpy rows / full rho)
    for the iterative methods; it overrides ``[solver] initial_guess``."""
    from .sylvester import SylvesterInverse
    layout = layout or RowLayout.create(model.N)
    requested = solver_cfg.get("method", "auto")
    method = auto_method(model, solver_cfg) if requested == "auto" else requested
    if method not in METHODS:
        raise InputError(f"[solver] method = {method!r} is not available (have: {', '.join(METHODS)})")
    rtol = solver_cfg.get("rtol", 1e-10)
    tol = solver_cfg.get("check_tolerance", 1e-8)
    max_it = solver_cfg.get("max_iterations", 1000)
    H, c_ops = model.hamiltonian(), model.collapse_operators()
    operator, op_reason = auto_operator(model, solver_cfg, method)
    t0 = time.perf_counter()
    extra = {}
    L = None
    if method in ("rate", "rate*"):
        from .rate import solve_rate
        rho, info = solve_rate(model, solver_cfg, layout, star=(method == "rate*"))
        info = dict(info)
        info.setdefault("method", method)
    elif method == "direct":
        rho, info = solve_direct(model, layout, rtol)
    else:
        x0, source = initial_rows(model, solver_cfg, layout, initial)
        precision = solver_cfg.get("preconditioner_precision", "auto")
        if method == "sylvester":
            if precision == "single":
                raise InputError("[solver] method = 'sylvester' iterates L0^-1 itself and needs "
                                 "preconditioner_precision = 'double' (single suits 'krylov')")
            precision = "double"
        else:
            settings = krylov_settings(model, solver_cfg)
            precision = settings["precision"]
            extra["krylov_choice"] = settings["reason"]
        sylv = SylvesterInverse(H, c_ops, layout, kind=solver_cfg.get("preconditioner", "auto"),
                                precision=precision)
        extra.update(initial_guess=source, preconditioner=sylv.report())
        if method == "sylvester":
            rho, info = solve_fixed_point(model, layout, sylv, x0, rtol, max_it)
        else:
            t1 = time.perf_counter()
            L = _operator(model, layout, operator, H, c_ops)
            extra["operator_seconds"] = time.perf_counter() - t1
            rho, info = solve_krylov(model, layout, L, sylv, x0, rtol, max_it,
                                     ksp_type=settings["ksp_type"])
    seconds = time.perf_counter() - t0
    info.update(extra)
    # the residual check, with the same operator (a bound of ||L||_inf when matrix-free)
    norm_L = None
    if operator == "matrix-free":
        from .matfree import RowOperator
        norm_L = RowOperator(H, c_ops, layout).norm_inf_bound()
    if L is None:
        L = _operator(model, layout, operator, H, c_ops)
    checks = check_state(model, layout, rho, L, rtol, tol, norm_L=norm_L,
                         require_residual=method not in ("rate", "rate*"))
    L.destroy()
    info.update(seconds=seconds, residual=checks["residual"], relative_residual=checks["relative_residual"],
                ranks=layout.comm.Get_size(), peak_memory=gather_peak_memory(layout.comm),
                requested_method=requested, operator=operator)
    if requested == "auto":
        info["auto"] = (f"{method}: N^2 = {model.N ** 2} "
                        f"{'<=' if method == 'direct' else '>'} {AUTO_DIRECT_MAX_N2}")
        if "krylov_choice" in info:
            info["auto"] += "; " + info["krylov_choice"]
    info["operator_reason"] = op_reason
    return SteadyState(model=model, layout=layout, rho=rho, solver=info, checks=checks)


def _operator(model: Model, layout: RowLayout, operator: str, H, c_ops) -> PETSc.Mat:
    if operator == "matrix-free":
        from .matfree import matfree_liouvillian
        return matfree_liouvillian(H, c_ops, layout)
    return so.petsc_matrix(so.local_rows(H, c_ops, layout), layout)
