"""pjcsync evolve: PETSc TS against QuTiP's mesolve (RWA and the full lab frame, eq. 1), the two
lab-frame formulations against each other, relaxation to the RWA steady state, period averages,
checkpoints (a killed run resumed equals an uninterrupted one) and input errors.

QuTiP references are built here from the paper's equations (1), (3) and (5) with QuTiP's own
operators, independently of pjcsync.model.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import MPIRUN, _env, cli_json, model_text, run_cli, write_config, wait_until_gone

qt = pytest.importorskip("qutip")

SMALL = dict(levels=7, gamma=0.4, delta=2.0, F=0.6, gamma_s=0.1, omega0=8.0, dw=0.3)


def config_text(p: dict, evolve: str) -> str:
    return model_text(p, f"[evolve]\n{evolve}")


def qutip_reference(p: dict, frame: str, tlist):
    """<n>, <a>, <sigma_x,y,z> with QuTiP (lab-frame values for frame = 'lab')."""
    n_c = p["levels"]
    a = qt.tensor(qt.destroy(n_c), qt.qeye(2))
    sm = qt.tensor(qt.qeye(n_c), qt.sigmam())
    sx = qt.tensor(qt.qeye(n_c), qt.sigmax())
    sy = qt.tensor(qt.qeye(n_c), qt.sigmay())
    sz = qt.tensor(qt.qeye(n_c), qt.sigmaz())
    w0, w = p["omega0"], p["omega0"] + p["dw"]
    Omega = p["delta"] + w0
    if frame == "lab":     # eq. (1)
        H0 = w0 * a.dag() * a + sx * (a + a.dag()) + 0.5 * Omega * sz
        H = [H0, [2 * p["F"] * (a + a.dag()), lambda t: np.cos(w * t)]]
    else:                  # eq. (3)
        H = ((w0 - w) * a.dag() * a + (a * sm.dag() + a.dag() * sm) + 0.5 * (Omega - w) * sz
             + p["F"] * (a + a.dag()))
    c_ops = [np.sqrt(p["gamma"]) * a, np.sqrt(p["gamma_s"]) * sm]
    psi0 = qt.tensor(qt.basis(n_c, 0), qt.basis(2, 1))      # vacuum, qubit down
    res = qt.mesolve(H, qt.ket2dm(psi0), tlist, c_ops, e_ops=[a.dag() * a, a, sx, sy, sz],
                     options={"atol": 1e-12, "rtol": 1e-10, "nsteps": 10 ** 6})
    return [np.asarray(e) for e in res.expect]


@pytest.mark.parametrize("ranks", [1, 2])
@pytest.mark.parametrize("frame", ["rotating", "lab"])
def test_against_qutip(tmp_path, frame, ranks):
    cfg = write_config(tmp_path, config_text(SMALL, f'frame = "{frame}"\nt_end = 3.0\noutput_every = 0.5\n'
                                             "rtol = 1e-10\natol = 1e-12"))
    out = cli_json(["evolve", cfg], ranks)
    t = np.array(out["times"])
    assert np.allclose(t, np.arange(7) * 0.5)
    n, a, sx, sy, sz = qutip_reference(SMALL, frame, t)
    rec = out["records"]
    got_n = np.array([r["n"] for r in rec])
    got_a = np.array([r["a"][0] + 1j * r["a"][1] for r in rec])
    got_s = np.array([r["sigma"][0] for r in rec])
    assert np.max(np.abs(got_n - n)) < 1e-6
    assert np.max(np.abs(got_a - a)) < 1e-6
    assert np.max(np.abs(got_s[:, 0] - sx.real)) < 1e-6
    assert np.max(np.abs(got_s[:, 1] - sy.real)) < 1e-6
    assert np.max(np.abs(got_s[:, 2] - sz.real)) < 1e-6
    assert abs(got_n[-1]) > 0.05 and np.max(np.abs(got_s[:, 0])) > 0.05     # a nontrivial state
    st = out["statistics"]
    assert st["steps"] > 0 and st["rhs_evaluations"] >= 6 * st["steps"] and st["ranks"] == ranks
    if frame == "lab":
        # rotating-frame values: <a>_rot = e^{i omega t} <a>_lab
        w = SMALL["omega0"] + SMALL["dw"]
        rot = np.array([r["a_rot"][0] + 1j * r["a_rot"][1] for r in rec])
        assert np.max(np.abs(rot - np.exp(1j * w * t) * a)) < 1e-6


def test_implicit_ts_type_through_petsc_options(tmp_path):
    """-ts_type bdf (implicit: uses the assembled Jacobian) still matches QuTiP in the lab frame."""
    cfg = write_config(tmp_path, config_text(SMALL, 'frame = "lab"\nt_end = 1.0\noutput_every = 0.5\n'
                                             "rtol = 1e-9\natol = 1e-11"))
    out = cli_json(["evolve", cfg, "-ts_type", "bdf", "-ts_bdf_order", "4"])
    assert out["statistics"]["ts_type"] == "bdf" and "average" not in out["records"][-1]
    n, a, sx, sy, sz = qutip_reference(SMALL, "lab", np.array(out["times"]))
    assert np.max(np.abs(np.array([r["n"] for r in out["records"]]) - n)) < 1e-5


def test_rotating_and_direct_lab_formulations_agree(tmp_path):
    p = dict(SMALL, omega0=12.0, levels=6)
    ev = 'frame = "lab"\nt_end = 2.0\noutput_every = 1.0\nrtol = 1e-12\natol = 1e-14'
    cfg = write_config(tmp_path, config_text(p, ev))
    rho = {}
    for form in ("rotating", "direct"):
        path = tmp_path / f"{form}.npy"
        p_ = run_cli(["evolve", cfg, "--set", f"evolve.formulation={form}", "--save-state", path])
        assert p_.returncode == 0, p_.stderr
        rho[form] = np.load(path)
    diff = np.max(np.abs(rho["rotating"] - rho["direct"]))
    assert diff < 1e-8, diff
    assert np.max(np.abs(rho["rotating"] - np.diag(np.diag(rho["rotating"])))) > 1e-2   # coherences present


def test_rwa_evolution_relaxes_to_rwa_steady_state(tmp_path):
    p = dict(SMALL, gamma=1.0, gamma_s=0.5)
    cfg = write_config(tmp_path, config_text(p, 't_end = 40.0\noutput_every = 20.0\nrtol = 1e-10\natol = 1e-13'))
    ev = cli_json(["evolve", cfg])
    st = cli_json(["steady", cfg])["observables"]
    last = ev["records"][-1]
    assert abs(last["n"] - st["n"]) < 1e-7
    assert np.allclose(last["sigma"], st["sigma"], atol=1e-7)
    assert np.allclose(last["a"], st["a"], atol=1e-7)
    # the RWA reports rotating-frame values under both names
    assert last["Sx"] == last["Sx_rot"]


def test_period_averages_against_sampled_qutip(tmp_path):
    """The quadrature average over one drive period equals Simpson's rule on a fine QuTiP grid."""
    w = SMALL["omega0"] + SMALL["dw"]
    T = 2 * np.pi / w
    cfg = write_config(tmp_path, config_text(SMALL, 'frame = "lab"\nperiods = 2\noutput_every_periods = 1\n'
                                             "rtol = 1e-10\natol = 1e-12"))
    out = cli_json(["evolve", cfg])
    assert len(out["records"]) == 3 and abs(out["records"][1]["periods"] - 1) < 1e-12
    tlist = np.linspace(T, 2 * T, 401)
    n, a, sx, sy, sz = qutip_reference(SMALL, "lab", np.concatenate([[0.0], tlist]))
    from scipy.integrate import simpson
    avg = out["records"][2]["average"]
    assert abs(avg["n"] - simpson(n[1:].real, x=tlist) / T) < 1e-6
    assert abs(avg["sigma"][0][0] - simpson(sx[1:].real, x=tlist) / T) < 1e-6
    a_rot = np.exp(1j * w * tlist) * a[1:]
    ref = simpson(a_rot.real, x=tlist) / T + 1j * simpson(a_rot.imag, x=tlist) / T
    assert abs(avg["a_rot"][0] + 1j * avg["a_rot"][1] - ref) < 1e-6
    assert abs(avg["a"][0]) < abs(avg["a_rot"][0]) + 1e-3      # the lab <a> averages out (mostly)


def _records(out):
    return json.dumps(out["records"], sort_keys=True)


def test_killed_run_resumes_to_the_same_result(tmp_path):
    p = dict(SMALL, levels=14)
    ev = (f'frame = "lab"\nperiods = 150\noutput_every_periods = 2\ncheckpoint = "{tmp_path}/ck"\n'
          "checkpoint_every = 1\nprogress = 0")
    cfg = write_config(tmp_path, config_text(p, ev))
    whole = cli_json(["evolve", cfg, "--set", f'evolve.checkpoint="{tmp_path}/other"'])
    cmd = [MPIRUN, "-n", "2", sys.executable, "-m", "pjcsync", "evolve", str(cfg), "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(),
                            start_new_session=True)
    ck = tmp_path / "ck.json"
    t0 = time.time()
    killed_at = None
    while time.time() - t0 < 120 and proc.poll() is None:
        if ck.exists():
            done = json.loads(ck.read_text())["outputs_done"]
            if done >= 3:
                os.killpg(proc.pid, signal.SIGKILL)
                killed_at = done
                break
        time.sleep(0.05)
    proc.wait(timeout=30)
    wait_until_gone(str(cfg))       # the ranks of the killed mpirun may outlive it briefly
    assert killed_at is not None and killed_at < 75, "the run ended before it could be killed"
    resumed = cli_json(["evolve", cfg, "--resume"])           # 1 rank: the checkpoint is rank-independent
    assert resumed["statistics"]["resumed_from_t"] > 0
    a, b = whole["records"], resumed["records"]
    assert len(a) == len(b) == 76
    for ra, rb in zip(a, b):
        assert abs(ra["t"] - rb["t"]) < 1e-12
        for key in ("n", "Sx_rot", "Sy_rot", "Sz"):
            assert abs(ra[key] - rb[key]) < 1e-12, (key, ra[key], rb[key])
        if "average" in ra:
            assert abs(ra["average"]["n"] - rb["average"]["n"]) < 1e-12
    assert whole["statistics"]["steps"] == resumed["statistics"]["steps"]


@pytest.mark.parametrize("evolve, message", [
    ('frame = "lab"\nt_end = 1.0', "frequency"),
    ("t_end = 1.0\nperiods = 3", "exactly one"),
    ("", "exactly one"),
    ('t_end = 1.0\nframe = "moving"', "frame"),
    ('t_end = 1.0\ninitial = "nowhere.npy"', "not found"),
])
def test_bad_input_exit_2(tmp_path, evolve, message):
    text = config_text(SMALL, evolve)
    if "frequency" in message:
        text = text.replace(f"frequency = {SMALL['omega0']}\n", "")
    cfg = write_config(tmp_path, text)
    p = run_cli(["evolve", cfg])
    assert p.returncode == 2, p.stderr
    assert message in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
