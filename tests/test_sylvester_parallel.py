"""The distributed triangular solve (every rank works on its columns of Y) and the
single-precision inverse of L0.

Checked against the Sylvester residual ``G X + X G^+ + s X - C`` built densely from the
independent operators of :mod:`reference`, at 1, 2, 3, 4 and 8 ranks (oversubscribed)."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

import reference as ref
from conftest import run_mpi_script

MODEL = dict(levels=34, detunings=(1.0, -1.0), couplings=(1.0, 1.0), gamma=0.3, gamma_s=(3e-3, 3e-3),
             F=0.25)

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import petsc4py; petsc4py.init()
    import pjcsync.sylvester as sy
    from pjcsync.model import Model
    from pjcsync.parallel import RowLayout
    block, precision, kind, out, levels = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    scale = float(sys.argv[6])
    sy.WAVE_BLOCK = block
    m = Model(levels=levels, gamma=0.3, detunings=(1.0, -1.0), couplings=(1.0, 1.0), gamma_s=(3e-3, 3e-3),
              amplitude=0.25, drive_detuning=0.0)
    lay = RowLayout.create(m.N)
    rng = np.random.default_rng(11)
    C = rng.standard_normal((m.N, m.N)) + 1j * rng.standard_normal((m.N, m.N))
    S = sy.SylvesterInverse(m.hamiltonian(), m.collapse_operators(), lay, kind=kind, precision=precision)
    res = {"kind": S.kind, "blocks": len(S._edges) - 1, "precision": S.report()["precision"]}
    for s in (0.0, 0.2 - 1.3j):
        X = S.apply(scale * C[lay.i0:lay.i1], shift=s)
        assert X.dtype == np.complex128
        # the same again, bit for bit: the result does not depend on the order messages arrive
        assert np.array_equal(S.apply(scale * C[lay.i0:lay.i1], shift=s), X)
        X = X / scale
        full = lay.comm.gather(X, root=0)
        if lay.comm.rank == 0:
            res[str(s)] = np.concatenate(full)
    if lay.comm.rank == 0:
        np.save(out, res, allow_pickle=True)
""")


def _run(tmp_path, ranks, block, precision, kind, levels=MODEL["levels"], scale=1.0):
    script = tmp_path / "s.py"
    script.write_text(SCRIPT)
    out = tmp_path / "res.npy"
    p = run_mpi_script(script, ranks, [str(block), precision, kind, out, str(levels), repr(scale)], timeout=240)
    assert p.returncode == 0, p.stderr[-2000:]
    return np.load(out, allow_pickle=True).item()


def _relative_residuals(res, levels=MODEL["levels"]):
    M = len(MODEL["detunings"])
    H = ref.rwa_hamiltonian(levels, MODEL["detunings"], MODEL["couplings"], MODEL["F"], 0.0)
    c_ops = ref.collapse(levels, M, MODEL["gamma"], MODEL["gamma_s"])
    G = 1j * H + 0.5 * sum(c.conj().T @ c for c in c_ops)
    N = G.shape[0]
    rng = np.random.default_rng(11)
    C = rng.standard_normal((N, N)) + 1j * rng.standard_normal((N, N))
    out = {}
    for s in (0.0, 0.2 - 1.3j):
        X = res[str(s)]
        out[s] = np.linalg.norm(G @ X + X @ G.conj().T + s * X - C) / np.linalg.norm(C)
    return out


@pytest.mark.parametrize("ranks", [1, 2, 3, 4, 8])
def test_distributed_triangular_solve_is_exact(tmp_path, ranks):
    """Blocks of about 16 at N = 136: 8 blocks a side at 2 and 4 ranks, 6 at 3, 16 at 8 (an
    even number of blocks per rank, at least 2), so the wavefront runs over many blocks; the
    inverse is exact to 1e-12 with and without a shift (1 rank: the serial recursive solve)."""
    res = _run(tmp_path, ranks, 16, "double", "schur")
    assert res["kind"] == "schur"
    assert res["blocks"] == {1: 1, 2: 8, 3: 6, 4: 8, 8: 16}[ranks]
    for s, r in _relative_residuals(res).items():
        assert r < 1e-12, (s, r)


@pytest.mark.parametrize("ranks", [4, 8])
def test_distributed_single_precision(tmp_path, ranks):
    """The wavefront in complex64: exact to single precision at 4 and 8 ranks."""
    res = _run(tmp_path, ranks, 16, "single", "schur")
    assert res["kind"] == "schur" and res["precision"] == "single"
    for s, r in _relative_residuals(res).items():
        assert 1e-10 < r < 1e-4, (s, r)


@pytest.mark.parametrize("ranks", [1, 2, 3])
@pytest.mark.parametrize("kind,levels", [("schur", 34), ("eigen", 8), ("auto", 8), ("auto", 34)])
def test_single_precision_inverse(tmp_path, ranks, kind, levels):
    """complex64 factors: the inverse holds to single precision (not to double: the test of the
    precision itself), with complex128 in and out.  The eigen route is well conditioned only at
    8 levels (cond(V) ~ 1e2; 4e9 at 34 levels, where auto must pick Schur)."""
    res = _run(tmp_path, ranks, 16, "single", kind, levels)
    assert res["precision"] == "single"
    assert res["kind"] == {"auto": "eigen" if levels == 8 else "schur"}.get(kind, kind)
    for s, r in _relative_residuals(res, levels).items():
        assert 1e-10 < r < 1e-4, (s, r)


@pytest.mark.parametrize("ranks", [1, 2, 3])
@pytest.mark.parametrize("kind,levels", [("schur", 34), ("eigen", 8)])
def test_single_precision_inverse_of_a_tiny_right_hand_side(tmp_path, ranks, kind, levels):
    """A right-hand side of norm 1e-42, below the smallest normal float (1.2e-38), as the
    residual of a nearly converged solve has in its Fock tail: the inverse is scaled into the
    float range, so it holds to single precision (cast as it is, C would lose most digits or
    vanish, and single-precision GEMMs on subnormal numbers are 10-100 times slower)."""
    res = _run(tmp_path, ranks, 16, "single", kind, levels, scale=1e-42)
    for s, r in _relative_residuals(res, levels).items():
        assert 1e-10 < r < 1e-4, (s, r)


@pytest.mark.parametrize("ranks", [1, 2])
def test_krylov_with_single_precision_preconditioner(fig8_small, ranks):
    """The steady state with a complex64 L0^-1 (flexible GMRES) is the double-precision one: it
    matches the direct solve to 1e-9 and its residual reaches rtol = 1e-10."""
    from conftest import cli_json
    direct = cli_json(["steady", fig8_small, "--set", 'solver.method="direct"'], ranks)
    single = cli_json(["steady", fig8_small, "--set", 'solver.method="krylov"',
                       "--set", 'solver.preconditioner_precision="single"'], ranks)
    assert single["solver"]["ksp_type"] == "fgmres"
    assert single["solver"]["preconditioner"]["precision"] == "single"
    assert single["solver"]["relative_residual"] < 1e-10
    for key in ("n", "Sz", "S2", "negativity"):
        if key in direct["observables"]:
            assert abs(np.asarray(single["observables"][key]) - np.asarray(direct["observables"][key])).max() < 1e-9, key


def test_single_precision_is_refused_for_the_fixed_point(fig8_small):
    from conftest import run_cli
    p = run_cli(["steady", fig8_small, "--set", 'solver.method="sylvester"',
                 "--set", 'solver.preconditioner_precision="single"'])
    assert p.returncode == 2 and "preconditioner_precision" in p.stderr and "Traceback" not in p.stderr


def test_single_precision_needs_a_flexible_ksp(fig8_small):
    """BiCGStab with an inexact preconditioner would assemble a solution whose true residual
    is not the monitored one: refused up front, with the flexible alternatives named."""
    from conftest import run_cli
    p = run_cli(["steady", fig8_small, "--set", 'solver.method="krylov"',
                 "--set", 'solver.preconditioner_precision="single"', "-ksp_type", "bcgs"])
    assert p.returncode == 2 and "fbcgs" in p.stderr and "Traceback" not in p.stderr
