"""Which solver runs: the policy behind every ``"auto"`` of ``[solver]`` and ``[floquet]``.

One home for the choices that both the solvers (:mod:`pjcsync.steady`, :mod:`pjcsync.floquet`)
and the memory estimate made before them (:mod:`pjcsync.memory`) need, so that the estimate
counts what the solver will run: the method (:func:`resolve_method`), the operator
(:func:`auto_operator`), the Krylov method and the precision of L0^-1 (:func:`krylov_settings`),
the GMRES restart (:func:`gmres_restart`), when ``auto`` leaves a slow Krylov solve for MUMPS
(:func:`direct_switch_iterations`) and the periodic steady state's method
(:func:`floquet_method`).  Arithmetic on the sizes and the options only: nothing here builds an
operator, and this module imports no other part of pjcsync (the solvers and the estimate import
it; docs/performance.md has the measurements behind the thresholds).  ``model`` is anything
with the Hilbert-space dimension ``N`` (a :class:`~pjcsync.model.Model` or a
:class:`~pjcsync.lindblad.Lindbladian`).
"""
from __future__ import annotations

METHODS = ("direct", "krylov", "sylvester", "rate", "rate*")
AUTO_DIRECT_MAX_N2 = 4096      # auto: MUMPS up to this many entries of rho (N = 64), krylov above
FLEXIBLE_KSPS = ("fgmres", "fbcgs", "fbcgsr", "gcr", "fcg", "pipefgmres", "pipegcr")


def auto_method(model, solver_cfg: dict) -> str:
    """The method ``[solver] method = "auto"`` picks for this problem.

    ``direct`` (MUMPS) while ``N^2 <= AUTO_DIRECT_MAX_N2``: below that size the factorization is
    instantaneous and its fill harmless; above it the fill of these Liouvillians grows
    quickly (docs/performance.md) while the Krylov solve with the Sylvester preconditioner
    costs ``O(N^3)`` dense flops per iteration, so ``krylov``."""
    return "direct" if model.N ** 2 <= AUTO_DIRECT_MAX_N2 else "krylov"


# --- auto: from krylov to MUMPS when the Krylov solve is slow ------------------------------------

SWITCH_RATIO_M2_N400 = 190     # MUMPS factorization time / krylov iteration time, M = 2, N = 400
SWITCH_RATIO_PER_QUBIT = 4.7   # ... times this per qubit more ...
SWITCH_RATIO_N_POWER = 0.4     # ... times (N / 400) to this power.  Measured at Fig. 7's resonance,
                               # 1 rank (docs/performance.md, "Session 7"): ratios 34 (M = 1, N = 400),
                               # 97-230 (M = 2, N = 200-720), 490 (M = 3, N = 320), 3400 (M = 4, N = 320)
SWITCH_MEMORY_FRACTION = 0.8   # the switch needs MUMPS's estimated memory within this fraction of what
                               # the node has available, shared by the job's ranks on the node


def direct_switch_iterations(model, solver_cfg: dict) -> int | None:
    """Krylov iterations after which ``method = "auto"`` gives the point to MUMPS, or None.

    ``[solver] direct_switch``: an integer is used as is, ``"never"`` turns the switch off, and
    ``"auto"`` predicts the iterations one MUMPS factorization costs (the rule of the ski
    rental: after spending what the alternative costs, buy it; the total is then at most twice
    that of the better choice made in hindsight):
    ``SWITCH_RATIO_M2_N400 * SWITCH_RATIO_PER_QUBIT**(M - 2) * (N / 400)**SWITCH_RATIO_N_POWER``.
    Both costs are dense BLAS-3 flops (MUMPS's fronts, the GEMMs of L0^-1), so the ratio
    carries from machine to machine better than either time.  Only for the M-qubit models
    (anything with ``M``; a general Lindbladian has no measured ratio: None)."""
    setting = solver_cfg.get("direct_switch", "auto")
    if setting == "never" or solver_cfg.get("method", "auto") != "auto":
        return None
    if setting != "auto":
        return int(setting)
    M = getattr(model, "M", None)
    if M is None:
        return None
    ratio = (SWITCH_RATIO_M2_N400 * SWITCH_RATIO_PER_QUBIT ** (M - 2)
             * (model.N / 400) ** SWITCH_RATIO_N_POWER)
    return max(1, int(round(ratio)))


def resolve_method(model, solver_cfg: dict) -> str:
    """``[solver] method``, with ``"auto"`` replaced by :func:`auto_method`'s choice."""
    method = solver_cfg.get("method", "auto")
    return auto_method(model, solver_cfg) if method == "auto" else method


AUTO_SINGLE_MIN_N = 256        # auto: single-precision L0^-1 from this N on (below, applications are cheap)
AUTO_KSP = "fbcgs"             # auto: flexible BiCGStab (docs/performance.md, "KSP study")
FALLBACK_KSP = "fgmres"        # auto: the KSP tried again when the automatic BiCGStab diverges, breaks
                               # down or stagnates (docs/performance.md, sessions 10 and 11)
AUTO_DIVTOL = 1e8              # auto: BiCGStab's divergence tolerance (relative to ||b||, as PETSc's test;
                               # PETSc's default is 1e4).  At strong damping (gamma = gamma_s = 2) its
                               # residual spikes to about 1.3e4 ||b|| within 10 iterations and then
                               # converges: Fig. A4, M = 3, n_c = 20 in 35 iterations; Fig. 5, F = 5,
                               # n_c = 60, |x| <= 1 in 214-269, where the default test handed them to
                               # FGMRES, which stopped at its 1000 iterations at 4 of 5 points
                               # (docs/performance.md, session 12)
AUTO_KSP_SMALL = "fbcgs"       # auto below AUTO_SINGLE_MIN_N too (with a double-precision L0^-1):
                               # GMRES is up to 1.3x faster off resonance but needs 3-10x the
                               # iterations at hard points (Fig. 11, M = 1, n_c = 80: 1651 against
                               # 410) and fails there with the default iteration limit


def krylov_settings(model, solver_cfg: dict, options_prefix: str = "") -> dict:
    """The Krylov method and the precision of L0^-1 for ``method = "krylov"``, with the reason.

    Order of precedence for the KSP: the ``-ksp_type`` option, ``[solver] ksp_type``, then the
    automatic choice: flexible BiCGStab, with a single-precision inverse from
    ``N = AUTO_SINGLE_MIN_N`` on and a double-precision one below (measured in
    docs/performance.md, "KSP study": BiCGStab needs no orthogonalization or Krylov basis, is
    fastest or within 1.3x of the fastest on every case measured, while GMRES needs several
    times the iterations at resonant points; the single-precision factors halve the cost of
    the dominant GEMMs).  ``preconditioner_precision = "auto"`` is
    single only for a flexible KSP (a single-precision L0^-1 is not exactly linear).
    ``fallback``: the KSP to try again with when the automatic choice diverges or breaks down
    (``FALLBACK_KSP``), None when the KSP was configured; ``divtol``: the automatic choice's
    divergence tolerance (``AUTO_DIVTOL``; ``-ksp_divtol`` overrides it), None (PETSc's) for a
    configured KSP."""
    from petsc4py import PETSc
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
    auto = why.startswith("auto")
    return {"ksp_type": ksp, "precision": precision,
            "fallback": FALLBACK_KSP if auto and ksp != FALLBACK_KSP else None,
            "divtol": AUTO_DIVTOL if auto else None,
            "reason": f"{ksp} ({why}), {precision}-precision L0^-1 ({pwhy})"}


def auto_operator(model, solver_cfg: dict, method: str) -> tuple[str, str]:
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


# --- GMRES restart ------------------------------------------------------------------------------

BYTES_PER_ENTRY = 16              # complex128
GMRES_RESTART_MAX = 100           # default GMRES restart, lowered when its basis would not fit


def gmres_restart(n2: int, ranks: int, available_per_rank: float, vectors_per_step: int = 1) -> int:
    """The GMRES restart: ``GMRES_RESTART_MAX``, lowered (not below 20) so that the basis takes at
    most 30 % of the memory available to a rank; FGMRES keeps two vectors per step."""
    per_step = vectors_per_step * n2 * BYTES_PER_ENTRY / ranks
    return int(max(20, min(GMRES_RESTART_MAX, 0.3 * available_per_rank / per_step)))


# --- the periodic steady state ([floquet] method) -------------------------------------------------

FLOQUET_DIRECT_LIMIT = 10_000     # unknowns (2K+1) N^2 up to which "auto" factorizes the whole system


def floquet_method(method: str, unknowns: int) -> str:
    """``[floquet] method`` with ``"auto"`` replaced: ``direct`` up to ``FLOQUET_DIRECT_LIMIT``
    unknowns ``(2K+1) N^2``, ``gmres`` (block Gauss-Seidel over the harmonics) above."""
    if method != "auto":
        return method
    return "direct" if unknowns <= FLOQUET_DIRECT_LIMIT else "gmres"
