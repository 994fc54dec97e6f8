"""Nothing lost, nothing silent (issue 12, item 5): progress lines on stderr and --quiet, clean
--json next to PETSc's monitors, failure messages that state their norm, checkpoints of
unconverged solves that --resume continues from and that nobody mistakes for a result."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from conftest import fig8_text, run_cli, write_config

CASE = fig8_text(levels=8)


@pytest.mark.parametrize("ranks", [1, 2])
def test_json_stays_clean_with_petsc_monitors(tmp_path, ranks):
    cfg = write_config(tmp_path, CASE)
    p = run_cli(["steady", cfg, "--json", "--set", "solver.method=krylov", "-ksp_monitor",
                 "-ksp_converged_reason", "-log_view"], ranks=ranks, timeout=400, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout)                   # one JSON object, nothing else
    assert out["solver"]["method"] == "krylov" and out["solver"]["ranks"] == ranks
    assert "KSP Residual norm" in p.stderr and "PETSc Performance Summary" in p.stderr


PROGRESS = re.compile(r"^pjcsync: (krylov \(\w+\)|sylvester \(anderson \d+\)) iteration \d+: "
                      r"(\|\|b - A x\|\|_2 / \|\|b\|\|_2|\|\|L rho\|\|_F / \|\|e\|\|_F) = \S+ \(rtol 1e-10\)")


def _progress_lines(stderr: str) -> list[str]:
    """pjcsync's lines on stderr but its warnings and errors (which --quiet keeps)."""
    return [ln for ln in stderr.splitlines() if ln.startswith("pjcsync")
            and not ln.startswith(("pjcsync: warning", "pjcsync: error"))]


@pytest.mark.parametrize("method,ranks", [("krylov", 2), ("sylvester", 1)])
def test_progress_lines_and_quiet(tmp_path, method, ranks):
    """An interval shorter than one iteration: a line per iteration on stderr (rank 0 only),
    none with --quiet; stdout is the JSON either way."""
    cfg = write_config(tmp_path, CASE)
    args = ["steady", cfg, "--json", "--set", f"solver.method={method}", "--set", "solver.progress=1e-9"]
    p = run_cli(args, ranks=ranks, timeout=400, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    lines = _progress_lines(p.stderr)
    its = json.loads(p.stdout)["solver"]["iterations"]
    lines = [ln for ln in lines if " iteration " in ln]
    assert len(lines) >= its - 1 and all(PROGRESS.match(ln) for ln in lines), lines[:3]
    assert "per iteration" in lines[-1] and "left" in lines[-1]
    q = run_cli(args + ["--quiet"], ranks=ranks, timeout=400, cwd=tmp_path)
    assert q.returncode == 0 and json.loads(q.stdout)["solver"]["iterations"] == its
    assert not _progress_lines(q.stderr), q.stderr


def test_sweep_points_report_progress(tmp_path):
    cfg = write_config(tmp_path, CASE + "[solver]\nmethod = 'krylov'\nprogress = 1e-9\n"
                       "[sweep.drive]\ndetuning = [0.1]\n")
    p = run_cli(["sweep", cfg, "--out", tmp_path / "s.h5"], timeout=400, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert sum(bool(PROGRESS.match(ln)) for ln in p.stderr.splitlines()) > 10
    q = run_cli(["sweep", cfg, "--out", tmp_path / "q.h5", "--quiet"], timeout=400, cwd=tmp_path)
    assert q.returncode == 0 and not _progress_lines(q.stderr), q.stderr


def _bordered_residual(rho: np.ndarray) -> float:
    """``||b - A x||_2 / ||b||_2`` of the krylov method's bordered system ``(L + e t^T) x = e``,
    ``e = K / Tr K`` (steady.py), for :data:`CASE` from the dense reference operators."""
    from reference import collapse, lindblad_map, rwa_hamiltonian
    H = rwa_hamiltonian(8, (1.0, -1.0), (1.0, 1.0), 0.25, 0.0)
    cs = collapse(8, 2, 0.3, (3e-3, 3e-3))
    K = sum(c.conj().T @ c for c in cs)
    e = K / np.trace(K).real
    r = e - (lindblad_map(H, cs, rho) + e * np.trace(rho))
    return float(np.linalg.norm(r) / np.linalg.norm(e))


@pytest.mark.parametrize("method,ranks", [("krylov", 2), ("sylvester", 1)])
def test_unconverged_checkpoint_and_resume(tmp_path, method, ranks):
    from pjcsync.results import load
    cfg = write_config(tmp_path, CASE)
    ck = tmp_path / "ck.h5"
    base = ["steady", cfg, "--set", f"solver.method={method}", "--set", f"solver.checkpoint='{ck}'"]
    p = run_cli(base + ["--set", "solver.max_iterations=4", "--out", tmp_path / "r.h5"], ranks=ranks,
                timeout=400, cwd=tmp_path)
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    err = [ln for ln in p.stderr.splitlines() if ln.startswith("pjcsync: error")]
    assert len(err) == 1 and "did not converge in 4 iterations" in err[0] and str(ck) in err[0]
    assert not (tmp_path / "r.h5").exists()          # no result for an unconverged solve
    data = load(ck)
    assert data["solver"]["converged"] is False and data["observables"] == {}
    assert any("UNCONVERGED" in w for w in data["warnings"])
    norm = "||b - A x||_2 / ||b||_2" if method == "krylov" else "||L rho||_F / ||e||_F"
    quoted = float(re.search(re.escape(norm) + r" = (\S+) > rtol = 1.0e-10", err[0]).group(1))
    # the history is relative to the same norm: its last entry is the residual quoted
    assert float(err[0].split("relative residual history: ")[1].split(";")[0].split(", ")[-1]) == quoted
    assert quoted > 1e-10
    if method == "krylov":       # the norm the message names is the residual of the iterate kept
        assert _bordered_residual(data["rho"]) == pytest.approx(quoted, rel=1e-2)
    show = run_cli(["show", ck], cwd=tmp_path)
    assert show.returncode == 0 and "UNCONVERGED CHECKPOINT, not a steady state" in show.stdout
    assert "<n>" not in show.stdout
    # an existing checkpoint is neither overwritten nor ignored
    again = run_cli(base, ranks=ranks, timeout=400, cwd=tmp_path)
    assert again.returncode == 2 and "--resume" in again.stderr and ck.exists()
    res = run_cli(base + ["--resume", "--json"], ranks=ranks, timeout=400, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    solver = json.loads(res.stdout)["solver"]
    assert solver["initial_guess"] == str(ck) and not ck.exists()
    ref = json.loads(run_cli(["steady", cfg, "--json", "--set", "solver.method=direct"], cwd=tmp_path).stdout)
    got = json.loads(res.stdout)["observables"]
    assert abs(got["n"] - ref["observables"]["n"]) < 1e-8


def test_auto_checkpoint_skips_short_solves(tmp_path):
    """``checkpoint = "auto"``: a failed solve of a few seconds leaves no file behind."""
    cfg = write_config(tmp_path, CASE)
    p = run_cli(["steady", cfg, "--set", "solver.method=krylov", "--set", "solver.max_iterations=3"],
                timeout=400, cwd=tmp_path)
    assert p.returncode == 1 and "kept in" not in p.stderr
    assert not list(tmp_path.glob("*.checkpoint.h5"))
    missing = run_cli(["steady", cfg, "--resume"], timeout=400, cwd=tmp_path)
    assert missing.returncode == 2 and "no checkpoint 'case.checkpoint.h5'" in missing.stderr


@pytest.mark.parametrize("method", ["krylov"])
def test_periodic_checkpoints_removed_after_convergence(tmp_path, method):
    """A checkpoint at every iteration (checkpoint_every shorter than one): the solve is the same,
    and the file is gone once it has converged."""
    cfg = write_config(tmp_path, CASE)
    ck = tmp_path / "ck.h5"
    args = ["steady", cfg, "--json", "--quiet", "--set", f"solver.method={method}",
            "--set", f"solver.checkpoint='{ck}'"]
    plain = run_cli(args, ranks=2, timeout=400, cwd=tmp_path)
    p = run_cli(args + ["--set", "solver.checkpoint_every=1e-9"], ranks=2, timeout=400, cwd=tmp_path)
    assert plain.returncode == 0 and p.returncode == 0, p.stderr[-3000:]
    a, b = json.loads(plain.stdout), json.loads(p.stdout)
    assert a["solver"]["iterations"] == b["solver"]["iterations"]
    assert abs(a["observables"]["n"] - b["observables"]["n"]) < 1e-10
    assert not ck.exists()
