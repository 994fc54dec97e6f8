"""Direct (MUMPS) steady states against QuTiP and the dense reference; MPI discipline."""
import json
import time

import numpy as np
import pytest
import qutip

from conftest import EXAMPLES, ROOT, cli_json, run_cli, run_mpi_script, write_config
from reference import collapse, rwa_hamiltonian, steady_state_dense
import pjcsync.observables as ob
from pjcsync.config import load_config
from pjcsync.model import Model
from pjcsync.parallel import RowLayout
from pjcsync.steady import steady_state

CASES = {
    "one qubit, Fig. 3": dict(levels=14, detuning=[2.0], gamma=0.3, gamma_s=[0.3], F=1.0, dd=1.0),
    "one qubit, no qubit decay": dict(levels=12, detuning=[2.0], gamma=0.3, gamma_s=[0.0], F=0.5, dd=-0.5),
    "two qubits, Fig. 8": dict(levels=10, detuning=[1.0, -1.0], gamma=0.3, gamma_s=[3e-3, 3e-3], F=0.25, dd=0.0),
}


def qutip_steady(c):
    M, n = len(c["detuning"]), c["levels"]
    a = qutip.tensor(qutip.destroy(n), *[qutip.qeye(2)] * M)
    sm = [qutip.tensor(qutip.qeye(n), *[qutip.sigmam() if k == l else qutip.qeye(2) for k in range(M)])
          for l in range(M)]
    sz = [qutip.tensor(qutip.qeye(n), *[qutip.sigmaz() if k == l else qutip.qeye(2) for k in range(M)])
          for l in range(M)]
    wr = -c["dd"]
    H = wr * a.dag() * a + c["F"] * (a + a.dag())
    for l in range(M):
        H += a * sm[l].dag() + a.dag() * sm[l] + 0.5 * (c["detuning"][l] + wr) * sz[l]
    c_ops = [np.sqrt(c["gamma"]) * a] + [np.sqrt(g) * sm[l] for l, g in enumerate(c["gamma_s"]) if g > 0]
    return qutip.steadystate(H, c_ops).full(), a


def config_text(c):
    return (f"[cavity]\nlevels = {c['levels']}\ndecay = {c['gamma']}\n"
            f"[qubits]\ndetuning = {c['detuning']}\ndecay = {c['gamma_s']}\n"
            f"[drive]\namplitude = {c['F']}\ndetuning = {c['dd']}\n[solver]\nmethod = \"direct\"\n")


@pytest.mark.parametrize("name", list(CASES))
def test_direct_matches_qutip(name):
    c = CASES[name]
    cfg = load_config(data={"cavity": {"levels": c["levels"], "decay": c["gamma"]},
                            "qubits": {"detuning": c["detuning"], "decay": c["gamma_s"]},
                            "drive": {"amplitude": c["F"], "detuning": c["dd"]},
                            "solver": {"method": "direct"}})
    model = Model.from_config(cfg)
    layout = RowLayout.create(model.N)
    state = steady_state(model, cfg["solver"], layout)
    rho = state.rows()
    want, a = qutip_steady(c)
    assert np.abs(rho - want).max() < 1e-8
    obs = ob.basic_observables(model, rho, layout)
    assert abs(obs["n"] - np.trace(want @ (a.dag() * a).full()).real) < 1e-8
    assert state.checks["min_eigenvalue"] > -1e-10
    assert state.checks["hermiticity"] < 1e-10
    assert state.solver["residual"] < 1e-10


def test_direct_matches_dense_null_vector():
    H = rwa_hamiltonian(4, [1.0, -1.0], [1.0, 1.0], 0.4, 0.2)
    want = steady_state_dense(H, collapse(4, 2, 0.3, [0.05, 0.1]))
    cfg = load_config(data={"cavity": {"levels": 4, "decay": 0.3},
                            "qubits": {"detuning": [1.0, -1.0], "decay": [0.05, 0.1]},
                            "drive": {"amplitude": 0.4, "detuning": 0.2}, "solver": {"method": "direct"}})
    model = Model.from_config(cfg)
    state = steady_state(model, cfg["solver"])
    assert np.abs(state.rows() - want).max() < 1e-10


def test_cli_json_keys_and_rank_agreement(tmp_path):
    path = write_config(tmp_path, config_text(CASES["two qubits, Fig. 8"]))
    one = cli_json(["steady", path], ranks=1)
    two = cli_json(["steady", path], ranks=2)
    for key in ("n", "a", "sigma", "Sx", "Sy", "Sz", "edge_population", "trace"):
        assert key in one["observables"]
    for key in ("method", "iterations", "residual", "seconds"):
        assert key in one["solver"]
    assert two["solver"]["ranks"] == 2
    o1, o2 = one["observables"], two["observables"]
    assert abs(o1["n"] - o2["n"]) < 1e-10
    assert np.abs(np.array(o1["sigma"]) - np.array(o2["sigma"])).max() < 1e-10
    assert np.abs(np.array(o1["a"]) - np.array(o2["a"])).max() < 1e-10
    assert abs(o1["trace"] - 1) < 1e-12


def test_three_ranks_agree(tmp_path):
    path = write_config(tmp_path, config_text(CASES["one qubit, Fig. 3"]))
    one = cli_json(["steady", path], ranks=1)
    three = cli_json(["steady", path], ranks=3)
    assert abs(one["observables"]["n"] - three["observables"]["n"]) < 1e-10
    assert abs(one["observables"]["Sz"] - three["observables"]["Sz"]) < 1e-10


def test_truncation_warning(tmp_path):
    c = dict(CASES["one qubit, Fig. 3"], levels=4, dd=0.0)
    path = write_config(tmp_path, config_text(c))
    p = run_cli(["steady", path])
    assert p.returncode == 0, p.stderr
    assert "truncated too early" in p.stderr


def test_petsc_options_reach_petsc(tmp_path):
    path = write_config(tmp_path, config_text(CASES["one qubit, Fig. 3"]))
    p = run_cli(["steady", path, "-ksp_view"])
    assert p.returncode == 0, p.stderr
    assert "mumps" in p.stdout.lower()


def test_info_refuses_what_does_not_fit():
    p = run_cli(["info", EXAMPLES / "fig11.toml", "--set", "solver.method='direct'",
                 "--set", "cavity.levels=100"])
    assert p.returncode == 2
    assert "too large for this node" in p.stderr and "GB" in p.stderr
    p = run_cli(["steady", EXAMPLES / "fig11.toml", "--set", "solver.method='direct'"])
    assert p.returncode == 2 and "too large" in p.stderr
    data = cli_json(["info", EXAMPLES / "fig8.toml"])
    assert data["N"] == 80 and data["N2"] == 6400 and data["nonzeros"] > 6400


def test_error_on_one_rank_ends_the_job():
    t0 = time.time()
    p = run_mpi_script(ROOT / "tests" / "mpi" / "fail_on_rank1.py", 2, [EXAMPLES / "fig8.toml"], timeout=60)
    assert p.returncode != 0
    assert time.time() - t0 < 30
    assert "disk on fire" in p.stderr and "rank 1" in p.stderr
