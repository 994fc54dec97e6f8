"""The steady-state methods (direct, krylov, sylvester; assembled and matrix-free) agree with
each other and with QuTiP to 1e-8, at 1, 2 and 3 ranks; failures are loud (exit 1)."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

from conftest import fig8_text, run_cli, run_mpi_script, write_config

CASES = {
    # Fig. 8's parameters (gamma_s = 3e-3) at resonance, few levels
    "fig8": dict(nc=6, detunings=(1.0, -1.0), gamma=0.3, gamma_s=3e-3, F=0.25, wr=0.0),
    # Fig. 11's parameters, three qubits, off resonance
    "fig11": dict(nc=8, detunings=(1.0, 1.5, 2.0), gamma=0.2, gamma_s=0.2, F=0.77, wr=-0.5),
}

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import petsc4py; petsc4py.init()
    from pjcsync.model import Model
    from pjcsync.parallel import RowLayout
    from pjcsync.steady import steady_state
    from pjcsync.matfree import RowOperator
    from pjcsync import superoperator as so
    nc, M, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    det = [float(x) for x in sys.argv[4].split(",")]
    gamma, gs, F, wr = map(float, sys.argv[5:9])
    m = Model(levels=nc, gamma=gamma, detunings=tuple(det), couplings=(1.0,) * M, gamma_s=(gs,) * M,
              amplitude=F, drive_detuning=-wr)
    lay = RowLayout.create(m.N)
    res = {}
    def full(rows):
        parts = lay.comm.gather(np.asarray(rows), root=0)
        return np.concatenate(parts) if lay.comm.rank == 0 else None
    runs = {"direct": {"method": "direct"},
            "krylov": {"method": "krylov"},
            "krylov-mf": {"method": "krylov", "operator": "matrix-free"},
            "krylov-eigen": {"method": "krylov", "preconditioner": "eigen"},
            "sylvester": {"method": "sylvester", "max_iterations": 5000},
            "sylvester-plain": {"method": "sylvester", "acceleration": "none", "max_iterations": 5000},
            "krylov-ground": {"method": "krylov", "initial_guess": "ground"}}
    for name, cfg in runs.items():
        st = steady_state(m, {"rtol": 1e-11, **cfg}, lay)
        res[name] = full(st.rows())
        res[name + " its"] = st.solver["iterations"]
    warm = steady_state(m, {"method": "krylov", "rtol": 1e-11}, lay, initial=st.rho)
    res["warm its"] = warm.solver["iterations"]
    # matrix-free L against the assembled L on random rows
    rng = np.random.default_rng(lay.i0)
    X = rng.standard_normal((lay.rows, m.N)) + 1j * rng.standard_normal((lay.rows, m.N))
    L = so.liouvillian(m, lay)
    x = L.createVecRight(); x.setArray(X.ravel()); y = L.createVecLeft(); L.mult(x, y)
    op = RowOperator(m.hamiltonian(), m.collapse_operators(), lay)
    d = full(op.L(X) - y.getArray().reshape(lay.rows, m.N))
    fy = full(y.getArray().reshape(lay.rows, m.N))
    l0l1 = full(-op.L0(X) + op.L1(X) - op.L(X))
    if lay.comm.rank == 0:
        res["matfree err"] = float(np.abs(d).max() / np.abs(fy).max())
        res["split err"] = float(np.abs(l0l1).max() / np.abs(fy).max())
        np.save(out, res, allow_pickle=True)
""")


def qutip_rho(nc, detunings, gamma, gamma_s, F, wr):
    """QuTiP's steady state, the model of eq. (3) built from scratch."""
    import qutip as qt
    M = len(detunings)
    a = qt.tensor(qt.destroy(nc), *[qt.qeye(2)] * M)
    H = wr * a.dag() * a + F * (a + a.dag())
    c_ops = [np.sqrt(gamma) * a]
    for l, d in enumerate(detunings):
        ops = [qt.qeye(nc)] + [qt.qeye(2)] * M
        ops[l + 1] = qt.sigmam()
        sm = qt.tensor(*ops)
        ops[l + 1] = qt.sigmaz()
        sz = qt.tensor(*ops)
        H += a * sm.dag() + a.dag() * sm + 0.5 * (d + wr) * sz
        c_ops.append(np.sqrt(gamma_s) * sm)
    return qt.steadystate(H, c_ops).full()


@pytest.fixture(scope="module")
def references():
    return {k: qutip_rho(**v) for k, v in CASES.items()}


@pytest.mark.parametrize("ranks", [1, 2, 3])
@pytest.mark.parametrize("case", list(CASES))
def test_methods_agree_with_qutip(tmp_path, references, case, ranks):
    c = CASES[case]
    out = tmp_path / "res.npy"
    args = [c["nc"], len(c["detunings"]), out, ",".join(map(str, c["detunings"])),
            c["gamma"], c["gamma_s"], c["F"], c["wr"]]
    script = tmp_path / "s.py"
    script.write_text(SCRIPT)
    p = run_mpi_script(script, ranks, args, timeout=180)
    assert p.returncode == 0, p.stderr[-3000:]
    res = np.load(out, allow_pickle=True).item()
    ref = references[case]
    for name in ("direct", "krylov", "krylov-mf", "krylov-eigen", "sylvester", "sylvester-plain", "krylov-ground"):
        err = np.abs(res[name] - ref).max()
        assert err < 1e-8, (name, err)
    assert res["matfree err"] < 1e-12 and res["split err"] < 1e-12
    assert res["krylov its"] < 60
    assert res["warm its"] <= 2          # a warm start from the solution converges at once


FAIL_CASE = fig8_text(levels=10)


@pytest.mark.parametrize("method", ["krylov", "sylvester"])
def test_too_few_iterations_fail_loudly(tmp_path, method):
    cfg = write_config(tmp_path, FAIL_CASE)
    p = run_cli(["steady", cfg, "--set", f"solver.method={method}", "--set", "solver.max_iterations=2"],
                ranks=2, timeout=120, cwd=tmp_path)
    assert p.returncode == 1, p.stderr
    assert "residual history" in p.stderr and "Traceback" not in p.stderr
    # one line from pjcsync (mpirun adds its own banner about the exit status)
    assert sum(line.startswith("pjcsync: error") for line in p.stderr.splitlines()) == 1


def test_auto_and_bad_initial_guess(tmp_path):
    import json
    cfg = write_config(tmp_path, FAIL_CASE)
    p = run_cli(["steady", cfg, "--json", "--set", "cavity.levels=4"])
    assert p.returncode == 0, p.stderr
    solver = json.loads(p.stdout)["solver"]
    assert solver["method"] == "direct" and "auto" in solver
    p = run_cli(["steady", cfg, "--json", "--set", "cavity.levels=20"])
    assert p.returncode == 0, p.stderr
    solver = json.loads(p.stdout)["solver"]
    assert solver["method"] == "krylov" and solver["relative_residual"] < 1e-10
    p = run_cli(["steady", cfg, "--set", "solver.method=krylov", "--set",
                 f"solver.initial_guess='{tmp_path / 'missing.h5'}'"])
    assert p.returncode == 2 and "initial_guess" in p.stderr
