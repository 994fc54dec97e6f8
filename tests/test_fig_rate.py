"""scripts/fig_rate.py: points over MPI ranks, cached per point (resume), real files in tmp_path,
the exact curve against the dense numpy reference (tests/reference.py)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, _env
from reference import collapse, ops, rwa_hamiltonian, steady_state_dense

SCRIPT = ROOT / "scripts" / "fig_rate.py"
# Fig. 10's parameters (two qubits) on a tiny grid: 3 detunings, n_c = 6 (not raised)
TINY = ["--fig", "10", "--points", "3", "--levels", "6", "--cap", "6"]


def _run(args, tmp_path, name, ranks=1, timeout=600):
    cmd = [sys.executable, str(SCRIPT), *TINY, "--out", str(tmp_path / name), "--cache", str(tmp_path / f"{name}_cache"),
           *args]
    if ranks > 1:
        cmd += ["--ranks", str(ranks)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(), cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    return p


def _reference(x: float) -> tuple[float, float]:
    """<S_1x> and <S^2> of Fig. 10's model at n_c = 6 from the dense numpy steady state."""
    H = rwa_hamiltonian(6, [1.0, -1.0], [1.0, 1.0], 0.25, x)
    rho = steady_state_dense(H, collapse(6, 2, 0.3, [3e-3, 3e-3]))
    _, sm, sz = ops(6, 2)
    sx = [s + s.conj().T for s in sm]
    sy = [1j * (s - s.conj().T) for s in sm]
    s1x = 0.5 * np.trace(sx[0] @ rho).real
    dot = sum(np.trace(a[0] @ a[1] @ rho).real for a in (sx, sy, sz))
    return s1x, 1.5 + 0.5 * dot


def _files(cache):
    return {p.name: p.stat().st_mtime_ns for p in cache.rglob("*.json")}


def test_points_at_1_and_2_ranks_agree_with_the_dense_reference_and_resume(tmp_path):
    repo_npz = ROOT / "docs" / "figures" / "fig10_rate.npz"
    before = repo_npz.stat().st_mtime_ns if repo_npz.exists() else None
    _run([], tmp_path, "one")
    p2 = _run([], tmp_path, "two", ranks=2)
    assert "3 to compute on 2 rank(s)" in p2.stderr, p2.stderr
    d1 = dict(np.load(tmp_path / "one" / "fig10_rate.npz"))
    d2 = dict(np.load(tmp_path / "two" / "fig10_rate.npz"))
    assert list(d1) == list(d2)
    for k in d1:
        if d1[k].dtype.kind in "fc":
            assert np.allclose(d1[k], d2[k], rtol=1e-9, atol=1e-12, equal_nan=True), k
        else:
            assert np.array_equal(d1[k], d2[k]), k
    assert list(d1["x"]) == [-3.0, 0.0, 3.0] and list(d1["levels_0"]) == [6, 6, 6]
    for i, x in enumerate(d1["x"]):
        s1x, s2 = _reference(x)
        assert abs(d1["exact_S1x_0"][i] - s1x) < 1e-7 and abs(d1["exact_S2_0"][i] - s2) < 1e-7, (x, s1x, s2)
        # far from resonance (x = +-3) the series (R)* is the exact curve
        if abs(x) > 2:
            assert d1["ratestar_rel_0"][i] < 1e-4 and abs(d1["ratestar_S1x_0"][i] - s1x) < 1e-4
    for name in ("one", "two"):
        assert (tmp_path / name / "fig10_rate.png").stat().st_size > 10_000
        assert (tmp_path / name / "data" / "fig10_rate.json").is_file()
        assert len(_files(tmp_path / f"{name}_cache")) == 3
    assert (repo_npz.stat().st_mtime_ns if repo_npz.exists() else None) == before   # docs/ untouched

    # resume at 2 ranks: nothing recomputed (same files, same result)
    cached = _files(tmp_path / "two_cache")
    p = _run([], tmp_path, "two", ranks=2)
    assert "3 of 3 point(s) cached" in p.stderr and "0 to compute" in p.stderr, p.stderr
    assert _files(tmp_path / "two_cache") == cached
    again = dict(np.load(tmp_path / "two" / "fig10_rate.npz"))
    assert all(np.array_equal(again[k], d2[k], equal_nan=again[k].dtype.kind in "fc") for k in d2)

    # at 1 rank, one point's file removed: only that point is computed again, the others are
    # the same files; --fresh recomputes all
    cache = tmp_path / "one_cache"
    victim = sorted(cache.rglob("*.json"))[1]
    victim.unlink()
    cached = _files(cache)
    p = _run([], tmp_path, "one")
    assert "2 of 3 point(s) cached" in p.stderr and "1 to compute" in p.stderr, p.stderr
    assert victim.is_file() and {k: v for k, v in _files(cache).items() if k != victim.name} == cached
    p = _run(["--fresh"], tmp_path, "one")
    assert "0 of 3 point(s) cached" in p.stderr, p.stderr


@pytest.mark.parametrize("args", [["--points", "0"], ["--levels", "1"], ["--ranks", "0"],
                                  ["--reduced-curve", "1"], ["--full", "--fig", "12", "--reduced-curve", "4"]])
def test_bad_input_is_one_line_and_exit_2(args, tmp_path):
    p = subprocess.run([sys.executable, str(SCRIPT), *args, "--out", str(tmp_path / "o"), "--cache", str(tmp_path / "c")],
                       capture_output=True, text=True, timeout=120, env=_env(), cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "error" in p.stderr, p.stderr
    assert not (tmp_path / "o").exists() and not (tmp_path / "c").exists()


def test_title_names_the_curves_at_reduced_cavity_size():
    sys.path.insert(0, str(ROOT / "scripts"))
    import fig_rate
    spec = fig_rate.FIGS[12]
    data = {"x": np.zeros(241), "ncurves": 4, "labels": np.array([c["label"] for c in spec["curves"]]),
            "reduced_curves": np.array([2, 3])}
    for ci, lev in enumerate(((100, 150), (100, 100), (16, 30), (12, 15))):
        data[f"levels_{ci}"] = np.array(lev)
    note = fig_rate.note(spec, data, True)
    assert note.startswith("paper resolution") and "$M=1, M=2$: $n_c$ = 100-150" in note, note
    assert "reduced $n_c$ for $M=3, M=4$: 12-30" in note, note
    assert fig_rate.note(spec, dict(data, reduced_curves=np.array([], int)), True) == \
        "paper resolution: 241 points, $n_c$ = 12-150 per point"
    assert fig_rate.note(spec, data, False).startswith("reduced resolution")


def test_a_curve_may_start_below_the_figures_paper_levels():
    """Fig. 12 at the paper's sizes: M = 1, 2 start at the figure's 100 levels, M = 3, 4 at their own
    30; --levels (a different start) applies to every curve; reduced curves keep their own sizes."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import fig_rate
    spec = fig_rate.FIGS[12]
    full = [fig_rate.curve_sizes(spec, c, spec["full_levels"], spec["full_cap"], False) for c in spec["curves"]]
    assert full == [(100, 150), (100, 150), (30, 150), (30, 150)]
    assert {fig_rate.curve_sizes(spec, c, 50, spec["full_cap"], False) for c in spec["curves"]} == {(50, 150)}
    assert fig_rate.curve_sizes(spec, spec["curves"][2], spec["full_levels"], spec["full_cap"], True) == (16, 30)
