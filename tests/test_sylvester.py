"""The inverse of L0 (eqs. 10-13): exact against dense numpy references, at 1, 2 and 3 ranks.

References are built here from scratch: G = iH + K/2 as a dense numpy matrix from QuTiP-free
Kronecker products, and the Sylvester residual ``G X + X G^+ + s X - C`` evaluated densely.
"""
from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import scipy.linalg as sla

from conftest import run_mpi_script

def dense_G(nc, detunings, gamma, gamma_s, F, wr=0.0, lam=1.0):
    """G = iH + K/2 for the RWA model of eq. (3), built independently of pjcsync."""
    M = len(detunings)
    a1 = np.diag(np.sqrt(np.arange(1, nc)), 1)
    sm1 = np.array([[0, 0], [1, 0]], dtype=complex)       # |down><up|, 0 = up
    sz1 = np.diag([1.0, -1.0])

    def emb(op, site):
        mats = [np.eye(nc)] + [np.eye(2)] * M
        mats[site] = op
        out = mats[0]
        for m in mats[1:]:
            out = np.kron(out, m)
        return out

    a = emb(a1, 0)
    H = wr * a.conj().T @ a + F * (a + a.conj().T)
    K = gamma * a.conj().T @ a
    for l, d in enumerate(detunings):
        sm = emb(sm1, l + 1)
        H = H + lam * (a @ sm.conj().T + a.conj().T @ sm) + 0.5 * (d + wr) * emb(sz1, l + 1)
        K = K + gamma_s * sm.conj().T @ sm
    return 1j * H + 0.5 * K


def test_triangular_sylvester_recursive_matches_scipy():
    from pjcsync.sylvester import solve_triangular_sylvester
    rng = np.random.default_rng(3)
    for m, n in ((7, 5), (130, 61), (200, 203)):
        A = np.triu(rng.standard_normal((m, m)) + 1j * rng.standard_normal((m, m))) + 3 * np.eye(m)
        B = np.triu(rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))) + 3 * np.eye(n)
        F = rng.standard_normal((m, n)) + 1j * rng.standard_normal((m, n))
        ref = sla.solve_sylvester(A, B.conj().T, F)
        Y = solve_triangular_sylvester(A, B, F.copy(), block=16)
        assert np.abs(Y - ref).max() / np.abs(ref).max() < 1e-12


SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import petsc4py; petsc4py.init()
    from mpi4py import MPI
    from pjcsync.model import Model
    from pjcsync.parallel import RowLayout
    from pjcsync.sylvester import SylvesterInverse
    nc, gs, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    kinds = sys.argv[4].split(",") if len(sys.argv) > 4 else ["eigen", "schur", "auto"]
    m = Model(levels=nc, gamma=0.3, detunings=(1.0, -1.0), couplings=(1.0, 1.0), gamma_s=(gs, gs),
              amplitude=0.25, drive_detuning=0.0)
    lay = RowLayout.create(m.N)
    rng = np.random.default_rng(7)
    C = rng.standard_normal((m.N, m.N)) + 1j * rng.standard_normal((m.N, m.N))
    res = {}
    for kind in kinds:
        S = SylvesterInverse(m.hamiltonian(), m.collapse_operators(), lay, kind=kind, shift=0.0)
        for s in (0.0, 0.7j, 0.2 - 1.3j):
            X = S.apply(C[lay.i0:lay.i1], shift=s)
            full = lay.comm.gather(X, root=0)
            if lay.comm.rank == 0:
                res[f"{kind} {s}"] = np.concatenate(full).tolist()
        res[f"{kind} chosen"] = [S.kind, S.cond_V]
    if lay.comm.rank == 0:
        np.save(out, {k: v for k, v in res.items()}, allow_pickle=True)
""")


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_inverse_is_exact_on_random_C(tmp_path, ranks):
    """L0(L0^-1 C) + s X = C to 1e-12 (relative), both decompositions, complex shifts."""
    script = tmp_path / "s.py"
    script.write_text(SCRIPT)
    out = tmp_path / "res.npy"
    p = run_mpi_script(script, ranks, ["6", "3e-3", out], timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    res = np.load(out, allow_pickle=True).item()
    G = dense_G(6, (1.0, -1.0), 0.3, 3e-3, 0.25)
    N = G.shape[0]
    rng = np.random.default_rng(7)
    C = rng.standard_normal((N, N)) + 1j * rng.standard_normal((N, N))
    for kind in ("eigen", "schur", "auto"):
        for s in (0.0, 0.7j, 0.2 - 1.3j):
            X = np.array(res[f"{kind} {s}"])
            R = G @ X + X @ G.conj().T + s * X - C
            assert np.linalg.norm(R) / np.linalg.norm(C) < 1e-12, (kind, s)
    assert res["schur chosen"][0] == "schur" and res["eigen chosen"][0] == "eigen"


@pytest.mark.parametrize("ranks", [2, 3])
def test_split_triangular_solve(tmp_path, ranks):
    """N = 136 >= 2 * SPLIT_MIN: rank 1 solves a quarter of the triangular equation."""
    script = tmp_path / "s.py"
    script.write_text(SCRIPT)
    out = tmp_path / "res.npy"
    p = run_mpi_script(script, ranks, ["34", "3e-3", out, "schur"], timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    res = np.load(out, allow_pickle=True).item()
    G = dense_G(34, (1.0, -1.0), 0.3, 3e-3, 0.25)
    N = G.shape[0]
    rng = np.random.default_rng(7)
    C = rng.standard_normal((N, N)) + 1j * rng.standard_normal((N, N))
    for s in (0.0, 0.7j, 0.2 - 1.3j):
        X = np.array(res[f"schur {s}"])
        assert np.linalg.norm(G @ X + X @ G.conj().T + s * X - C) / np.linalg.norm(C) < 1e-12


def test_auto_picks_schur_at_fig8_resonance(tmp_path):
    """Fig. 8's resonance with gamma_s = 3e-4: cond(V) is huge (DESIGN section 2), auto -> Schur,
    and the Schur inverse stays exact where the eigenvector inverse does not."""
    script = tmp_path / "s.py"
    script.write_text(SCRIPT)
    out = tmp_path / "res.npy"
    p = run_mpi_script(script, 1, ["20", "3e-4", out], timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    res = np.load(out, allow_pickle=True).item()
    kind, cond = res["auto chosen"]
    assert kind == "schur" and cond > 1e5
    G = dense_G(20, (1.0, -1.0), 0.3, 3e-4, 0.25)
    N = G.shape[0]
    rng = np.random.default_rng(7)
    C = rng.standard_normal((N, N)) + 1j * rng.standard_normal((N, N))
    X = np.array(res["schur 0.0"])
    assert np.linalg.norm(G @ X + X @ G.conj().T - C) / np.linalg.norm(C) < 1e-12
    X = np.array(res["eigen 0.0"])
    assert np.linalg.norm(G @ X + X @ G.conj().T - C) / np.linalg.norm(C) > 1e-11


def test_pc_from_options_database(tmp_path, fig8_small):
    """-pc_type python -pc_python_type pjcsync.sylvester.L0PC works from the command line, and
    switching the preconditioner off costs many more iterations."""
    from conftest import cli_json
    base = ["steady", fig8_small, "--set", "cavity.levels=6", "--set", "solver.method=krylov"]
    a = cli_json(base + ["-pc_type", "python", "-pc_python_type", "pjcsync.sylvester.L0PC",
                         "-pjcsync_pc_kind", "schur"])
    b = cli_json(base)
    c = cli_json(base + ["-pjcsync_pc", "none", "--set", "solver.max_iterations=5000"])
    assert a["solver"]["iterations"] == b["solver"]["iterations"] < 60
    assert c["solver"]["iterations"] > 3 * b["solver"]["iterations"]
    assert abs(a["observables"]["n"] - c["observables"]["n"]) < 1e-8
