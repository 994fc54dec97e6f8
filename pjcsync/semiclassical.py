"""The semiclassical theory (paper section 2.3, Appendix A.1, A.3) for any number of qubits.

Ansatz, eqs. (34), (37), (41): a coherent cavity state times a product of qubit states,

    rho(alpha, b_1 .. b_M) = |alpha><alpha| (x) prod_l (1 + b_l . sigma_l) / 2,   |b_l| <= 1,

and the functional of eq. (31), ``S = ||L(rho)||_F^2 = Tr L(rho)^+ L(rho)``, with the RWA
Liouvillian of eqs. (3)-(6) (``H`` of :meth:`pjcsync.model.Model.hamiltonian`, collapse operators
``sqrt(gamma) a`` and ``sqrt(gamma_s,l) sigma_l^-``).  Its minimum ``S_min = epsilon^2`` measures
how far the best product state is from a steady state (Appendix A.3).

Exact evaluation, no Fock truncation.  Every cavity factor of ``L(rho)``
lies in the span of ``|f_p><f_q|`` with ``f0 = |alpha>`` and ``f1 = (a^+ - conj(alpha))|alpha>``
(the displaced one-photon state), because ``a|alpha> = alpha|alpha>`` and ``a^+|alpha> = f1 +
conj(alpha) f0``.  This basis is orthonormal (the plain ``e1 = a^+|alpha>`` has the Gram matrix
``[[1, conj(alpha)], [alpha, |alpha|^2 + 1]]``, and evaluating in it cancels terms of order
``|alpha|^6`` for a result of order ``|alpha|^2``), so a cavity operator is its 2 x 2 coefficient
matrix and ``<X, Y> = Tr(C_X^+ C_Y)``.  Writing ``P = |alpha><alpha|``, ``R = prod_l rho_l``,

    L(rho) = X0 (x) R  +  sum_l T_l (x) R_without_l

where ``X0 = L_cavity(P)`` (eq. 33) and ``T_l`` acts on the cavity and qubit l (its qubit-only
terms and its coupling ``-i lambda_l [a s_l^+ + a^+ s_l^-, .]``).  With ``u_l = Tr rho_l^2 =
(1 + |b_l|^2)/2``, ``U = prod u_l`` and ``W_l = Tr_l(rho_l T_l)`` (a cavity operator),

    S / U = <X0,X0> + sum_l [2 Re<X0,W_l> + <T_l,T_l>] / u_l + <V,V> - sum_l <W_l,W_l> / u_l^2,
    V = sum_l W_l / u_l,

which is O(M) work (not even O(M^2)), vectorized over the qubits.  The gradient is analytic
(forward derivatives qubit by qubit, also O(M)).  Checked in tests against a brute-force
truncated ``||L(rho)||^2``, against eqs. (35), (38)-(40) for M <= 1, and against eq. (36).

Many qubits: ``S = U Q`` with ``U = Tr rho^2 >= 2^-M``, so S rewards mixed qubits
exponentially in M.  Measured (Fig. 11's rates, Delta spread over [1, 2.5], omega = omega_0):
at M = 10 the lowest S (1.1e-3) is still the polarized state, but at M = 20 it is a nearly
depolarized one (S = 1.9e-5, purity 1e-6, relative residual ``Q = S / U = 19``) while the
polarized minimum has S = Q = 1.4e-4; at M = 100, S = 8e-29 with Q = 101 against Q = 1.1e-6.
``[semiclassical] functional = "relative"`` minimizes ``Q = ||L rho||^2 / ||rho||^2`` instead;
``"absolute"`` (eq. 31, the default) is the paper's functional, which is what its figures use
(M <= 4, where ``U >= 1/16``).

Minimization: L-BFGS-B over ``(alpha_x, alpha_y, b_1 .. b_M)``, and when that leaves the unit
ball, again with ``b = v sin|v| / |v|``, a smooth map of R^3 onto the closed ball (the boundary
is reached at ``|v| = pi/2``), from several starting points; the objective is ``log S`` (or
``log Q``), well scaled whatever U.  Distinct local minima are all reported, and two minima with
``S <= bistability * S_min`` flag the semiclassical bistability of Appendix A.3.

Conventions: Pauli expectations ``<sigma_x,y,z,l> = b_l``, ``<S_x> = sum_l b_lx / 2``,
``<a> = alpha``, ``<n> = |alpha|^2``; energies and rates in units of lambda.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .config import defaults
from .model import Model

# Pauli matrices in the basis (0 = up, 1 = down), as in pjcsync.model
SX = np.array([[0, 1], [1, 0]], dtype=complex)
SY = np.array([[0, -1j], [1j, 0]], dtype=complex)
SZ = np.array([[1, 0], [0, -1]], dtype=complex)
SP = np.array([[0, 1], [0, 0]], dtype=complex)      # sigma^+ = |up><down|
SM = np.array([[0, 0], [1, 0]], dtype=complex)      # sigma^- = |down><up|
PUP = np.array([[1, 0], [0, 0]], dtype=complex)     # sigma^+ sigma^-
I2 = np.eye(2, dtype=complex)
PAULI = np.stack([SX, SY, SZ])


# --- the exact functional ----------------------------------------------------------------------

@dataclass(frozen=True)
class Params:
    """The model's numbers the functional needs (arrays over qubits, shape (M,))."""

    omega_r: float        # omega_0 - omega
    F: float
    gamma: float
    Omega: np.ndarray     # Omega_rl = Delta_l + omega_r
    lam: np.ndarray
    gs: np.ndarray

    @classmethod
    def from_model(cls, model: Model) -> "Params":
        wr = model.omega_r
        return cls(omega_r=wr, F=model.amplitude, gamma=model.gamma,
                   Omega=np.asarray(model.detunings, float) + wr,
                   lam=np.asarray(model.couplings, float), gs=np.asarray(model.gamma_s, float))

    @property
    def M(self) -> int:
        return len(self.Omega)


def _inner(X, Y):
    """``Tr(X^+ Y)`` over the trailing two axes (batched): the Frobenius inner product of
    operators given by coefficient matrices in an orthonormal basis."""
    return (X.conj() * Y).sum(axis=(-2, -1))


def _cavity_term(p: Params, alpha):
    """Coefficients of ``X0 = L_cavity(|alpha><alpha|)`` (eq. 33) in the basis |f_p><f_q|:
    ``[[0, conj(c)], [c, 0]]`` with ``c = -i (omega_r alpha + F) - gamma alpha / 2``; the
    ``|alpha><alpha|`` component vanishes exactly (eq. 36 makes c = 0 too)."""
    c = -1j * (p.omega_r * alpha + p.F) - 0.5 * p.gamma * alpha
    return np.array([[0.0, np.conj(c)], [c, 0.0]])


def _qubit_blocks(p: Params, rho, alpha, extra_axes: int = 0):
    """``Z^00, Z^01, Z^10`` of ``T_l = sum_pq |f_p><f_q| (x) Z^pq`` for qubit states ``rho``.

    ``Z^00 = D_l(rho) - i lambda_l [alpha s^+ + conj(alpha) s^-, rho]`` (qubit-only terms plus
    the mean-field coupling), ``Z^10 = -i lambda_l s^- rho``, ``Z^01 = i lambda_l rho s^+``,
    ``Z^11 = 0``.  Linear in rho (so also used for the derivative directions ``sigma_i / 2``);
    rho has shape (M, [k,] 2, 2)."""
    shape = (p.M,) + (1,) * extra_axes + (1, 1)
    Om, lam, gs = (x.reshape(shape) for x in (p.Omega, p.lam, p.gs))
    D = (-0.5j * Om * (SZ @ rho - rho @ SZ)
         + gs * (SM @ rho @ SP - 0.5 * (PUP @ rho + rho @ PUP)))
    mf = alpha * SP + np.conj(alpha) * SM
    Z00 = D - 1j * lam * (mf @ rho - rho @ mf)
    Z01 = 1j * lam * (rho @ SP)
    Z10 = -1j * lam * (SM @ rho)
    return Z00, Z01, Z10


def _assemble(Z00, Z01, Z10):
    """The 4 x 4 coefficient matrix of ``T_l`` (cavity index major)."""
    C = np.zeros(np.broadcast_shapes(Z00.shape, Z01.shape, Z10.shape)[:-2] + (4, 4), dtype=complex)
    C[..., 0:2, 0:2] = Z00
    C[..., 0:2, 2:4] = Z01
    C[..., 2:4, 0:2] = Z10
    return C


def _trace_prod(A, B):
    """``Tr(A B)`` over the trailing axes (batched)."""
    return (A * np.swapaxes(B, -1, -2)).sum(axis=(-2, -1))


def _w_matrix(rho_left, Z00, Z01, Z10):
    """``W[p, q] = Tr(rho_left Z^pq)`` as a (..., 2, 2) coefficient matrix."""
    lead = np.broadcast_shapes(rho_left.shape[:-2], Z00.shape[:-2])
    W = np.zeros(lead + (2, 2), dtype=complex)
    W[..., 0, 0] = _trace_prod(rho_left, Z00)
    W[..., 0, 1] = _trace_prod(rho_left, Z01)
    W[..., 1, 0] = _trace_prod(rho_left, Z10)
    return W


def functional(p: Params, alpha: complex, b: np.ndarray, gradient: bool = False):
    """``S(alpha, b) = ||L(rho)||_F^2`` of eq. (31) for the ansatz (41), exactly.

    ``b`` has shape (M, 3) (Bloch vectors).  With ``gradient`` returns
    ``(S, dS/dalpha_x, dS/dalpha_y, dS/db)`` (dS/db of shape (M, 3))."""
    alpha = complex(alpha)
    b = np.asarray(b, dtype=float).reshape(p.M, 3)
    X0 = _cavity_term(p, alpha)
    rho = 0.5 * (I2 + np.einsum("li,ijk->ljk", b, PAULI))
    u = 0.5 * (1.0 + (b * b).sum(axis=1))
    U = float(np.exp(np.log(u).sum()))
    Z = _qubit_blocks(p, rho, alpha)
    C = _assemble(*Z)
    W = _w_matrix(rho, *Z)
    n0 = _inner(X0, X0).real
    xw = _inner(X0, W)
    cc = _inner(C, C).real
    ww = _inner(W, W).real
    V = (W / u[:, None, None]).sum(axis=0)
    vv = _inner(V, V).real
    Nl = 2 * xw.real + cc
    Q = n0 + (Nl / u).sum() + vv - (ww / u ** 2).sum()
    S = U * Q
    if not gradient:
        return S

    # d/db_{l,i}: rho_l moves along sigma_i / 2, u_l along b_li (forward mode, per qubit)
    drho = np.broadcast_to(0.5 * PAULI, (p.M, 3, 2, 2))
    dZ = _qubit_blocks(p, drho, alpha, extra_axes=1)
    dC = _assemble(*dZ)
    dW = _w_matrix(drho, *(z[:, None] for z in Z)) + _w_matrix(rho[:, None], *dZ)
    du = b
    u2 = u[:, None]
    dN = 2 * _inner(X0, dW).real + 2 * _inner(C[:, None], dC).real
    dQ = (dN / u2 - Nl[:, None] * du / u2 ** 2
          + 2 * _inner(V, dW / u2[..., None, None] - W[:, None] * (du / u2 ** 2)[..., None, None]).real
          - 2 * _inner(W[:, None], dW).real / u2 ** 2 + 2 * ww[:, None] * du / u2 ** 3)
    dS_db = U * (dQ + Q * du / u2)

    # d/dalpha_x, d/dalpha_y (the basis f_p is orthonormal for every alpha: no Gram derivative)
    c = -1j * p.omega_r - 0.5 * p.gamma
    dS_da = []
    lam = p.lam[:, None, None]
    for da in (1.0, 1j):
        dX0 = np.array([[0.0, np.conj(c * da)], [c * da, 0.0]])
        dmf = da * SP + np.conj(da) * SM
        dZ00 = -1j * lam * (dmf @ rho - rho @ dmf)
        dW00 = _trace_prod(rho, dZ00)
        dn0 = 2 * _inner(X0, dX0).real
        dxw = _inner(dX0, W) + X0[0, 0].conj() * dW00
        dcc = 2 * _inner(C[:, 0:2, 0:2], dZ00).real
        dww = 2 * (W[:, 0, 0].conj() * dW00).real
        dvv = 2 * (V[0, 0].conj() * (dW00 / u).sum()).real
        dQa = dn0 + ((2 * dxw.real + dcc) / u).sum() + dvv - (dww / u ** 2).sum()
        dS_da.append(U * dQa)
    return S, dS_da[0], dS_da[1], dS_db


def bare_cavity_alpha(p: Params) -> complex:
    """Eq. (36): the exact coherent amplitude of the driven damped cavity without qubits."""
    d = p.gamma ** 2 + 4 * p.omega_r ** 2
    if d == 0:
        return 0j
    return complex(-4 * p.F * p.omega_r / d, -2 * p.F * p.gamma / d)


# --- the map of R^3 onto the unit ball ---------------------------------------------------------

def _ball(v):
    """``b = v sin|v| / |v|`` row-wise and the factors of its Jacobian ``s I + t v v^T``."""
    r = np.sqrt((v * v).sum(axis=1))
    small = r < 1e-3
    rs = np.where(small, 1.0, r)
    s = np.where(small, 1 - r ** 2 / 6 + r ** 4 / 120, np.sin(rs) / rs)
    t = np.where(small, -1.0 / 3 + r ** 2 / 30, (rs * np.cos(rs) - np.sin(rs)) / rs ** 3)
    return v * s[:, None], s, t


def _unball(b):
    """A preimage of Bloch vectors b under :func:`_ball` (``|v| = arcsin|b|``)."""
    b = np.asarray(b, float).reshape(-1, 3)
    r = np.sqrt((b * b).sum(axis=1))
    rc = np.clip(r, 0.0, 1.0)
    scale = np.where(r > 1e-14, np.arcsin(rc) / np.where(r > 1e-14, r, 1.0), 1.0)
    return b * scale[:, None]


def _pack(alpha, b):
    return np.concatenate([[alpha.real, alpha.imag], _unball(b).ravel()])


def _unpack(x, M):
    v = x[2:].reshape(M, 3)
    b, s, t = _ball(v)
    return complex(x[0], x[1]), b, v, s, t


# --- minimization ------------------------------------------------------------------------------

@dataclass
class Minimum:
    """One local minimum of S: ``alpha``, Bloch vectors ``b`` (M, 3) and ``S``."""

    alpha: complex
    b: np.ndarray
    S: float
    iterations: int = 0
    converged: bool = True

    @property
    def epsilon(self) -> float:
        return float(np.sqrt(max(self.S, 0.0)))

    @property
    def purity(self) -> float:
        """``Tr rho^2 = prod_l (1 + |b_l|^2) / 2`` of the ansatz."""
        return _purity(self.b)

    @property
    def S_relative(self) -> float:
        """``S / Tr rho^2 = ||L rho||^2 / ||rho||^2``."""
        return float(self.S / self.purity)

    def as_dict(self) -> dict:
        b = np.asarray(self.b)
        return {"alpha": [self.alpha.real, self.alpha.imag], "bloch": b.tolist(),
                "Sx": float(b[:, 0].sum() / 2) if len(b) else 0.0,
                "Sy": float(b[:, 1].sum() / 2) if len(b) else 0.0,
                "Sz": float(b[:, 2].sum() / 2) if len(b) else 0.0,
                "n": abs(self.alpha) ** 2, "S": float(self.S), "epsilon": self.epsilon,
                "S_relative": self.S_relative, "purity": self.purity, "converged": self.converged}


@dataclass
class SemiclassicalResult:
    """Every distinct minimum found (lowest first) and the bistability flag."""

    minima: list
    bistable: bool
    starts: int
    evaluations: int
    seconds: float
    extra: dict = field(default_factory=dict)

    @property
    def best(self) -> Minimum:
        return self.minima[0]

    def as_dict(self) -> dict:
        best = self.best.as_dict()
        return {"alpha": best["alpha"], "bloch": best["bloch"], "Sx": best["Sx"], "Sy": best["Sy"],
                "Sz": best["Sz"], "n": best["n"], "S_min": best["S"], "epsilon": best["epsilon"],
                "bistable": self.bistable, "minima": [m.as_dict() for m in self.minima],
                "starts": self.starts, "evaluations": self.evaluations, "seconds": self.seconds,
                **self.extra}


DISTINCT = 1e-4     # two minima coincide when their parameters differ by less than this x max(1, |alpha|)
DEFAULTS = defaults("semiclassical") | {"distinct": DISTINCT}


def _objective(p: Params, relative: bool, ball: bool):
    """``f(x)`` and its gradient for L-BFGS.

    ``x = (alpha_x, alpha_y, c_1 .. c_M)`` with ``c_l = b_l`` (``ball=False``, Cartesian) or
    ``b_l = c_l sin|c_l| / |c_l|`` (``ball=True``).  ``f = log S = log U + log Q``
    (``U = prod_l u_l = Tr rho^2``, ``Q = S/U``): the minima of S, well scaled even when U is
    2^-M small; with ``relative``, ``f = log Q`` (the relative residual ``||L rho||^2/||rho||^2``)."""
    M = p.M
    # Q below ~1e-15 of its scale is round-off (S = 0 exactly at eq. 36): log(Q + floor) stays
    # finite, and a Q within 10 floors of 0 is treated as an exact zero (zero gradient)
    floor = 1e-15 * (1.0 + p.F ** 2 + p.gamma ** 2 + p.omega_r ** 2
                     + max([0.0, *(p.Omega ** 2), *(p.lam ** 2), *(p.gs ** 2)]))
    count = [0]

    def fun(x):
        count[0] += 1
        if ball:
            alpha, b, v, s, t = _unpack(x, M)
        else:
            alpha, b = complex(x[0], x[1]), x[2:].reshape(M, 3)
        S, dax, day, db = functional(p, alpha, b, gradient=True)
        u = 0.5 * (1.0 + (b * b).sum(axis=1))
        U = float(np.exp(np.log(u).sum()))
        Q = S / U
        if Q <= 10 * floor:     # an exact zero (eq. 36) seen through round-off: a minimum
            return np.log(floor) + (0.0 if relative else np.log(u).sum()), np.zeros_like(x)
        # d log(Q + floor) = (dS/U - Q dU/U) / (Q + floor), dU/db = U b / u
        w = 1.0 / (U * (Q + floor))
        gb = w * (db - S * b / u[:, None])
        if not relative:
            gb = gb + b / u[:, None]
        if ball:
            gb = s[:, None] * gb + t[:, None] * v * (v * gb).sum(axis=1)[:, None]
        f = np.log(Q + floor) + (0.0 if relative else np.log(u).sum())
        return f, np.concatenate([[w * dax, w * day], gb.ravel()])
    return fun, count


STATIONARY_TOL = 1e-3    # a minimum is accepted when the projected gradient of f = log S is below this
RESTARTS = 3             # L-BFGS restarts from the last point when it stopped short of that


def _flush_fortran() -> None:
    try:
        import ctypes
        lib = ctypes.CDLL("libgfortran.so.5")
        lib._gfortran_flush_i4(ctypes.byref(ctypes.c_int(6)))
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def _quiet_stdout():
    """Silence file descriptor 1: SciPy's L-BFGS-B Fortran code may print a line-search message
    to stdout unconditionally, which would corrupt ``--json`` output."""
    sys.stdout.flush()
    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        yield
    finally:
        _flush_fortran()       # gfortran buffers unit 6: empty it into /dev/null, not at exit
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


def _lbfgs(fun, x0, bounds, opts):
    """L-BFGS-B, restarted from its last point while the projected gradient is not small (it
    sometimes stops on a failed line search).  Returns (x, iterations, projected gradient)."""
    from scipy.optimize import minimize
    x, its = np.asarray(x0, float), 0
    for _ in range(1 + RESTARTS):
        with _quiet_stdout():
            res = minimize(fun, x, jac=True, method="L-BFGS-B", bounds=bounds, options=opts)
        x, its = res.x, its + res.nit
        g = np.array(fun(x)[1])
        if bounds is not None:
            lo = np.array([-np.inf if b[0] is None else b[0] for b in bounds])
            hi = np.array([np.inf if b[1] is None else b[1] for b in bounds])
            g[(x >= hi) & (g < 0)] = 0.0
            g[(x <= lo) & (g > 0)] = 0.0
        pg = float(np.abs(g).max()) if len(g) else 0.0
        if pg < STATIONARY_TOL:
            break
    return x, its, pg


def local_minimum(p: Params, alpha0: complex, b0: np.ndarray, gtol: float = 1e-9,
                  max_iterations: int = 3000, relative: bool = False) -> tuple[Minimum, int]:
    """One local minimum of S (or S / Tr rho^2) in the unit ball, from one start.

    First L-BFGS-B in Cartesian Bloch coordinates within the cube ``|b_li| <= 1`` (no
    distortion: fast when the minimum is inside the ball); if it ends outside the ball, again
    from the same start with the map ``b = c sin|c| / |c|`` of R^3 onto the closed ball, which
    also finds minima on the boundary.  Returns the minimum (``converged`` says whether
    the gradient of ``log S`` vanished to :data:`STATIONARY_TOL`) and the number of evaluations."""
    M = p.M
    opts = {"maxiter": max_iterations, "ftol": 1e-15, "gtol": gtol, "maxcor": 20}
    b0 = np.asarray(b0, float).reshape(M, 3)
    r0 = np.linalg.norm(b0, axis=1, keepdims=True)
    b0 = b0 * np.minimum(1.0, 1.0 / np.maximum(r0, 1e-300))
    fun, count = _objective(p, relative, ball=False)
    bounds = [(None, None)] * 2 + [(-1.0, 1.0)] * (3 * M)      # the cube around the ball
    x, its, pg = _lbfgs(fun, np.concatenate([[complex(alpha0).real, complex(alpha0).imag], b0.ravel()]),
                        bounds, opts)
    alpha, b = complex(x[0], x[1]), x[2:].reshape(M, 3).copy()
    evals = count[0]
    r = np.linalg.norm(b, axis=1)
    if np.any(r > 1.0 + 1e-9):
        # left the ball (where the functional is unphysical): start again from the same point
        # inside the ball (a projection of the point outside tends to land in poor basins)
        b = b0 * np.minimum(1.0, 0.999 / np.maximum(r0, 1e-300))
        fun, count = _objective(p, relative, ball=True)
        x, its2, pg = _lbfgs(fun, _pack(complex(alpha0), b), None, opts)
        alpha, b, *_ = _unpack(x, M)
        its += its2
        evals += count[0]
    else:
        b = b * np.minimum(1.0, 1.0 / np.maximum(r, 1e-300))[:, None]   # round-off overshoot
    S = functional(p, alpha, b)
    return Minimum(alpha=alpha, b=b, S=float(S), iterations=int(its),
                   converged=bool(pg < STATIONARY_TOL)), evals


def linear_response(p: Params) -> tuple[complex, np.ndarray]:
    """The weak-drive mean-field state: qubits near down treated as damped oscillators,
    ``alpha = -F / (omega_r - i gamma/2 - sum_l lambda_l^2 / (Omega_rl - i gamma_s,l/2))``,
    ``<s_l^-> = -lambda_l alpha / (Omega_rl - i gamma_s,l/2)`` (eq. 36 when M = 0); the Bloch
    vectors are put back on the sphere (``|b| <= 0.99``), pointing down."""
    denom = p.Omega - 0.5j * p.gs
    denom = np.where(np.abs(denom) < 1e-12, 1e-12, denom)
    chi = p.omega_r - 0.5j * p.gamma - np.sum(p.lam ** 2 / denom)
    alpha = -p.F / chi if abs(chi) > 1e-12 else 0j
    beta = -p.lam * alpha / denom
    bx, by = 2 * beta.real, -2 * beta.imag
    r = np.hypot(bx, by)
    shrink = np.where(r > 0.9, 0.9 / np.maximum(r, 1e-300), 1.0)
    bx, by = bx * shrink, by * shrink
    bz = -np.sqrt(np.maximum(0.99 ** 2 - bx ** 2 - by ** 2, 0.0))
    return complex(alpha), np.stack([bx, by, bz], axis=1)


def starting_points(p: Params, starts: int, seed: int, previous: list | None = None) -> list:
    """Starting points: the previous minima (warm start along a sweep), the linear response
    (:func:`linear_response`), eq. (36)'s alpha with the qubits near down and near up, then random
    ones (alpha around eq. 36, b uniform in the ball)."""
    rng = np.random.default_rng(seed)
    M = p.M
    a0 = bare_cavity_alpha(p)
    warm = [(m.alpha, np.array(m.b)) for m in (previous or [])]
    base = [linear_response(p), (a0, np.tile([0.0, 0.0, -0.9], (M, 1))),
            (a0, np.tile([0.0, 0.0, 0.9], (M, 1)))]
    pts = warm + base[:starts]
    radius = abs(a0) + 1.0
    while len(pts) < len(warm) + starts:
        z = rng.normal(size=(M, 3))
        b = z / np.linalg.norm(z, axis=1, keepdims=True) * rng.random((M, 1)) ** (1 / 3)
        a = a0 + radius * complex(*rng.normal(size=2)) * 0.7
        pts.append((a, b))
    return pts


def _purity(b) -> float:
    b = np.asarray(b, float).reshape(-1, 3)
    return float(np.exp(np.log(0.5 * (1.0 + (b * b).sum(axis=1))).sum()))


def _distinct(minima: list, tol: float, key: str = "S") -> list:
    """Sort by ``key`` (S or S_relative) and drop minima that coincide with a lower one
    (max parameter difference < tol)."""
    out = []
    for m in sorted(minima, key=lambda m: getattr(m, key)):
        v = np.concatenate([[m.alpha.real, m.alpha.imag], np.ravel(m.b)])
        same = False
        for o in out:
            vo = np.concatenate([[o.alpha.real, o.alpha.imag], np.ravel(o.b)])
            if np.max(np.abs(v - vo)) < tol * max(1.0, abs(o.alpha)):
                same = True
                break
        if not same:
            out.append(m)
    return out


def is_bistable(minima: list, ratio: float, floor: float = 1e-14, key: str = "S") -> bool:
    """Appendix A.3's semiclassical bistability: a second distinct minimum with
    ``S <= ratio * S_min`` (plus a tiny absolute floor); ``key`` = "S_relative" compares
    the relative residuals instead."""
    if len(minima) < 2:
        return False
    return getattr(minima[1], key) <= ratio * getattr(minima[0], key) + floor


def minimize(model: Model | Params, cfg: dict | None = None, comm=None,
             previous: list | None = None) -> SemiclassicalResult:
    """Minimize S from several starting points (split round-robin over the ranks of ``comm``).

    ``cfg`` is the ``[semiclassical]`` section (keys of :data:`DEFAULTS`).  Every rank returns
    the same result."""
    t0 = time.perf_counter()
    c = dict(DEFAULTS)
    c.update(cfg or {})
    p = model if isinstance(model, Params) else Params.from_model(model)
    relative = c["functional"] == "relative"
    pts = starting_points(p, int(c["starts"]), int(c["seed"]), previous)
    rank, size = (comm.Get_rank(), comm.Get_size()) if comm is not None else (0, 1)
    found, evals = [], 0
    for k, (a, b) in enumerate(pts):
        if k % size != rank:
            continue
        m, n = local_minimum(p, a, b, c["gtol"], int(c["max_iterations"]), relative)
        found.append(m)
        evals += n
    if size > 1:
        found = [m for part in comm.allgather(found) for m in part]
        evals = sum(comm.allgather(evals))
    key = "S_relative" if relative else "S"    # rank by the quantity minimized
    good = [m for m in found if m.converged]
    minima = _distinct(good or found, c["distinct"], key)
    best_other = min((m for m in found if not m.converged), key=lambda m: getattr(m, key), default=None)
    if best_other is not None and minima and getattr(best_other, key) < getattr(minima[0], key):
        minima.insert(0, best_other)     # lower than every stationary point: the best estimate
    return SemiclassicalResult(minima=minima, bistable=is_bistable(minima, c["bistability"], key=key),
                               starts=len(pts), evaluations=evals,
                               seconds=time.perf_counter() - t0,
                               extra={"unconverged_starts": len(found) - len(good),
                                      "converged": bool(good)})


def sweep(model: Model, drive_detunings, cfg: dict | None = None, comm=None) -> list:
    """Minimize along a list of drive detunings ``omega - omega_0``, warm-starting each point
    from the previous point's minima (plus the configured fresh starts).

    With ``both_ways`` (the default) the list is then swept backwards, each point warm-started
    from its right neighbour's minima and from its own minima of the forward pass, so that every
    point reports the lowest minimum either direction reached.  One direction alone follows a
    branch past the point where another, lower one appears (Appendix A.3's bistability) when no
    fresh start falls into the new basin: Fig. 11's M = 1 curve on 321 points, forward only,
    keeps the higher minimum over 1.425 <= x <= 1.525 (epsilon = 0.44 instead of 0.40 at
    x = 1.5).  Each point's result is the backward pass's (its minima include the forward ones);
    ``seconds`` and ``evaluations`` add both passes."""
    from dataclasses import replace
    c = dict(DEFAULTS)
    c.update(cfg or {})
    out, prev = [], None
    for d in drive_detunings:
        res = minimize(replace(model, drive_detuning=float(d)), c, comm, previous=prev)
        res.extra["drive_detuning"] = float(d)
        out.append(res)
        prev = res.minima
    if not c["both_ways"] or len(out) < 2:
        return out
    prev = None
    for i in range(len(out) - 1, -1, -1):
        fwd = out[i]
        res = minimize(replace(model, drive_detuning=fwd.extra["drive_detuning"]), c, comm,
                       previous=(prev or []) + fwd.minima)
        res.seconds += fwd.seconds
        res.evaluations += fwd.evaluations
        res.extra["drive_detuning"] = fwd.extra["drive_detuning"]
        out[i] = res
        prev = res.minima
    return out


# --- the product state in a truncated space and the error bound (Appendix A.3) -----------------

def coherent_amplitudes(alpha: complex, levels: int) -> np.ndarray:
    """``<n|alpha>`` for n < levels (not renormalized)."""
    n = np.arange(levels)
    from scipy.special import gammaln
    with np.errstate(divide="ignore"):
        logmag = -0.5 * abs(alpha) ** 2 + n * np.log(abs(alpha) if alpha != 0 else 1.0) - 0.5 * gammaln(n + 1)
    c = np.exp(logmag) * np.exp(1j * n * np.angle(alpha))
    if alpha == 0:
        c = (n == 0).astype(complex)
    return c


def product_state_rows(model: Model, alpha: complex, b: np.ndarray, i0: int, i1: int) -> np.ndarray:
    """Rows ``[i0, i1)`` of the ansatz (41) in the truncated space of ``model`` (tensor order
    cavity first, qubit basis 0 = up); the coherent state is truncated, not renormalized."""
    c = coherent_amplitudes(alpha, model.levels)
    q = np.ones((1, 1), dtype=complex)
    for bl in np.asarray(b).reshape(model.M, 3):
        q = np.kron(q, 0.5 * (I2 + np.einsum("i,ijk->jk", bl, PAULI)))
    nq = q.shape[0]
    rows = np.arange(i0, i1)
    n, s = rows // nq, rows % nq
    return (c[n][:, None, None] * c.conj()[None, None, :] * q[s][:, :, None]).reshape(len(rows), nq, -1) \
        .transpose(0, 2, 1).reshape(len(rows), -1)


def error_bound(model: Model, best: Minimum, gap_cfg: dict, solver_cfg: dict, layout,
                exact: bool = True) -> dict:
    """Appendix A.3: ``|rho_s,perp| <= epsilon / |lambda_1|``.

    ``|lambda_1|`` is the modulus of the nonzero eigenvalue of L nearest 0 (the paper's choice;
    computed by :mod:`pjcsync.gap` on the truncated space of ``model``).  With ``exact`` also the
    exact steady state (direct solve): ``distance = ||rho_s - rho_ss||_F`` and ``perp_norm``,
    the norm of rho_s's component orthogonal to rho_ss, which the bound is about; and
    ``epsilon_truncated = ||L rho_s||_F`` in the truncated space (equals epsilon when the
    truncation is harmless)."""
    from .gap import liouvillian_gap
    from .parallel import allreduce_sum, release_petsc_garbage
    from . import superoperator as so
    out = {}
    gap = liouvillian_gap(model, gap_cfg, layout)
    release_petsc_garbage(layout.comm)
    lam1 = gap["eigenvalues"][0]
    mod = float(np.hypot(*lam1))
    out["lambda_1"] = lam1
    out["gap_modulus"] = mod
    out["relaxation_rate"] = gap["relaxation_rate"]
    out["error_bound"] = best.epsilon / mod
    out["gap_residual"] = gap["residuals"][0]
    if not exact:
        return out
    from .steady import steady_state
    from .observables import basic_observables
    st = steady_state(model, {**solver_cfg, "method": "direct"}, layout)
    rho_ss = st.rows()
    rho_s = product_state_rows(model, best.alpha, best.b, layout.i0, layout.i1)
    dot = complex(allreduce_sum(np.vdot(rho_ss, rho_s), layout.comm))
    nss, ns, diff = allreduce_sum(np.array([np.vdot(rho_ss, rho_ss).real, np.vdot(rho_s, rho_s).real,
                                            (np.abs(rho_s - rho_ss) ** 2).sum()]), layout.comm)
    perp2 = max(ns - abs(dot) ** 2 / nss, 0.0)
    L = so.liouvillian(model, layout)
    x = L.createVecRight()
    x.setArray(rho_s.ravel())
    y = L.createVecLeft()
    L.mult(x, y)
    eps_trunc = y.norm()
    L.destroy()
    obs = basic_observables(model, rho_ss, layout)
    st.rho.destroy()
    release_petsc_garbage(layout.comm)
    out.update(distance=float(np.sqrt(diff)), perp_norm=float(np.sqrt(perp2)),
               epsilon_truncated=float(eps_trunc),
               coherent_truncation=float(1 - (np.abs(coherent_amplitudes(best.alpha, model.levels)) ** 2).sum()),
               exact={"alpha": obs["a"], "bloch": obs["sigma"], "Sx": obs["Sx"], "n": obs["n"],
                      "edge_population": obs["edge_population"]})
    return out


# --- the command ---------------------------------------------------------------------------------

def wants_error_bound(model: Model, sc_cfg: dict) -> bool:
    mode = sc_cfg.get("error_bound", "auto")
    return mode == "always" or (mode == "auto" and model.N <= sc_cfg.get("max_exact_N", 200))


def run(model: Model, cfg: dict, comm=None, layout=None) -> dict:
    """``pjcsync semiclassical``: minima at the configured point (or along ``[semiclassical]
    sweep``), with the error bound of Appendix A.3 where it is affordable.

    Returns the dict printed by ``--json``: the best minimum's ``alpha``, ``bloch``, ``Sx``,
    ``S_min``, ``epsilon``, every distinct minimum in ``minima``, ``bistable``, and with the error
    bound ``lambda_1``, ``gap_modulus``, ``error_bound = epsilon / |lambda_1|``, ``distance``,
    ``perp_norm``, ``exact``.  A sweep returns ``{"sweep": [one such dict per point]}``."""
    from dataclasses import replace
    sc_cfg = cfg["semiclassical"]
    points = sc_cfg.get("sweep") or []
    bound = wants_error_bound(model, sc_cfg)
    if bound and layout is None:
        from .parallel import RowLayout
        layout = RowLayout.create(model.N, comm)

    def one(res, m):
        out = res.as_dict()
        out["drive_detuning"] = m.drive_detuning
        out["functional"] = sc_cfg.get("functional", "absolute")
        if bound:
            out.update(error_bound(m, res.best, cfg["gap"], cfg["solver"], layout))
        return out

    if not points:
        return one(minimize(model, sc_cfg, comm), model)
    results = sweep(model, points, sc_cfg, comm)
    return {"sweep": [one(r, replace(model, drive_detuning=r.extra["drive_detuning"])) for r in results],
            "functional": sc_cfg.get("functional", "absolute")}
