"""The semiclassical functional (eqs. 31, 35-41) and its minimization, checked against
independent references: a dense truncated ||L(rho)||^2 built here from scratch, the paper's
closed forms (eqs. 35, 36, 38-40), finite differences, and QuTiP's exact RWA steady state."""
from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np
import pytest

from conftest import cli_json, model_text, run_cli, write_config
from reference import collapse, lindblad_map, rwa_hamiltonian
from pjcsync import semiclassical as sc
from pjcsync.model import Model


# --- independent dense reference -------------------------------------------------------------

def dense_S(nc, wr, F, gamma, Delta, lam, gs, alpha, b):
    """||L(rho)||_F^2 for the ansatz (41) in a truncated Fock space (dense reference)."""
    M = len(Delta)
    H = rwa_hamiltonian(nc, Delta, lam, F, -wr)
    cs = collapse(nc, M, gamma, gs)
    paulis = [np.array([[0, 1], [1, 0]], complex), np.array([[0, -1j], [1j, 0]]), np.diag([1.0, -1.0])]
    n = np.arange(nc)
    coh = np.exp(-abs(alpha) ** 2 / 2) * np.array([alpha ** k / math.sqrt(math.factorial(k)) for k in n])
    rho = np.outer(coh, coh.conj())
    for l in range(M):
        rho = np.kron(rho, 0.5 * (np.eye(2) + sum(b[l][i] * paulis[i] for i in range(3))))
    Lr = lindblad_map(H, cs, rho)
    return float(np.vdot(Lr, Lr).real)


def params(wr, F, gamma, Delta, lam, gs):
    Delta = np.asarray(Delta, float)
    return sc.Params(omega_r=wr, F=F, gamma=gamma, Omega=Delta + wr, lam=np.asarray(lam, float),
                     gs=np.asarray(gs, float))


@pytest.mark.parametrize("M", [1, 2, 3])
def test_functional_equals_truncated_norm(M):
    rng = np.random.default_rng(10 + M)
    Delta, lam, gs = rng.normal(size=M), rng.uniform(0.5, 1.5, M), rng.uniform(0, 1, M)
    wr, F, gamma = 0.37, 0.8, 0.6
    alpha = complex(*rng.normal(size=2))
    b = rng.normal(size=(M, 3))
    b *= rng.uniform(0.2, 1.0, (M, 1)) / np.linalg.norm(b, axis=1, keepdims=True)
    ref = dense_S(40, wr, F, gamma, Delta, lam, gs, alpha, b)
    got = sc.functional(params(wr, F, gamma, Delta, lam, gs), alpha, b)
    assert abs(got - ref) <= 1e-12 * ref


def eq35(wr, F, g, ax, ay):
    return 2 * (F ** 2 + 2 * F * ax * wr + (ax ** 2 + ay ** 2) * wr ** 2) + 2 * F * ay * g + g ** 2 * (ax ** 2 + ay ** 2) / 2


def test_bare_cavity_eq35_and_eq36():
    rng = np.random.default_rng(3)
    for _ in range(5):
        wr, F, g = rng.normal(), rng.uniform(0.1, 2), rng.uniform(0.1, 2)
        ax, ay = rng.normal(size=2)
        p = params(wr, F, g, [], [], [])
        got = sc.functional(p, complex(ax, ay), np.zeros((0, 3)))
        assert got == pytest.approx(eq35(wr, F, g, ax, ay), rel=1e-13, abs=1e-13)
        # eq. (36): the exact steady state, S = 0
        d = g ** 2 + 4 * wr ** 2
        a36 = complex(-4 * F * wr / d, -2 * F * g / d)
        assert abs(sc.functional(p, a36, np.zeros((0, 3)))) < 1e-13 * F ** 2
        assert sc.bare_cavity_alpha(p) == pytest.approx(a36, abs=1e-15)
        # and the minimizer finds it from its default starts
        res = sc.minimize(p, {"starts": 3})
        assert abs(res.best.alpha - a36) < 1e-6 * (1 + abs(a36)) and res.best.S < 1e-12


def eq38(wr, F, g, Om, lam, gs, ax, ay, bx, by, bz):
    """Eqs. (38)-(40) as printed in the paper, one qubit (Omega = Omega_r)."""
    S0 = eq35(wr, F, g, ax, ay)
    Sl = (2 * lam * (F * bx + (ax * bx - ay * by) * (wr - bz * Om)) + g * lam * (ay * bx + ax * by)
          + lam ** 2 / 2 * (4 * bz ** 2 * (ax ** 2 + ay ** 2) + (4 * ax ** 2 + 1) * by ** 2
                            + 8 * ax * ay * bx * by + (4 * ay ** 2 + 1) * bx ** 2 + (bz + 1) ** 2))
    Sg = gs ** 2 * (bx ** 2 + by ** 2 + 4 * (1 + bz) ** 2) / 8 - gs * lam * (ay * bx + ax * by) * (2 + bz)
    return (1 + bx ** 2 + by ** 2 + bz ** 2) / 2 * S0 + Om ** 2 * (bx ** 2 + by ** 2) / 2 + Sl + Sg


def test_one_qubit_equals_eqs_38_40():
    rng = np.random.default_rng(4)
    for _ in range(6):
        wr, F, g, D, lam, gs = rng.normal(), rng.uniform(0.1, 2), rng.uniform(0.1, 2), rng.normal(), \
            rng.uniform(0.5, 2), rng.uniform(0, 2)
        ax, ay = rng.normal(size=2)
        bvec = rng.uniform(-0.6, 0.6, 3)
        got = sc.functional(params(wr, F, g, [D], [lam], [gs]), complex(ax, ay), bvec[None])
        ref = eq38(wr, F, g, D + wr, lam, gs, ax, ay, *bvec)
        assert got == pytest.approx(ref, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("M", [1, 3, 7])
def test_gradient_matches_finite_differences(M):
    rng = np.random.default_rng(20 + M)
    p = params(rng.normal(), 0.9, 0.5, rng.normal(size=M), rng.uniform(0.5, 1.5, M), rng.uniform(0, 1, M))
    alpha = complex(*rng.normal(size=2))
    b = rng.uniform(-0.5, 0.5, (M, 3))
    S, dax, day, db = sc.functional(p, alpha, b, gradient=True)
    h = 1e-6
    fd = lambda da, dbb: (sc.functional(p, alpha + da, b + dbb) - sc.functional(p, alpha - da, b - dbb)) / (2 * h)
    scale = max(1.0, abs(S))
    assert abs(dax - fd(h, 0)) < 1e-6 * scale
    assert abs(day - fd(1j * h, 0)) < 1e-6 * scale
    for l in range(M):
        for i in range(3):
            e = np.zeros_like(b)
            e[l, i] = h
            assert abs(db[l, i] - fd(0, e)) < 1e-6 * scale


def test_minimum_is_stationary_and_in_the_ball():
    m = Model(levels=10, gamma=0.3, detunings=(2.0,), couplings=(1.0,), gamma_s=(0.3,),
              amplitude=1.0, drive_detuning=1.0)
    res = sc.minimize(m, {"starts": 6, "seed": 5})
    p = sc.Params.from_model(m)
    for mn in res.minima:
        assert np.all(np.linalg.norm(mn.b, axis=1) <= 1 + 1e-12)
        # no random perturbation inside the ball lowers S
        rng = np.random.default_rng(0)
        for _ in range(20):
            db = rng.normal(size=mn.b.shape) * 1e-4
            b2 = mn.b + db
            if np.all(np.linalg.norm(b2, axis=1) <= 1):
                assert sc.functional(p, mn.alpha + complex(*rng.normal(size=2)) * 1e-4, b2) >= mn.S * (1 - 1e-9)
    assert [m.S for m in res.minima] == sorted(m.S for m in res.minima)


# --- against the exact RWA steady state (QuTiP) ------------------------------------------------

def qutip_exact(nc, wr, F, gamma, Delta, lam, gs):
    qt = pytest.importorskip("qutip")
    M = len(Delta)
    a = qt.tensor(qt.destroy(nc), *[qt.qeye(2)] * M)

    def q(op, l):
        return qt.tensor(qt.qeye(nc), *[op if k == l else qt.qeye(2) for k in range(M)])
    H = wr * a.dag() * a + F * (a + a.dag())
    for l in range(M):
        H += lam[l] * (a * q(qt.sigmap(), l) + a.dag() * q(qt.sigmam(), l)) + 0.5 * (Delta[l] + wr) * q(qt.sigmaz(), l)
    c = [np.sqrt(gamma) * a] + [np.sqrt(gs[l]) * q(qt.sigmam(), l) for l in range(M)]
    r = qt.steadystate(H, c)
    return complex(qt.expect(a, r)), np.array([[qt.expect(q(s, l), r) for s in (qt.sigmax(), qt.sigmay(), qt.sigmaz())]
                                               for l in range(M)])


def test_fig5_strong_damping_agrees_with_exact_rwa():
    """Fig. 5 (F = 1): gamma = gamma_s = 2, Delta = (2, -1).  The paper shows the semiclassical
    spins on top of the RWA ones; measured max deviation of any Bloch component over
    omega - omega_0 in [-6, 6]: 0.043 (F = 1, 41 points; 0.17 at F = 5)."""
    m = Model(levels=12, gamma=2.0, detunings=(2.0, -1.0), couplings=(1.0, 1.0), gamma_s=(2.0, 2.0),
              amplitude=1.0, drive_detuning=0.0)
    ws = [-3.0, 0.0, 1.5, 3.0]
    res = sc.sweep(m, ws, {"starts": 4})
    worst = 0.0
    for w, r in zip(ws, res):
        a_ex, b_ex = qutip_exact(12, -w, 1.0, 2.0, [2.0, -1.0], [1.0, 1.0], [2.0, 2.0])
        worst = max(worst, np.abs(r.best.b - b_ex).max())
        assert abs(r.best.alpha - a_ex) < 0.05
    assert worst < 0.08


def test_sweep_both_ways_keeps_the_lowest_minimum_of_either_direction():
    """Fig. 11, M = 1 (Delta = 1, F = 0.77, gamma = gamma_s = 0.2) past x = 1.4 where a second,
    lower minimum appears.  Reference: one point minimized from 40 fresh starts.  A forward sweep
    with 3 fresh starts per point follows the upper branch at x = 1.5; the backward pass must
    bring the lower one back."""
    m = Model(levels=2, gamma=0.2, detunings=(1.0,), couplings=(1.0,), gamma_s=(0.2,), amplitude=0.77,
              drive_detuning=0.0)
    xs = np.linspace(1.2, 1.6, 17)
    at = int(np.argmin(abs(xs - 1.5)))
    ref = sc.minimize(replace(m, drive_detuning=1.5), {"starts": 40})
    forward = sc.sweep(m, xs, {"starts": 3, "both_ways": False})
    both = sc.sweep(m, xs, {"starts": 3})
    assert forward[at].best.S > 1.1 * ref.best.S          # the situation this guards against
    assert both[at].best.S == pytest.approx(ref.best.S, rel=1e-6)
    assert np.allclose(both[at].best.b, ref.best.b, atol=1e-4)
    for f, b in zip(forward, both):                       # never worse than the forward pass
        assert b.best.S <= f.best.S * (1 + 1e-9)
        assert b.extra["drive_detuning"] == f.extra["drive_detuning"]


# --- the command ------------------------------------------------------------------------------

FIG5 = model_text(dict(levels=12, gamma=2.0, omega0=None, delta="2.0, -1.0", gamma_s=2.0, F=1.0, dw=0.5),
                  "[semiclassical]\nstarts = 4")


@pytest.mark.parametrize("ranks", [1, 2])
def test_cli_json_and_error_bound(tmp_path, ranks):
    cfg = write_config(tmp_path, FIG5)
    out = cli_json(["semiclassical", cfg], ranks=ranks, timeout=240)
    for key in ("alpha", "bloch", "Sx", "S_min", "epsilon", "minima", "bistable", "error_bound",
                "lambda_1", "distance", "perp_norm"):
        assert key in out, key
    assert len(out["bloch"]) == 2 and len(out["alpha"]) == 2
    assert out["epsilon"] == pytest.approx(math.sqrt(out["S_min"]))
    assert out["Sx"] == pytest.approx(sum(b[0] for b in out["bloch"]) / 2)
    # S of the reported minimum, recomputed independently
    S = dense_S(40, -0.5, 1.0, 2.0, [2.0, -1.0], [1.0, 1.0], [2.0, 2.0], complex(*out["alpha"]), out["bloch"])
    assert out["S_min"] == pytest.approx(S, rel=1e-9)
    # Appendix A.3 at strong damping: |rho_perp| <= epsilon / |lambda_1|; the truncated ||L rho_s||
    # equals epsilon (12 levels suffice for |alpha|^2 ~ 0.4)
    assert out["perp_norm"] <= out["error_bound"]
    assert out["epsilon_truncated"] == pytest.approx(out["epsilon"], rel=1e-6)
    assert out["error_bound"] == pytest.approx(out["epsilon"] / math.hypot(*out["lambda_1"]))
    a_ex, b_ex = qutip_exact(12, -0.5, 1.0, 2.0, [2.0, -1.0], [1.0, 1.0], [2.0, 2.0])
    assert np.allclose(out["exact"]["bloch"], b_ex, atol=1e-8)


def test_cli_sweep_and_no_bound(tmp_path):
    cfg = write_config(tmp_path, FIG5)
    out = cli_json(["semiclassical", cfg, "--set", "semiclassical.sweep=[-1.0, 0.0, 1.0]",
                    "--set", "semiclassical.error_bound='never'"])
    assert [p["drive_detuning"] for p in out["sweep"]] == [-1.0, 0.0, 1.0]
    assert all("error_bound" not in p and p["epsilon"] > 0 for p in out["sweep"])


def test_cli_bad_input_exits_2(tmp_path):
    cfg = write_config(tmp_path, FIG5)
    for bad in ("semiclassical.starts=0", "semiclassical.functional='best'", "semiclassical.nope=1"):
        p = run_cli(["semiclassical", cfg, "--set", bad])
        assert p.returncode == 2 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr


# --- bistability --------------------------------------------------------------------------------

def test_bistability_where_the_sx_branches_cross():
    """Fig. 6's lowest damping (one qubit, gamma = 0.3, gamma_s = 0, F = 1): between
    omega - omega_0 = 2 and 2.5 the semiclassical <S_x> reverses (the paper's 'reversal'); in between
    two distinct local minima with opposite b_x compete (Appendix A.3's bistability)."""
    m = Model(levels=10, gamma=0.3, detunings=(2.0,), couplings=(1.0,), gamma_s=(0.0,),
              amplitude=1.0, drive_detuning=2.25)
    p = sc.Params.from_model(m)
    res = sc.minimize(m, {"starts": 8})
    assert res.bistable and len(res.minima) == 2
    lo, hi = res.minima
    assert lo.S <= hi.S <= 2 * lo.S
    assert lo.b[0, 0] * hi.b[0, 0] < 0 and abs(lo.b[0, 0] - hi.b[0, 0]) > 0.5
    rng = np.random.default_rng(1)
    for mn in res.minima:       # both stationary and minima (no nearby point is lower)
        _, dax, day, db = sc.functional(p, mn.alpha, mn.b, gradient=True)
        assert max(abs(dax), abs(day), np.abs(db).max()) < 1e-6
        for _ in range(20):
            d = rng.normal(size=4) * 1e-3
            assert sc.functional(p, mn.alpha + complex(d[0], 0), mn.b + d[1:]) >= mn.S
    assert not sc.minimize(replace(m, drive_detuning=2.6), {"starts": 8}).bistable
    assert not sc.is_bistable(res.minima, 1.0, floor=0.0)     # ratio 1: only exact ties


# --- many qubits ----------------------------------------------------------------------------------

def test_hundred_qubits_sweep_runs_in_seconds():
    """M = 100 detuned qubits (Delta spread over [1, 2.5], Fig. 11's rates and drive): a warm-started
    sweep of 6 points in seconds; |<S_x>| peaks well beyond the four-qubit value."""
    M = 100
    m = Model(levels=2, gamma=0.2, detunings=tuple(np.linspace(1.0, 2.5, M)), couplings=(1.0,) * M,
              gamma_s=(0.2,) * M, amplitude=0.77, drive_detuning=0.0)
    t0 = time.perf_counter()
    res = sc.sweep(m, np.linspace(-12.0, -7.0, 6), {"starts": 2, "functional": "relative"})
    seconds = time.perf_counter() - t0
    assert seconds < 60
    sx = [abs(r.as_dict()["Sx"]) for r in res]
    assert max(sx) > 2.0
