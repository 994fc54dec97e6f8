"""The Tavis-Cummings builder of the Python API (issue 13): ``pjcsync.TavisCummings`` gives
exactly the operators of the TOML model, takes the TOML's defaults and checks, round-trips
through ``to_toml``/``from_toml``; its observables equal the command line's for the same state."""
import numpy as np
import pytest

from conftest import EXAMPLES, cli_json, fig8_text, write_config

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
