"""Shared test helpers.

MPI parts run in subprocesses under ``scripts/mpirun.sh`` with a timeout, so a hang or an
abort on one rank fails the test instead of blocking the suite.  ``run_cli(args, ranks)`` runs
``pjcsync ARGS`` and ``run_mpi_script(path, ranks)`` runs a Python file; both return the
CompletedProcess.  ``cli_json`` parses ``--json`` output.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# one BLAS thread in the pytest process too (its in-process references: QuTiP, dense numpy), as
# in the subprocesses (_env): on a loaded 2-core machine two OpenBLAS threads spun against each
# other (test_levels_auto_matches_converged_qutip: 0 % CPU, 150,000 context switches, minutes)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MPIRUN = str(ROOT / "scripts" / "mpirun.sh")
EXAMPLES = ROOT / "examples"


def _env():
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_cli(args: list[str], ranks: int = 1, timeout: float = 300, cwd=None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pjcsync", *map(str, args)]
    if ranks > 1:
        cmd = [MPIRUN, "-n", str(ranks), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(), cwd=cwd)


def run_mpi_script(script: str | Path, ranks: int, args: list[str] = (), timeout: float = 300) -> subprocess.CompletedProcess:
    cmd = [MPIRUN, "-n", str(ranks), sys.executable, str(script), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env())


def cli_json(args: list[str], ranks: int = 1, timeout: float = 300):
    """Run ``pjcsync ARGS --json`` and parse its (single) JSON object; fails the test with stderr."""
    p = run_cli([*args, "--json"], ranks, timeout)
    assert p.returncode == 0, f"pjcsync {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stderr[-3000:]}"
    return json.loads(p.stdout)


def write_config(tmp_path: Path, text: str, name: str = "case.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


_MODEL_KEYS = (("cavity", (("levels", "levels"), ("decay", "gamma"), ("frequency", "omega0"))),
               ("qubits", (("detuning", "delta"), ("coupling", "coupling"), ("decay", "gamma_s"))),
               ("drive", (("amplitude", "F"), ("detuning", "dw"))))


def model_text(p: dict, extra: str = "") -> str:
    """TOML of a model from a dict with keys levels, gamma, omega0, delta (TOML list body),
    coupling (1.0 if absent), gamma_s, F, dw, followed by ``extra`` (more sections).

    Values are written as given (a string such as ``"3e-3"`` verbatim); a key whose value is
    None is left out of the file (pjcsync's default applies)."""
    p = {"coupling": 1.0, **p}
    lines = [""]
    for section, keys in _MODEL_KEYS:
        lines.append(f"[{section}]")
        for key, name in keys:
            if p[name] is not None:
                lines.append(f"{key} = [{p[name]}]" if name == "delta" else f"{key} = {p[name]}")
    return "\n".join(lines) + "\n" + (f"{extra}\n" if extra else "")


# Fig. 8 of the paper: two qubits, Delta = +-1, gamma = 0.3, gamma_s = 3e-3, F = 0.25; the
# cavity frequency, the coupling (1) and the drive detuning (0) are left to pjcsync's defaults.
FIG8 = dict(levels=12, gamma=0.3, omega0=None, delta="1.0, -1.0", coupling=None, gamma_s="3e-3", F=0.25,
            dw=None)


# Fig. A4 with M = 3 (gamma = gamma_s = 2, the paper's strong damping) at 20 levels: BiCGStab's
# residual spikes to 1.3e4 ||b|| within a few iterations here, so that PETSc's default divergence
# test (1e4) stops it; -ksp_divtol 1e3 stages that divergence under the automatic choice's
# AUTO_DIVTOL (tests/test_truncation.py, test_direct_switch.py)
A4_M3_MODEL = """\
[cavity]
levels = 20
decay = 2.0
[qubits]
detuning = [20.0, 30.0, 25.0]
decay = 2.0
[drive]
amplitude = 4.4
detuning = 11.0
"""


def fig8_text(extra: str = "", **overrides) -> str:
    """TOML of Fig. 8's model (:data:`FIG8` with ``overrides``, keys as :func:`model_text`)
    followed by ``extra``."""
    unknown = sorted(set(overrides) - set(FIG8))
    if unknown:
        raise TypeError(f"fig8_text: unknown keys {unknown}")
    return model_text({**FIG8, **overrides}, extra)


@pytest.fixture
def fig8_small(tmp_path):
    """Fig. 8's parameters (gamma_s = 3e-3) with few cavity levels: fast and well converged."""
    return write_config(tmp_path, fig8_text(levels=12, omega0=10.0, coupling=1.0, dw=0.0))


def wait_until_gone(marker: str, timeout: float = 60) -> None:
    """Wait until no process (other than this one) has ``marker`` in its command line.

    After ``mpirun`` is killed its rank processes may live on for a moment and keep writing
    files; a test that resumes the run must wait for them."""
    import time
    deadline = time.time() + timeout
    me = os.getpid()
    while time.time() < deadline:
        alive = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        alive.append(int(entry))
            except OSError:
                continue
        if not alive:
            return
        time.sleep(0.1)
    raise AssertionError(f"processes with {marker!r} still running after {timeout} s: {alive}")


# --- test tiers: in-process (direct library calls on one rank) and subprocess/MPI -----------------
#
# A test is in the ``mpi`` tier when it, a fixture it uses or a module-level helper it calls
# (followed to a few levels) uses run_cli, cli_json, run_mpi_script or subprocess; every other
# test is ``inprocess``.  An explicit @pytest.mark.inprocess / @pytest.mark.mpi wins.
# ``pytest -m inprocess`` and ``pytest -m mpi`` run each tier alone.

_SUBPROCESS_NAMES = {"run_cli", "cli_json", "run_mpi_script", "subprocess"}


def _code_names(code, seen) -> set:
    if code in seen:
        return set()
    seen.add(code)
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= _code_names(const, seen)
    return names


def _starts_subprocess(func, depth: int = 4, seen=None) -> bool:
    seen = set() if seen is None else seen
    func = getattr(func, "__wrapped__", func)
    code = getattr(func, "__code__", None)
    if code is None or depth < 0:
        return False
    names = _code_names(code, seen)
    if names & _SUBPROCESS_NAMES:
        return True
    module_globals = getattr(func, "__globals__", {})
    for name in names:
        target = module_globals.get(name)
        if callable(target) and getattr(target, "__module__", None) == func.__module__ \
                and _starts_subprocess(target, depth - 1, seen):
            return True
    return False


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("inprocess") or item.get_closest_marker("mpi"):
            continue
        funcs = [getattr(item, "function", None)]
        fixtureinfo = getattr(item, "_fixtureinfo", None)
        if fixtureinfo is not None:
            for name in fixtureinfo.names_closure:
                for fdef in fixtureinfo.name2fixturedefs.get(name, ()):
                    funcs.append(fdef.func)
        sub = any(f is not None and _starts_subprocess(f) for f in funcs)
        item.add_marker(pytest.mark.mpi if sub else pytest.mark.inprocess)
