"""The weak-dissipation rate-equation series (R) and its resummed form (R)*, eqs. (15)-(30).

Everything happens in the eigenbasis of the RWA Hamiltonian ``H = sum_n eps_n |n><n|`` (eq. 3),
with ``U`` the unitary of eigenvectors (columns) and every operator written as ``X~ = U^+ X U``.
Split ``L = L_H + L_gamma`` (eqs. 16-18):

    L_H(rho)_nm     = -i (eps_n - eps_m) rho_nm                                  (eq. 27)
    L_gamma(rho)    = sum_k L_k rho L_k^+ - (K rho + rho K) / 2,  K = sum_k L_k^+ L_k

and expand ``rho = rho_0 + rho_1 + ...`` (eq. 19, the formal parameter epsilon set to 1):

* order 0 (eq. 20): ``rho_0 = diag(P)``, ``W P = 0``, ``sum P = 1``, where the rate matrix of
  eq. (21) is ``W[m, n] = <m|L_gamma(|n><n|)|m> = sum_k |L~_k[m, n]|^2 - delta_mn K~_nn``;
* order j+1: the off-diagonal part from ``L_H rho_{j+1} = -L_gamma rho_j`` (eq. 22), i.e.
  ``rho_{j+1,nm} = -(L_gamma rho_j)_nm / (-i (eps_n - eps_m))``; the diagonal part ``d`` from
  ``P_D L_gamma rho_{j+1} = 0`` (eq. 23), i.e. ``W d = -diag L_gamma(offdiag rho_{j+1})``,
  with ``sum d = 0`` (eq. 24: each higher order is traceless).

(R)* (eqs. 28-30) moves the basis-diagonal dissipative terms
``D_nm = <n|L_gamma(|n><m|)|m> = sum_k L~_k,nn conj(L~_k,mm) - (K~_nn + K~_mm)/2`` (n != m) from
``L_gamma`` into ``L_H``: the denominators become ``-i (eps_n - eps_m) + D_nm`` and the source
of order j+1 is ``offdiag(L_gamma rho_j) - D o offdiag(rho_j)``.  Order 0 and the diagonal
equations are the same as for (R) because ``L_gammaK`` has no diagonal part.

Every order costs O(N^3) with N x N matrices (3 GEMMs per collapse operator plus one with K~);
no N^2 x N^2 object is formed.  The residual of each partial sum, ``||L(sum_j rho_j)||_F``
(Frobenius norm, basis independent), is computed exactly from the running sums of ``L_gamma``
and ``L_H``.  Summation stops when the residual reaches the floor ``FLOOR`` (near machine
precision), at the first order where it grows, at a non-finite value, or at ``max_order``;
the best partial sum (smallest residual) is the result.  The status is ``converged`` when its
relative residual ``||L S||_F / (s ||S||_F)`` is at most ``[solver] rtol``, with the scale
``s = (eps_max - eps_min) + 2 ||K||_inf`` (about ``||L||_2``); otherwise ``diverged``.

Near-degenerate pairs ``|den_nm| <= [rate] degeneracy * s`` are not divided by: their entries of
the off-diagonal orders are left at zero and the pairs are counted in ``near_degenerate`` (with
the smallest gap and the number of pairs closer than the largest decay rate, the quantity of
eq. 26).  Near resonance the residuals then show the series failing; it is never hidden.

Parallelism: the dense eigendecomposition and the transforms run on rank 0 of the layout's
communicator (one rank per parameter point inside sweep groups); the result is scattered into
the row layout.  Why not a distributed dense eigensolver: see :func:`solve_rate`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from mpi4py import MPI

from .config import defaults
from .model import DTYPE, Model
from .parallel import InputError, PjcsyncError, RowLayout, available_memory_bytes

FLOOR = 1e-15             # relative residual at which summation stops: machine precision
DEFAULTS = defaults("rate")


@dataclass
class Eigenbasis:
    """The RWA Hamiltonian's eigen-decomposition and the dissipators in its basis."""

    energies: np.ndarray          # eps_n, ascending
    U: np.ndarray                 # columns are the eigenvectors |n>
    ops: list[np.ndarray]         # L~_k = U^+ L_k U (dense)
    K: np.ndarray                 # K~ = U^+ (sum_k L_k^+ L_k) U (dense, Hermitian)
    norm_K: float                 # ||K||_inf (max row sum, a bound of ||K||_2)
    max_rate: float               # largest decay rate (gamma, gamma_s): eq. (26)'s scale

    @classmethod
    def build(cls, H: sp.spmatrix, c_ops: list[sp.spmatrix]) -> "Eigenbasis":
        from .superoperator import jump_sum     # not at module level: importing pjcsync.rate needs no PETSc
        Hd = sp.csr_matrix(H).toarray() if sp.issparse(H) else np.asarray(H)
        energies, U = sla.eigh(Hd, overwrite_a=True, check_finite=False)
        Uh = U.conj().T
        c_ops = [sp.csr_matrix(c, dtype=DTYPE) for c in c_ops]
        ops = []
        rates = [0.0]
        for c in c_ops:
            ops.append(Uh @ (c @ U))
            # the rate of sqrt(g) a or sqrt(g_s) s^-: its smallest nonzero entry squared
            nz = np.abs(c.data[c.data != 0])
            rates.append(float(nz.min() ** 2) if nz.size else 0.0)
        N = Hd.shape[0]
        if not c_ops:
            K = np.zeros((N, N), dtype=DTYPE)
            norm_K = 0.0
        else:
            Kop = jump_sum(c_ops, N)
            K = Uh @ (Kop @ U)
            K = 0.5 * (K + K.conj().T)
            norm_K = float(abs(Kop).sum(axis=1).max())   # ||K||_inf >= ||K||_2 (diagonal here)
        return cls(energies=energies, U=U, ops=ops, K=K, norm_K=norm_K, max_rate=max(rates))

    @property
    def N(self) -> int:
        return self.energies.size

    @property
    def scale(self) -> float:
        """``(eps_max - eps_min) + 2 ||K||``: about ``||L||_2``, the residual's scale."""
        spread = float(self.energies[-1] - self.energies[0]) if self.N > 1 else 0.0
        return max(spread + 2.0 * self.norm_K, np.finfo(float).tiny)

    def l_gamma(self, X: np.ndarray) -> np.ndarray:
        """``L_gamma(X)`` (eq. 18) in the eigenbasis, for Hermitian X."""
        KX = self.K @ X
        out = -0.5 * (KX + KX.conj().T)
        for L in self.ops:
            out += (L @ X) @ L.conj().T
        return out

    def l_gamma_diagonal(self, d: np.ndarray) -> np.ndarray:
        """``L_gamma(diag(d))`` for a real vector d."""
        KD = self.K * d[None, :]
        out = -0.5 * (KD + KD.conj().T)
        for L in self.ops:
            out += (L * d[None, :]) @ L.conj().T
        return out

    def l_hamiltonian(self, X: np.ndarray) -> np.ndarray:
        """``L_H(X)_nm = -i (eps_n - eps_m) X_nm`` (eq. 27)."""
        e = self.energies
        return -1j * (e[:, None] - e[None, :]) * X

    def rate_matrix(self) -> np.ndarray:
        """``W[m, n] = <m|L_gamma(|n><n|)|m>`` (eq. 21): columns sum to zero."""
        W = np.zeros((self.N, self.N))
        for L in self.ops:
            W += np.abs(L) ** 2
        W[np.diag_indices(self.N)] -= np.real(np.diag(self.K))
        return W

    def star_diagonal(self) -> np.ndarray:
        """``D_nm = <n|L_gamma(|n><m|)|m>`` of eq. (28) (the diagonal n = m set to zero)."""
        kd = np.real(np.diag(self.K))
        D = -0.5 * (kd[:, None] + kd[None, :]).astype(DTYPE)
        for L in self.ops:
            ld = np.diag(L)
            D += ld[:, None] * ld.conj()[None, :]
        np.fill_diagonal(D, 0.0)
        return D


@dataclass
class RateSeries:
    """A summed series in the eigenbasis: ``rho = U @ S @ U^+``."""

    basis: Eigenbasis
    S: np.ndarray                          # best partial sum (eigenbasis), Hermitian, unit trace
    info: dict = field(default_factory=dict)
    terms: list[np.ndarray] | None = None  # the orders rho_j (eigenbasis), when kept

    def density_matrix(self) -> np.ndarray:
        """The summed rho in the Fock (x) qubit basis of the model."""
        U = self.basis.U
        rho = (U @ self.S) @ U.conj().T
        return 0.5 * (rho + rho.conj().T)


class _BorderedRates:
    """Solves ``W d = r`` with ``sum d = 0`` (and ``W P = 0``, ``sum P = 1``) by one LU of
    ``A = W + s 1 1^T``: for ``sum r = 0``, ``A d = r`` forces ``sum d = 0`` (sum the rows: the
    columns of W sum to zero), and ``A P = s 1`` gives the normalized null vector.  A is
    nonsingular exactly when W's null space is one-dimensional (a unique rate steady state)."""

    def __init__(self, W: np.ndarray):
        N = W.shape[0]
        self.s = float(np.abs(np.diag(W)).mean()) or 1.0
        A = W + self.s
        self.lu = sla.lu_factor(A, check_finite=False)
        piv = np.abs(np.diag(self.lu[0]))
        self.pivot_ratio = float(piv.min() / piv.max()) if piv.max() > 0 else 0.0
        self.N = N

    def null_vector(self) -> np.ndarray:
        return sla.lu_solve(self.lu, np.full(self.N, self.s), check_finite=False)

    def solve(self, r: np.ndarray) -> np.ndarray:
        return sla.lu_solve(self.lu, r - r.mean(), check_finite=False)


def _denominators(basis: Eigenbasis, star: bool, degeneracy: float):
    """``1 / den_nm`` off the diagonal (zero where ``|den| <= degeneracy * scale``), D and the
    near-degeneracy report."""
    e = basis.energies
    gaps = e[:, None] - e[None, :]
    den = -1j * gaps
    D = None
    if star:
        D = basis.star_diagonal()
        den = den + D
    mag = np.abs(den)
    np.fill_diagonal(mag, np.inf)
    threshold = degeneracy * basis.scale
    skip = mag <= threshold
    inv = np.zeros_like(den)
    ok = ~skip
    np.fill_diagonal(ok, False)
    inv[ok] = 1.0 / den[ok]
    absgap = np.abs(gaps)
    np.fill_diagonal(absgap, np.inf)
    iu = np.triu_indices(basis.N, 1)
    report = {
        "count": int(skip[iu].sum()),
        "threshold": float(threshold),
        "min_gap": float(absgap[iu].min()) if basis.N > 1 else None,
        "min_denominator": float(mag[iu].min()) if basis.N > 1 else None,
        "below_damping": int((absgap[iu] < basis.max_rate).sum()),
        "max_rate": basis.max_rate,
    }
    return inv, D, report


def rate_series(H: sp.spmatrix, c_ops: list[sp.spmatrix], star: bool = False, rtol: float = 1e-10,
                max_order: int = DEFAULTS["max_order"], degeneracy: float = DEFAULTS["degeneracy"],
                keep_terms: bool = False, basis: Eigenbasis | None = None) -> RateSeries:
    """Sum the series (R) (``star=False``) or (R)* (``star=True``) on this process (dense).

    Returns the best partial sum with ``info``: method, status (``converged``/``diverged``),
    stop_reason, orders, residuals (``||L S_j||_F`` per order j), relative_residuals, best_order,
    best_residual, iterations (orders summed), near_degenerate, rate_matrix_pivot_ratio, and
    timings.  ``keep_terms`` keeps every order rho_j (eigenbasis) for inspection."""
    t0 = time.perf_counter()
    if basis is None:
        basis = Eigenbasis.build(H, c_ops)
    t_eig = time.perf_counter() - t0
    N = basis.N
    inv, D, degenerate = _denominators(basis, star, degeneracy)
    rates = _BorderedRates(basis.rate_matrix())
    P = rates.null_vector()
    P = P / P.sum()
    neg = float(-P.min()) if P.min() < 0 else 0.0
    if not np.all(np.isfinite(P)):
        raise PjcsyncError("the rate equation (eq. 21) has no unique solution: the rate matrix is "
                           "singular (several disconnected sets of eigenstates)", collective=True)
    if neg > 1e-8 * P.max():
        raise PjcsyncError(f"the rate equation (eq. 21) gave a negative population {-neg:.2e}: "
                           f"the rate matrix is ill-conditioned (pivot ratio {rates.pivot_ratio:.1e})",
                           collective=True)
    P = np.clip(P, 0.0, None)
    P /= P.sum()

    rho = np.diag(P.astype(DTYPE))
    g = basis.l_gamma_diagonal(P)              # L_gamma(rho_0)
    S = rho.copy()
    G = g.copy()                               # running L_gamma(S)
    terms = [rho.copy()] if keep_terms else None
    scale = basis.scale

    def residual(S, G):
        r = float(np.linalg.norm(basis.l_hamiltonian(S) + G))
        return r, r / (scale * float(np.linalg.norm(S)))

    r, rel = residual(S, G)
    residuals, relative = [r], [rel]
    best, best_S = 0, S.copy()
    reason = "floor" if rel <= FLOOR else "max_order"
    offdiag = ~np.eye(N, dtype=bool)
    for j in range(1, max_order + 1):
        if rel <= FLOOR:
            reason = "floor"
            break
        src = g if D is None else g - D * rho   # L~_gamma rho_j, off-diagonal part used (D_nn = 0)
        X = -src * inv                          # eq. (22) [(R)*: eq. (30)]; inv is zero on the diagonal
        X = 0.5 * (X + X.conj().T)
        gX = basis.l_gamma(X)
        d = rates.solve(-np.real(np.diag(gX)))  # eq. (23) with eq. (24): sum d = 0
        rho = X
        rho[np.diag_indices(N)] = d
        g = gX + basis.l_gamma_diagonal(d)
        S += rho
        G += g
        if keep_terms:
            terms.append(rho.copy())
        r, rel = residual(S, G)
        residuals.append(r)
        relative.append(rel)
        if not np.isfinite(r):
            reason = "non-finite"
            break
        if r < residuals[best]:
            best, best_S = j, S.copy()
        elif r > residuals[j - 1]:
            reason = "residual grew"
            break
    else:
        reason = "floor" if relative[-1] <= FLOOR else "max_order"
    best_S = 0.5 * (best_S + best_S.conj().T)
    best_S /= np.trace(best_S).real
    status = "converged" if relative[best] <= rtol else "diverged"
    info = {
        "method": "rate*" if star else "rate",
        "status": status,
        "stop_reason": reason,
        "orders": list(range(len(residuals))),
        "residuals": residuals,
        "relative_residuals": relative,
        "best_order": best,
        "best_residual": residuals[best],
        "best_relative_residual": relative[best],
        "rtol": rtol,
        "iterations": len(residuals),
        "residual_scale": scale,
        "near_degenerate": degenerate,
        "rate_matrix_pivot_ratio": rates.pivot_ratio,
        "clipped_negative_population": neg,
        "eigensolver_seconds": t_eig,
        "seconds": time.perf_counter() - t0,
        "N": N,
    }
    return RateSeries(basis=basis, S=best_S, info=info, terms=terms)


def dense_bytes(model: Model) -> int:
    """Memory of the dense series on one rank: about (M + 9) complex N x N matrices."""
    return int((len(model.collapse_operators()) + 9) * model.N ** 2 * 16)


def solve_rate(model: Model, solver_cfg: dict, layout: RowLayout, star: bool,
               rate_cfg: dict | None = None, allow_diverged: bool = False):
    """The (R) or (R)* steady state, distributed as ``layout`` (row-major rows [i0, i1)).

    Returns ``(rho, info)``: ``rho`` a PETSc Vec (rows of rho, unit trace, Hermitian) and
    ``info`` from :func:`rate_series` (identical on every rank).  A diverged series raises a
    collective :class:`PjcsyncError` naming the best order and residual, unless
    ``allow_diverged`` (the initial-guess use, where the best partial sum is good enough: the
    caller reads ``info["status"]``).

    The dense work runs on rank 0 of ``layout.comm``; the other ranks wait for the scatter.
    No distributed dense eigensolver is used: this PETSc/SLEPc build has ScaLAPACK (SLEPc's
    ``EPSSCALAPACK``), but the eigendecomposition is a small part of the cost -- every order
    needs three dense N x N products per collapse operator plus one, with the eigenbasis, U and every transformed operator
    dense -- so distributing the eigensolver alone would leave the series on one rank, and
    petsc4py exposes no distributed dense GEMM of complex matrices in a 2-D block-cyclic layout
    to do the rest.  The series is meant for the weak-dissipation points where it converges,
    which are many independent parameter points: one rank per point inside sweep groups is
    the efficient parallelism, and the memory of one rank bounds N (see :func:`dense_bytes`)."""
    from petsc4py import PETSc

    cfg = dict(DEFAULTS)
    cfg.update(rate_cfg or {})
    rtol = solver_cfg.get("rtol", 1e-10)
    comm = layout.comm
    rank = comm.Get_rank()
    need = dense_bytes(model)
    if comm.bcast(need > available_memory_bytes() if comm.Get_rank() == 0 else None, root=0):
        raise InputError(f"the rate series needs about {need / 2**30:.1f} GiB on one rank (dense "
                         f"N x N matrices, N = {model.N}), more than this node has available")
    payload = None
    if rank == 0:
        try:
            series = rate_series(model.hamiltonian(), model.collapse_operators(), star=star, rtol=rtol,
                                 max_order=cfg["max_order"], degeneracy=cfg["degeneracy"])
            rho = series.density_matrix()
            payload = ("ok", series.info)
        except PjcsyncError as exc:
            payload = ("error", str(exc))
        except (np.linalg.LinAlgError, ValueError, MemoryError) as exc:
            payload = ("error", f"rate series failed: {type(exc).__name__}: {exc}")
    payload = comm.bcast(payload, root=0)
    if payload[0] == "error":
        raise PjcsyncError(payload[1], collective=True)
    info = payload[1]
    bounds = layout.all_bounds()
    if comm.Get_size() == 1:
        rows = rho
    else:
        counts = [(bounds[r + 1] - bounds[r]) * layout.N for r in range(comm.Get_size())]
        rows = np.empty((layout.rows, layout.N), dtype=DTYPE)
        send = [rho, (counts, None), MPI.C_DOUBLE_COMPLEX] if rank == 0 else None
        comm.Scatterv(send, [rows, MPI.C_DOUBLE_COMPLEX], root=0)
    vec = PETSc.Vec().createMPI((layout.local_size, layout.global_size), comm=comm)
    vec.setArray(np.ascontiguousarray(rows).ravel())
    if info["status"] != "converged" and not allow_diverged:
        vec.destroy()
        raise PjcsyncError(_diverged_message(info), collective=True)
    return vec, info


def _diverged_message(info: dict) -> str:
    deg = info["near_degenerate"]
    return (f"the rate series {info['method']} diverged ({info['stop_reason']}): best order "
            f"{info['best_order']} with ||L rho|| = {info['best_residual']:.3e} (relative "
            f"{info['best_relative_residual']:.2e} > rtol {info['rtol']:.1e}); smallest level gap "
            f"{deg['min_gap']:.3g}, {deg['below_damping']} level pairs closer than the damping "
            f"{deg['max_rate']:.3g}")
