"""The inverse of L0 (eqs. 10-13): exact against dense numpy references, at 1, 2 and 3 ranks.

References: G = iH + K/2 as a dense numpy matrix from the operators of tests/reference.py
(QuTiP-free Kronecker products, no pjcsync code), and the Sylvester residual
``G X + X G^+ + s X - C`` evaluated densely.
"""
from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import scipy.linalg as sla

import reference as ref
from conftest import run_mpi_script


def dense_problem(nc, gamma_s):
    """The script's model (Fig. 8: Delta = +-1, gamma = 0.3, F = 0.25, omega = omega_0) as dense
    G = iH + K/2, K = sum_k L_k^+ L_k, and its random right-hand side C (the same seed)."""
    H = ref.rwa_hamiltonian(nc, (1.0, -1.0), (1.0, 1.0), 0.25, 0.0)
    K = sum(c.conj().T @ c for c in ref.collapse(nc, 2, 0.3, (gamma_s, gamma_s)))
    G = 1j * H + 0.5 * K
    N = G.shape[0]
    rng = np.random.default_rng(7)
    C = rng.standard_normal((N, N)) + 1j * rng.standard_normal((N, N))
    return G, C


def sylvester_residual(G, X, C, s=0.0):
    """``||G X + X G^+ + s X - C||_F / ||C||_F``."""
    return np.linalg.norm(G @ X + X @ G.conj().T + s * X - C) / np.linalg.norm(C)


def _triangular_case(rng, m, n):
    """Upper-triangular A, B with moderate condition (off-diagonal entries ~ 1/sqrt(size))."""
    A = np.triu(rng.standard_normal((m, m)) + 1j * rng.standard_normal((m, m))) / np.sqrt(m) + 3 * np.eye(m)
    B = np.triu(rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))) / np.sqrt(n) + 3 * np.eye(n)
    F = rng.standard_normal((m, n)) + 1j * rng.standard_normal((m, n))
    return A, B, F


def test_triangular_sylvester_recursive_matches_kronecker():
    """The recursive solve (small blocks in pjcsync.trsyl) against a dense Kronecker solve
    (numpy's LU; LAPACK's trsyl is avoided, see pjcsync.trsyl) and by its residual."""
    from pjcsync.sylvester import solve_triangular_sylvester
    rng = np.random.default_rng(3)
    for m, n in ((7, 5), (30, 21)):
        A, B, F = _triangular_case(rng, m, n)
        K = np.kron(A, np.eye(n)) + np.kron(np.eye(m), B.conj())      # row-major vec(A Y + Y B^+)
        ref = np.linalg.solve(K, F.ravel()).reshape(m, n)
        Y = solve_triangular_sylvester(A, B, F.copy(), block=8)
        assert np.abs(Y - ref).max() / np.abs(ref).max() < 1e-12
    for m, n in ((130, 61), (200, 203)):
        A, B, F = _triangular_case(rng, m, n)
        Y = solve_triangular_sylvester(A, B, F.copy(), block=16)
        assert np.linalg.norm(A @ Y + Y @ B.conj().T - F) / np.linalg.norm(F) < 1e-13


@pytest.mark.parametrize("dtype, tol", [(np.complex128, 1e-13), (np.complex64, 1e-5)])
def test_small_triangular_kernel_and_fallback(monkeypatch, dtype, tol):
    """pjcsync.trsyl.solve_small (the C kernel) and its numpy fallback, both precisions, on
    contiguous and strided (sub-block) operands."""
    import pjcsync.trsyl as tr
    rng = np.random.default_rng(5)
    A, B, F = _triangular_case(rng, 50, 37)
    big = np.zeros((60, 60), dtype=complex)
    big[5:55, 5:55] = A
    for use_c in (True, False):
        if not use_c:
            monkeypatch.setattr(tr, "_LIB", False)
        Fd = F.astype(dtype)
        work = np.zeros((50, 80), dtype=dtype)
        work[:, 10:47] = Fd
        view = work[:, 10:47]                            # strided view, overwritten in place
        Y = tr.solve_small(big[5:55, 5:55].astype(dtype), B.astype(dtype), view)
        assert Y is view
        Yd = view.astype(complex)
        assert np.linalg.norm(A @ Yd + Yd @ B.conj().T - F) / np.linalg.norm(F) < tol
        assert np.all(work[:, :10] == 0) and np.all(work[:, 47:] == 0)


@pytest.mark.parametrize("use_c", [True, False])
def test_small_triangular_kernel_floor(monkeypatch, use_c):
    """``floor``: the components of Y below it are zero, the others those of the solve without
    it (a column depends only on the columns right of it; here F's columns left of the last are
    zero, so the last column is solved alone and its small components cannot change the rest)."""
    import pjcsync.trsyl as tr
    if not use_c:
        monkeypatch.setattr(tr, "_LIB", False)
    rng = np.random.default_rng(6)
    A, B, _ = _triangular_case(rng, 30, 20)
    A, B = A.astype(np.complex64), B.astype(np.complex64)
    F = np.zeros((30, 20), dtype=np.complex64)
    F[:, -1] = (rng.standard_normal(30) + 1j * rng.standard_normal(30)) * np.logspace(0, -40, 30)
    ref = tr.solve_small(A, B, F.copy())
    floor = 1e-20
    got = tr.solve_small(A, B, F.copy(), floor)
    r, g = (np.ascontiguousarray(y[:, -1]).view(np.float32) for y in (ref, got))
    small = np.abs(r) < floor
    assert small.any() and (~small).any()
    assert np.all(g[small] == 0)
    big = np.abs(r) > 1e-10
    assert np.allclose(g[big], r[big], rtol=1e-4)


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
    G, C = dense_problem(6, 3e-3)
    for kind in ("eigen", "schur", "auto"):
        for s in (0.0, 0.7j, 0.2 - 1.3j):
            assert sylvester_residual(G, np.array(res[f"{kind} {s}"]), C, s) < 1e-12, (kind, s)
    assert res["schur chosen"][0] == "schur" and res["eigen chosen"][0] == "eigen"


@pytest.mark.parametrize("ranks", [2, 3])
def test_split_triangular_solve(tmp_path, ranks):
    """N = 264 with the default block size: the distributed triangular solve on 2 and 3 ranks
    (more ranks and smaller blocks: tests/test_sylvester_parallel.py)."""
    script = tmp_path / "s.py"
    script.write_text(SCRIPT)
    out = tmp_path / "res.npy"
    p = run_mpi_script(script, ranks, ["66", "3e-3", out, "schur"], timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    res = np.load(out, allow_pickle=True).item()
    G, C = dense_problem(66, 3e-3)
    for s in (0.0, 0.7j, 0.2 - 1.3j):
        assert sylvester_residual(G, np.array(res[f"schur {s}"]), C, s) < 1e-12, s


def test_auto_picks_schur_at_fig8_resonance(tmp_path):
    """Fig. 8's resonance with gamma_s = 3e-4: cond(V) is huge, auto -> Schur,
    and the Schur inverse stays exact where the eigenvector inverse does not."""
    script = tmp_path / "s.py"
    script.write_text(SCRIPT)
    out = tmp_path / "res.npy"
    p = run_mpi_script(script, 1, ["20", "3e-4", out], timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    res = np.load(out, allow_pickle=True).item()
    kind, cond = res["auto chosen"]
    assert kind == "schur" and cond > 1e5
    G, C = dense_problem(20, 3e-4)
    assert sylvester_residual(G, np.array(res["schur 0.0"]), C) < 1e-12
    assert sylvester_residual(G, np.array(res["eigen 0.0"]), C) > 1e-11


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
