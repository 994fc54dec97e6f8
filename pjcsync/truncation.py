"""The cavity truncation n_c: adaptive choice (``[cavity] levels = "auto"``) and coarse starts.

The Fock space of the cavity is cut at n_c levels, ``N = n_c 2^M``.  With the tensor order
cavity first, the basis index of ``|n, q>`` is ``i = n 2^M + q`` whatever n_c, so the density
matrix of a problem with fewer levels is the top-left block of the larger one: a state moves
to more levels by zero-padding (:func:`embed_rows`) and to fewer by cutting (then the trace is
renormalized).

Two uses:

* **Adaptive truncation** (:func:`adaptive_steady_state`, ``[cavity] levels = "auto"``): solve
  with ``levels_start`` levels, then grow n_c, each solve starting from the previous state
  when that state is well truncated (edge population <= ``WARM_EDGE_MAX``), until the
  population of the top levels (:func:`pjcsync.observables.edge_levels`: five, or n_c / 4 for
  small n_c) is at most ``levels_tolerance``.  The next n_c is predicted from the tail of the
  cavity populations P(n) below the edge (between geometric and Poisson: :func:`levels_needed`),
  between 1.25 and 2 times the current n_c, at most ``levels_max``.  The solver statistics
  record every step (``solver["levels"]``).
* **Coarse start** (:func:`coarse_started_steady_state`, ``[solver] coarse_start``): a fixed
  n_c solved by an iterative method (krylov, sylvester) from the default initial guess first
  solves ``ceil(n_c / 2)`` levels (recursively, down to ``[solver] coarse_levels``) and starts
  from that state; with ``levels = "auto"`` so does the first n_c (``levels_start``).  One iteration with half the levels costs about 1/8 (the L0^-1 application is
  ``O(N^3)``), so the coarse solves cost a small fraction; when the state fits in the coarse
  space (few photons), the fine solve starts almost converged (docs/performance.md).  A coarse
  state whose edge population exceeds ``WARM_EDGE_MAX`` starts nothing (measured: such starts
  slow BiCGStab down or make it stagnate), so the ladder then costs its coarse solves only.
"""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
from mpi4py import MPI
from petsc4py import PETSc
from scipy.special import gammaln

from .model import DTYPE, Model
from .observables import cavity_populations, edge_levels
from .parallel import InputError, PjcsyncError, RowLayout
from .steady import SteadyState, resolve_method, steady_state

WARM_EDGE_MAX = 1e-6  # a state of fewer levels starts the next solve only if its edge population is
                      # at most this: a poorly truncated start made BiCGStab stagnate (Fig. 11, M = 2,
                      # n_c = 50 -> 100 at resonance: stuck at 1.3e-2 from a start with edge 3e-2;
                      # M = 4, n_c = 16 -> 32: 184 iterations against 128 cold; docs/performance.md)
COARSE_RTOL = 1e-2    # the coarse solves converge to this times [solver] rtol: a start whose residual
                      # is just above rtol made BiCGStab wander around rtol for up to 180 iterations
                      # (Fig. 5, F = 1, x = -5.7, n_c 25 -> 50 -> 100: 138 iterations, 15 s; from
                      # coarse solves at 1e-12: 0 iterations, 0.7 s; the coarse solve took 37
                      # iterations instead of 35)
GROWTH_MIN = 1.25     # adaptive truncation: the next n_c is at least this times the current one ...
GROWTH_MAX = 2.0      # ... and at most this
ITERATIVE = ("krylov", "sylvester")


def with_levels(model: Model, levels: int) -> Model:
    """The same model with ``levels`` Fock levels."""
    return dataclasses.replace(model, levels=int(levels), auto_levels=None)


def levels_start(rho: np.ndarray, model: Model, comm, what: str = "initial") -> tuple[np.ndarray, Model]:
    """A warm start of :func:`adaptive_steady_state` from a whole density matrix of any number
    of levels: ``(this rank's rows, the model with its n_c)``, rows laid out by
    :meth:`RowLayout.create` on ``comm``.  ``rho`` must be square of dimension ``n_c 2^M``
    (``n_c >= 2``); else :class:`~pjcsync.parallel.InputError` naming ``what``."""
    rho = np.asarray(rho)
    q = 2 ** model.M
    if rho.ndim != 2 or rho.shape[0] != rho.shape[1] or rho.shape[0] % q or rho.shape[0] < 2 * q:
        raise InputError(f"{what}: a density matrix of dimension n_c 2^M (M = {model.M}) is needed for a "
                         f"levels = 'auto' warm start, got shape {rho.shape}")
    start = with_levels(model, rho.shape[0] // q)
    lay = RowLayout.create(start.N, comm)
    return np.array(rho[lay.i0:lay.i1], dtype=DTYPE), start


def embed_rows(rows: np.ndarray, old: Model, old_layout: RowLayout, new: Model,
               new_layout: RowLayout) -> np.ndarray:
    """This rank's rows (new layout) of ``rho`` moved from ``old.levels`` to ``new.levels``.

    Zero-padded when the new space is larger, cut when it is smaller (collective; the values
    travel through a PETSc vector assembly, so the two layouts may differ arbitrarily).  The
    trace is not renormalized (the solvers' initial guesses are)."""
    if old.M != new.M:
        raise InputError(f"cannot move a state of {old.M} qubits to a model with {new.M}")
    No, Nn = old.N, new.N
    keep = min(No, Nn)
    v = PETSc.Vec().createMPI((new_layout.local_size, new_layout.global_size), comm=new_layout.comm)
    v.set(0.0)
    rows = np.asarray(rows, dtype=DTYPE).reshape(old_layout.rows, No)
    i = np.arange(old_layout.i0, min(old_layout.i1, keep))
    if i.size:
        idx = (i[:, None] * Nn + np.arange(keep)[None, :]).astype(PETSc.IntType)
        v.setValues(idx.ravel(), rows[: i.size, :keep].ravel(), addv=PETSc.InsertMode.INSERT_VALUES)
    v.assemble()
    out = v.getArray(readonly=True).copy().reshape(new_layout.rows, Nn)
    v.destroy()
    return out


def coarse_ladder(levels: int, start: int) -> list[int]:
    """The coarse n_c solved before ``levels``: ``ceil(levels / 2^k) >= start``, ascending."""
    out = []
    c = math.ceil(levels / 2)
    while c >= start:
        out.append(c)
        c = math.ceil(c / 2)
    return out[::-1]


def _step_record(state: SteadyState, edge: float) -> dict:
    s = state.solver
    return {"levels": state.model.levels, "N": state.model.N, "method": s.get("method"),
            "iterations": s.get("iterations"), "seconds": s.get("seconds"), "edge_population": edge}


def edge_population(state: SteadyState) -> tuple[float, np.ndarray]:
    """Population of the top :func:`edge_levels` Fock levels, and P(n)."""
    pops = cavity_populations(state.model, state.rows(), state.layout)
    return float(pops[-edge_levels(state.model):].sum()), pops


def coarse_started_steady_state(model: Model, solver_cfg: dict, layout: RowLayout,
                                initial=None, log=None, checkpoint=None) -> SteadyState:
    """:func:`~pjcsync.steady.steady_state`, started from the coarse ladder when it applies.

    It applies to krylov and sylvester (also chosen by ``auto``) with ``[solver] coarse_start``,
    no ``initial`` state, the default initial guess, and ``n_c >= 2 coarse_levels``.  The coarse
    solves converge to ``COARSE_RTOL`` times ``rtol``, so that the fine solve starts well below
    its tolerance where the coarse state is already converged in n_c.  A coarse solve that fails
    ends the ladder (the fine solve starts from the last good state, or cold): the coarse states
    only start the fine solve, they are never results.  ``checkpoint``
    (:func:`~pjcsync.steady.steady_state`) goes to the fine solve only."""
    ladder = coarse_ladder(model.levels, solver_cfg.get("coarse_levels", 16))
    comm = layout.comm
    ladder = [c for c in ladder if c * 2 ** model.M >= comm.Get_size()]
    if (initial is not None or not solver_cfg.get("coarse_start", True) or not ladder
            or solver_cfg.get("initial_guess", "identity") != "identity"
            or resolve_method(model, solver_cfg) not in ITERATIVE):
        return steady_state(model, solver_cfg, layout, initial=initial, checkpoint=checkpoint)
    t0 = time.perf_counter()
    steps = []
    coarse_cfg = dict(solver_cfg, rtol=solver_cfg.get("rtol", 1e-10) * COARSE_RTOL)
    good = None                                   # the last coarse state fit to start from
    for step, c in enumerate(ladder):
        cm = with_levels(model, c)
        cl = RowLayout.create(cm.N, comm=comm)
        init = embed_rows(good.rows(), good.model, good.layout, cm, cl) if good is not None else None
        try:
            st = steady_state(cm, coarse_cfg, cl, initial=init)
        except PjcsyncError as exc:
            if not exc.collective:
                raise
            if log:
                log(f"coarse start: n_c = {c} failed ({exc}); going on")
            break
        edge, pops = edge_population(st)
        steps.append({**_step_record(st, edge), "started_from_coarser": init is not None})
        if log:
            log(f"coarse start: n_c = {c}, {st.solver.get('iterations')} iterations, "
                f"{st.solver.get('seconds', 0):.1f} s, edge population {edge:.1e}")
        if good is not None:
            good.rho.destroy()
            good = None
        if edge <= WARM_EDGE_MAX:
            good = st
            continue
        st.rho.destroy()
        # the tail decays too slowly for the next coarse level to be well truncated either:
        # its solve would only cost time (Fig. 11, M = 4: edge 3.9e-3 at 25 levels, 1.2e-3 at 50)
        nxt = ladder[step + 1] if step + 1 < len(ladder) else model.levels
        if levels_needed(c, pops, edge_levels(cm), WARM_EDGE_MAX) > nxt:
            steps[-1]["ladder_stopped"] = f"edge population decays too slowly to reach {WARM_EDGE_MAX:.0e} by n_c = {nxt}"
            break
    init = embed_rows(good.rows(), good.model, good.layout, model, layout) if good is not None else None
    if good is not None:
        good.rho.destroy()
    state = steady_state(model, solver_cfg, layout, initial=init, checkpoint=checkpoint)
    state.solver["coarse_start"] = steps
    state.solver["final_seconds"] = state.solver.get("seconds")
    state.solver["seconds"] = time.perf_counter() - t0      # time to solution, coarse solves included
    return state


def levels_needed(levels: int, pops: np.ndarray, k: int, tolerance: float) -> float:
    """Predicted n_c at which the top-``k`` population falls to ``tolerance`` (inf: no decay).

    Fits the tail of the populations just below the edge (the ``2k`` levels under the top
    ``k``, which the cut distorts least) by ``log P(n) = a + b n - kappa log n!`` with
    ``0 <= kappa <= 1``: kappa = 0 is a geometric tail ``r^n`` (a thermal-like state), kappa = 1 a
    Poisson tail ``P(n+1)/P(n) = c/(n+1)`` (a coherent state, which the driven cavity is close
    to); the model's top-``k`` population, scaled to the measured one at ``levels``, is
    extrapolated to ``tolerance``.  A margin of 20 % of the added levels, plus ``k``, covers the
    fit.  The geometric fit alone overshoots a Poisson-like tail: Fig. 11 at resonance, one or
    two qubits, cut where the edge population is 6e-4 to 2e-3, it predicted 109-120 levels where
    96-97 suffice, this fit 102 (docs/performance.md, session 10).  Where the cut distorts the
    window (edge population above about 1e-2) kappa comes out near 0 and the prediction is the
    geometric one, clamped by :func:`next_levels`."""
    edge = float(pops[-k:].sum())
    if edge <= tolerance:
        return float(levels)
    n = np.arange(max(0, levels - 3 * k), levels - k)
    window = pops[n]
    if window.size < 3 or not np.all(window > 0):
        return math.inf
    logp = np.log(window)
    slope = np.polyfit(n, logp, 1)[0]
    if slope >= -1e-9:                    # no real decay (a plateau, or round-off)
        return math.inf
    geometric = math.ceil(levels + math.log(tolerance / edge) / slope * 1.2) + k
    lfact = gammaln(n + 1.0)
    kappa = np.linalg.lstsq(np.stack([np.ones(n.size), n, -lfact], 1), logp, rcond=None)[0][2]
    kappa = min(1.0, max(0.0, float(kappa)))
    if kappa == 0.0:
        return geometric
    b = np.polyfit(n, logp + kappa * lfact, 1)[0]
    m = np.arange(levels - k, geometric)
    logm = b * m - kappa * gammaln(m + 1.0)
    top = np.convolve(np.exp(logm - logm[0]), np.ones(k), mode="valid")   # top-k sums, cut at m[0] + k, ...
    below = np.nonzero(top / top[0] * edge <= tolerance)[0]
    if below.size == 0:
        return geometric
    return min(geometric, math.ceil(levels + below[0] * 1.2) + k)


def next_levels(levels: int, pops: np.ndarray, k: int, tolerance: float, levels_max: int) -> int:
    """The n_c to try after ``levels``, whose top-``k`` population was above ``tolerance``:
    :func:`levels_needed`, clamped to [1.25, 2] x ``levels`` and to ``levels_max``."""
    lo = max(int(math.ceil(GROWTH_MIN * levels)), levels + 1)
    hi = int(GROWTH_MAX * levels)
    guess = levels_needed(levels, pops, k, tolerance)
    guess = hi if not math.isfinite(guess) else int(guess)
    return int(min(levels_max, max(lo, min(hi, guess))))


def adaptive_steady_state(model: Model, solver_cfg: dict, cavity_cfg: dict, comm=None,
                          initial=None, initial_model: Model | None = None, force: bool = False,
                          log=None) -> SteadyState:
    """``[cavity] levels = "auto"``: grow n_c until the edge population is at most the tolerance.

    ``model`` carries the parameters (its ``levels`` is ignored); the first n_c is
    ``levels_start``, or ``initial_model.levels`` when a warm start ``initial`` (this rank's rows
    of a state of ``initial_model``, laid out by :meth:`RowLayout.create` on ``comm``) is given,
    as in a sweep.  Each larger solve starts from the previous state when that is well truncated
    (edge population <= ``WARM_EDGE_MAX``); the memory of every step is checked before it is
    allocated.  The returned state is that of the last n_c, with
    ``solver["levels"] = {"chosen", "tolerance", "steps", "total_seconds"}``; if ``levels_max``
    is reached first, the state of ``levels_max`` is returned (its edge population then exceeds
    the tolerance and the usual truncation warning follows)."""
    from .memory import check_fits, estimate
    comm = comm or MPI.COMM_WORLD
    tol = cavity_cfg.get("levels_tolerance", 1e-9)
    lmax = cavity_cfg.get("levels_max", 400)
    levels = cavity_cfg.get("levels_start", 16)
    prev = None
    if initial is not None and initial_model is not None:
        levels = initial_model.levels
        prev = (np.asarray(initial), initial_model, RowLayout.create(initial_model.N, comm=comm))
    levels = max(2, min(levels, lmax))
    while levels * 2 ** model.M < comm.Get_size():
        levels += 1
    # a results file named by initial_guess was read by the caller into ``initial``: a step that
    # starts cold (no well-truncated previous state) starts from the default guess instead
    from .states import NAMED_GUESSES
    cold_cfg = (solver_cfg if solver_cfg.get("initial_guess", "identity") in NAMED_GUESSES
                else {**solver_cfg, "initial_guess": "identity"})
    t0 = time.perf_counter()
    steps = []
    while True:
        m = with_levels(model, levels)
        check_fits(estimate(m, solver_cfg, comm), force)
        lay = RowLayout.create(m.N, comm=comm)
        init = embed_rows(prev[0], prev[1], prev[2], m, lay) if prev is not None else None
        if init is not None:
            state = steady_state(m, solver_cfg, lay, initial=init)
        elif steps:
            state = steady_state(m, cold_cfg, lay)
        else:
            state = coarse_started_steady_state(m, cold_cfg, lay, log=log)
        edge, pops = edge_population(state)
        steps.append({**_step_record(state, edge), "started_from_previous": init is not None})
        if log:
            log(f"levels = auto: n_c = {levels}, {state.solver.get('iterations')} iterations, "
                f"{state.solver.get('seconds', 0):.1f} s, edge population {edge:.1e} "
                f"({'<=' if edge <= tol else '>'} {tol:.0e})")
        if edge <= tol or levels >= lmax:
            break
        nxt = next_levels(levels, pops, edge_levels(m), tol, lmax)
        prev = (state.rows().copy(), m, lay) if edge <= WARM_EDGE_MAX else None
        state.rho.destroy()
        levels = nxt
    state.solver["levels"] = {"chosen": levels, "tolerance": tol, "steps": steps,
                              "total_seconds": time.perf_counter() - t0,
                              "converged": steps[-1]["edge_population"] <= tol}
    return state
