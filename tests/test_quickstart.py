"""examples/quickstart.py runs, writes its PNG and shows Fig. 8's dip of <S^2> at resonance;
the README shows the same file."""
import re
import subprocess
import sys

import pytest

from conftest import EXAMPLES, ROOT, _env


def test_quickstart_runs(tmp_path):
    pytest.importorskip("matplotlib")
    p = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py"), str(tmp_path)], capture_output=True,
                       text=True, timeout=600, env=_env())
    assert p.returncode == 0, p.stderr[-3000:]
    png = tmp_path / "quickstart_fig8.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    m = re.search(r"min <S\^2> = ([\d.]+) at omega - omega_0 = ([+-][\d.]+)", p.stdout)
    assert m, p.stdout
    # the singlet dip at resonance (Fig. 8): <S^2> well below its off-resonant value 2
    assert float(m.group(1)) < 1.0 and abs(float(m.group(2))) < 0.3


def test_quickstart_is_short_and_in_the_readme():
    text = (EXAMPLES / "quickstart.py").read_text()
    assert len(text.splitlines()) <= 30
    readme = (ROOT / "README.md").read_text()
    body = text.split('"""', 2)[2].strip()
    assert body in readme, "README.md must show examples/quickstart.py verbatim"


@pytest.mark.parametrize("arg", ["--help", "no-such-folder"])
def test_quickstart_names_its_argument_before_computing(tmp_path, arg):
    """Not a folder (e.g. --help): one usage line, exit 2, within a second or so (nothing solved)."""
    pytest.importorskip("matplotlib")
    p = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py"), arg], capture_output=True, text=True,
                       timeout=600, env=_env(), cwd=tmp_path)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip().splitlines() == [f"usage: python examples/quickstart.py [OUTDIR]: {arg!r} is not a folder"]
