"""The periodic (non-RWA) steady state of the lab-frame model, directly (docs/conventions.md).

In the frame rotating at omega the exact generator is 2 omega-periodic (see :mod:`pjcsync.evolve`):

    L(t) = L_R + e^{-2i omega t} L_- + e^{2i omega t} L_+,   L_-(rho) = -i[V, rho],  L_+(rho) = -i[V^+, rho],

with ``V = sum_l lambda_l s_l^- a + F a``.  Its periodic steady state ``rho(t) = sum_k rho_k e^{2ik omega t}``
satisfies, for every harmonic k (truncated at |k| <= K, ``rho_{+-(K+1)} = 0``),

    (L_R - 2ik omega) rho_k + L_- rho_{k+1} + L_+ rho_{k-1} = 0,     Tr rho_0 = 1,

a block-tridiagonal system of (2K+1) N^2 unknowns.  ``rho_0`` is the average of rho_R(t) over a
drive period: its observables are the period averages in the rotating frame, to be compared
with the RWA steady state (the paper's Figs. 1 and 2 after infinitely many periods).
``rho_{-k} = rho_k^+`` (rho(t) is Hermitian) is checked, not imposed.

Layout: each rank owns its rows [i0, i1) of every harmonic, stored harmonic after harmonic, so
the block system is one distributed AIJ matrix whose local blocks are the ranks' rows of
``L_R``, ``L_-`` and ``L_+`` (the single-harmonic :class:`~pjcsync.parallel.RowLayout` per block).

Methods (``[floquet] method``):

* ``direct``: MUMPS LU with the equation of ``(rho_0)_00`` replaced by the trace condition.
* ``gmres``: GMRES on the same trace-constrained system, preconditioned by block Gauss-Seidel over
  the harmonics with an exact MUMPS LU of each diagonal block ``L_R - 2ik omega`` (PCFIELDSPLIT,
  one split per harmonic): a few iterations, and far less fill than the whole system's LU
  (Fig. 2 point, N = 200, K = 2: 6 iterations, 18 s, 1.3 GB; the whole LU: 106 s, 4.3 GB).
* ``sylvester``: GMRES on the bordered nonsingular system ``(A + e t^T) x = e`` (``t^T x = Tr rho_0``,
  ``e = vec(K)/Tr K`` in block 0; docs/conventions.md) preconditioned block by block with the
  shifted Sylvester inverses ``-(L0 + 2ik omega)^{-1}`` of :mod:`pjcsync.sylvester` (one
  decomposition of G serves every shift).  Needs qubit damping: with gamma_s = 0 (Figs. 1, 2)
  the Sylvester split is a poor approximation and GMRES stalls (no convergence in 1000 iterations).
* ``auto``: direct up to ``FLOQUET_DIRECT_LIMIT`` unknowns, gmres above
  (:func:`pjcsync.choices.floquet_method`).
"""
from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from petsc4py import PETSc

from .model import DTYPE, Model
from .parallel import (PjcsyncError, RowLayout, allreduce_sum, gather_peak_memory, release_petsc_garbage,
                       transpose_rows)
from .choices import floquet_method
from .petsc_options import set_from_options
from .steady import SteadyState, lu_solve
from .validate import DEFAULT_TOLERANCE, density_matrix_checks
from . import superoperator as so
from .evolve import commutator_rows, counter_rotating_operator



class BlockLayout:
    """Global numbering of the harmonics -K..K, each distributed like rho (whole rows per rank)."""

    def __init__(self, layout: RowLayout, K: int):
        self.layout, self.K, self.nb = layout, K, 2 * K + 1
        self.bounds = np.array(layout.all_bounds())
        self.local_size = self.nb * layout.local_size
        self.global_size = self.nb * layout.global_size

    def map_columns(self, cols: np.ndarray, k: int) -> np.ndarray:
        """Global block-system index of single-harmonic global indices ``cols`` in harmonic k."""
        N = self.layout.N
        owner = np.searchsorted(self.bounds, cols // N, side="right") - 1
        b0, b1 = self.bounds[owner], self.bounds[owner + 1]
        return self.nb * b0 * N + (k + self.K) * (b1 - b0) * N + (cols - b0 * N)

    def local_slice(self, k: int) -> slice:
        n = self.layout.local_size
        return slice((k + self.K) * n, (k + self.K + 1) * n)


def block_rows(model: Model, blay: BlockLayout, trace_row_scale: float | None = None) -> sp.csr_matrix:
    """This rank's rows of the block system (global block-system column indices)."""
    lay, K = blay.layout, blay.K
    w = model.omega
    LR = so.local_rows(model.hamiltonian(), model.collapse_operators(), lay).tocoo()
    V = counter_rotating_operator(model)
    Lm = commutator_rows(V, lay).tocoo()
    Lp = commutator_rows(V.conj().T, lay).tocoo()
    n = lay.local_size
    diag_local = np.arange(n)
    diag_global = lay.i0 * lay.N + diag_local
    r_all, c_all, v_all = [], [], []
    for k in range(-K, K + 1):
        off = (k + K) * n
        parts = [(LR, k), (Lm, k + 1), (Lp, k - 1)]
        for mat, kc in parts:
            if abs(kc) > K:
                continue
            r_all.append(mat.row + off)
            c_all.append(blay.map_columns(mat.col.astype(np.int64), kc))
            v_all.append(mat.data)
        if k != 0:
            r_all.append(diag_local + off)
            c_all.append(blay.map_columns(diag_global, k))
            v_all.append(np.full(n, -2j * k * w, dtype=DTYPE))
    r, c, v = np.concatenate(r_all), np.concatenate(c_all), np.concatenate(v_all)
    if trace_row_scale is not None and lay.i0 == 0:
        # equation of (rho_0)_00 (rank 0's first row of block 0) -> s * Tr rho_0 = s
        row = K * n
        keep = r != row
        r = np.concatenate([r[keep], np.full(lay.N, row)])
        c = np.concatenate([c[keep], blay.map_columns(np.arange(lay.N) * (lay.N + 1), 0)])
        v = np.concatenate([v[keep], np.full(lay.N, trace_row_scale, dtype=DTYPE)])
    A = sp.csr_matrix((v, (r, c)), shape=(blay.local_size, blay.global_size))
    A.sum_duplicates()
    A.eliminate_zeros()
    A.sort_indices()
    return A


def _petsc(csr: sp.csr_matrix, blay: BlockLayout) -> PETSc.Mat:
    if blay.global_size > np.iinfo(PETSc.IntType).max:
        raise PjcsyncError("the block system exceeds 32-bit PETSc indices: fewer harmonics or a 64-bit PETSc")
    it = PETSc.IntType
    mat = PETSc.Mat().createAIJ(size=((blay.local_size, blay.global_size),) * 2,
                                csr=(csr.indptr.astype(it), csr.indices.astype(it), csr.data),
                                comm=blay.layout.comm)
    mat.assemble()
    return mat


def _trace_weights(blay: BlockLayout) -> np.ndarray:
    """Local part of t with ``t . x = Tr rho_0``."""
    lay = blay.layout
    t = np.zeros(blay.local_size, dtype=DTYPE)
    i = np.arange(lay.i0, lay.i1)
    t[blay.local_slice(0)][(i - lay.i0) * lay.N + i] = 1.0
    return t


def _solve_direct(model, blay, options_prefix=""):
    lay = blay.layout
    A0 = block_rows(model, blay)
    dmag = allreduce_sum(np.array([np.abs(A0.diagonal(k=lay.i0 * lay.N * blay.nb)).sum(), A0.shape[0]]), lay.comm)
    scale = float(dmag[0] / max(dmag[1], 1)) or 1.0
    A = _petsc(block_rows(model, blay, trace_row_scale=scale), blay)
    b = A.createVecLeft()
    b.set(0.0)
    if lay.i0 == 0:
        b.setValue(lay.i0 * lay.N * blay.nb + blay.K * lay.local_size, scale)
    b.assemble()
    x, info = lu_solve(A, b, lay.comm, options_prefix, "harmonic block system: direct solve")
    A.destroy()
    return x, {"iterations": 1, "factorization": info["factorization"]}


def _gmres(A: PETSc.Mat, rtol: float, max_iterations: int) -> PETSc.KSP:
    """GMRES(100) on the block system ``A`` (its preconditioner set by the caller): relative
    tolerance ``rtol`` in PETSc's default norm, no absolute one; ``-ksp_*`` options apply after."""
    ksp = PETSc.KSP().create(comm=A.getComm())
    ksp.setOperators(A)
    ksp.setType("gmres")
    ksp.setGMRESRestart(100)
    ksp.setTolerances(rtol=rtol, atol=0.0, max_it=max_iterations)
    return ksp


def _solve_fieldsplit(model, blay, rtol, max_iterations):
    """GMRES on the trace-constrained block system, preconditioned by block Gauss-Seidel over the
    harmonics with an exact (MUMPS) LU of each diagonal block ``L_R - 2ik omega``."""
    lay = blay.layout
    A0 = block_rows(model, blay)
    dmag = allreduce_sum(np.array([np.abs(A0.diagonal(k=lay.i0 * lay.N * blay.nb)).sum(), A0.shape[0]]), lay.comm)
    del A0
    scale = float(dmag[0] / max(dmag[1], 1)) or 1.0
    A = _petsc(block_rows(model, blay, trace_row_scale=scale), blay)
    b = A.createVecLeft()
    b.set(0.0)
    if lay.i0 == 0:
        b.setValue(blay.K * lay.local_size, scale)
    b.assemble()
    x = A.createVecRight()
    ksp = _gmres(A, rtol, max_iterations)
    pc = ksp.getPC()
    pc.setType("fieldsplit")
    start = A.getOwnershipRange()[0]
    n = lay.local_size
    splits = []
    for k in range(-blay.K, blay.K + 1):
        idx = np.arange(start + (k + blay.K) * n, start + (k + blay.K + 1) * n, dtype=PETSc.IntType)
        splits.append((f"h{k + blay.K}", PETSc.IS().createGeneral(idx, comm=lay.comm)))
    pc.setFieldSplitIS(*splits)
    pc.setFieldSplitType(PETSc.PC.CompositeType.MULTIPLICATIVE)
    set_from_options(ksp, "the periodic steady state")
    ksp.setUp()
    for sub in pc.getFieldSplitSubKSP():
        sub.setType("preonly")
        spc = sub.getPC()
        spc.setType("lu")
        if PETSc.Sys.hasExternalPackage("mumps"):
            spc.setFactorSolverType("mumps")
        elif lay.comm.Get_size() > 1:
            raise PjcsyncError("[floquet] method = 'gmres' on several ranks needs a PETSc build with MUMPS")
    try:
        try:
            ksp.solve(b, x)
        except PETSc.Error as exc:
            raise PjcsyncError(f"harmonic block system: GMRES failed in PETSc (error {exc.ierr})",
                               collective=True) from None
        reason, its = ksp.getConvergedReason(), ksp.getIterationNumber()
        if reason < 0:
            raise PjcsyncError(f"harmonic block system: GMRES did not converge ({its} iterations, reason {reason})",
                               collective=True)
    finally:
        # the sub-solvers hold one MUMPS factor per harmonic: destroy them and collect, or every
        # solve keeps its factors (parallel.release_petsc_garbage; Fig. 2 at omega_0 = 10, K = 6,
        # n_c = 100: 3.3, 6.3, 8.7 GB after 1, 2, 3 points in one process; 3.0, 3.9, 3.9 GB with this)
        for sub in pc.getFieldSplitSubKSP():
            sub.destroy()
        pc.destroy()
        ksp.destroy()
        A.destroy()
        b.destroy()
        for _, is_ in splits:
            is_.destroy()
        release_petsc_garbage(lay.comm)
    return x, {"iterations": its, "preconditioner": "block Gauss-Seidel over harmonics, LU blocks"}


def _solve_sylvester(model, blay, rtol, max_iterations, kind="auto"):
    from .sylvester import SylvesterInverse
    lay = blay.layout
    A = _petsc(block_rows(model, blay), blay)
    H, c_ops = model.hamiltonian(), model.collapse_operators()
    inv = SylvesterInverse(H, c_ops, lay, kind=kind)
    K = blay.K
    w = model.omega
    tvec = _trace_weights(blay)
    # border e = vec(K_diss) / Tr K_diss in block 0 (docs/conventions.md), vec(I)/N without dissipation
    Kd = so.jump_sum(c_ops, lay.N)
    trK = float(np.real(Kd.diagonal().sum()))
    E = Kd / trK if trK > 0 else sp.identity(lay.N, dtype=DTYPE, format="csr") / lay.N
    e = np.zeros(blay.local_size, dtype=DTYPE)
    e[blay.local_slice(0)] = sp.csr_matrix(E)[lay.i0:lay.i1].toarray().ravel()

    class Bordered:
        def mult(self, mat, x, y):
            A.mult(x, y)
            s = allreduce_sum(np.dot(tvec, x.getArray(readonly=True)), lay.comm)
            y.getArray()[:] += s * e

    class BlockSylvester:
        def apply(self, pc, x, y):
            xa, ya = x.getArray(readonly=True), y.getArray()
            for k in range(-K, K + 1):
                sl = blay.local_slice(k)
                ya[sl] = -inv.apply(xa[sl].reshape(lay.rows, lay.N), 2j * k * w).ravel()

    B = PETSc.Mat().createPython(((blay.local_size, blay.global_size),) * 2, Bordered(), comm=lay.comm)
    B.setUp()
    b = B.createVecLeft()
    b.setArray(e)
    x = B.createVecRight()
    ksp = _gmres(B, rtol, max_iterations)
    pc = ksp.getPC()
    pc.setType("python")
    pc.setPythonContext(BlockSylvester())
    set_from_options(ksp, "the periodic steady state")
    ksp.solve(b, x)
    reason, its = ksp.getConvergedReason(), ksp.getIterationNumber()
    if reason < 0:
        raise PjcsyncError(f"harmonic block system: GMRES did not converge ({its} iterations, reason {reason})",
                           collective=True)
    info = {"iterations": its, "preconditioner": f"block-diagonal shifted Sylvester ({inv.kind})",
            "sylvester_setup_seconds": inv.setup_seconds}
    ksp.destroy()
    B.destroy()
    A.destroy()
    return x, info


def periodic_steady_state(model: Model, cfg: dict, layout: RowLayout | None = None) -> SteadyState:
    """The 2 omega-periodic steady state with ``[floquet] harmonics = K``; returns the period
    average ``rho_0`` (rotating frame) as a checked :class:`~pjcsync.steady.SteadyState` whose
    ``solver`` holds the harmonics' norms ``||rho_k||_F`` (k = 0..K) and the method's statistics."""
    K = cfg["floquet"]["harmonics"]
    if K < 1:
        raise PjcsyncError("periodic_steady_state needs [floquet] harmonics >= 1")
    model.omega   # raises ConfigError without [cavity] frequency
    layout = layout or RowLayout.create(model.N)
    blay = BlockLayout(layout, K)
    solver_cfg = cfg.get("solver", {})
    rtol = solver_cfg.get("rtol", 1e-10)
    method = cfg["floquet"]["method"]
    method = floquet_method(method, blay.global_size)
    t0 = time.perf_counter()
    if method == "direct":
        x, info = _solve_direct(model, blay)
    elif method == "gmres":
        x, info = _solve_fieldsplit(model, blay, rtol, solver_cfg.get("max_iterations", 1000))
    else:
        x, info = _solve_sylvester(model, blay, rtol, solver_cfg.get("max_iterations", 1000),
                                   solver_cfg.get("preconditioner", "auto"))
    seconds = time.perf_counter() - t0
    xa = x.getArray(readonly=True)
    # normalize by Tr rho_0
    tr = complex(allreduce_sum(np.dot(_trace_weights(blay), xa), layout.comm))
    if not np.isfinite(tr) or abs(tr) < 1e-300:
        raise PjcsyncError(f"harmonic block system: Tr rho_0 = {tr}", collective=True)
    harm = {k: xa[blay.local_slice(k)].reshape(layout.rows, layout.N) / tr for k in range(-K, K + 1)}
    # residual of the unconstrained block system
    A = _petsc(block_rows(model, blay), blay)
    xv = A.createVecRight()
    xv.setArray(np.concatenate([harm[k].ravel() for k in range(-K, K + 1)]))
    r = A.createVecLeft()
    A.mult(xv, r)
    relative = r.norm() / (A.norm(PETSc.NormType.NORM_INFINITY) * xv.norm())
    A.destroy()
    norms = [float(np.sqrt(allreduce_sum(np.sum(np.abs(harm[k]) ** 2), layout.comm))) for k in range(0, K + 1)]
    sym = max(float(np.sqrt(allreduce_sum(np.sum(np.abs(harm[-k] - transpose_rows(harm[k], layout).conj()) ** 2),
                                          layout.comm))) for k in range(0, K + 1))
    rho0 = np.array(harm[0])
    tol = solver_cfg.get("check_tolerance", DEFAULT_TOLERANCE)
    checks, problems = density_matrix_checks(rho0, layout, tol, what="the period average", normalize=False,
                                             unit_trace=False)
    checks.update(trace_before_normalization=[tr.real, tr.imag], harmonic_symmetry=sym,
                  relative_residual=float(relative))
    if sym > tol * max(1.0, norms[0]):
        problems.append(f"harmonics violate rho_-k = rho_k^+ ({sym:.2e})")
    if not relative <= max(rtol, 1e-12) * 100:
        problems.append(f"block residual {relative:.2e} misses rtol = {rtol:.1e}")
    if problems:
        raise PjcsyncError("periodic steady state rejected: " + "; ".join(problems)
                           + f" (harmonic truncation ||rho_K|| / ||rho_0|| = {norms[-1] / norms[0]:.1e}; "
                           f"increase [floquet] harmonics)", collective=True)
    rho = PETSc.Vec().createMPI((layout.local_size, layout.global_size), comm=layout.comm)
    rho.setArray(rho0.ravel())
    info.update(method=f"floquet-{method}", harmonics=K, unknowns=blay.global_size, seconds=seconds,
                harmonic_norms=norms, truncation=norms[-1] / norms[0], residual=float(relative),
                relative_residual=float(relative), ranks=layout.comm.Get_size(),
                peak_memory=gather_peak_memory(layout.comm), omega=model.omega)
    x.destroy()
    return SteadyState(model=model, layout=layout, rho=rho, solver=info, checks=checks)
