"""Parameter sweeps (issue 4): grids and their order, groups of ranks, array tasks + merge,
kill and resume, warm starts, show --json, one-line errors.

The MPI runs are subprocesses (conftest).  The main checks: a 41-point Fig. 8 sweep gives the
same numbers with 1 group, 2 groups and as a 2-task array plus merge, and those numbers agree
with an independent dense steady state; a sweep killed halfway and resumed writes the same
file as one run straight through."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import reference as ref
from conftest import MPIRUN, ROOT, _env, fig8_text, run_cli, write_config

# Fig. 8 (two qubits, Delta = +-1, F = 0.25, gamma = 0.3, gamma_s = 3e-3) with few levels
LEVELS = 8


def fig8_sweep(num: int = 41, solver: str = 'method = "direct"') -> str:
    """Fig. 8's TOML swept over omega - omega_0 from -2 to 2 in ``num`` points, with ``solver``
    the body of its [solver] table."""
    return fig8_text(f"[solver]\n{solver}\n[sweep.drive]\ndetuning = {{start = -2.0, stop = 2.0, num = {num}}}",
                     levels=LEVELS)


FIG8 = fig8_sweep()
DETUNINGS = np.linspace(-2.0, 2.0, 41)
OBS = ("n", "a", "sigma", "Sx", "Sy", "Sz", "S2", "singlet", "negativity", "chsh")


def load_points(path):
    import pjcsync
    return pjcsync.load(path, rho=False)


def assert_same_points(a, b, tol, same_config=True):
    """Same indices, parameters and configurations; observables within tol."""
    assert [p["index"] for p in a] == [p["index"] for p in b]
    for p, q in zip(a, b):
        assert p["parameters"] == q["parameters"]
        assert p["config"] == q["config"] or not same_config
        for key in OBS:
            np.testing.assert_allclose(np.asarray(p["observables"][key]), np.asarray(q["observables"][key]),
                                       rtol=0, atol=tol, err_msg=f"point {p['index']} {key}")


def slurm_env(tmp_path, **variables):
    """Environment to run slurm/*.sbatch here: ``srun`` is a shim that starts
    ``scripts/mpirun.sh -n $SLURM_NTASKS`` and ``$PJCSYNC`` is this Python's pjcsync."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir(exist_ok=True)
    srun = bin_dir / "srun"
    srun.write_text('#!/bin/bash\nargs=()\nfor a in "$@"; do case $a in --cpu-bind=*|--mpi=*) ;; '
                    '*) args+=("$a");; esac; done\n'
                    f'exec {MPIRUN} -n "${{SLURM_NTASKS:-1}}" "${{args[@]}}"\n')
    pj = bin_dir / "pjcsync"
    pj.write_text(f'#!/bin/bash\nexec {sys.executable} -m pjcsync "$@"\n')
    for f in (srun, pj):
        f.chmod(0o755)
    env = dict(_env(), PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", PJCSYNC=str(pj), **variables)
    return env


def check_run(p):
    assert p.returncode == 0, p.stderr[-3000:]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The 41-point sweep, 1 rank, 1 group, straight through."""
    d = tmp_path_factory.mktemp("straight")
    cfg = write_config(d, FIG8, "fig8.toml")
    p = run_cli(["sweep", cfg, "--out", d / "one.h5"], 1)
    check_run(p)
    return cfg, d / "one.h5", p


# --- pure functions --------------------------------------------------------------------------------

def test_grid_order_snake_and_point_configs():
    from pjcsync.config import load_config
    from pjcsync.sweep import Grid
    cfg = load_config(data={"cavity": {"levels": 4, "decay": 0.3}, "qubits": {"detuning": [1.0]},
                            "drive": {"amplitude": 0.1},
                            "sweep": {"drive": {"detuning": {"start": -1, "stop": 1, "num": 3},
                                                "amplitude": [0.1, 0.2]},
                                      "qubits": {"decay": [0.0, 0.5]}}})
    g = Grid.from_config(cfg)
    # detuning is the fastest axis whatever the order it was written in
    assert g.names == ["qubits.decay", "drive.amplitude", "drive.detuning"] and g.shape == (2, 2, 3)
    assert g.parameters(0) == {"qubits.decay": 0.0, "drive.amplitude": 0.1, "drive.detuning": -1.0}
    assert g.parameters(5) == {"qubits.decay": 0.0, "drive.amplitude": 0.2, "drive.detuning": 1.0}
    order = g.snake()
    assert sorted(order) == list(range(12))
    assert all(g.adjacent(a, b) for a, b in zip(order, order[1:]))   # always a neighbour
    assert order[:6] == [0, 1, 2, 5, 4, 3]
    pc = g.point_config(cfg, 7)
    assert pc["qubits"]["decay"] == [0.5] and pc["drive"]["amplitude"] == 0.1
    assert pc["drive"]["detuning"] == 0.0 and pc["sweep"]["drive"] == {}


def test_point_config_can_change_qubit_count():
    from pjcsync.config import load_config
    from pjcsync.sweep import Grid
    cfg = load_config(data={"cavity": {"levels": 4, "decay": 0.3}, "qubits": {"detuning": [1.0], "decay": 0.2},
                            "drive": {"amplitude": 0.1},
                            "sweep": {"qubits": {"detuning": [[1.0], [1.0, 1.5]]}}})
    g = Grid.from_config(cfg)
    assert g.point_config(cfg, 1)["qubits"]["decay"] == [0.2, 0.2]


def test_task_parsing_and_shares():
    from pjcsync.parallel import InputError
    from pjcsync.sweep import contiguous_share, group_share, parse_task, task_path
    assert parse_task(None, {}) == (0, 1)
    assert parse_task(None, {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"}) == (3, 4)
    assert parse_task(None, {"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_MIN": "1",
                             "SLURM_ARRAY_TASK_COUNT": "4"}) == (3, 4)
    assert parse_task("1/2") == (1, 2)
    for bad in ("2/2", "x", "1/0"):
        with pytest.raises(InputError):
            parse_task(bad)
    shares = [contiguous_share(list(range(41)), 3, i) for i in range(3)]
    assert sum(shares, []) == list(range(41)) and [len(s) for s in shares] == [13, 14, 14]
    assert task_path("out/f.h5", 1, 2).name == "f.task-1-of-2.h5"
    items = list(range(10))
    for cfg, want in (({"warm_start": True, "schedule": "auto"}, [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]),
                      ({"warm_start": False, "schedule": "auto"}, [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]),
                      ({"warm_start": True, "schedule": "cyclic"}, [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]),
                      ({"warm_start": False, "schedule": "contiguous"}, [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]])):
        assert [group_share(items, 3, i, cfg) for i in range(3)] == want, cfg


@pytest.mark.parametrize("args, message", [
    (["--set", "sweep.drive.frequency=[1]"], "drive.frequency is not a key that can vary"),
    (["--set", "sweep.drive.detuning={start=0, stop=1}"], "must be a list or {start, stop, num}"),
    (["--set", "sweep.cavity.levels=[8, 1]"], "[sweep.cavity] levels"),
    (["--groups", "3"], "--groups 3"),
    (["--task", "2/2"], "--task expects i/n"),
])
def test_bad_input_one_line_exit_2(tmp_path, args, message):
    cfg = write_config(tmp_path, FIG8)
    p = run_cli(["sweep", cfg, "--out", tmp_path / "x.h5", *args], 1)
    assert p.returncode == 2, p.stderr
    assert message in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not (tmp_path / "x.h5").exists()


def test_no_swept_key(tmp_path):
    cfg = write_config(tmp_path, FIG8.split("[sweep.drive]")[0])
    p = run_cli(["sweep", cfg, "--out", tmp_path / "x.h5"], 1)
    assert p.returncode == 2 and "names no key to vary" in p.stderr


# --- the checks of the issue --------------------------------------------------------------------------

def test_fig8_one_group_two_groups_array_merge(straight, tmp_path):
    cfg, one, p1 = straight
    data1 = load_points(one)
    pts1 = data1["points"]
    assert len(pts1) == 41 and data1["sweep"]["complete"]
    np.testing.assert_allclose([p["parameters"]["drive.detuning"] for p in pts1], DETUNINGS, atol=1e-15)
    assert "41 points computed" in p1.stderr and "ETA" in p1.stderr       # progress and summary
    # independent dense steady states (tests/reference.py) at three detunings, resonance included
    for k in (0, 20, 33):
        H = ref.rwa_hamiltonian(LEVELS, [1.0, -1.0], [1.0, 1.0], 0.25, DETUNINGS[k])
        rho = ref.steady_state_dense(H, ref.collapse(LEVELS, 2, 0.3, [3e-3, 3e-3]))
        a, sm, sz = ref.ops(LEVELS, 2)
        sx = [s + s.conj().T for s in sm]
        o = pts1[k]["observables"]
        assert abs(np.trace(a.conj().T @ a @ rho).real - o["n"]) < 1e-8
        assert abs(sum(np.trace(x @ rho).real for x in sx) / 2 - o["Sx"]) < 1e-8
        S = [sum(0.5 * (sm[l] + sm[l].conj().T) for l in range(2)),          # total spin S = sigma / 2
             sum(0.5j * (sm[l] - sm[l].conj().T) for l in range(2)),
             sum(0.5 * sz[l] for l in range(2))]
        S2 = sum(c @ c for c in S)
        assert abs(np.trace(S2 @ rho).real - o["S2"]) < 1e-8
    # the dip of <S^2> at resonance (Fig. 8): minimum near omega = omega_0
    s2 = np.array([p["observables"]["S2"] for p in pts1])
    assert abs(DETUNINGS[s2.argmin()]) <= 0.2 and s2.min() < 1.0 < s2[0]

    # 2 ranks split into 2 groups, through slurm/sweep_groups.sbatch (srun faked by mpirun)
    env = slurm_env(tmp_path, SLURM_NTASKS="2")
    p = subprocess.run(["bash", "slurm/sweep_groups.sbatch", str(cfg), str(tmp_path / "two.h5")], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=300)
    check_run(p)
    assert "2 rank(s), 2 group(s)" in p.stderr
    assert len((tmp_path / "two.jsonl").read_text().splitlines()) == 41
    data2 = load_points(tmp_path / "two.h5")
    assert data2["ranks"] == 2
    assert {q["solver"]["ranks"] for q in data2["points"]} == {1}      # each point on a group of 1
    assert_same_points(pts1, data2["points"], 1e-10)

    # a 2-task array: task 1 by slurm/sweep_array.sbatch (SLURM's variables), task 0 by --task
    env = slurm_env(tmp_path, SLURM_NTASKS="1", SLURM_ARRAY_TASK_ID="2", SLURM_ARRAY_TASK_MIN="1",
                    SLURM_ARRAY_TASK_COUNT="2")
    procs = [subprocess.Popen(["bash", "slurm/sweep_array.sbatch", str(cfg), str(tmp_path / "arr.h5")],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
             subprocess.Popen([sys.executable, "-m", "pjcsync", "sweep", str(cfg), "--out", str(tmp_path / "arr.h5"),
                               "--task", "0/2"], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)]
    for pr in procs:
        _, err = pr.communicate(timeout=300)
        assert pr.returncode == 0, err[-3000:]
    t0, t1 = tmp_path / "arr.task-0-of-2.h5", tmp_path / "arr.task-1-of-2.h5"
    assert len(load_points(t0)["points"]) + len(load_points(t1)["points"]) == 41
    p = run_cli(["merge", tmp_path / "partial.h5", t0], 1)
    assert p.returncode == 1 and "points are missing" in p.stderr
    assert not (tmp_path / "partial.h5").exists()
    p = run_cli(["merge", tmp_path / "arr.h5"], 1)               # finds the task files itself
    check_run(p)
    merged = load_points(tmp_path / "arr.h5")
    assert merged["sweep"]["complete"] and merged["sweep"]["task"] == [0, 1]
    assert_same_points(pts1, merged["points"], 1e-12)

    # show --json: one JSON object per point with parameters, observables, solver statistics
    p = run_cli(["show", tmp_path / "arr.h5", "--json"], 1)
    check_run(p)
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(lines) == 41
    assert lines[7]["parameters"] == pts1[7]["parameters"]
    assert lines[7]["observables"]["S2"] == merged["points"][7]["observables"]["S2"]
    assert lines[7]["solver"]["method"] == "direct" and "seconds" in lines[7]["solver"]


def test_killed_and_resumed_equals_straight(straight, tmp_path):
    cfg, one, _ = straight
    out = tmp_path / "k.h5"
    parts = tmp_path / "k.h5.parts"
    pr = subprocess.Popen([sys.executable, "-m", "pjcsync", "sweep", str(cfg), "--out", str(out)],
                          env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    n = 0
    while time.time() < deadline and pr.poll() is None:
        n = len(list(parts.glob("p*.h5"))) if parts.is_dir() else 0
        if n >= 12:
            break
        time.sleep(0.02)
    pr.send_signal(signal.SIGKILL)
    pr.wait(timeout=60)
    kept = len(list(parts.glob("p*.h5")))
    assert 12 <= kept < 41 and not out.exists(), f"kill came too late ({kept} points)"

    p = run_cli(["sweep", cfg, "--out", out], 1)                       # refuses to start over
    assert p.returncode == 2 and "--resume" in p.stderr
    p = run_cli(["sweep", cfg, "--out", out, "--resume", "--set", "drive.amplitude=0.3"], 1)
    assert p.returncode == 2 and "different sweep" in p.stderr          # not the same sweep
    p = run_cli(["sweep", cfg, "--out", out, "--resume"], 1)
    check_run(p)
    assert f"{41 - kept} points computed ({kept} already done)" in p.stderr
    assert not parts.exists()
    a, b = load_points(one), load_points(out)
    assert a["sweep"] == b["sweep"]
    assert_same_points(a["points"], b["points"], 0.0)                  # the same numbers, bit for bit
    for p_, q in zip(a["points"], b["points"]):
        assert p_["checks"]["min_eigenvalue"] == q["checks"]["min_eigenvalue"]
    # resuming a finished sweep computes nothing and leaves the same points
    p = run_cli(["sweep", cfg, "--out", out, "--resume"], 1)
    check_run(p)
    assert "0 points computed (41 already done)" in p.stderr
    assert_same_points(a["points"], load_points(out)["points"], 0.0)


def test_krylov_warm_starts_two_ranks(tmp_path):
    """Warm starts inside one group of 2 ranks: recorded, counted against a cold solve, and the
    same states as the direct method."""
    text = fig8_sweep(5, 'method = "krylov"\nrtol = 1e-11') + "[sweep]\ncold_reference = true\n"
    cfg = write_config(tmp_path, text)
    p = run_cli(["sweep", cfg, "--out", tmp_path / "w.h5"], 2)
    check_run(p)
    pts = load_points(tmp_path / "w.h5")["points"]
    assert [q["solver"]["warm_start_from"] for q in pts] == [None, 0, 1, 2, 3]
    for q in pts[1:]:
        assert q["solver"]["initial_guess"] == "argument"
        assert q["solver"]["iterations_saved"] == q["solver"]["cold_iterations"] - q["solver"]["iterations"]
    assert "warm starts saved" in p.stderr
    p = run_cli(["sweep", cfg, "--out", tmp_path / "d.h5", "--set", "solver.method=direct"], 1)
    check_run(p)
    assert_same_points(pts, load_points(tmp_path / "d.h5")["points"], 1e-8, same_config=False)


@pytest.mark.parametrize("schedule, ranks", [
    ([], [2, 2, 2, 1, 1, 1, 1]),                                   # auto with warm starts: contiguous
    (["--set", "sweep.warm_start=false"], [2, 1, 2, 1, 2, 1, 2]),  # auto without: dealt out
    (["--set", 'sweep.schedule="cyclic"'], [2, 1, 2, 1, 2, 1, 2])])
def test_unequal_groups_three_ranks(tmp_path, schedule, ranks):
    """3 ranks as 2 groups (of 2 and 1 ranks: MUMPS and the observables on a sub-communicator)
    give the same points as 1 rank; each group solves the share its schedule gives it (the
    point records its group's ranks)."""
    cfg = write_config(tmp_path, fig8_sweep(7))
    p = run_cli(["sweep", cfg, "--out", tmp_path / "g.h5", "--groups", "2", *schedule], 3)
    check_run(p)
    pts = load_points(tmp_path / "g.h5")["points"]
    assert [q["solver"]["ranks"] for q in sorted(pts, key=lambda q: q["index"])] == ranks
    p = run_cli(["sweep", cfg, "--out", tmp_path / "s.h5"], 1)
    check_run(p)
    assert_same_points(pts, load_points(tmp_path / "s.h5")["points"], 1e-10)


def test_failed_points_exit_1_and_are_retried(tmp_path):
    text = fig8_sweep(3, 'method = "krylov"\nmax_iterations = 2')
    cfg = write_config(tmp_path, text)
    p = run_cli(["sweep", cfg, "--out", tmp_path / "f.h5"], 1)
    assert p.returncode == 1 and "3 point(s) failed" in p.stderr
    assert p.stderr.strip().splitlines()[-1].startswith("pjcsync: error:")
    sweep = load_points(tmp_path / "f.h5")["sweep"]
    assert sweep["complete"] is False
    # the file names the failed points with their parameters and reasons, and so does show
    assert [r["index"] for r in sweep["failed"]] == [0, 1, 2]
    assert [r["parameters"]["drive.detuning"] for r in sweep["failed"]] == [-2.0, 0.0, 2.0]
    assert all("krylov" in r["reason"] and "did not converge in 2 iterations" in r["reason"] for r in sweep["failed"])
    p = run_cli(["show", tmp_path / "f.h5"], 1)
    failed_lines = [l for l in p.stdout.splitlines() if l.startswith("failed: point")]
    assert p.returncode == 0 and len(failed_lines) == 3 and "(drive.detuning=0)" in failed_lines[1]
    p = run_cli(["sweep", cfg, "--out", tmp_path / "f.h5", "--resume"], 1)     # tried again
    assert p.returncode == 1 and "3 point(s) failed" in p.stderr and "(0 already done)" in p.stderr
    assert len(load_points(tmp_path / "f.h5")["sweep"]["failed"]) == 3          # the last run's
    p = run_cli(["sweep", cfg, "--out", tmp_path / "f.h5", "--resume", "--set", "solver.max_iterations=500"], 1)
    assert p.returncode == 2 and "different sweep" in p.stderr   # the configuration is part of the sweep


def test_merge_keeps_the_failed_points_no_input_solved(tmp_path):
    """Two task files of one sweep, each with a point it could not solve; task 1 solved task
    0's failed point (as a later --resume would have): the merged file lists only the other."""
    from pjcsync.results import write_points
    from pjcsync.sweep import merge

    def task(i, solved, failed):
        header = {"signature": "s", "points": 3, "task": [i, 2], "task_points": 2, "complete": False,
                  "failed": [{"index": k, "parameters": {"drive.detuning": float(k)}, "reason": f"r{k}"}
                             for k in failed]}
        pts = [{"index": k, "parameters": {"drive.detuning": float(k)}, "config": {}, "solver": {},
                "observables": {"n": float(k)}} for k in solved]
        return write_points(tmp_path / f"t{i}.h5", pts, sweep=header)

    res = merge(tmp_path / "m.h5", [task(0, [0], [1]), task(1, [1], [2])], partial=True)
    assert res["missing"] == [2]
    failed = load_points(tmp_path / "m.h5")["sweep"]["failed"]
    assert failed == [{"index": 2, "parameters": {"drive.detuning": 2.0}, "reason": "r2"}]


def test_every_failed_point_is_named_whichever_group_had_it(tmp_path):
    """2 ranks as 2 groups: the points rank 1's group failed at are named on stderr too (its
    progress lines are not printed), one line per point, before the error line."""
    cfg = write_config(tmp_path, fig8_sweep(3, 'method = "krylov"\nmax_iterations = 2'))
    p = run_cli(["sweep", cfg, "--out", tmp_path / "f.h5", "--groups", "2"], 2)
    assert p.returncode == 1 and "3 point(s) failed" in p.stderr
    named = [l for l in p.stderr.splitlines() if l.startswith("sweep: failed point ")]
    assert [l.split()[3] for l in named] == ["0:", "1:", "2:"] and all("krylov" in l for l in named)


def test_guide_lists_every_key_and_command():
    """docs/guide.md's generated tables match the code (scripts/gen_guide.py --check)."""
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_guide.py"), "--check"], capture_output=True,
                       text=True, env=_env(), timeout=120)
    assert p.returncode == 0, p.stderr
    from pjcsync.config import SCHEMA
    guide = (ROOT / "docs" / "guide.md").read_text()
    for section, keys in SCHEMA.items():
        assert f"#### `[{section}]`" in guide
        for name in keys:
            assert f"| `{name}` |" in guide, (section, name)
    for command in ("info", "steady", "sweep", "merge", "show"):
        assert f"#### `pjcsync {command}`" in guide


@pytest.mark.slow
def test_figures_show_the_papers_features():
    """scripts/fig_steady.py on its default grids (a few minutes): the dip of <S^2> near
    resonance for antisymmetric detunings only (Fig. 7), multiphoton oscillations of <S_x>
    between 0 and Delta (Fig. 3), <S^2> ~ 0.43 at resonance (Fig. 8), synchronization peaks
    growing with M (Fig. 11).  --check makes a missing feature exit 1."""
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "fig_steady.py"), "--fig", "3", "--fig", "7",
                        "--fig", "8", "--fig", "11", "--check"], capture_output=True, text=True, env=_env(),
                       timeout=1800, cwd=ROOT)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert p.stdout.count("feature OK") == 4, p.stdout
