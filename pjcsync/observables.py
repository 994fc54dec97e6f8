"""Observables of a row-distributed density matrix (names and meanings: docs/conventions.md).

Each rank holds rows ``[i0, i1)`` of rho (``RowLayout``); every observable is a local partial
sum followed by one reduction.  Conventions: Pauli expectations ``<sigma_x,y,z>`` per qubit,
totals ``S = sum_l sigma_l / 2``, ``<a> = alpha_x + i alpha_y``, ``<n> = <a^+ a>``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from .operators import sigmax, sigmay, sigmaz
from .parallel import RowLayout, allreduce_sum

if TYPE_CHECKING:       # annotations only: the model imports this module (Model.observables)
    from .model import Model


def local_block(vec, layout: RowLayout) -> np.ndarray:
    """This rank's rows of rho as a ``(rows, N)`` array view of a PETSc vector."""
    return vec.getArray(readonly=True).reshape(layout.rows, layout.N)


def expect(op: sp.spmatrix, rho_rows: np.ndarray, layout: RowLayout) -> complex:
    """``Tr(op rho) = sum_ij op_ji rho_ij``: local rows, then one reduction."""
    op_t = sp.csr_matrix(op).T.tocsr()[layout.i0:layout.i1]
    return complex(allreduce_sum(op_t.multiply(rho_rows).sum(), layout.comm))


def diagonal(rho_rows: np.ndarray, layout: RowLayout) -> np.ndarray:
    """The full diagonal of rho (real parts), gathered on every rank."""
    i = np.arange(layout.i0, layout.i1)
    local = np.zeros(layout.N)
    local[i] = rho_rows[i - layout.i0, i].real
    return allreduce_sum(local, layout.comm)


def cavity_populations(model: Model, rho_rows: np.ndarray, layout: RowLayout) -> np.ndarray:
    """P(n) = sum over qubit states of <n, q| rho |n, q>, n = 0 .. n_c - 1."""
    return diagonal(rho_rows, layout).reshape(model.levels, 2 ** model.M).sum(axis=1)


def edge_levels(model: Model) -> int:
    """How many top Fock levels count as the truncation edge: 5, or fewer for small n_c."""
    return max(1, min(5, model.levels // 4))


EDGE_WARNING = 1e-3   # edge population above which the cavity is called truncated too early


def basic_observables(model: Model, rho_rows: np.ndarray, layout: RowLayout) -> dict:
    """The observables that need no entanglement machinery (foundation issue, item 5).

    Keys: ``n``, ``a`` ([re, im]), ``sigma`` (per qubit [x, y, z]), ``Sx``, ``Sy``, ``Sz``,
    ``edge_population`` (population of the top ``edge_levels`` Fock levels), ``trace``,
    ``cavity_populations``."""
    pops = cavity_populations(model, rho_rows, layout)
    a = expect(model.a, rho_rows, layout)
    sigma = []
    for l in range(model.M):
        sigma.append([expect(model.qubit(s(), l), rho_rows, layout).real for s in (sigmax, sigmay, sigmaz)])
    sig = np.array(sigma).reshape(model.M, 3)
    k = edge_levels(model)
    return {
        "n": expect(model.n, rho_rows, layout).real,
        "a": [a.real, a.imag],
        "sigma": sig.tolist(),
        "Sx": float(sig[:, 0].sum() / 2),
        "Sy": float(sig[:, 1].sum() / 2),
        "Sz": float(sig[:, 2].sum() / 2),
        "edge_population": float(pops[-k:].sum()),
        "edge_levels": k,
        "trace": float(pops.sum()),
        "cavity_populations": pops.tolist(),
    }


# --- partial traces (docs/conventions.md) -------------------------------------------------------
#
# Row index i of rho is the mixed-radix number of its site digits, cavity first:
# i = ((n * 2 + q_1) * 2 + q_2) ... (qubit digit 0 = up, 1 = down).  Sites are numbered
# 0 = cavity, l + 1 = qubit l (0-based qubit index l), as in ``Model.dims``.

def _strides(dims) -> np.ndarray:
    dims = np.asarray(dims, dtype=np.int64)
    return np.concatenate([np.cumprod(dims[::-1])[::-1][1:], [1]]).astype(np.int64)


def local_partial_trace(rho_rows: np.ndarray, layout: RowLayout, dims, keep) -> np.ndarray:
    """This rank's contribution to the reduced density matrix of the sites ``keep``.

    ``rho_S[a, b] = sum_c rho[(a, c), (b, c)]`` summed over this rank's rows only: adding the
    contributions of every rank (one reduction) gives the reduced matrix.  The kept sites come
    out in increasing site order (like QuTiP's ``ptrace``)."""
    dims = [int(d) for d in dims]
    keep = sorted(set(int(k) for k in keep))
    if not keep or keep[0] < 0 or keep[-1] >= len(dims):
        raise ValueError(f"sites to keep {keep} out of range for dims {dims}")
    strides = _strides(dims)
    traced = [s for s in range(len(dims)) if s not in keep]
    rows = np.arange(layout.i0, layout.i1, dtype=np.int64)
    digits = (rows[:, None] // strides[None, :]) % np.asarray(dims, dtype=np.int64)[None, :]
    kdims = [dims[s] for s in keep]
    dk = int(np.prod(kdims))
    # column offset of every kept multi-index b (row-major over the kept sites)
    kdig = np.stack(np.unravel_index(np.arange(dk), kdims), axis=1) if dk > 1 else np.zeros((1, len(keep)), np.int64)
    off_keep = kdig @ strides[keep]
    off_traced = digits[:, traced] @ strides[traced] if traced else np.zeros(len(rows), np.int64)
    a = np.ravel_multi_index(tuple(digits[:, keep].T), kdims) if rows.size else np.zeros(0, np.int64)
    cols = off_traced[:, None] + off_keep[None, :]
    vals = np.take_along_axis(rho_rows, cols, axis=1)           # rho[i, (b, c_i)], shape (rows, dk)
    flat = (a[:, None] * dk + np.arange(dk)[None, :]).ravel()
    v = vals.ravel()
    out = (np.bincount(flat, weights=v.real, minlength=dk * dk)
           + 1j * np.bincount(flat, weights=v.imag, minlength=dk * dk))
    return out.reshape(dk, dk)


def partial_trace(rho_rows: np.ndarray, layout: RowLayout, dims, keep) -> np.ndarray:
    """Reduced density matrix of the sites ``keep`` (local partial sums, one reduction).

    Returned on every rank; sites in increasing order (0 = cavity, l + 1 = qubit l)."""
    return allreduce_sum(local_partial_trace(rho_rows, layout, dims, keep), layout.comm)


def reduced_matrices(model: Model, rho_rows: np.ndarray, layout: RowLayout, subsystems) -> list[np.ndarray]:
    """Several reduced density matrices with a single reduction.

    ``subsystems`` is a list of site lists (0 = cavity, l + 1 = qubit l)."""
    parts = [local_partial_trace(rho_rows, layout, model.dims, s) for s in subsystems]
    if not parts:
        return []
    sizes = [p.size for p in parts]
    total = allreduce_sum(np.concatenate([p.ravel() for p in parts]), layout.comm)
    out, k = [], 0
    for p, n in zip(parts, sizes):
        out.append(np.asarray(total[k:k + n]).reshape(p.shape))
        k += n
    return out


def cavity_matrix(model: Model, rho_rows: np.ndarray, layout: RowLayout) -> np.ndarray:
    """The cavity's reduced density matrix (n_c x n_c)."""
    return partial_trace(rho_rows, layout, model.dims, [0])


def qubit_matrix(model: Model, rho_rows: np.ndarray, layout: RowLayout, l: int) -> np.ndarray:
    """Qubit ``l``'s (0-based) reduced density matrix, basis (up, down)."""
    return partial_trace(rho_rows, layout, model.dims, [_site(model, l)])


def pair_matrix(model: Model, rho_rows: np.ndarray, layout: RowLayout, l: int, m: int) -> np.ndarray:
    """Reduced density matrix of qubits ``l < m`` (0-based), basis uu, ud, du, dd (4 x 4)."""
    if l == m:
        raise ValueError("a pair needs two different qubits")
    l, m = sorted((l, m))
    return partial_trace(rho_rows, layout, model.dims, [_site(model, l), _site(model, m)])


def _site(model: Model, l: int) -> int:
    if not 0 <= l < model.M:
        raise ValueError(f"qubit index {l} out of range for {model.M} qubit(s)")
    return l + 1


def spin_resolved_populations(model: Model, rho_rows: np.ndarray, layout: RowLayout, l: int = 0):
    """``P_+(n) = <n, up| rho |n, up>`` and ``P_-(n)`` for qubit ``l`` (Fig. 1), others traced.

    Returns two arrays of length n_c."""
    _site(model, l)
    d = diagonal(rho_rows, layout).reshape([model.levels] + [2] * model.M)
    others = tuple(k + 1 for k in range(model.M) if k != l)
    d = d.sum(axis=others) if others else d
    return d[:, 0].copy(), d[:, 1].copy()


# --- two-qubit measures (4 x 4 reduced matrix, basis uu, ud, du, dd) -------------------------

PAULI = (np.array([[0, 1], [1, 0]], complex), np.array([[0, -1j], [1j, 0]], complex),
         np.array([[1, 0], [0, -1]], complex))
SINGLET = np.array([0, 1, -1, 0], complex) / np.sqrt(2)   # (|ud> - |du>) / sqrt(2)


def correlation_matrix(rho2: np.ndarray) -> np.ndarray:
    """``T_ij = Tr(rho sigma_i (x) sigma_j)``, i, j in x, y, z (real 3 x 3)."""
    return np.array([[np.trace(rho2 @ np.kron(si, sj)).real for sj in PAULI] for si in PAULI])


def pair_S2(rho2: np.ndarray) -> float:
    """``<S^2> = 3/2 + <sigma_1 . sigma_2> / 2`` of the pair (0 singlet, 2 triplet)."""
    return float(1.5 + 0.5 * np.trace(correlation_matrix(rho2)))


def singlet_probability(rho2: np.ndarray) -> float:
    return float((SINGLET.conj() @ rho2 @ SINGLET).real)


def partial_transpose_second(rho2: np.ndarray) -> np.ndarray:
    return rho2.reshape(2, 2, 2, 2).transpose(0, 3, 2, 1).reshape(4, 4)


def negativity(rho2: np.ndarray) -> float:
    """``(||rho^{T_B}||_1 - 1) / 2`` = sum of |negative eigenvalues| of rho^{T_B}; at most 1/2."""
    pt = partial_transpose_second(rho2)
    ev = np.linalg.eigvalsh(0.5 * (pt + pt.conj().T))
    return float(max(0.0, -ev[ev < 0].sum()))


def concurrence(rho2: np.ndarray) -> float:
    """Wootters' concurrence ``max(0, l1 - l2 - l3 - l4)``, l the square roots of the
    eigenvalues of ``rho (sy sy) rho* (sy sy)`` in decreasing order."""
    yy = np.kron(PAULI[1], PAULI[1])
    ev = np.linalg.eigvals(rho2 @ yy @ rho2.conj() @ yy)
    lam = np.sort(np.sqrt(np.clip(ev.real, 0, None)))[::-1]
    return float(max(0.0, lam[0] - lam[1:].sum()))


def chsh_max(rho2: np.ndarray) -> float:
    """The maximal CHSH value over all measurement directions, exactly (Horodecki et al.,
    Phys. Lett. A 200, 340 (1995)): ``2 sqrt(m1 + m2)``, m1, m2 the two largest eigenvalues of
    ``T^T T``.  Local realism bounds it by 2; Tsirelson's bound is 2 sqrt(2)."""
    T = correlation_matrix(rho2)
    m = np.sort(np.linalg.eigvalsh(T.T @ T))[::-1]
    return float(2.0 * np.sqrt(max(m[0] + m[1], 0.0)))


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float).reshape(3)
    n = np.linalg.norm(v)
    if n == 0:
        raise ValueError("a measurement direction must be nonzero")
    return v / n


def chsh(rho2: np.ndarray, a, a2, b, b2) -> float:
    """CHSH value ``E(a,b) + E(a,b') + E(a',b) - E(a',b')`` for given directions (3-vectors,
    normalized here), ``E(a, b) = <(a.sigma_1)(b.sigma_2)> = a^T T b``."""
    T = correlation_matrix(rho2)
    a, a2, b, b2 = map(_unit, (a, a2, b, b2))
    return float(a @ T @ b + a @ T @ b2 + a2 @ T @ b - a2 @ T @ b2)


def pair_measures(rho2: np.ndarray) -> dict:
    """All pair observables of a 4 x 4 reduced matrix, with the names of ``pjcsync steady``."""
    return {"S2": pair_S2(rho2), "singlet": singlet_probability(rho2), "negativity": negativity(rho2),
            "chsh": chsh_max(rho2), "concurrence": concurrence(rho2)}


def qubit_phases(sigma) -> list[float]:
    """``theta_l = arg<S_x + i S_y>`` per qubit (radians in (-pi, pi]) from ``<sigma_x,y,z>``."""
    return [float(np.angle(s[0] + 1j * s[1])) for s in np.asarray(sigma, dtype=float).reshape(-1, 3)]


def total_S2(model: Model, pairs: dict) -> float:
    """``<S^2>`` of all qubits: ``3M/4 + (1/2) sum_{l<m} <sigma_l . sigma_m>`` from the pairs'
    correlation matrices ``{(l, m): T}``."""
    return float(0.75 * model.M + 0.5 * sum(np.trace(T) for T in pairs.values()))


def entanglement_observables(model: Model, rho_rows: np.ndarray, layout: RowLayout,
                             sigma=None, pair: tuple[int, int] = (0, 1)) -> dict:
    """Synchronization and entanglement observables (paper sections 6 and 7).

    Always ``theta`` (per qubit).  For M = 1, ``P_plus`` and ``P_minus``: ``P_+-(n)`` of Fig. 1
    (lists over n).  For M >= 2: ``S2``, ``singlet``, ``negativity``, ``chsh``
    (maximal CHSH value), ``concurrence`` of the pair ``pair`` (0-based; qubits 1 and 2 by
    default), and ``S2_total`` of all qubits.  One reduction for all pair matrices."""
    out: dict = {}
    if model.M == 0:
        return out
    if sigma is None:
        sigma = [[expect(model.qubit(s(), l), rho_rows, layout).real for s in (sigmax, sigmay, sigmaz)]
                 for l in range(model.M)]
    out["theta"] = qubit_phases(sigma)
    if model.M < 2:
        p_up, p_down = spin_resolved_populations(model, rho_rows, layout, 0)
        out["P_plus"], out["P_minus"] = p_up.tolist(), p_down.tolist()
        return out
    pairs = [(l, m) for l in range(model.M) for m in range(l + 1, model.M)]
    mats = reduced_matrices(model, rho_rows, layout, [[l + 1, m + 1] for l, m in pairs])
    by_pair = dict(zip(pairs, mats))
    rho2 = by_pair[tuple(sorted(pair))]
    out.update(pair_measures(rho2))
    out["pair"] = [pair[0] + 1, pair[1] + 1]
    out["S2_total"] = total_S2(model, {p: correlation_matrix(r) for p, r in by_pair.items()})
    return out


# --- the cavity's Wigner function ------------------------------------------------------------

def wigner(rho_c: np.ndarray, xvec, yvec, g: float = np.sqrt(2.0)) -> np.ndarray:
    """Wigner function ``W(x, y)`` of a cavity density matrix (n_c x n_c) on a grid.

    ``alpha = g (x + i y) / 2`` (QuTiP's convention, default ``g = sqrt 2``), normalized so
    that ``sum W dx dy = 1``; returned with shape ``(len(yvec), len(xvec))``.  Uses
    ``W = (g^2/2) Tr[rho D(alpha) P D(alpha)^+] / pi`` with the parity P and the closed form of
    its Fock matrix elements (Cahill & Glauber 1969): for ``n >= m``
    ``<n|D P D^+|m> = (-1)^m sqrt(m!/n!) (2 alpha)^(n-m) exp(-2|alpha|^2) L_m^(n-m)(4|alpha|^2)``."""
    from scipy.special import eval_genlaguerre, gammaln
    rho_c = np.asarray(rho_c, dtype=complex)
    nc = rho_c.shape[0]
    X, Y = np.meshgrid(np.asarray(xvec, float), np.asarray(yvec, float))
    alpha = 0.5 * g * (X + 1j * Y)
    r2 = 4.0 * np.abs(alpha) ** 2
    gauss = np.exp(-0.5 * r2)
    W = np.zeros(X.shape)
    for k in range(nc):                       # k = n - m >= 0, the k-th diagonal of rho
        m = np.arange(nc - k)
        coef = (-1.0) ** m * np.exp(0.5 * (gammaln(m + 1) - gammaln(m + k + 1)))
        lag = eval_genlaguerre(m[:, None, None], k, r2[None])      # (len m, ny, nx)
        # Tr[rho K] = sum_{m,n} rho_mn K_nm; K_nm for n = m + k >= m; the conjugate pair doubles
        term = np.tensordot(rho_c[m, m + k] * coef, lag, axes=1) * (2.0 * alpha) ** k * gauss
        W += term.real if k == 0 else 2.0 * term.real
    return W * g ** 2 / (2.0 * np.pi)


def all_observables(model: Model, rho_rows: np.ndarray, layout: RowLayout) -> dict:
    """Every named observable of the paper's figures (collective): :func:`basic_observables`
    and :func:`entanglement_observables` from one set of qubit expectations; the keys of
    ``pjcsync steady --json`` (docs/conventions.md)."""
    obs = basic_observables(model, rho_rows, layout)
    obs.update(entanglement_observables(model, rho_rows, layout, sigma=obs["sigma"]))
    return obs
