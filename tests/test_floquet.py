"""The periodic steady state of the lab-frame model (``pjcsync steady`` with ``[floquet] harmonics``):
the long-time period average of a lab-frame time integration converges to it, the three
solvers and 1 / 2 ranks agree, and it approaches the RWA steady state as omega_0 / lambda grows
(the paper's Fig. 2 claim)."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import cli_json, model_text, run_cli, write_config

BASE = dict(levels=6, gamma=1.0, delta=2.0, F=0.6, gamma_s=0.5, omega0=8.0, dw=0.3)


@pytest.mark.parametrize("qubits", [1, 2])
def test_long_time_period_average_converges_to_periodic_steady_state(tmp_path, qubits):
    p = BASE if qubits == 1 else dict(BASE, levels=4, delta="1.0, -1.5")
    cfg = write_config(tmp_path, model_text(p, "[floquet]\nharmonics = 4\n[evolve]\nframe = \"lab\"\n"
                                      "periods = 90\noutput_every_periods = 1\nrtol = 1e-10\natol = 1e-13"))
    fl = cli_json(["steady", cfg])
    ev = cli_json(["evolve", cfg])
    avg = ev["records"][-1]["average"]
    obs = fl["observables"]
    assert fl["solver"]["method"] == "floquet-direct" and fl["solver"]["truncation"] < 1e-5
    assert abs(avg["n_rot"] - obs["n"]) < 1e-7, (avg["n_rot"], obs["n"])
    assert np.allclose(avg["sigma_rot"], obs["sigma"], atol=1e-7)
    assert np.allclose(avg["a_rot"], obs["a"], atol=1e-7)
    # the instantaneous state still oscillates: the average is not the last sample
    last = ev["records"][-1]
    assert abs(last["sigma_rot"][0][0] - obs["sigma"][0][0]) > 1e-5
    # and it is not the RWA steady state
    rwa = cli_json(["steady", cfg, "--set", "floquet.harmonics=0"])["observables"]
    assert abs(rwa["sigma"][0][0] - obs["sigma"][0][0]) > 1e-4


@pytest.mark.parametrize("method, ranks", [("direct", 2), ("gmres", 1), ("gmres", 2), ("sylvester", 1),
                                           ("sylvester", 2)])
def test_methods_and_ranks_agree(tmp_path, method, ranks):
    cfg = write_config(tmp_path, model_text(dict(BASE, levels=8), "[floquet]\nharmonics = 3"))
    ref = cli_json(["steady", cfg, "--set", "floquet.method=direct"])
    got = cli_json(["steady", cfg, "--set", f"floquet.method={method}"], ranks)
    assert got["solver"]["method"] == f"floquet-{method}" and got["solver"]["ranks"] == ranks
    for key in ("n", "Sx", "Sy", "Sz"):
        assert abs(got["observables"][key] - ref["observables"][key]) < 1e-8, key
    assert np.allclose(got["solver"]["harmonic_norms"], ref["solver"]["harmonic_norms"], rtol=1e-6)


def test_approaches_rwa_as_omega0_grows(tmp_path):
    p = dict(BASE, levels=10, gamma=0.3, gamma_s=0.1, F=1.0, dw=0.5)
    dev = []
    for w0 in (10.0, 30.0, 100.0):
        cfg = write_config(tmp_path, model_text(dict(p, omega0=w0), "[floquet]\nharmonics = 3"), name=f"w{w0}.toml")
        fl = cli_json(["steady", cfg])["observables"]
        rwa = cli_json(["steady", cfg, "--set", "floquet.harmonics=0"])["observables"]
        dev.append(max(abs(fl[k] - rwa[k]) for k in ("n", "Sx", "Sy", "Sz")))
    assert dev[0] > dev[1] > dev[2]
    assert dev[2] < 0.2 * dev[0]
    assert dev[0] > 1e-3          # the counter-rotating terms matter at omega_0 = 10


def test_needs_frequency(tmp_path):
    t = model_text(BASE, "[floquet]\nharmonics = 2").replace("frequency = 8.0\n", "")
    p = run_cli(["steady", write_config(tmp_path, t)])
    assert p.returncode == 2 and "frequency" in p.stderr and "Traceback" not in p.stderr
