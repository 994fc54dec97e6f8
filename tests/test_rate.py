"""The rate-equation series (R) and (R)* (pjcsync.rate, eqs. 19-30 of the paper).

References are built from scratch here: the dense Liouvillian of eq. (9) as an N^2 x N^2 matrix
(small N only) and its null space, and the dissipator L_gamma of eq. (18) applied in the Fock
basis.  Nothing is compared with numbers produced by the code under test.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import cli_json, run_cli, write_config
from pjcsync.model import Model
from pjcsync.rate import rate_series


def make_model(levels, gamma, gamma_s, F, deltas, det):
    return Model(levels=levels, gamma=gamma, detunings=tuple(deltas), couplings=(1.0,) * len(deltas),
                 gamma_s=(gamma_s,) * len(deltas), amplitude=F, drive_detuning=det)


def fig3(levels=20, det=-3.0):
    """Fig. 3: one qubit, Delta = 2, F = 1, gamma = gamma_s = 0.3."""
    return make_model(levels, 0.3, 0.3, 1.0, [2.0], det)


def fig4(levels=20, det=-3.0, F=0.1):
    """Fig. 4: one qubit, Delta = 2, weak damping gamma = gamma_s = 0.005."""
    return make_model(levels, 0.005, 0.005, F, [2.0], det)


def dense_ops(model):
    return model.hamiltonian().toarray(), [c.toarray() for c in model.collapse_operators()]


def dense_liouvillian(model):
    """Row-major vec: vec(A rho B) = (A kron B^T) vec(rho); eq. (9) term by term."""
    H, cs = dense_ops(model)
    N = H.shape[0]
    I = np.eye(N)
    L = -1j * (np.kron(H, I) - np.kron(I, H.T))
    for c in cs:
        cdc = c.conj().T @ c
        L += np.kron(c, c.conj()) - 0.5 * np.kron(cdc, I) - 0.5 * np.kron(I, cdc.T)
    return L


def exact_steady_state(model):
    """The dense L with the equation of rho_00 replaced by Tr rho = 1, solved by LU."""
    L = dense_liouvillian(model)
    N = model.N
    A = L.copy()
    A[0] = np.eye(N).ravel()
    b = np.zeros(N * N, dtype=complex)
    b[0] = 1.0
    rho = np.linalg.solve(A, b)
    assert np.linalg.norm(L @ rho) < 1e-12 * np.abs(L).max()
    return rho.reshape(N, N)


def l_gamma_fock(model, rho):
    """L_gamma(rho) of eq. (18) in the Fock (x) qubit basis."""
    _, cs = dense_ops(model)
    out = np.zeros_like(rho)
    for c in cs:
        cdc = c.conj().T @ c
        out += c @ rho @ c.conj().T - 0.5 * (cdc @ rho + rho @ cdc)
    return out


# --- structure of the orders ------------------------------------------------------------------

@pytest.mark.parametrize("star", [False, True])
def test_orders_are_density_matrix_then_traceless(star):
    model = fig3(levels=12, det=-3.0)
    series = rate_series(model.hamiltonian(), model.collapse_operators(), star=star, keep_terms=True)
    U = series.basis.U
    assert np.allclose(U.conj().T @ U, np.eye(model.N), atol=1e-12)
    # U diagonalizes H independently checked
    H, _ = dense_ops(model)
    Ht = U.conj().T @ H @ U
    assert np.abs(Ht - np.diag(np.diag(Ht))).max() < 1e-10
    rho0 = series.terms[0]
    assert np.abs(rho0 - np.diag(np.diag(rho0))).max() == 0.0       # diagonal in the eigenbasis
    P = np.diag(rho0).real
    assert abs(P.sum() - 1) < 1e-13 and P.min() >= 0.0
    # eq. (20): the populations are stationary under the dissipator's diagonal part
    drift = np.diag(U.conj().T @ l_gamma_fock(model, U @ rho0 @ U.conj().T) @ U).real
    assert np.abs(drift).max() < 1e-12 * np.abs(np.diag(Ht)).max()
    assert len(series.terms) >= 3
    for rho_j in series.terms[1:]:
        assert abs(np.trace(rho_j)) < 1e-12                            # eq. (24)
        assert np.abs(rho_j - rho_j.conj().T).max() < 1e-12 * max(1.0, np.abs(rho_j).max())


def test_plain_orders_satisfy_recursion():
    """Eq. (22) and (23) for (R), with L_gamma applied in the Fock basis and L_H from H itself."""
    model = fig4(levels=10, det=-1.0, F=0.2)
    series = rate_series(model.hamiltonian(), model.collapse_operators(), star=False, keep_terms=True)
    U = series.basis.U
    H, _ = dense_ops(model)
    to_fock = lambda X: U @ X @ U.conj().T
    to_eig = lambda X: U.conj().T @ X @ U
    off = ~np.eye(model.N, dtype=bool)
    for prev, nxt in zip(series.terms[:-1], series.terms[1:]):
        lh = to_eig(-1j * (H @ to_fock(nxt) - to_fock(nxt) @ H))      # L_H rho_{j+1}
        lg_prev = to_eig(l_gamma_fock(model, to_fock(prev)))
        scale = np.abs(lg_prev).max()
        assert np.abs((lh + lg_prev)[off]).max() < 1e-9 * scale      # eq. (22)
        lg_next = to_eig(l_gamma_fock(model, to_fock(nxt)))
        assert np.abs(np.diag(lg_next)).max() < 1e-9 * scale         # eq. (23)


def test_star_orders_satisfy_eqs_28_to_30():
    """(R)*: D_nm = <n|L_gamma(|n><m|)|m> (eq. 28) computed pair by pair in the Fock basis, and
    the off-diagonal recursion with L_H + L_gammaK and L_gamma - L_gammaK (eqs. 29-30)."""
    model = fig3(levels=6, det=-2.0)
    series = rate_series(model.hamiltonian(), model.collapse_operators(), star=True, keep_terms=True)
    U = series.basis.U
    N = model.N
    H, _ = dense_ops(model)
    to_fock = lambda X: U @ X @ U.conj().T
    to_eig = lambda X: U.conj().T @ X @ U
    D = np.zeros((N, N), dtype=complex)
    for n in range(N):
        for m in range(N):
            if n != m:
                D[n, m] = U[:, n].conj() @ l_gamma_fock(model, np.outer(U[:, n], U[:, m].conj())) @ U[:, m]
    assert np.abs(series.basis.star_diagonal() - D).max() < 1e-12 * np.abs(D).max()
    off = ~np.eye(N, dtype=bool)
    assert len(series.terms) >= 3
    for prev, nxt in zip(series.terms[:-1], series.terms[1:]):
        lh_tilde = to_eig(-1j * (H @ to_fock(nxt) - to_fock(nxt) @ H)) + D * nxt
        lg_tilde = to_eig(l_gamma_fock(model, to_fock(prev))) - D * prev
        assert np.abs((lh_tilde + lg_tilde)[off]).max() < 1e-9 * np.abs(lg_tilde).max()


def test_star_converges_where_plain_does_not_fig3():
    """The paper's Fig. 3: far from resonance (R) fails while (R)* converges."""
    model = fig3(levels=14, det=-2.0)
    plain = rate_series(model.hamiltonian(), model.collapse_operators(), star=False)
    star = rate_series(model.hamiltonian(), model.collapse_operators(), star=True)
    assert plain.info["status"] == "diverged" and star.info["status"] == "converged"


@pytest.mark.parametrize("star", [False, True])
def test_recorded_residuals_are_those_of_the_dense_liouvillian(star):
    model = fig3(levels=8, det=2.5)
    series = rate_series(model.hamiltonian(), model.collapse_operators(), star=star, keep_terms=True)
    L = dense_liouvillian(model)
    U = series.basis.U
    S = np.zeros((model.N, model.N), dtype=complex)
    res = []
    for rho_j in series.terms:
        S = S + rho_j
        res.append(np.linalg.norm(L @ (U @ S @ U.conj().T).ravel()))
    rec = series.info["residuals"]
    assert len(rec) == len(res)
    for a, b in zip(rec, res):
        assert abs(a - b) <= 1e-9 * res[0] + 1e-6 * b


# --- accuracy against the exact RWA steady state ----------------------------------------------

@pytest.mark.parametrize("det", [-3.0, 3.0, -4.0])
def test_star_equals_exact_far_from_resonance_fig3(det):
    model = fig3(levels=14, det=det)
    exact = exact_steady_state(model)
    series = rate_series(model.hamiltonian(), model.collapse_operators(), star=True)
    assert series.info["status"] == "converged", series.info["stop_reason"]
    assert np.abs(series.density_matrix() - exact).max() < 1e-8


@pytest.mark.parametrize("det", [-3.0, 3.0, -1.0])
def test_plain_equals_exact_at_fig4_weak_damping(det):
    model = fig4(levels=12, det=det, F=0.1)
    exact = exact_steady_state(model)
    series = rate_series(model.hamiltonian(), model.collapse_operators(), star=False)
    assert series.info["status"] == "converged", series.info["stop_reason"]
    assert np.abs(series.density_matrix() - exact).max() < 1e-8


@pytest.mark.parametrize("det", [-0.5, 0.0, 0.5])
@pytest.mark.parametrize("star", [False, True])
def test_near_resonance_is_reported_diverging(det, star):
    model = fig3(levels=16, det=det)
    series = rate_series(model.hamiltonian(), model.collapse_operators(), star=star)
    info = series.info
    assert info["status"] == "diverged"
    best = info["best_order"]
    assert info["best_residual"] == min(info["residuals"])
    assert info["best_relative_residual"] > 1e-6
    # the best partial sum is still returned: unit trace, Hermitian
    rho = series.density_matrix()
    assert abs(np.trace(rho) - 1) < 1e-12 and np.abs(rho - rho.conj().T).max() < 1e-14
    assert 0 <= best < len(info["orders"])


def test_degenerate_levels_no_division_by_zero():
    """Two identical qubits, no drive, omega = omega_0: the singlet ladder |n, S> is exactly
    degenerate (energy 0 for every n)."""
    model = make_model(6, 0.3, 0.3, 0.0, [1.0, 1.0], 0.0)
    for star in (False, True):
        series = rate_series(model.hamiltonian(), model.collapse_operators(), star=star)
        deg = series.info["near_degenerate"]
        assert deg["min_gap"] < 1e-10 and deg["below_damping"] > 0
        # (R) skips the degenerate pairs; (R)*'s denominators -i(e_n - e_m) + D_nm do not vanish
        assert (deg["count"] > 0) if not star else (deg["min_denominator"] > deg["threshold"])
        rho = series.density_matrix()
        assert np.all(np.isfinite(rho)) and abs(np.trace(rho) - 1) < 1e-12
        assert all(np.isfinite(series.info["residuals"]))


# --- the command and the distributed result ---------------------------------------------------

CASE = """
[cavity]
levels = 14
decay = 0.3
[qubits]
detuning = [2.0]
decay = 0.3
[drive]
amplitude = 1.0
detuning = {det}
"""


def test_cli_rate_one_and_two_ranks_match_exact(tmp_path):
    cfg = write_config(tmp_path, CASE.format(det=-3.0))
    one = cli_json(["rate", cfg, "--star"], ranks=1, timeout=120)
    two = cli_json(["rate", cfg, "--star"], ranks=2, timeout=120)
    assert one["series"]["status"] == two["series"]["status"] == "converged"
    assert one["solver"]["method"] == "rate*"
    exact = exact_steady_state(fig3(levels=14, det=-3.0))
    model = fig3(levels=14, det=-3.0)
    n_exact = np.trace(model.n.toarray() @ exact).real
    a_exact = np.trace(model.a.toarray() @ exact)
    sx = np.trace(model.qubit(np.array([[0, 1], [1, 0]]), 0).toarray() @ exact).real
    for out in (one, two):
        obs = out["observables"]
        assert abs(obs["n"] - n_exact) < 1e-8
        assert abs(complex(*obs["a"]) - a_exact) < 1e-8
        assert abs(obs["Sx"] - sx / 2) < 1e-8
        assert abs(obs["trace"] - 1) < 1e-12
    assert np.allclose(one["observables"]["cavity_populations"], two["observables"]["cavity_populations"],
                       atol=1e-13)
    s = one["series"]
    assert s["orders"] == list(range(len(s["residuals"]))) and s["best_order"] == s["orders"][-1]
    assert {"count", "min_gap"} <= set(s["near_degenerate"])


def test_cli_rate_diverged_exits_1_with_best_order(tmp_path):
    cfg = write_config(tmp_path, CASE.format(det=0.5))
    p = run_cli(["rate", cfg, "--star", "--json"], ranks=2, timeout=120)
    assert p.returncode == 1
    err = [l for l in p.stderr.splitlines() if l.startswith("pjcsync")]
    assert len(err) == 1 and "diverged" in err[0] and "best order" in err[0]
    assert "Traceback" not in p.stderr
    out = json.loads(p.stdout)
    assert out["series"]["status"] == "diverged"


def test_cli_rate_bad_input_exits_2(tmp_path):
    cfg = write_config(tmp_path, CASE.format(det=-3.0))
    p = run_cli(["rate", cfg, "--set", "rate.max_order=-1"], timeout=60)
    assert p.returncode == 2 and "max_order" in p.stderr and "Traceback" not in p.stderr


def test_solve_rate_as_method_raises_when_diverged():
    from pjcsync.parallel import PjcsyncError, RowLayout
    from pjcsync.rate import solve_rate
    model = fig3(levels=10, det=0.5)
    layout = RowLayout.create(model.N)
    with pytest.raises(PjcsyncError, match="best order"):
        solve_rate(model, {"rtol": 1e-10}, layout, star=True)
    rho, info = solve_rate(model, {"rtol": 1e-10}, layout, star=True, allow_diverged=True)
    assert info["status"] == "diverged"
    arr = rho.getArray(readonly=True).reshape(model.N, model.N)
    assert abs(np.trace(arr) - 1) < 1e-12


@pytest.mark.parametrize("det", [-3.0, 4.0])
def test_star_equals_exact_two_qubits_fig12(det):
    """Fig. 12 with M = 2 (Delta = 1, 1.5; F = 0.77; gamma = gamma_s = 0.2) away from resonance."""
    model = make_model(8, 0.2, 0.2, 0.77, [1.0, 1.5], det)
    exact = exact_steady_state(model)
    series = rate_series(model.hamiltonian(), model.collapse_operators(), star=True)
    assert series.info["status"] == "converged", series.info["stop_reason"]
    assert np.abs(series.density_matrix() - exact).max() < 1e-8
