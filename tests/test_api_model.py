"""The Tavis-Cummings builder of the Python API (issue 13): ``pjcsync.TavisCummings`` gives
exactly the operators of the TOML model, takes the TOML's defaults and checks, round-trips
through ``to_toml``/``from_toml``; its observables equal the command line's for the same state."""
import numpy as np
import pytest

from conftest import EXAMPLES, ROOT, cli_json, fig8_text, run_mpi_script, write_config

import pjcsync
from pjcsync.config import SCHEMA, ConfigError, load_config
from pjcsync.model import Model


def _same(a, b) -> bool:
    return a.shape == b.shape and (a != b).nnz == 0


@pytest.mark.inprocess
def test_builder_equals_toml_model_exactly():
    toml = Model.from_toml(EXAMPLES / "fig8.toml")
    built = pjcsync.TavisCummings(levels=20, cavity_decay=0.3, frequency=10.0, detunings=[1.0, -1.0],
                                  couplings=1.0, qubit_decay=3e-3, drive=0.25, drive_detuning=0.0)
    assert built == toml
    assert _same(built.H, toml.hamiltonian())
    assert len(built.c_ops) == len(toml.collapse_operators()) == 3
    for a, b in zip(built.c_ops, toml.collapse_operators()):
        assert _same(a, b)
    H0, H1, omega = built.lab_frame()
    assert _same(H0, toml.lab_hamiltonian_static()) and _same(H1, toml.lab_drive_operator())
    assert omega == 10.0


@pytest.mark.inprocess
def test_builder_defaults_are_the_schema_defaults(tmp_path):
    built = pjcsync.TavisCummings(levels=6, cavity_decay=0.3, drive=0.5, detunings=[1.0])
    path = write_config(tmp_path, "[cavity]\nlevels = 6\ndecay = 0.3\n[qubits]\ndetuning = [1.0]\n"
                                  "[drive]\namplitude = 0.5\n")
    assert built == Model.from_toml(path)
    assert built.couplings == (SCHEMA["qubits"]["coupling"].default,)
    assert built.gamma_s == (SCHEMA["qubits"]["decay"].default,)
    assert built.drive_detuning == SCHEMA["drive"]["detuning"].default
    assert pjcsync.TavisCummings(levels=4, cavity_decay=0.1, drive=0.1).M == 0


@pytest.mark.inprocess
@pytest.mark.parametrize("kwargs, match", [
    (dict(levels=8, cavity_decay=0.3), r"TavisCummings drive \(\[drive\] amplitude\) is required"),
    (dict(levels=1, cavity_decay=0.3, drive=1.0), r"levels .* must be >= 2"),
    (dict(levels=8, cavity_decay=-0.3, drive=1.0), r"cavity_decay .* must not be negative"),
    (dict(levels=8, cavity_decay=0.3, drive=1.0, detunings=[1, 2], couplings=[1.0]), r"couplings \(\[qubits\] coupling\) has 1 entries"),
])
def test_builder_checks_like_the_toml(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        pjcsync.TavisCummings(**kwargs)


@pytest.mark.inprocess
def test_toml_round_trip(tmp_path):
    m = pjcsync.TavisCummings(levels=7, cavity_decay=0.25, drive=0.3, detunings=[0.7, -1.3, 0.1],
                              couplings=[1.0, 0.9, 1.1], qubit_decay=[1e-3, 0.0, 2e-2],
                              drive_detuning=-0.37, frequency=12.5)
    path = write_config(tmp_path, m.to_toml())
    assert Model.from_toml(path) == m
    assert load_config(path)["cavity"]["frequency"] == 12.5


def test_observables_equal_the_cli(tmp_path):
    """Same state (the CLI's stored rho): every observable of the API equals the CLI's JSON."""
    from pjcsync.results import load
    cfg = write_config(tmp_path, fig8_text(levels=10, extra='[solver]\nmethod = "direct"'))
    out = tmp_path / "steady.h5"
    cli = cli_json(["steady", cfg, "--out", out, "--save-rho"])["observables"]
    model = Model.from_toml(cfg)
    rho = load(out)["rho"]
    api = model.observables(rho)
    assert set(api) == set(cli)
    for key in cli:
        np.testing.assert_allclose(np.asarray(api[key], dtype=float), np.asarray(cli[key], dtype=float),
                                   rtol=1e-12, atol=1e-14, err_msg=key)
    # the API's own solve of the same TOML model: the same state to solver accuracy
    res = pjcsync.steadystate(model, method="direct")
    assert np.abs(res.full() - rho).max() < 1e-10
    own = res.observables()
    for key in ("n", "S2", "singlet", "negativity", "chsh", "theta", "sigma", "a"):
        np.testing.assert_allclose(np.asarray(own[key], dtype=float), np.asarray(cli[key], dtype=float),
                                   atol=1e-9, err_msg=key)


@pytest.mark.inprocess
def test_result_save_and_load(tmp_path):
    """A result written by ``save`` reads back with ``pjcsync.load``: the same rho and observables."""
    m = pjcsync.TavisCummings(levels=6, cavity_decay=0.3, drive=0.25, detunings=[1.0, -1.0], qubit_decay=3e-3)
    res = pjcsync.steadystate(m, method="direct")
    res.save(tmp_path / "s.h5")
    data = pjcsync.load(tmp_path / "s.h5")
    assert np.array_equal(data["rho"], res.full())
    assert data["observables"]["S2"] == res.observables()["S2"]
    from pjcsync.config import validate
    assert Model.from_config(validate(data["config"])) == m
    assert data["solver"]["method"] == "direct" and data["solver"]["dims"] == [6, 2, 2]


# --- levels = "auto" from the API ---------------------------------------------------------------

AUTO_POINT = dict(cavity_decay=0.2, drive=0.77, detunings=[1.0], qubit_decay=0.2, drive_detuning=0.5)


@pytest.mark.inprocess
def test_auto_levels_builder_round_trips_the_toml(tmp_path):
    m = pjcsync.TavisCummings(levels="auto", levels_tolerance=1e-8, levels_max=64, **AUTO_POINT)
    assert m.auto_levels is not None and m.levels == SCHEMA["cavity"]["levels_start"].default
    path = write_config(tmp_path, m.to_toml())
    assert load_config(path)["cavity"]["levels"] == "auto"
    assert Model.from_toml(path) == m
    with pytest.raises(ConfigError, match="levels_max only apply with levels = 'auto'"):
        pjcsync.TavisCummings(levels=20, levels_max=64, **AUTO_POINT)
    with pytest.raises(ConfigError, match=r"TavisCummings levels_start \(\[cavity\] levels_start\) must be >= 2"):
        pjcsync.TavisCummings(levels="auto", levels_start=1, **AUTO_POINT)


@pytest.mark.inprocess
def test_auto_levels_steadystate_matches_qutip_at_more_levels():
    """The adaptive n_c meets its tolerance, and its observables agree with QuTiP's steady state
    of the same point at 16 more levels (an independent solve of a larger truncation)."""
    import qutip
    from reference import qutip_model
    tol = 1e-9
    res = pjcsync.steadystate(pjcsync.TavisCummings(levels="auto", levels_tolerance=tol, **AUTO_POINT))
    chosen = res.problem.levels
    assert res.stats["levels"]["chosen"] == chosen and res.stats["levels"]["converged"]
    assert len(res.stats["levels"]["steps"]) >= 2 and chosen > SCHEMA["cavity"]["levels_start"].default
    assert res.dims == [chosen, 2] and res.problem.auto_levels is None
    obs = res.observables()
    assert obs["edge_population"] <= tol
    big = chosen + 16
    H, c_ops, a, on = qutip_model(big, [1.0], [1.0], [0.2], 0.77, 0.5, 0.2)
    ref = qutip.steadystate(H, c_ops)
    assert abs(obs["n"] - qutip.expect(a.dag() * a, ref)) < 1e-7 * max(1.0, obs["n"])
    assert abs(obs["sigma"][0][0] - qutip.expect(on(qutip.sigmax(), 0), ref)) < 1e-7
    # a warm start from the result: the first n_c tried is the result's, and it is accepted at once
    again = pjcsync.steadystate(pjcsync.TavisCummings(levels="auto", levels_tolerance=tol, **AUTO_POINT),
                                initial=res)
    assert [s["levels"] for s in again.stats["levels"]["steps"]] == [chosen]
    assert abs(again.observables()["n"] - obs["n"]) < 1e-8 * obs["n"]


@pytest.mark.mpi
def test_auto_levels_two_ranks_equal_one(tmp_path):
    """levels = "auto" through the API under mpirun -n 2: the same n_c and observables as one rank."""
    out = tmp_path / "auto.json"
    p = run_mpi_script(ROOT / "tests" / "mpi" / "api_auto_levels.py", 2, [out], timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    import json
    two = json.loads(out.read_text())
    one = pjcsync.steadystate(pjcsync.TavisCummings(levels="auto", **AUTO_POINT))
    assert two["levels"] == one.problem.levels and two["ranks"] == 2
    obs = one.observables()
    obs["sx"] = obs["sigma"][0][0]
    for key in ("n", "sx", "edge_population"):
        assert abs(two[key] - obs[key]) <= 1e-9 * max(1.0, abs(obs[key])), key
