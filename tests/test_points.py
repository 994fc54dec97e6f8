"""scripts/_points.py: independent points over ranks, cached one file per point, resumable."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import MPIRUN, ROOT, _env

DRIVER = ROOT / "tests" / "mpi" / "points_driver.py"
sys.path.insert(0, str(ROOT / "scripts"))
from _points import deal, point_file, point_key, store_point  # noqa: E402


def _run(tmp_path, ranks, *extra):
    cmd = [sys.executable, str(DRIVER), str(tmp_path / "cache"), str(tmp_path / "out.json"), *map(str, extra)]
    if ranks > 1:
        cmd = [MPIRUN, "-n", str(ranks), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=_env())


def _calls(tmp_path) -> list[int]:
    return sorted(int(x) for f in tmp_path.glob("calls-*.txt") for x in f.read_text().split())


@pytest.mark.parametrize("ranks", [1, 2])
def test_all_points_in_order_each_in_its_own_file_then_resume_computes_nothing(tmp_path, ranks):
    p = _run(tmp_path, ranks)
    assert p.returncode == 0, p.stderr[-2000:]
    vals = json.loads((tmp_path / "out.json").read_text())
    assert [v["x"] for v in vals] == list(range(7)) and all(v["sq"] == v["x"] ** 2 for v in vals)
    assert {v["rank"] for v in vals} == set(range(ranks))      # both ranks took points
    assert _calls(tmp_path) == list(range(7))
    files = sorted((tmp_path / "cache").iterdir())
    assert len(files) == 7 and all(f.suffix == ".json" and not f.name.startswith(".") for f in files)
    key = point_key({"x": 3, "grid": "g1"})
    assert json.loads(point_file(tmp_path / "cache", key).read_text()) == {"key": key, "value": vals[3]}
    (tmp_path / "out.json").unlink()
    p = _run(tmp_path, ranks)                                     # resume: every point cached
    assert p.returncode == 0, p.stderr[-2000:]
    assert "7 of 7 point(s) cached" in p.stderr
    assert _calls(tmp_path) == list(range(7))                     # nothing computed again
    assert json.loads((tmp_path / "out.json").read_text()) == vals


@pytest.mark.parametrize("ranks", [1, 2])
def test_partial_cache_only_missing_points_are_computed(tmp_path, ranks):
    cache = tmp_path / "cache"
    cache.mkdir()
    store_point(cache, point_key({"x": 2, "grid": "g1"}), {"x": 2, "sq": -1, "rank": 99})   # marked value
    store_point(cache, point_key({"x": 5, "grid": "g0"}), {"x": 5, "sq": -1, "rank": 99})   # other grid
    p = _run(tmp_path, ranks)
    assert p.returncode == 0, p.stderr[-2000:]
    vals = json.loads((tmp_path / "out.json").read_text())
    assert _calls(tmp_path) == [0, 1, 3, 4, 5, 6]                 # 2 from the cache, 5 (other key) again
    assert vals[2] == {"x": 2, "sq": -1, "rank": 99} and vals[5]["sq"] == 25


@pytest.mark.parametrize("ranks", [1, 2])
def test_a_failing_point_ends_the_job_with_one_line_and_keeps_the_finished_points(tmp_path, ranks):
    # x = 1 is rank 1's first point at 2 ranks; it fails after 1 s, when rank 0 has done its
    # points and waits in the final gather (which must not hang)
    p = _run(tmp_path, ranks, 1)
    assert p.returncode != 0
    assert not (tmp_path / "out.json").exists()
    err = [line for line in p.stderr.splitlines() if "points_driver.py: error" in line]
    assert len(err) == 1 and "on fire second line" in err[0], p.stderr
    assert '"x":1' in err[0] and "Traceback" not in p.stderr
    if ranks == 1:
        assert p.returncode == 1 and "(rank" not in err[0]
    else:
        assert "(rank 1 of 2)" in err[0]
    assert 0 in _calls(tmp_path) and point_file(tmp_path / "cache", point_key({"x": 0, "grid": "g1"})).exists()


def test_deal_balances_the_estimated_costs():
    assert deal([1.0] * 5, 2) == [[0, 2, 4], [1, 3]]                  # equal costs: round robin
    assert deal([1, 1, 5, 1, 1, 1], 2) == [[2], [0, 1, 3, 4, 5]]       # the heavy point alone
    assert deal([3, 3, 2, 2, 2], 2) == [[0, 2, 4], [1, 3]]             # greedy, largest first: 7 and 5
    assert deal([], 3) == [[], [], []] and deal([2.0], 3) == [[0], [], []]
