"""The figure scripts (scripts/fig_*.py) and their data files in docs/figures/data/."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT, _env

SCRIPTS = ("fig_steady.py", "fig_rate.py", "fig_semiclassical.py", "fig_evolve.py")

# run a script as __main__ (its folder first on sys.path, as python does) with matplotlib made
# unimportable (sys.modules[name] = None)
_HIDE = ("import os, runpy, sys; sys.path.insert(0, os.path.dirname(sys.argv[1])); sys.modules['matplotlib'] = None; sys.argv = [sys.argv[1]]; "
         "runpy.run_path(sys.argv[0], run_name='__main__')")


@pytest.mark.parametrize("script", SCRIPTS)
def test_missing_matplotlib_is_one_line_and_exit_2_before_any_computation(script, tmp_path):
    p = subprocess.run([sys.executable, "-c", _HIDE, str(ROOT / "scripts" / script)], capture_output=True,
                       text=True, env=_env(), timeout=120, cwd=tmp_path)
    assert p.returncode == 2, p.stderr[-2000:]
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "matplotlib is not installed" in lines[0], p.stderr
    assert p.stdout == ""                   # nothing computed, nothing announced
    assert not (tmp_path / "results").exists()
