"""The Liouvillian gap (SLEPc shift-and-invert) against a dense eigendecomposition of a dense L
built here from scratch, at 1 and 2 ranks."""
from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import cli_json, model_text, run_cli, write_config
from reference import collapse, rwa_hamiltonian


def dense_liouvillian(nc, wr, F, gamma, Delta, lam, gs):
    """Column-stacking vectorization (independent of pjcsync's row-major one: same spectrum)."""
    H = rwa_hamiltonian(nc, Delta, lam, F, -wr)
    cs = collapse(nc, len(Delta), gamma, gs)
    I = np.eye(H.shape[0])
    # vec(A X B) = (B^T kron A) vec(X) for column stacking
    L = -1j * (np.kron(I, H) - np.kron(H.T, I))
    for c in cs:
        cdc = c.conj().T @ c
        L += np.kron(c.conj(), c) - 0.5 * (np.kron(I, cdc) + np.kron(cdc.T, I))
    return L


CASE = model_text(dict(levels=6, gamma=0.3, omega0=None, delta="1.0, -1.0", gamma_s=0.05, F=0.4, dw=0.3),
                  "[gap]\nnev = 6")


def reference(nev):
    w = np.linalg.eigvals(dense_liouvillian(6, -0.3, 0.4, 0.3, [1.0, -1.0], [1.0, 1.0], [0.05, 0.05]))
    w = w[np.argsort(np.abs(w))]
    assert abs(w[0]) < 1e-10 and abs(w[1]) > 1e-3      # one steady state
    return w[1:1 + nev]


@pytest.mark.parametrize("ranks", [1, 2])
def test_gap_matches_dense_eigenvalues(tmp_path, ranks):
    cfg = write_config(tmp_path, CASE)
    out = cli_json(["gap", cfg], ranks=ranks, timeout=180)
    got = np.array([complex(*z) for z in out["eigenvalues"]])
    ref = reference(10)
    assert len(got) == 6
    # compare as multisets: conjugate pairs share a modulus
    for z in got:
        assert np.min(np.abs(ref - z)) < 1e-8 * max(1, abs(z)), (z, ref)
    for z in ref[:4]:        # the slowest ones are all found
        assert np.min(np.abs(got - z)) < 1e-8
    assert np.all(np.diff(np.abs(got)) >= -1e-12)      # slowest (smallest modulus) first
    assert max(out["residuals"]) < 1e-8
    assert out["gap_modulus"] == pytest.approx(abs(ref[0]), rel=1e-9)
    assert out["relaxation_rate"] == pytest.approx(min(-got.real), rel=1e-12)
    assert out["zero_eigenvalues"] == 0 and out["ranks"] == ranks


def test_without_deflation_zero_is_found_and_excluded(tmp_path):
    cfg = write_config(tmp_path, CASE)
    out = cli_json(["gap", cfg, "--set", "gap.deflate=false", "--set", "gap.nev=3"])
    ref = reference(3)
    got = np.array([complex(*z) for z in out["eigenvalues"]])
    assert out["zero_eigenvalues"] == 1
    assert np.min(np.abs(got[0] - ref[:2])) < 1e-8


def test_options_database_reaches_the_st_solver(tmp_path):
    cfg = write_config(tmp_path, CASE)
    out = cli_json(["gap", cfg, "-st_pc_factor_mat_solver_type", "petsc", "--set", "gap.nev=2"])
    assert out["factorization"] == "petsc"
    assert out["gap_modulus"] == pytest.approx(abs(reference(1)[0]), rel=1e-9)


def test_bad_target_exits_2(tmp_path):
    cfg = write_config(tmp_path, CASE)
    p = run_cli(["gap", cfg, "--set", "gap.target=0"])
    assert p.returncode == 2 and "target" in p.stderr and "Traceback" not in p.stderr


def test_sylvester_preconditioned_solves_two_ranks(tmp_path):
    """[gap] solver = sylvester: GMRES with -(L0 + tau)^-1 (pjcsync.sylvester) instead of MUMPS."""
    cfg = write_config(tmp_path, CASE)
    out = cli_json(["gap", cfg, "--set", "gap.solver='sylvester'", "--set", "gap.nev=4"], ranks=2, timeout=180)
    assert out["ksp_type"] == "gmres" and out["pc_type"] == "python"
    ref = reference(10)
    got = np.array([complex(*z) for z in out["eigenvalues"]])
    for z in ref[:3]:
        assert np.min(np.abs(got - z)) < 1e-8
    assert max(out["residuals"]) < 1e-8
