"""Configuration validation: every bad input is one clear line and exit status 2."""
import math

import pytest

from pjcsync.config import ConfigError, load_config, parse_override
from conftest import EXAMPLES, run_cli, write_config

BASE = {"cavity": {"levels": 10, "decay": 0.3}, "qubits": {"detuning": [1.0, -1.0]},
        "drive": {"amplitude": 0.25}}


def test_defaults_and_lists():
    cfg = load_config(data=BASE)
    assert cfg["qubits"]["coupling"] == [1.0, 1.0]
    assert cfg["qubits"]["decay"] == [0.0, 0.0]
    assert cfg["drive"]["detuning"] == 0.0
    assert cfg["cavity"]["frequency"] is None


def test_overrides_are_toml_values():
    cfg = load_config(data=BASE, overrides=["drive.detuning=-1.5", "qubits.decay=[0.1, 0.2]",
                                            "solver.method=direct", "cavity.levels=7"])
    assert cfg["drive"]["detuning"] == -1.5
    assert cfg["qubits"]["decay"] == [0.1, 0.2]
    assert cfg["solver"]["method"] == "direct"
    assert cfg["cavity"]["levels"] == 7
    assert parse_override("solver.method='krylov'") == ("solver", "method", "krylov")


@pytest.mark.parametrize("override, message", [
    ("nonsense.key=1", "unknown section [nonsense]"),
    ("cavity.colour=1", "unknown key 'colour' in [cavity]"),
    ("cavity.levels=1", "[cavity] levels must be >= 2"),
    ("cavity.levels=2.5", "[cavity] levels must be an integer"),
    ("cavity.decay=-0.1", "[cavity] decay must not be negative"),
    ("qubits.decay=[0.1, -0.2]", "[qubits] decay must not be negative"),
    ("qubits.decay=[0.1, 0.2, 0.3]", "[qubits] decay has 3 entries but detuning has 2"),
    ("qubits.coupling=[1.0]", "[qubits] coupling has 1 entries but detuning has 2"),
    ("drive.amplitude=nan", "[drive] amplitude must be finite"),
    ("drive.detuning=inf", "[drive] detuning must be finite"),
    ("drive.amplitude='strong'", "[drive] amplitude must be a number"),
    ("solver.method='magic'", "[solver] method must be one of"),
    ("qubits.detuning=1.0", "[qubits] detuning must be a list of numbers"),
])
def test_bad_values(override, message):
    with pytest.raises(ConfigError, match=None) as err:
        load_config(data=BASE, overrides=[override])
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_required_key():
    with pytest.raises(ConfigError, match=r"\[drive\] amplitude is required"):
        load_config(data={"cavity": {"levels": 5, "decay": 0.1}})


@pytest.mark.parametrize("extra, message", [
    (["--set", "cavity.decay=-1"], "must not be negative"),
    (["--set", "qubits.coupling=[1,2,3]"], "coupling has 3 entries"),
    (["--set", "bogus=1"], "--set expects section.key=value"),
])
def test_cli_bad_input_exit_2(extra, message):
    p = run_cli(["steady", EXAMPLES / "fig8.toml", *extra])
    assert p.returncode == 2, p.stderr
    assert message in p.stderr
    assert "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_cli_unknown_key_in_file(tmp_path):
    cfg = write_config(tmp_path, "[cavity]\nlevels = 5\ndecay = 0.1\nsize = 3\n[drive]\namplitude = 1.0\n")
    p = run_cli(["info", cfg])
    assert p.returncode == 2
    assert "unknown key 'size' in [cavity]" in p.stderr


def test_cli_missing_file_and_bad_toml(tmp_path):
    p = run_cli(["steady", tmp_path / "absent.toml"])
    assert p.returncode == 2 and "not found" in p.stderr
    bad = write_config(tmp_path, "[cavity\nlevels = 3\n")
    p = run_cli(["steady", bad])
    assert p.returncode == 2 and "not valid TOML" in p.stderr


def test_examples_are_valid():
    for path in sorted(EXAMPLES.glob("*.toml")):
        load_config(path)


def test_section_defaults_leave_out_required_keys_and_are_copies():
    """``config.defaults`` is where gap, rate and semiclassical fill the keys a caller leaves out:
    it must not offer a required key, nor let a caller's change reach the schema."""
    from pjcsync import config, gap, rate, semiclassical
    assert "decay" not in config.defaults("cavity")          # [cavity] decay is required
    d = config.defaults("semiclassical")
    d["sweep"].append(1.0)
    assert config.defaults("semiclassical")["sweep"] == []
    for module, section in ((gap, "gap"), (rate, "rate"), (semiclassical, "semiclassical")):
        for name, key in config.SCHEMA[section].items():
            assert module.DEFAULTS[name] == key.default, (section, name)
