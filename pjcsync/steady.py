"""Steady states of the RWA Lindblad equation, eq. (7): ``L rho = 0``, ``Tr rho = 1``.

Methods (``[solver] method``):

* ``direct``: sparse LU (MUMPS through PETSc) of L with the equation of ``rho_00`` replaced by
  the trace condition (the rows of L are linearly dependent because L's range is traceless).
  PETSc options (``-pc_factor_mat_solver_type``, ``-mat_mumps_icntl_14`` ...) reach the solver.

Every result is checked after the solve: unit trace, Hermitian and positive to
``[solver] check_tolerance``, and the residual ``||L rho||`` below ``rtol * ||L|| ||rho||``.
A failed check raises :class:`~pjcsync.parallel.PjcsyncError`: it is never returned as a result.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from petsc4py import PETSc

from .model import DTYPE, Model
from .parallel import (PjcsyncError, RowLayout, allreduce_sum, gather_peak_memory,
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
    x = A.createVecRight()
    ksp = PETSc.KSP().create(comm=layout.comm)
    ksp.setOptionsPrefix(options_prefix)
    ksp.setOperators(A)
    ksp.setType("preonly")
    pc = ksp.getPC()
    pc.setType("lu")
    if PETSc.Sys.hasExternalPackage("mumps"):
        pc.setFactorSolverType("mumps")
    elif layout.comm.Get_size() > 1:
        raise PjcsyncError("the direct method on several ranks needs a PETSc build with MUMPS")
    ksp.setFromOptions()
    try:
        ksp.solve(b, x)
    except PETSc.Error as exc:
        raise PjcsyncError(f"direct solve failed in PETSc (error {exc.ierr}); "
                           f"the factorization may have run out of memory") from None
    reason = ksp.getConvergedReason()
    if reason < 0:
        raise PjcsyncError(f"direct solve failed: KSP reason {reason}")
    info = {"method": "direct", "iterations": 1, "assembly_seconds": t_assembly,
            "factorization": pc.getFactorSolverType() or "petsc",
            "ksp_type": ksp.getType(), "pc_type": pc.getType()}
    ksp.destroy()
    A.destroy()
    return x, info


def check_state(model: Model, layout: RowLayout, rho: PETSc.Vec, L: PETSc.Mat, rtol: float,
                tolerance: float, trace_constrained: bool = True) -> dict:
    """Trace, hermiticity, positivity and residual of a computed steady state.

    Normalizes rho to unit trace in place.  For methods that impose ``Tr rho = 1`` in their
    equations (``trace_constrained``) a trace off by more than ``tolerance`` is an error."""
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
    if not relative <= rtol:
        problems.append(f"residual ||L rho|| = {residual:.3e} (relative {relative:.2e}) misses rtol = {rtol:.1e}")
    if problems:
        raise PjcsyncError("steady state rejected: " + "; ".join(problems), collective=True)
    return checks


METHODS = ("direct",)


def auto_method(model: Model, solver_cfg: dict) -> str:
    """The method ``[solver] method = "auto"`` picks for this problem."""
    return "direct"


def steady_state(model: Model, solver_cfg: dict, layout: RowLayout | None = None) -> SteadyState:
    """Solve ``L rho = 0``, ``Tr rho = 1`` with the method of ``solver_cfg`` and check the result."""
    layout = layout or RowLayout.create(model.N)
    method = solver_cfg.get("method", "auto")
    if method == "auto":
        method = auto_method(model, solver_cfg)
    if method not in METHODS:
        raise PjcsyncError(f"[solver] method = {method!r} is not available yet (have: {', '.join(METHODS)})")
    t0 = time.perf_counter()
    rtol = solver_cfg.get("rtol", 1e-10)
    rho, info = solve_direct(model, layout, rtol)
    seconds = time.perf_counter() - t0
    L = so.liouvillian(model, layout)
    checks = check_state(model, layout, rho, L, rtol, solver_cfg.get("check_tolerance", 1e-8))
    L.destroy()
    info.update(seconds=seconds, residual=checks["residual"], relative_residual=checks["relative_residual"],
                ranks=layout.comm.Get_size(), peak_memory=gather_peak_memory(layout.comm),
                requested_method=solver_cfg.get("method", "auto"))
    return SteadyState(model=model, layout=layout, rho=rho, solver=info, checks=checks)
