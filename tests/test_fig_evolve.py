"""scripts/fig_evolve.py's points (scripts/_points.py): the same data at 1 and 2 ranks, the RWA
points equal to a dense reference, a rerun served from the cache; its argument errors."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import MPIRUN, ROOT, _env
from reference import collapse, ops, rwa_hamiltonian, steady_state_dense

DRIVER = ROOT / "tests" / "mpi" / "fig_evolve_points.py"


def _run(tmp_path, ranks, out="out.json"):
    cmd = [sys.executable, str(DRIVER), str(tmp_path / "cache"), str(tmp_path / out)]
    if ranks > 1:
        cmd = [MPIRUN, "-n", str(ranks), *cmd]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_env())
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads((tmp_path / out).read_text()), p.stdout + p.stderr


def _dense_S2(dw: float) -> float:
    """<S^2> of the dense RWA steady state of Fig. 8's model at n_c = 6, S = (sigma_1 + sigma_2)/2."""
    H = rwa_hamiltonian(6, (1.0, -1.0), (1.0, 1.0), 0.25, dw)
    rho = steady_state_dense(H, collapse(6, 2, 0.3, (3e-3, 3e-3)))
    _, sm, sz = ops(6, 2)
    Sx = sum(s + s.conj().T for s in sm) / 2
    Sy = sum(1j * (s - s.conj().T) for s in sm) / 2      # (its sign does not matter in S^2)
    Sz = sum(sz) / 2
    return float(np.trace((Sx @ Sx + Sy @ Sy + Sz @ Sz) @ rho).real)


@pytest.fixture(scope="module")
def one_rank(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fig8_1rank")
    return _run(tmp, 1)[0]


def test_rwa_points_match_the_dense_steady_state(one_rank):
    d = one_rank
    assert d["detuning"] == sorted(d["detuning"]) and len(d["detuning"]) == 6     # -1.5, -0.3, 0, 0.1, 0.5, 1.5
    for dw, s2 in zip(d["detuning"], d["rwa"]):
        assert s2 == pytest.approx(_dense_S2(dw), abs=1e-8), dw
    assert len(d["lab"]["30.0"]) == len(d["detuning"]) == len(d["lab_edge"]["30.0"])


def test_two_ranks_give_the_same_data_and_a_rerun_computes_nothing(tmp_path, one_rank):
    d, log = _run(tmp_path, 2)
    assert "0 of 12 point(s) cached" in log and "on 2 rank(s)" in log
    assert len(list((tmp_path / "cache" / "fig8_small").glob("*.json"))) == 12
    np.testing.assert_allclose(d["rwa"], one_rank["rwa"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(d["lab"]["30.0"], one_rank["lab"]["30.0"], rtol=1e-8, atol=1e-10)
    again, log = _run(tmp_path, 2, "again.json")
    assert "12 of 12 point(s) cached" in log and "done in" not in log
    assert again == d


@pytest.mark.parametrize("args,msg", [(["--figs", "9"], "unknown figure '9'"), (["--ranks", "0"], "--ranks must be >= 1")])
def test_bad_arguments_one_line_exit_2(tmp_path, args, msg):
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "fig_evolve.py"), *args], capture_output=True,
                       text=True, timeout=120, env=_env(), cwd=tmp_path)
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and msg in p.stderr, p.stderr


def test_ranks_relaunches_itself_under_the_launcher(tmp_path):
    """``--ranks R`` runs ``$FIG_MPIRUN -n R python fig_evolve.py ... --ranks 1`` (here a launcher
    that only prints its arguments)."""
    script = ROOT / "scripts" / "fig_evolve.py"
    p = subprocess.run([sys.executable, str(script), "--figs", "8", "--paper", "--ranks", "3"], capture_output=True,
                       text=True, timeout=120, env=dict(_env(), FIG_MPIRUN="printf %s|"), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"-n|3|{sys.executable}|{script}|--figs|8|--paper|--ranks|3|--ranks|1|"
