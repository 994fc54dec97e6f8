"""QuTiP interop (issue 3, item 4): dims, the row-major/column-stacking reordering of
vectorized states and superoperators, and a distributed steady state converted at 2 ranks."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

warnings.filterwarnings("ignore", message="matplotlib not found")
qutip = pytest.importorskip("qutip")

from conftest import ROOT, _env, run_mpi_script  # noqa: E402
import reference  # noqa: E402


def small_model():
    from pjcsync.model import Model
    return Model(levels=4, gamma=0.3, detunings=(1.0, -0.5), couplings=(1.0, 0.7),
                 gamma_s=(0.05, 0.1), amplitude=0.3, drive_detuning=0.2)


def qutip_model(levels=4, deltas=(1.0, -0.5), lams=(1.0, 0.7), gs=(0.05, 0.1), F=0.3, det=0.2, gamma=0.3):
    """The same model written directly in QuTiP (eq. 3, eq. 5)."""
    return reference.qutip_model(levels, deltas, lams, gs, F, det, gamma)


def test_import_is_light():
    code = ("import sys, pjcsync; heavy = [m for m in ('petsc4py', 'qutip', 'h5py', 'mpi4py') if m in sys.modules]; "
            "assert not heavy, heavy; assert callable(pjcsync.to_qutip) and callable(pjcsync.from_qutip); "
            "assert callable(pjcsync.load); print('ok')")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=120)
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr


def test_operators_have_the_right_dims_and_values():
    import pjcsync
    m = small_model()
    H, c_ops, a, on = qutip_model()
    qa = pjcsync.to_qutip(m.a, model=m)
    assert qa.dims == [[4, 2, 2], [4, 2, 2]]
    assert (qa - a).norm() < 1e-14
    assert (pjcsync.to_qutip(m.sm[1], model=m) - on(qutip.sigmam(), 1)).norm() < 1e-14
    assert (pjcsync.to_qutip(m.hamiltonian(), model=m) - H).norm() < 1e-12
    back = pjcsync.from_qutip(H)
    assert isinstance(back, np.ndarray) and np.abs(back - m.hamiltonian().toarray()).max() < 1e-12


def test_states_kets_and_vectors():
    import pjcsync
    m = small_model()
    rng = np.random.default_rng(2)
    N = m.N
    A = rng.normal(size=(N, N)) + 1j * rng.normal(size=(N, N))
    rho = A @ A.conj().T
    rho /= np.trace(rho)
    q = pjcsync.to_qutip(rho, model=m)
    assert q.dims == [m.dims, m.dims] and q.isherm
    # QuTiP's column-stacked operator-ket becomes pjcsync's row-major vec(rho): rho[i, j] at i*N + j
    v = pjcsync.from_qutip(qutip.operator_to_vector(q))
    assert np.array_equal(v, rho.ravel())
    assert not np.allclose(v, rho.T.ravel())            # the transposed order would be wrong
    assert np.array_equal(pjcsync.from_qutip(q, vectorize=True), rho.ravel())
    assert (pjcsync.to_qutip(rho.ravel(), model=m) - q).norm() == 0
    assert np.array_equal(pjcsync.from_qutip(q), rho)
    psi = rng.normal(size=N) + 1j * rng.normal(size=N)
    k = pjcsync.to_qutip(psi, model=m)
    assert k.isket and k.dims == qutip.tensor(qutip.basis(4, 0), qutip.basis(2, 0), qutip.basis(2, 1)).dims
    assert np.array_equal(pjcsync.from_qutip(k), psi)
    assert np.allclose(pjcsync.from_qutip(k.dag()), psi)
    with pytest.raises(ValueError):
        pjcsync.to_qutip(rho, dims=[3, 2, 2])
    with pytest.raises(TypeError):
        pjcsync.from_qutip(rho)


def test_liouvillian_as_a_qutip_superoperator():
    """Our row-major L (all rows on one rank) equals QuTiP's liouvillian after reordering."""
    import pjcsync
    from pjcsync.parallel import RowLayout
    from pjcsync import superoperator as so
    m = small_model()
    H, c_ops, _, _ = qutip_model()
    L = so.local_rows(m.hamiltonian(), m.collapse_operators(), RowLayout.create(m.N))
    ref = qutip.liouvillian(H, c_ops)
    Lq = pjcsync.to_qutip(L, model=m)
    assert Lq.issuper and Lq.dims == ref.dims
    assert (Lq - ref).norm() < 1e-12
    assert np.abs(pjcsync.from_qutip(ref) - L.toarray()).max() < 1e-12


SCRIPT = textwrap.dedent('''
    import json, warnings
    warnings.simplefilter("ignore")
    import numpy as np, qutip
    import pjcsync
    from pjcsync.model import Model
    from pjcsync.parallel import RowLayout
    from pjcsync.steady import steady_state
    m = Model(levels=6, gamma=0.3, detunings=(1.0, -1.0), couplings=(1.0, 1.0), gamma_s=(0.01, 0.01),
              amplitude=0.25, drive_detuning=0.1)
    state = steady_state(m, {"method": "direct"}, RowLayout.create(m.N))
    q = pjcsync.to_qutip(state)            # collective: gathers rho on every rank
    a = qutip.tensor(qutip.destroy(6), qutip.qeye(2), qutip.qeye(2))
    def on(op, l):
        return qutip.tensor(qutip.qeye(6), *[op if k == l else qutip.qeye(2) for k in range(2)])
    H = -0.1 * a.dag() * a + 0.25 * (a + a.dag())
    for l, d in enumerate((1.0, -1.0)):
        H += a * on(qutip.sigmap(), l) + a.dag() * on(qutip.sigmam(), l) + 0.5 * (d - 0.1) * on(qutip.sigmaz(), l)
    ref = qutip.steadystate(H, [np.sqrt(0.3) * a] + [np.sqrt(0.01) * on(qutip.sigmam(), l) for l in range(2)])
    if state.layout.comm.Get_rank() == 0:
        print(json.dumps({"dims": q.dims, "err": float((q - ref).norm()), "trace": float(q.tr().real)}))
''')


@pytest.mark.parametrize("ranks", [2])
def test_distributed_steady_state_to_qutip(tmp_path, ranks):
    script = tmp_path / "s.py"
    script.write_text(SCRIPT)
    p = run_mpi_script(script, ranks, timeout=240)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["dims"] == [[6, 2, 2], [6, 2, 2]]
    assert out["err"] < 1e-8 and out["trace"] == pytest.approx(1.0, abs=1e-12)
