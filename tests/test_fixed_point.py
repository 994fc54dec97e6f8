"""The paper's fixed point converges where it can (issue 12, item 6).

At a resonant point with weak qubit damping (M = 2, Delta = (1.2, -0.7), F = 0.35,
gamma = 0.3, gamma_s = 0.015, omega = omega_0; the issue's n_c = 50 made smaller) the plain
iteration of eq. 14 contracts by ~0.98 per step: with Anderson mixing (the default) it converges
to QuTiP's steady state; plain, with too small an iteration limit, it stops early with a message
naming krylov instead of running into the limit."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from conftest import model_text, run_cli, write_config
from reference import qutip_model

POINT = dict(levels=20, gamma=0.3, omega0=None, delta="1.2, -0.7", gamma_s=0.015, F=0.35, dw=0.0)


@pytest.fixture(scope="module")
def qutip_n():
    import qutip
    H, c_ops, a, _ = qutip_model(20, (1.2, -0.7), (1.0, 1.0), (0.015, 0.015), 0.35, 0.0, 0.3)
    rho = qutip.steadystate(H, c_ops)
    return float(qutip.expect(a.dag() * a, rho)), float(qutip.expect(a, rho).imag)


def test_anderson_converges_at_the_resonance(tmp_path, qutip_n):
    """One rank (the methods agree at 1, 2 and 3 ranks: test_steady_methods.py)."""
    cfg = write_config(tmp_path, model_text(POINT))
    p = run_cli(["steady", cfg, "--json", "--quiet", "--set", "solver.method=sylvester"],
                timeout=600, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout)
    solver = out["solver"]
    assert solver["acceleration"] == "anderson" and solver["iterations"] < 1000
    assert solver["relative_residual"] < 1e-10
    n, a_im = qutip_n
    assert abs(out["observables"]["n"] - n) < 1e-8 * max(1.0, n)
    assert abs(out["observables"]["a"][1] - a_im) < 1e-8


def test_plain_iteration_stops_early_naming_krylov(tmp_path):
    """The paper's plain iteration needs ~1240 steps here; with max_iterations = 1000 it stops
    as soon as its contraction projects beyond the limit, long before the limit."""
    cfg = write_config(tmp_path, model_text(POINT))
    p = run_cli(["steady", cfg, "--set", "solver.method=sylvester", "--set", "solver.acceleration=none",
                 "--set", "solver.checkpoint=none"], timeout=600, cwd=tmp_path)
    assert p.returncode == 1, p.stderr[-3000:]
    err = [ln for ln in p.stderr.splitlines() if ln.startswith("pjcsync: error")]
    assert len(err) == 1 and "stagnating" in err[0] and "'krylov'" in err[0], p.stderr
    stopped = int(re.search(r"after (\d+) iterations", err[0]).group(1))
    projected = int(re.search(r"need about (\d+) iterations", err[0]).group(1))
    assert stopped < 500 and projected > 1000


@pytest.mark.slow
def test_plain_iteration_still_available(tmp_path, qutip_n):
    """``acceleration = "none"`` with room enough converges to the same state."""
    cfg = write_config(tmp_path, model_text({**POINT, "levels": 20}))
    p = run_cli(["steady", cfg, "--json", "--quiet", "--set", "solver.method=sylvester", "--set",
                 "solver.acceleration=none", "--set", "solver.max_iterations=3000"], timeout=600, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout)
    assert out["solver"]["acceleration"] == "none" and out["solver"]["iterations"] > 1000
    assert abs(out["observables"]["n"] - qutip_n[0]) < 1e-8 * max(1.0, qutip_n[0])
