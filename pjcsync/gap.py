"""The Liouvillian gap: the slowest nonzero eigenvalues of L with SLEPc (docs/conventions.md).

L (the RWA Liouvillian of eq. 6, :func:`pjcsync.superoperator.liouvillian`, distributed by rows
of rho) is not Hermitian: a non-Hermitian eigenproblem (``EPS_NHEP``) solved by Krylov-Schur
with shift-and-invert around a real target ``tau < 0`` close to 0 (``tau = 0`` would factor the
singular L).  The ST's linear solves are a MUMPS LU of ``L - tau I`` by default
(``[gap] solver = "direct"``), or GMRES preconditioned by the Sylvester inverse
``-(L0 + tau)^-1`` of :mod:`pjcsync.sylvester` (``solver = "sylvester"``: no factorization of L,
dense N x N work instead); the options database changes them further (``-st_ksp_*``,
``-st_pc_*``), and every ``-eps_*`` option reaches the eigensolver.

The steady state's eigenvalue 0 is excluded exactly, without computing the steady state: the
trace functional is a left eigenvector of 0 (``Tr L(x) = 0`` for every x), so every eigenvector
of a nonzero eigenvalue is traceless, and the traceless subspace ``vec(I)^perp`` is invariant
under L and under ``(L - tau)^-1``.  SLEPc's deflation space ``{vec(I)}`` keeps the search in
it, so 0 never appears (a zero eigenvalue that still shows up means a degenerate steady state).

Ordering: eigenvalues are returned by modulus ``|lambda|``, smallest first ("slowest" in the
paper's sense: Appendix A.3 uses the smallest nonzero ``|lambda_1|`` in the error bound);
``relaxation_rate`` is the smallest ``-Re lambda`` among those found.  Each eigenpair comes with
its residual ``||L x - lambda x|| / ||x||`` (2-norms of vec(rho), i.e. Frobenius norms).
"""
from __future__ import annotations

import time

import numpy as np
from petsc4py import PETSc

from .config import defaults
from .model import Model
from .parallel import PjcsyncError, RowLayout
from . import superoperator as so
from .petsc_options import set_from_options

DEFAULTS = defaults("gap")
SYLVESTER_RTOL = 1e-12         # inner GMRES tolerance of shift-and-invert with [gap] solver = sylvester
AUTO_TARGET_FRACTION = 0.01    # tau = -0.01 x the smallest nonzero decay rate


def default_target(model: Model) -> float:
    """``-0.01 x`` the smallest nonzero decay rate (gamma or gamma_s,l), -1e-3 if none."""
    rates = [r for r in (model.gamma, *model.gamma_s) if r > 0]
    return -AUTO_TARGET_FRACTION * min(rates) if rates else -1e-3


def liouvillian_gap(model: Model, cfg: dict | None = None, layout: RowLayout | None = None,
                    L: PETSc.Mat | None = None) -> dict:
    """The ``nev`` nonzero eigenvalues of L nearest 0, with residuals.

    ``cfg`` is the ``[gap]`` section (keys of :data:`DEFAULTS`).  Returns a dict with
    ``eigenvalues`` (list of [re, im], by increasing modulus), ``residuals``, ``target``,
    ``converged``, ``iterations``, ``relaxation_rate``, ``gap_modulus``, solver details and
    ``seconds``.  Raises a collective :class:`PjcsyncError` when nothing converged."""
    from slepc4py import SLEPc
    c = dict(DEFAULTS)
    c.update({k: v for k, v in (cfg or {}).items() if v is not None or k != "target"})
    layout = layout or RowLayout.create(model.N)
    t0 = time.perf_counter()
    own_L = L is None
    if own_L:
        L = so.liouvillian(model, layout)
    nev = int(c["nev"])
    if nev >= layout.global_size - 1:
        raise PjcsyncError(f"[gap] nev = {nev} but L has only {layout.global_size} eigenvalues", collective=True)
    target = float(c["target"]) if c.get("target") is not None else default_target(model)
    if target == 0.0:
        raise PjcsyncError("[gap] target = 0 is the steady state's eigenvalue: L - 0 I is singular; "
                           "use a small nonzero target", collective=True)
    eps = SLEPc.EPS().create(comm=layout.comm)
    eps.setOperators(L)
    eps.setProblemType(SLEPc.EPS.ProblemType.NHEP)
    eps.setType(SLEPc.EPS.Type.KRYLOVSCHUR)
    eps.setDimensions(nev=nev)
    eps.setTarget(target)
    eps.setWhichEigenpairs(SLEPc.EPS.Which.TARGET_MAGNITUDE)
    eps.setTolerances(tol=float(c["tol"]), max_it=int(c["max_iterations"]))
    st = eps.getST()
    st.setType(SLEPc.ST.Type.SINVERT)
    ksp = st.getKSP()
    pc = ksp.getPC()
    if c["solver"] == "sylvester":
        # L - tau = -(L0 + tau) + L1: GMRES preconditioned by -(L0 + tau)^-1 (pjcsync.sylvester)
        from .sylvester import L0PC, SylvesterInverse
        inverse = SylvesterInverse(model.hamiltonian(), model.collapse_operators(), layout,
                                   kind="auto", shift=target)
        ksp.setType("gmres")
        ksp.setGMRESRestart(100)
        ksp.setTolerances(rtol=SYLVESTER_RTOL, max_it=2000)
        pc.setType(PETSc.PC.Type.PYTHON)
        pc.setPythonContext(L0PC(inverse, -1.0))
    else:
        ksp.setType("preonly")
        pc.setType("lu")
        if PETSc.Sys.hasExternalPackage("mumps"):
            pc.setFactorSolverType("mumps")
        elif layout.comm.Get_size() > 1:
            raise PjcsyncError("the gap on several ranks needs a PETSc build with MUMPS "
                               "(or [gap] solver = 'sylvester')", collective=True)
    trace = None
    if c["deflate"]:
        trace = so.trace_vector(layout)
        trace.scale(1.0 / np.sqrt(layout.N))
        eps.setDeflationSpace([trace])
    set_from_options(eps, "the eigensolver")
    try:
        eps.solve()
    except PETSc.Error as exc:
        raise PjcsyncError(f"the eigensolver failed in PETSc/SLEPc (error {exc.ierr}); the "
                           f"factorization of L - tau I may have run out of memory", collective=True) from None
    nconv = eps.getConverged()
    x = L.createVecRight()
    y = L.createVecLeft()
    norm_L = L.norm(PETSc.NormType.NORM_INFINITY)
    pairs = []
    for i in range(nconv):
        lam = complex(eps.getEigenpair(i, x))
        L.mult(x, y)
        y.axpy(-lam, x)
        res = y.norm() / x.norm()
        pairs.append((lam, float(res)))
    zero_tol = 1e-10 * max(norm_L, 1.0)
    zeros = [p for p in pairs if abs(p[0]) <= zero_tol]
    pairs = sorted([p for p in pairs if abs(p[0]) > zero_tol], key=lambda p: (abs(p[0]), p[0].imag))
    its = eps.getIterationNumber()
    info = {"ksp_type": st.getKSP().getType(), "pc_type": st.getKSP().getPC().getType(),
            "factorization": st.getKSP().getPC().getFactorSolverType() if st.getKSP().getPC().getType() == "lu" else None,
            "eps_type": eps.getType(), "st_type": st.getType()}
    eps.destroy()
    if own_L:
        L.destroy()
    if not pairs:
        raise PjcsyncError(f"no nonzero eigenvalue of L converged near target {target:g} "
                           f"({nconv} converged, {len(zeros)} at 0); try -eps_max_it, -eps_ncv or "
                           f"another [gap] target", collective=True)
    pairs = pairs[:nev]
    eig = [[p[0].real, p[0].imag] for p in pairs]
    return {"eigenvalues": eig, "residuals": [p[1] for p in pairs],
            "gap_modulus": abs(pairs[0][0]),
            "relaxation_rate": float(min(-p[0].real for p in pairs)),
            "zero_eigenvalues": len(zeros),
            "target": target, "nev": nev, "converged": len(pairs), "iterations": its,
            "deflated": bool(c["deflate"]), "norm_L_inf": float(norm_L),
            "seconds": time.perf_counter() - t0, "ranks": layout.comm.Get_size(), "N": model.N,
            **info}
