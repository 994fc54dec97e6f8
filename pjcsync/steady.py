"""Steady states of the RWA Lindblad equation, eq. (7): ``L rho = 0``, ``Tr rho = 1``.

Methods (``[solver] method``):

* ``direct``: sparse LU (MUMPS through PETSc) of L with the equation of ``rho_00`` replaced by
  the trace condition (the rows of L are linearly dependent because L's range is traceless).
  PETSc options (``-pc_factor_mat_solver_type``, ``-mat_mumps_icntl_14`` ...) reach the solver.
* ``krylov``: the bordered, nonsingular system ``(L + e t^T) rho = e`` (docs/conventions.md), with
  ``t^T rho = Tr rho`` and ``e = K / Tr K`` (``K = L0(I)``), solved by a PETSc KSP (GMRES by
  default, right preconditioned so that the monitored residual is the true one) with the
  preconditioner ``-L0^-1`` of :mod:`pjcsync.sylvester` (eqs. 10-13).  Every KSP and PC option
  of PETSc applies (``-ksp_type fgmres``, ``-ksp_gmres_restart 100``, ``-pc_type none`` ...);
  ``-pjcsync_pc none`` switches the Sylvester preconditioner off.
  Converged when ``||b - A x||_2 <= rtol ||b||_2`` (PETSc's default test; the messages name
  the norm when options change it).
* ``sylvester``: the paper's fixed point ``L0 rho_{m+1} = L1 rho_m`` (eq. 14), trace renormalized
  each step, by default with Anderson mixing of the last iterates (``[solver] acceleration``);
  it stops when ``||L rho_m||_F <= rtol ||e||_F``, and early, naming krylov, when its projected
  iterations exceed ``max_iterations`` (:func:`solve_fixed_point`).
* ``rate`` / ``rate*``: the series of :mod:`pjcsync.rate` (eqs. 15-30).
* ``auto``: ``direct`` for small problems, ``krylov`` otherwise (:func:`auto_method`).

``[solver] operator``: ``"matrix-free"`` applies L through :mod:`pjcsync.matfree` instead of the
assembled matrix (krylov and sylvester); ``"auto"`` (default) means matrix-free for those and
assembled for ``direct`` (:func:`auto_operator`).  Initial guesses (krylov, sylvester): ``initial``
argument (a warm start from a previous point), else ``[solver] initial_guess``.

Long krylov and sylvester solves print progress lines on stderr (:mod:`pjcsync.progress`,
``[solver] progress``).  One that stops unconverged raises :class:`UnconvergedError` carrying its
last iterate, which ``pjcsync steady`` keeps as a checkpoint (:mod:`pjcsync.checkpoint`).

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
                       release_petsc_garbage)
from . import superoperator as so
from .petsc_options import set_from_options
from .choices import (AUTO_DIRECT_MAX_N2, FLEXIBLE_KSPS, METHODS, auto_operator,  # noqa: F401
                      direct_switch_iterations, gmres_restart, krylov_settings, resolve_method)
from . import states
from .states import GivenState
from .validate import DEFAULT_TOLERANCE, density_matrix_checks


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
    set_from_options(ksp, what)
    try:
        ksp.solve(b, x)
    except PETSc.Error as exc:
        raise PjcsyncError(f"{what} failed in PETSc (error {exc.ierr}); "
                           f"the factorization may have run out of memory") from None
    reason = ksp.getConvergedReason()
    if reason < 0:
        from .memory import mumps_failure
        raise PjcsyncError(f"{what} failed: {mumps_failure(pc) or f'KSP reason {reason}'}", collective=True)
    info = {"factorization": pc.getFactorSolverType() or "petsc",
            "ksp_type": ksp.getType(), "pc_type": pc.getType()}
    # petsc4py 3.18 defers destruction of objects still referenced from Python: destroy the
    # PC (which holds the MUMPS factors) explicitly and collect, or every solve keeps its factors
    pc.destroy()
    ksp.destroy()
    release_petsc_garbage(comm)
    return x, info


def check_state(model: Model, layout: RowLayout, rho: PETSc.Vec, L: PETSc.Mat, rtol: float,
                tolerance: float, trace_constrained: bool = True, norm_L: float | None = None,
                require_residual: bool = True) -> dict:
    """Trace, hermiticity, positivity (:func:`pjcsync.validate.density_matrix_checks`) and
    residual of a computed steady state.

    Normalizes rho to unit trace and hermitizes it in place.  For methods that impose
    ``Tr rho = 1`` in their equations (``trace_constrained``) a trace off by more than
    ``tolerance`` is an error.  ``norm_L`` replaces ``||L||_inf`` for operators that cannot
    compute it (matrix-free: a bound); ``require_residual=False`` reports the residual without
    rejecting (approximate series)."""
    rows = rho.getArray().reshape(layout.rows, layout.N)
    checks, problems = density_matrix_checks(rows, layout, tolerance, what="rho",
                                             unit_trace=trace_constrained)
    if checks["hermiticity"] is None:           # not finite, or no trace: nothing else to check
        raise PjcsyncError(f"the solver produced no density matrix: {problems[0]}", collective=True)
    r = L.createVecLeft()
    L.mult(rho, r)
    residual = r.norm()
    if norm_L is None:
        norm_L = L.norm(PETSc.NormType.NORM_INFINITY)
    relative = residual / (norm_L * rho.norm())
    checks.update(residual=float(residual), relative_residual=float(relative), norm_L_inf=float(norm_L))
    if require_residual and not relative <= rtol:
        problems.append(f"residual ||L rho|| = {residual:.3e} (relative {relative:.2e}) misses rtol = {rtol:.1e}")
    if problems:
        raise PjcsyncError("steady state rejected: " + "; ".join(problems), collective=True)
    return checks


class UnconvergedError(PjcsyncError):
    """An iterative solve stopped before its tolerance (iteration limit, stagnation, divergence).

    Raised on every rank alike (collective).  ``rho``: the last (or best) iterate, a PETSc Vec
    distributed like rho, or None when it is not finite -- *not* a steady state, but a starting
    point (``[solver] initial_guess``, ``pjcsync steady --resume``); ``info``: the solver's
    statistics; ``relative_residual``: the residual in the solver's own norm (see the message)."""

    def __init__(self, message: str, rho: PETSc.Vec | None, info: dict, relative_residual: float):
        super().__init__(message, collective=True)
        self.rho, self.info, self.relative_residual = rho, info, relative_residual


HISTORY_SHOWN = 6              # residuals quoted from each end of a failed solve's history


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

    ``initial``: a warm start, any data :func:`pjcsync.states.initial_rows` takes (a PETSc Vec
    distributed like rho, the full N x N rho or this rank's rows, a
    :class:`~pjcsync.states.GivenState` naming its source, such as the results file of
    ``[solver] initial_guess`` read by the caller: :func:`pjcsync.results.initial_guess`).
    Otherwise ``[solver] initial_guess``: ``"identity"`` (I/N), ``"ground"``
    (|0, down...down><...|) or ``"rate"`` (the (R)* series, :mod:`pjcsync.rate`)."""
    if initial is None:
        guess = solver_cfg.get("initial_guess", "identity")
        if guess == "rate":
            from .rate import solve_rate
            vec, _ = solve_rate(model, solver_cfg, layout, star=True, allow_diverged=True)
            initial = GivenState(vec, source="rate")
        elif guess in states.BUILT:
            initial = guess
        else:
            raise InputError(f"[solver] initial_guess = {guess!r}: a results file is read by the caller "
                             f"(pjcsync steady, sweep, evolve; pjcsync.steadystate): pass its rho as "
                             f"the initial state")
    return states.initial_rows(initial, model, layout, what="initial guess", trace="normalize")


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


def _thin(hist: list[float], n: int = 50) -> list[float]:
    """About ``n`` entries of a residual history, evenly spaced, the last one always kept."""
    step = max(1, len(hist) // n)
    out = [float(v) for v in hist[::step]]
    if hist and (len(hist) - 1) % step:
        out.append(float(hist[-1]))
    return out


def projected_iterations(hist: list[float], rtol: float, tail: float = 0.25) -> float | None:
    """Iterations still needed to reach ``rtol`` at the rate of the last ``tail`` of a relative
    residual history (a least-squares line through log residual against iteration, at least
    10 iterations); None when the residual does not decrease there."""
    m = max(10, int(len(hist) * tail))
    h = np.asarray(hist[-m:], dtype=float)
    if len(h) < 10 or not np.all(np.isfinite(h)) or np.any(h <= 0):
        return None
    slope = np.polyfit(np.arange(len(h)), np.log(h), 1)[0]
    if slope >= 0:
        return None
    return float(max(0.0, np.log(rtol / h[-1]) / slope))


def _gmres_restart(layout: RowLayout, vectors_per_step: int = 1) -> int:
    from .parallel import available_memory_bytes, ranks_on_this_node
    avail = layout.comm.allreduce(available_memory_bytes(), op=MPI.MIN) / max(ranks_on_this_node(layout.comm), 1)
    return gmres_restart(layout.global_size, layout.comm.Get_size(), avail, vectors_per_step)


def _krylov_norm(ksp: PETSc.KSP, b: PETSc.Vec, opts: PETSc.Options) -> tuple[str, float | None]:
    """The norm PETSc's default convergence test (``KSPConvergedDefault``) compares to rtol, as
    text, and its denominator: ``||r_k|| <= rtol * ||b||`` for the unpreconditioned norm (the
    default here: right preconditioning), ``||B r_k|| <= rtol * ||B b||`` for the left
    preconditioned one, ``||r_0||`` instead of ``||b||`` with
    ``-ksp_converged_use_initial_residual_norm`` (the denominator is then the first entry of the
    history: None; with ``-ksp_converged_use_min_initial_residual_norm`` minus ``||b||``)."""
    N = PETSc.KSP.NormType
    ntype = ksp.getNormType()
    left = ksp.getPCSide() == PETSc.PC.Side.LEFT and ntype == N.PRECONDITIONED
    r = "||B (b - A x)||_2" if left else "||b - A x||_2"
    if ntype == N.NONE:
        return "no residual norm (-ksp_norm_type none): the KSP runs its iterations", 1.0
    if opts.getBool("ksp_converged_use_initial_residual_norm", False):
        return f"{r} / {r.replace('x)', 'x_0)')}", None
    if left:
        Bb = b.duplicate()
        ksp.getPC().apply(b, Bb)
        denom = Bb.norm()
        Bb.destroy()
        text = f"{r} / ||B b||_2"
    else:
        denom = b.norm()
        text = f"{r} / ||b||_2"
    if opts.getBool("ksp_converged_use_min_initial_residual_norm", False):
        return text.replace("/ ", "/ min(||r_0||_2, ") + ")", -denom   # negative: min with ||r_0||
    return text, denom


STAGNATION_DECREASE = 0.9     # a new best residual must be below this times the last best one
STAGNATION_NEAR = 1e3         # the stagnation test applies once the best residual is below this
                              # times rtol: BiCGStab can sit near its first residual for tens of
                              # iterations before it converges (Fig. 8, N = 256, at resonance)
STAGNATION_SPIKE = 1e4        # ... or anywhere once the residual has been above this (relative):
                              # PETSc's default divergence test, which handed such a solve to the
                              # fallback before choices.AUTO_DIVTOL let it ride out the spike
STAGNATION_PROGRESS = 1e-3    # ... or anywhere once the best residual is below this times the
                              # first one: a solve that has converged that far and then stalls
                              # (Fig. A4, M = 3, x = -1.2 gamma: 1.5e-7 for 700 iterations) is not
                              # the plateau near the start that STAGNATION_NEAR protects


class _KrylovMonitor:
    """KSP monitor: relative residual history, progress lines, periodic checkpoints, the
    iteration budget and the stagnation test."""

    def __init__(self, layout, prog, denom, checkpoint, every, budget=None, rtol=0.0, stagnation=None):
        self.layout, self.prog, self.denom = layout, prog, denom
        self.checkpoint, self.every = checkpoint, every
        self.last_checkpoint = time.perf_counter()
        self.budget, self.rtol, self.budget_note = budget, rtol, None
        self.window, self.best, self.stagnation_note = stagnation, (float("inf"), 0), None
        self.spiked = False
        self.first_relative = None

    def __call__(self, ksp, its, rnorm):
        if self.denom is None:          # relative to the initial residual
            self.denom = rnorm if rnorm > 0 else 1.0
        elif self.denom < 0:            # relative to min(||r_0||, ||b||)
            self.denom = min(-self.denom, rnorm) if rnorm > 0 else -self.denom
        self.prog.update(its, rnorm / self.denom)
        if self.budget and its in (self.budget, 2 * self.budget) and rnorm / self.denom > self.rtol:
            self._spend(ksp, its)
        if self.window:
            self._watch(ksp, its, rnorm / self.denom)
        if self.checkpoint is not None and self.every > 0 and its > 0:
            due = self.layout.comm.bcast(time.perf_counter() - self.last_checkpoint >= self.every, root=0)
            if due:
                x = ksp.buildSolution()          # GMRES: costs one preconditioner application
                rows = x.getArray(readonly=True).reshape(self.layout.rows, self.layout.N).copy()
                self.checkpoint(rows, {"method": "krylov", "iterations": int(its),
                                       "relative_residual": float(rnorm / self.denom),
                                       "residual_norm": self.prog.norm})
                self.last_checkpoint = time.perf_counter()

    def _watch(self, ksp, its, r):
        """The stagnation test: stop (reason -3 after this iteration) when the best relative
        residual, once below STAGNATION_NEAR rtol (or at any level once the residual has been
        above STAGNATION_SPIKE, or once the best is below STAGNATION_PROGRESS times the first
        residual), has not fallen below STAGNATION_DECREASE times its previous value
        for ``window`` iterations.  The residuals are the same on every rank, so is the
        decision."""
        self.spiked = self.spiked or r > STAGNATION_SPIKE
        if self.first_relative is None:
            self.first_relative = r
        if r < STAGNATION_DECREASE * self.best[0]:
            self.best = (r, its)
        elif (its - self.best[1] >= self.window and self.rtol < self.best[0]
              and (self.best[0] <= STAGNATION_NEAR * self.rtol or self.spiked
                   or self.best[0] <= STAGNATION_PROGRESS * self.first_relative)):
            drop = 100 * (1 - STAGNATION_DECREASE)
            self.stagnation_note = (f"stagnated: no {drop:.0f} % decrease of the best residual ({self.best[0]:.2e} "
                                    f"at iteration {self.best[1]}) in {its - self.best[1]} iterations")
            ksp.setTolerances(max_it=its)
            self.window = None

    def _spend(self, ksp, its):
        """The budget is reached: stop here (the KSP's iteration limit lowered to ``its``: reason
        -3 after this iteration) unless the projection says at most ``budget`` more.  The history
        is the same on every rank, so is the decision."""
        hist = [float(abs(v)) / self.denom for v in ksp.getConvergenceHistory()[:its + 1]]
        left = projected_iterations(hist, self.rtol)
        if its == self.budget and left is not None and left <= self.budget:
            self.budget_note = f"{its} iterations, about {left:.0f} more projected: went on"
            return
        self.budget_note = (f"about {left:.0f} more projected" if left is not None
                            else "the residual not decreasing")
        ksp.setTolerances(max_it=its)


def solve_krylov(model: Model, layout: RowLayout, L: PETSc.Mat, sylv, x0: np.ndarray, rtol: float,
                 max_it: int, options_prefix: str = "", ksp_type: str | None = None,
                 progress: float | None = None, checkpoint=None,
                 checkpoint_every: float = 0.0, budget: int | None = None,
                 stagnation: int | None = None, divtol: float | None = None) -> tuple[PETSc.Vec, dict]:
    """A Krylov method (``ksp_type``, default :func:`krylov_settings`'s choice; PETSc options
    override) on the bordered system, right-preconditioned by ``-L0^-1``.

    Converged when PETSc's default test holds: ``||b - A x||_2 <= rtol ||b||_2`` with the
    unpreconditioned residual of right preconditioning (:func:`_krylov_norm` names the norm
    when options change it).  The residual history in ``info`` and in messages is relative to
    the same denominator, so it compares directly with rtol; it is thinned to about 50 entries,
    and ``info["peak_residual"]`` is the largest of all (the spike that PETSc's divergence test,
    ``||r|| > divtol ||b||``, looks at).  ``progress``: seconds between
    progress lines (:mod:`pjcsync.progress`); ``checkpoint(rows, status)``: called
    (collectively) every ``checkpoint_every`` seconds with the current iterate.  A solve that
    stops unconverged raises :class:`UnconvergedError` carrying its last iterate and, in its
    ``info["last_iterate_residual"]``, that iterate's true relative residual ``||b - A x||_2``
    over the same denominator (a recurrence's own residual can drift from it).

    ``budget``: at that iteration the solve stops (KSP reason -3, ``info["budget"]``) unless the
    rate of its last quarter projects at most ``budget`` more iterations
    (:func:`projected_iterations`); then it goes on, and stops at twice the budget if it has
    not converged by then.  Fig. 11, M = 2, x = 0.5 (N = 400, budget 190) converges so in 211
    iterations, where stopping at 190 would pay a MUMPS factorization on top.

    ``stagnation``: the solve stops (``info["stagnation"]``) when its best residual, once below
    STAGNATION_NEAR times rtol (anywhere after a spike above STAGNATION_SPIKE, or once below
    STAGNATION_PROGRESS times the first residual), has not
    decreased by 10 % in that many iterations
    (:class:`_KrylovMonitor`); its last iterate is the :class:`UnconvergedError`'s ``rho``.
    ``divtol``: the divergence tolerance (KSP reason -4 when ``||r_k|| > divtol ||b||``; None:
    PETSc's default; ``-ksp_divtol`` overrides either)."""
    from .progress import Progress
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
    if ksp_type is None:        # the automatic choice for this precision (krylov_settings)
        ksp_type = krylov_settings(model, {"preconditioner_precision": sylv.precision})["ksp_type"]
    ksp.setType(ksp_type)
    restart = _gmres_restart(layout, 2 if flexible else 1)
    ksp.setGMRESRestart(restart)
    ksp.setPCSide(PETSc.PC.Side.RIGHT)
    ksp.setTolerances(rtol=rtol, atol=0.0, max_it=max_it, divtol=divtol)
    pc = ksp.getPC()
    opts = PETSc.Options(options_prefix)
    if opts.getString("pjcsync_pc", "l0") == "none":
        pc.setType("none")
    else:
        pc.setType(PETSc.PC.Type.PYTHON)
        pc.setPythonContext(L0PC(sylv, sign=-1.0))
    ksp.setConvergenceHistory()
    ksp.setInitialGuessNonzero(True)
    set_from_options(ksp, "the krylov solve")
    if flexible and ksp.getType() not in FLEXIBLE_KSPS and pc.getType() == PETSc.PC.Type.PYTHON:
        raise InputError(f"-ksp_type {ksp.getType()} needs an exactly linear preconditioner; with "
                         f"preconditioner_precision = 'single' use a flexible one: {', '.join(FLEXIBLE_KSPS)}")
    x = _vec(x0, layout)
    b = e.copy()
    try:
        ksp.setUp()
    except PETSc.Error as exc:
        raise PjcsyncError(f"krylov set-up failed in PETSc (error {exc.ierr})", collective=True) from None
    norm_text, denom = _krylov_norm(ksp, b, opts)
    label = f"krylov ({ksp.getType()})"
    monitor = _KrylovMonitor(layout, Progress(label, norm_text, rtol, layout.comm, progress), denom,
                             checkpoint, checkpoint_every, budget, rtol, stagnation)
    ksp.setMonitor(monitor)
    t0 = time.perf_counter()
    try:
        ksp.solve(b, x)
    except PETSc.Error as exc:
        raise PjcsyncError(f"krylov solve failed in PETSc (error {exc.ierr})", collective=True) from None
    seconds = time.perf_counter() - t0
    reason = ksp.getConvergedReason()
    denom = monitor.denom or 1.0
    hist = [float(abs(v)) / denom for v in ksp.getConvergenceHistory()]
    its = ksp.getIterationNumber()
    info = {"method": "krylov", "iterations": int(its), "ksp_type": ksp.getType(),
            "pc_type": pc.getType(), "ksp_reason": int(reason), "solve_seconds": seconds,
            "operator_applications": ctx.mults, "residual_norm": norm_text,
            "residual_history": _thin(hist), "peak_residual": max(hist, default=None),
            "bordering": "e = K / Tr K"}
    if ksp.getType() in ("gmres", "fgmres"):
        info["gmres_restart"] = opts.getInt("ksp_gmres_restart", restart)
    if monitor.budget_note:
        info["budget"] = monitor.budget_note
    if monitor.stagnation_note and reason < 0:
        info["stagnation"] = monitor.stagnation_note
    if reason < 0:      # the true residual of the iterate kept (a recurrence's may have drifted)
        r = b.duplicate()
        A.mult(x, r)
        r.aypx(-1.0, b)
        info["last_iterate_residual"] = float(r.norm() / abs(denom))
        r.destroy()
    ksp.destroy()
    A.destroy()
    e.destroy()
    if reason < 0:
        last = hist[-1] if hist else float("nan")
        why = {-3: info.get("stagnation", f"did not converge in {its} iterations (the limit)"),
               -4: "diverged (dtol)",
               -9: "hit a NaN or Inf", -5: "broke down"}.get(int(reason), f"stopped after {its} iterations")
        finite = bool(layout.comm.allreduce(int(np.isfinite(x.getArray(readonly=True)).all()), op=MPI.MIN))
        raise UnconvergedError(
            f"krylov ({info['ksp_type']}) {why} (KSP reason {reason}): {norm_text} = {last:.2e} > "
            f"rtol = {rtol:.1e}; relative residual history: {_history_text(hist)}",
            x if finite else None, info, relative_residual=last)
    return x, info


# --- the paper's fixed point (eq. 14) -------------------------------------------------------------

ACCELERATIONS = ("anderson", "none")
FIXED_POINT_NORM = "||L rho||_F / ||e||_F"   # the fixed point's convergence test (e = K / Tr K)
ANDERSON_HISTORY = 10         # differences kept by Anderson mixing ([solver] acceleration_history)
ANDERSON_RCOND = 1e-10        # relative cut-off of the small least-squares problem's singular values
ANDERSON_GROWTH = 1e3         # a mixed iterate whose residual exceeds this times the best one so far
                              # restarts the mixing from the best iterate
STAGNATION_START = 0.2       # the stagnation test starts after this share of max_iterations (at
                             # least 50 iterations): Anderson mixing can sit on a plateau for a
                             # while before it converges (measured: ~80 iterations at the
                             # resonance of M = 2, n_c = 50; docs/performance.md)


class _Anderson:
    """Anderson mixing (Pulay's DIIS) of the fixed point, on the true residual ``R = L rho``.

    Keeps the last ``m`` differences ``dX_i = x_{i+1} - x_i`` of the iterates and
    ``dR_i = R_{i+1} - R_i`` of their residuals.  :meth:`combine` returns
    ``xbar = x_k - sum_i c_i dX_i`` with ``c = argmin ||R_k - sum_i c_i dR_i||_F``: L is linear,
    so that is the combination of the recent iterates with the smallest residual ``||L xbar||``,
    the quantity the convergence test measures.  The next iterate is the paper's step from it,
    ``L0^-1 L1 xbar`` (Anderson type I with the preconditioner ``L0^-1``; with every iterate kept
    it is GMRES's minimal residual over the same space).  The iterates are Hermitian with unit
    trace, so the Frobenius inner products are real and ``c`` is taken real: ``xbar`` stays
    Hermitian with unit trace.  The small least-squares problem is solved from its Gram matrix
    (one reduction of ``2m`` numbers per step), singular values of ``dR`` below
    ``ANDERSON_RCOND`` times the largest dropped.  Memory: ``2m`` vectors of this rank's rows."""

    def __init__(self, layout: RowLayout, m: int):
        self.layout, self.m = layout, m
        shape = (m, layout.rows * layout.N)
        self.dX = np.empty(shape, dtype=DTYPE)
        self.dR = np.empty(shape, dtype=DTYPE)
        self.gram = np.zeros((m, m))
        self.reset()

    def reset(self) -> None:
        self.count, self.slot = 0, 0
        self.x_prev = self.R_prev = None

    def combine(self, x: np.ndarray, R: np.ndarray) -> tuple[np.ndarray, float | None]:
        """``(xbar, ||L xbar||_F)`` from the iterate ``x`` and its residual ``R = L x``;
        ``xbar`` is ``x`` itself (and the norm None) until there is a difference to mix."""
        xf, Rf = x.ravel(), R.ravel()
        m = self.m
        if self.x_prev is not None:
            j = self.slot
            np.subtract(xf, self.x_prev, out=self.dX[j])
            np.subtract(Rf, self.R_prev, out=self.dR[j])
            self.slot = (j + 1) % m
            self.count = min(self.count + 1, m)
        self.x_prev, self.R_prev = xf.copy(), Rf.copy()
        k = self.count
        if not k:
            return x, None
        j = (self.slot - 1) % m              # the difference just stored
        local = np.concatenate([np.real(self.dR[:k].conj() @ self.dR[j]),
                                np.real(self.dR[:k].conj() @ Rf), [np.vdot(Rf, Rf).real]])
        red = allreduce_sum(local, self.layout.comm)
        self.gram[j, :k] = self.gram[:k, j] = red[:k]
        A, b, rr = self.gram[:k, :k], red[k:2 * k], red[2 * k]
        coef = np.linalg.lstsq(A, b, rcond=ANDERSON_RCOND ** 2)[0]   # Gram: squared cut-off
        predicted = float(np.sqrt(max(rr - 2 * coef @ b + coef @ A @ coef, 0.0)))
        xbar = xf - coef @ self.dX[:k]
        return xbar.reshape(x.shape), predicted


def _stagnation_message(method: str, it: int, projected: float | None, rate: float | None,
                        residual: float, rtol: float, max_it: int) -> str:
    extra = ", acceleration = 'anderson'" if method == "none" else ""
    where = (f"at x{rate:.4f} per iteration it would need about {projected:.0f} iterations"
             if projected is not None and np.isfinite(projected)
             else "its residual is no longer decreasing")
    return (f"sylvester fixed point (eq. 14, acceleration {method}) is stagnating: after {it} iterations "
            f"||L rho||_F / ||e||_F = {residual:.2e} (rtol {rtol:.1e}) and {where}, more than "
            f"max_iterations = {max_it}; use [solver] method = 'krylov' (GMRES on the same "
            f"preconditioned system){extra}, or raise max_iterations")


def solve_fixed_point(model: Model, layout: RowLayout, sylv, x0: np.ndarray, rtol: float,
                      max_it: int, acceleration: str = "anderson", history: int = ANDERSON_HISTORY,
                      progress: float | None = None, checkpoint=None,
                      checkpoint_every: float = 0.0) -> tuple[PETSc.Vec, dict]:
    """``L0 rho_{m+1} = L1 rho_m`` (eq. 14), trace renormalized: the power method on ``L0^-1 L1``.

    Converged when ``||L rho_m||_F <= rtol ||e||_F`` with ``e = K / Tr K``: the same residual the
    krylov method reaches with the same rtol.  L is applied matrix-free (it costs little next to
    the Sylvester solve).

    ``acceleration = "anderson"`` mixes the last ``history`` iterates (:class:`_Anderson`;
    restarted from the best iterate when a mixed iterate's residual grows by ``ANDERSON_GROWTH``);
    ``"none"`` is the paper's plain iteration.  Either way the contraction per iteration is
    estimated from the residual history (:func:`pjcsync.progress.log_slope` of the running
    minimum over the last half of the iterations); when, after ``STAGNATION_START * max_it``
    iterations, the iterations it projects exceed ``max_it`` for ``max(20, it / 10)`` consecutive
    steps the solve stops with a message naming ``krylov``
    (:class:`UnconvergedError`), instead of running into the limit.

    ``progress``: seconds between progress lines (:mod:`pjcsync.progress`); ``checkpoint(rows,
    status)``: called (collectively) every ``checkpoint_every`` seconds with the current iterate
    and when the iteration stops unconverged."""
    from .matfree import RowOperator
    from .progress import Progress, log_slope
    if acceleration not in ACCELERATIONS:
        raise InputError(f"[solver] acceleration = {acceleration!r}: not one of {', '.join(ACCELERATIONS)}")
    H, c_ops = model.hamiltonian(), model.collapse_operators()
    op = RowOperator(H, c_ops, layout)
    K = so.jump_sum(c_ops, layout.N)
    trK = float(K.diagonal().real.sum())
    if trK <= 0:
        raise InputError("the sylvester method needs some dissipation (Tr K = 0)")
    e_norm = float(sp.linalg.norm(K)) / trK
    mixer = _Anderson(layout, history) if acceleration == "anderson" and history > 0 else None
    label = "sylvester" + (f" (anderson {history})" if mixer else "")
    prog = Progress(label, FIXED_POINT_NORM, rtol, layout.comm, progress)
    rows = x0
    best = (np.inf, None)
    hist, running_min = [], []
    restarts, strikes = 0, 0
    t0 = last_checkpoint = time.perf_counter()
    failure = None
    for it in range(max_it + 1):
        ext = op.halo(rows)
        jump = op.jump_part(ext)
        R = op.drift_part(rows, ext) + jump
        res = _frob(R, layout) / e_norm
        hist.append(res)
        prog.update(it, res)
        if res <= rtol:
            break
        if not np.isfinite(res) and (mixer is None or best[1] is None):
            failure = f"has a residual {res} at iteration {it}"
        elif it == max_it:
            failure = f"did not converge in {it} iterations (the limit)"
        if failure:
            break
        if res < best[0]:
            best = (res, rows)
        running_min.append(best[0])
        # a mixed iterate far worse than the best one (or not finite): restart from the best
        if mixer is not None and (not np.isfinite(res) or res > ANDERSON_GROWTH * best[0]):
            mixer.reset()
            restarts += 1
            rows = best[1]
            ext = op.halo(rows)
            jump = op.jump_part(ext)
            R = op.drift_part(rows, ext) + jump
        # stagnation: the contraction of the best residual over the recent iterations
        if it >= max(50, STAGNATION_START * max_it):
            slope = log_slope(running_min, window=it // 2)
            projected = it + np.log(rtol / best[0]) / slope if slope is not None and slope < 0 else np.inf
            strikes = strikes + 1 if projected > max_it else 0
            if strikes >= max(20, it // 10):
                failure = _stagnation_message(acceleration, it, projected,
                                              np.exp(slope) if slope is not None else None,
                                              best[0], rtol, max_it)
                break
        if mixer is not None:
            xbar, _ = mixer.combine(rows, R)
            if xbar is not rows:
                jump = op.jump_part(op.halo(xbar))
        g = sylv.apply(jump)
        tr = _trace(g, layout)
        if not np.isfinite(tr) or abs(tr) < 1e-300:
            failure = f"L0^-1 L1 rho has trace {tr} at iteration {it}"
            break
        g /= tr
        rows = g
        if checkpoint is not None and checkpoint_every > 0:
            due = layout.comm.bcast(time.perf_counter() - last_checkpoint >= checkpoint_every, root=0)
            if due:
                checkpoint(rows, {"method": "sylvester", "iterations": it + 1,
                                  "relative_residual": float(best[0]), "residual_norm": FIXED_POINT_NORM})
                last_checkpoint = time.perf_counter()
    seconds = time.perf_counter() - t0
    slope = log_slope(running_min or hist, window=10)
    info = {"method": "sylvester", "acceleration": acceleration if mixer else "none",
            "iterations": it, "solve_seconds": seconds, "residual_norm": FIXED_POINT_NORM,
            "residual_history": _thin(hist),
            "contraction": float(np.exp(slope)) if slope is not None else None}
    if mixer is not None:
        info.update(acceleration_history=history, acceleration_restarts=restarts)
    if failure:
        if best[1] is not None and not (res <= best[0]):
            rows = best[1]           # keep the best iterate, not the last one
        if not failure.startswith("sylvester"):
            failure = (f"sylvester fixed point (eq. 14) {failure}: {FIXED_POINT_NORM} = "
                       f"{min(best[0], res):.2e} > rtol = {rtol:.1e}; relative residual history: "
                       f"{_history_text(hist)}")
        raise UnconvergedError(failure, _vec(rows, layout) if np.isfinite(best[0]) else None, info,
                               relative_residual=float(min(best[0], res)))
    return _vec(rows, layout), info


# --- dispatch -------------------------------------------------------------------------------------

def steady_state(model: Model, solver_cfg: dict, layout: RowLayout | None = None,
                 initial=None, checkpoint=None) -> SteadyState:
    """Solve ``L rho = 0``, ``Tr rho = 1`` with the method of ``solver_cfg`` and check the result.

    ``initial``: optional warm start (PETSc Vec distributed like rho, or numpy rows / full rho)
    for the iterative methods; it overrides ``[solver] initial_guess``.  ``checkpoint(rows,
    status)``: called collectively by krylov and sylvester every ``[solver] checkpoint_every``
    seconds with this rank's rows of the current iterate.  An iterative solve that stops
    unconverged raises :class:`UnconvergedError` (carrying its last iterate)."""
    from .progress import DEFAULT_INTERVAL
    from .sylvester import SylvesterInverse
    from .options import validate_section
    solver_cfg = validate_section("solver", solver_cfg, "the [solver] options")   # typos are errors
    layout = layout or RowLayout.create(model.N)
    requested = solver_cfg.get("method", "auto")
    method = resolve_method(model, solver_cfg)
    if method not in METHODS:
        raise InputError(f"[solver] method = {method!r} is not available (have: {', '.join(METHODS)})")
    rtol = solver_cfg.get("rtol", 1e-10)
    tol = solver_cfg.get("check_tolerance", DEFAULT_TOLERANCE)
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
        watch = {"progress": solver_cfg.get("progress", DEFAULT_INTERVAL), "checkpoint": checkpoint,
                 "checkpoint_every": solver_cfg.get("checkpoint_every", 0.0)}
        if method == "sylvester":
            rho, info = solve_fixed_point(model, layout, sylv, x0, rtol, max_it,
                                          acceleration=solver_cfg.get("acceleration", "anderson"),
                                          history=solver_cfg.get("acceleration_history", ANDERSON_HISTORY),
                                          **watch)
        else:
            t1 = time.perf_counter()
            L = _operator(model, layout, operator, H, c_ops)
            extra["operator_seconds"] = time.perf_counter() - t1
            switch = direct_switch_iterations(model, solver_cfg)
            rho, info = _krylov_with_fallback(model, layout, L, sylv, x0, rtol, max_it, settings, watch,
                                              switch_after=switch,
                                              stagnation_window=solver_cfg["stagnation_window"])
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
        if "direct_switch" in info:
            info["auto"] += "; then direct: " + info["direct_switch"]
    info["operator_reason"] = op_reason
    return SteadyState(model=model, layout=layout, rho=rho, solver=info, checks=checks)


KSP_GAVE_UP = (-4, -5, -9)       # KSP reasons after which the automatic KSP is replaced: diverged
                                 # (dtol), broke down, NaN/Inf -- not the iteration limit


def _krylov_with_fallback(model, layout, L, sylv, x0, rtol, max_it, settings: dict, watch: dict,
                          switch_after: int | None = None, stagnation_window: int = 0):
    """:func:`solve_krylov` with the KSP of ``settings`` (:func:`pjcsync.choices.krylov_settings`).

    ``switch_after`` (``method = "auto"``, :func:`pjcsync.choices.direct_switch_iterations`):
    when MUMPS's estimated memory fits the node (:func:`pjcsync.memory.direct_fits`), that is
    the Krylov solve's budget (:func:`solve_krylov`), and a solve stopped by it is solved again by
    MUMPS (:func:`solve_direct`); the Krylov attempt is recorded as ``info["direct_switch"]``.
    If the KSP was the automatic choice and it diverges or breaks down, it is solved once more
    with ``settings["fallback"]`` (recorded as ``info["ksp_fallback"]``), from the last iterate
    when that iterate's true residual (``info["last_iterate_residual"]`` of the failed solve) is
    below the initial guess's, else from the same initial guess; with the switch on, that solve
    gets what is left of the budget and MUMPS comes only after it (a breakdown after a few iterations has not paid for a
    factorization: Fig. A4, M = 4, x = -10, N = 320, BiCGStab broke down after 8 iterations and
    MUMPS took 282 s and 11 GB; docs/performance.md, session 10).  An automatic KSP that
    stagnates (``stagnation_window``, :class:`_KrylovMonitor`) is treated the same way; near
    rtol its last iterate is the better start: Fig. A4, M = 4, x = -3, N = 640, BiCGStab hovered at
    5.7e-10 to 8.9e-10 (rtol 1e-10) from iteration 177 to its limit of 1000, and flexible GMRES
    from that iterate converged in 28 iterations (docs/performance.md, session 11)."""
    fits, memory_text = False, ""
    if switch_after is not None:
        from .memory import direct_fits
        fits, memory_text = direct_fits(model, layout.comm)
    window = stagnation_window if settings.get("fallback") else None
    try:
        return solve_krylov(model, layout, L, sylv, x0, rtol, max_it, ksp_type=settings["ksp_type"],
                            budget=switch_after if fits else None, stagnation=window or None,
                            divtol=settings.get("divtol"), **watch)
    except UnconvergedError as exc:
        stalled = "stagnation" in exc.info
        gave_up = settings.get("fallback") and (exc.info.get("ksp_reason") in KSP_GAVE_UP or stalled)
        left = switch_after - exc.info.get("iterations", 0) if fits else None
        if fits and not (gave_up and left > 0):
            return _switch_to_direct(model, layout, rtol, exc, memory_text)
        if not gave_up:
            raise
        start = "the same initial guess"
        first_residual = (exc.info.get("residual_history") or [float("inf")])[0]
        last_residual = exc.info.get("last_iterate_residual", float("inf"))
        if exc.rho is not None and last_residual < first_residual:
            x0 = exc.rho.getArray(readonly=True).reshape(x0.shape).copy()
            start = f"its last iterate (relative residual {last_residual:.1e}, initially {first_residual:.1e})"
        why = exc.info["stagnation"] if stalled else f"KSP reason {exc.info['ksp_reason']}"
        first = (f"{exc.info['ksp_type']} gave up after {exc.info['iterations']} iterations "
                 f"({why}); {settings['fallback']} from {start}"
                 + (f" (MUMPS after {left} more iterations)" if fits else ""))
        if exc.rho is not None:
            exc.rho.destroy()
    from .progress import info as progress_info
    progress_info(f"pjcsync: krylov: {first}", layout.comm)
    try:
        rho, info = solve_krylov(model, layout, L, sylv, x0, rtol, max_it, ksp_type=settings["fallback"],
                                 budget=left, **watch)
    except UnconvergedError as exc:
        if not fits:
            raise
        exc.info["ksp_type"] = f"{exc.info.get('ksp_type')} (the fallback)"
        rho, info = _switch_to_direct(model, layout, rtol, exc, memory_text)
    info["ksp_fallback"] = first
    return rho, info


def _switch_to_direct(model, layout, rtol, exc: UnconvergedError, memory_text: str):
    """The direct switch of :func:`_krylov_with_fallback`: MUMPS after an unconverged Krylov
    solve, with what that solve did in ``info["direct_switch"]``."""
    from .progress import info as progress_info
    k = exc.info
    its = k.get("iterations")
    if k.get("ksp_reason") != -3:
        why = f"gave up (KSP reason {k.get('ksp_reason')}) after {its} iterations"
    elif k.get("budget"):
        why = f"stopped at its budget after {its} iterations ({k['budget']})"
    else:
        why = f"stopped after {its} iterations (the iteration limit)"
    text = (f"{k.get('ksp_type')} {why} in {k.get('solve_seconds', 0.0):.1f} s at relative residual "
            f"{exc.relative_residual:.1e}; MUMPS ({memory_text})")
    if exc.rho is not None:
        exc.rho.destroy()
    progress_info(f"pjcsync: krylov: {text}", layout.comm)
    rho, info = solve_direct(model, layout, rtol)
    info["direct_switch"] = text
    info["krylov_iterations"] = k.get("iterations")
    info["krylov_seconds"] = k.get("solve_seconds")
    return rho, info


def _operator(model: Model, layout: RowLayout, operator: str, H, c_ops) -> PETSc.Mat:
    if operator == "matrix-free":
        from .matfree import matfree_liouvillian
        return matfree_liouvillian(H, c_ops, layout)
    return so.petsc_matrix(so.local_rows(H, c_ops, layout), layout)
