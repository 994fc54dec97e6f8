"""Hardening (issue 14): a run owns its outputs, no hang, every bad input one line.

One regression test per defect of issue 14 (items 1-5 and 9-13, at the rank counts named
there), and :func:`test_bad_inputs_table`: a table of bad inputs and faults run through the
command line at 1 rank (and a subset at 2 ranks; all of them at 2 ranks with ``-m slow``), each
required to end with exit status 2 (bad input) or 1 (failed computation), at most one line
from pjcsync on stderr (mpirun's own notice after a non-zero exit aside), no traceback, within
a time limit, and with every file that existed before the run unchanged.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import MPIRUN, ROOT, _env, fig8_text, model_text, run_cli, write_config

TIMEOUT = 300

# N = 12 (6 levels, 1 qubit): every command finishes in a second or two
SMALL = dict(levels=6, gamma=0.3, omega0=10.0, delta="1.0", coupling=None, gamma_s="3e-3", F=0.25, dw=None)
SWEEP = '[solver]\nmethod = "direct"\n[sweep.drive]\ndetuning = {start = -1.0, stop = 1.0, num = NUM}\n'


def small_text(extra: str = "", **kw) -> str:
    return model_text({**SMALL, **kw}, extra)


PROGRESS = ("sweep: ", "evolve: ")


def pjcsync_lines(stderr: str) -> list[str]:
    """The lines of stderr that are not mpirun's own notice (its framed block after a non-zero
    exit, and its one-line summaries) nor progress lines (``sweep: ...``, ``evolve: ...``,
    ``pjcsync: <progress>``): the error line and anything unexpected."""
    out, in_box = [], False
    for line in stderr.splitlines():
        if line.startswith("-----"):
            in_box = not in_box
            continue
        if in_box or not line.strip() or line.startswith("[") and "mpirun" in line.lower():
            continue
        if line.startswith(PROGRESS) or (line.startswith("pjcsync: ")
                                         and not line.startswith(("pjcsync: error", "pjcsync: warning"))):
            continue                   # progress lines (the sweep's, evolve's, a solve's)
        out.append(line)
    return out


def assert_one_line(p, code: int, text: str | None = None):
    lines = pjcsync_lines(p.stderr)
    assert p.returncode == code, (p.returncode, p.stderr[-3000:])
    assert "Traceback" not in p.stderr, p.stderr[-3000:]
    assert len(lines) <= 1, p.stderr[-3000:]
    if text is not None:
        assert lines and text in lines[0], p.stderr[-3000:]


def run_mpmd(parts: list[list[str]], timeout: float = TIMEOUT, cwd=None):
    """``mpirun -n 1 pjcsync A : -n 1 pjcsync B ...`` (one rank per part)."""
    cmd = [MPIRUN]
    for k, args in enumerate(parts):
        cmd += ([":"] if k else []) + ["-n", "1", sys.executable, "-m", "pjcsync", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(), cwd=cwd)


def snapshot(d: Path) -> dict:
    """{path: sha256} of every file under d."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*")) if p.is_file()}


def dead_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


# --- item 1: a run owns its output ---------------------------------------------------------------

def test_second_sweep_on_the_same_out_is_refused_and_the_first_completes(tmp_path):
    cfg = write_config(tmp_path, small_text(SWEEP.replace("NUM", "30"), levels=16))
    out = tmp_path / "x.h5"
    first = subprocess.Popen([sys.executable, "-m", "pjcsync", "sweep", str(cfg), "--out", str(out)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        t0 = time.time()
        while not any(Path(f"{out}.parts").glob("p*.h5")) and time.time() - t0 < 60:
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGSTOP)        # hold the first run mid-way (it keeps its lock)
        try:
            assert first.poll() is None, "the first sweep ended before the second could start"
            for extra in (["--overwrite"], ["--resume"], []):
                p = run_cli(["sweep", cfg, "--out", out, *extra], 1, timeout=TIMEOUT)
                assert_one_line(p, 2, "being written by another pjcsync run")
        finally:
            os.kill(first.pid, signal.SIGCONT)
        err = first.communicate(timeout=TIMEOUT)[1]
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    assert "30 points computed" in err
    import pjcsync
    data = pjcsync.load(out, rho=False)
    assert len(data["points"]) == 30 and data["sweep"]["complete"]
    assert not Path(f"{out}.lock").exists() and not Path(f"{out}.parts").exists()


@pytest.mark.parametrize("ranks", [1, 2])
def test_locked_output_refused_for_every_writing_command(tmp_path, ranks):
    from pjcsync.outputs import OutputLock
    cfg = write_config(tmp_path, small_text("[evolve]\nt_end = 0.5"))
    out = tmp_path / "held.h5"
    lock = OutputLock(out).acquire()           # this test process owns the output
    try:
        for cmd in (["steady"], ["evolve"], ["sweep", "--set", "sweep.drive.detuning=[0.0, 0.1]"]):
            p = run_cli([cmd[0], cfg, *cmd[1:], "--out", out], ranks, timeout=TIMEOUT)
            assert_one_line(p, 2, f"pid {os.getpid()}")
        assert not out.exists()
    finally:
        lock.release()
    p = run_cli(["steady", cfg, "--out", out], ranks, timeout=TIMEOUT)   # free again
    assert p.returncode == 0, p.stderr
    assert out.exists() and not Path(f"{out}.lock").exists()


# --- item 2: a configuration error seen by one rank only ------------------------------------------

def test_config_error_on_one_rank_ends_the_job_in_seconds(tmp_path):
    cfg = write_config(tmp_path, small_text())
    t0 = time.time()
    for parts in ([["steady", cfg], ["steady", "/missing/a.toml"]],      # the command
                  [["steady", "/missing/a.toml"], ["steady", cfg]]):
        p = run_mpmd(parts, timeout=60)
        assert_one_line(p, 2)
        assert "different arguments" in p.stderr
    # the same command line everywhere, the file readable on rank 0 only: rank 0 reads, all agree
    p = run_mpmd([["steady", tmp_path / "nowhere.toml"], ["steady", tmp_path / "nowhere.toml"]], timeout=60)
    assert_one_line(p, 2, "not found")
    assert time.time() - t0 < 60


# --- item 3: disk full while a sweep gathers its points --------------------------------------------

def _mount_tmpfs(path: Path, size: int) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True)
    return r.returncode == 0


def test_disk_full_during_the_final_gather_keeps_the_parts(tmp_path):
    cfg = write_config(tmp_path, small_text(SWEEP.replace("NUM", "6")))
    probe = tmp_path / "probe"
    probe.mkdir()
    p = run_cli(["sweep", cfg, "--out", probe / "x.h5"], 1, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    import pjcsync
    from pjcsync.results import write_points
    data = pjcsync.load(probe / "x.h5", rho=False)
    for point in data["points"]:                    # the parts as the sweep writes them
        write_points(probe / f"p{point['index']}.h5", [point], sweep=data["sweep"])
    used = lambda f: -(-f.stat().st_size // 4096) * 4096      # noqa: E731 (tmpfs pages)
    parts = sum(used(probe / f"p{k}.h5") for k in range(6))
    # room for the parts, the lock file and half of the final file
    size = parts + 4096 + ((used(probe / "x.h5") // 2) // 4096) * 4096
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, size):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        p = run_cli(["sweep", cfg, "--out", disk / "x.h5"], 2, timeout=TIMEOUT)
        assert_one_line(p, 1, "No space left on device")
        assert "--resume" in p.stderr
        parts = sorted(x.name for x in (disk / "x.h5.parts").glob("p*.h5"))
        assert parts == [f"p{k}.h5" for k in range(6)]
        assert not (disk / "x.h5").exists() and not list(disk.glob("x.h5.tmp-*"))
        p = run_cli(["merge", probe / "merged.h5", disk / "x.h5.parts"], 1, timeout=TIMEOUT)
        assert p.returncode == 0, p.stderr                  # every finished point is there
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


@pytest.mark.parametrize("ranks", [1, 2])
def test_save_rho_on_a_small_disk_is_one_line_and_no_file(tmp_path, ranks):
    """``steady --save-rho``: a rho that cannot fit is refused before the solve (exit 2); with
    ``levels = "auto"`` (n_c unknown until solved) it is refused before HDF5 writes (exit 1).
    Before the check, HDF5 1.10 crashed with SIGSEGV on the full disk."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, 200 * 1024):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        big = write_config(tmp_path, small_text(levels=60, delta="1.0, -1.0", extra='[solver]\nmethod = "direct"'))
        p = run_cli(["steady", big, "--out", disk / "s.h5", "--save-rho"], ranks, timeout=TIMEOUT)
        assert_one_line(p, 2, "not enough disk space")        # N = 240: rho is 0.9 MB
        assert "steady state" not in p.stdout and not list(disk.glob("s.h5*[!k]"))
        p = run_cli(["steady", big, "--set", 'cavity.levels="auto"', "--set", "cavity.levels_start=4",
                     "--set", "cavity.levels_tolerance=1e-14", "--out", disk / "a.h5", "--save-rho", "--quiet"],
                    ranks, timeout=TIMEOUT)
        assert_one_line(p, 1, "not enough disk space")
        assert not (disk / "a.h5").exists() and not list(disk.glob("a.h5.tmp-*"))
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_save_rho_with_auto_levels_stores_the_chosen_cavity(tmp_path):
    """``levels = "auto"``: the stored rho is that of the chosen n_c (it was written with the
    first n_c's row layout and failed)."""
    cfg = write_config(tmp_path, small_text(levels='"auto"'))
    out = tmp_path / "a.h5"
    p = run_cli(["steady", cfg, "--set", "cavity.levels_start=4", "--out", out, "--save-rho", "--quiet"], 1)
    assert p.returncode == 0, p.stderr[-3000:]
    import pjcsync
    data = pjcsync.load(out)
    chosen = data["solver"]["levels"]["chosen"]
    assert chosen > 4 and data["rho"].shape == (2 * chosen, 2 * chosen)
    assert abs(np.trace(data["rho"]) - 1) < 1e-12


# --- items 4 and 5: outputs checked before any work; never over an input ---------------------------

def test_steady_never_overwrites_its_configuration_or_an_existing_file(tmp_path):
    cfg = write_config(tmp_path, small_text())
    before = cfg.read_text()
    p = run_cli(["steady", cfg, "--out", cfg, "--overwrite"], 1)
    assert_one_line(p, 2, "configuration")
    assert cfg.read_text() == before
    out = tmp_path / "r.h5"
    assert run_cli(["steady", cfg, "--out", out], 1).returncode == 0
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    p = run_cli(["steady", cfg, "--out", out], 1)
    assert_one_line(p, 2, "--overwrite")
    assert hashlib.sha256(out.read_bytes()).hexdigest() == digest
    p = run_cli(["steady", cfg, "--out", out, "--overwrite", "--set", "drive.amplitude=0.3"], 1)
    assert p.returncode == 0, p.stderr
    import pjcsync
    assert pjcsync.load(out)["config"]["drive"]["amplitude"] == 0.3
    # an initial state is an input too
    rho0 = tmp_path / "rho0.npy"
    np.save(rho0, np.diag(np.r_[1.0, np.zeros(11)]).astype(complex))
    evo = write_config(tmp_path, small_text(f'[evolve]\nt_end = 0.2\ninitial = "{rho0}"'), "e.toml")
    p = run_cli(["evolve", evo, "--save-state", rho0, "--overwrite"], 1)
    assert_one_line(p, 2, "initial state")


@pytest.mark.parametrize("command", ["steady", "evolve", "rate", "gap", "semiclassical", "sweep"])
def test_missing_output_directory_is_refused_before_any_work(tmp_path, command):
    cfg = write_config(tmp_path, small_text("[evolve]\nt_end = 2000.0\noutput_every = 1.0\n"
                                            "[sweep.drive]\ndetuning = [0.0, 0.1]"))
    t0 = time.time()
    p = run_cli([command, cfg, "--out", tmp_path / "nodir" / "e.h5"], 1)
    assert_one_line(p, 2, "does not exist")
    assert time.time() - t0 < 30          # the evolution (2000 outputs) was not run


# --- item 9: one line, exit 2 --------------------------------------------------------------------

def test_too_many_ranks_for_the_rows_is_one_line(tmp_path):
    cfg = write_config(tmp_path, model_text(dict(SMALL, levels=2, delta="", gamma_s=None)))
    p = run_cli(["steady", cfg], 3, timeout=TIMEOUT)
    assert_one_line(p, 2, "3 ranks for a density matrix of only 2 rows")
    assert "MPI_ABORT" not in p.stderr


@pytest.mark.parametrize("ranks", [1, 2])
def test_unknown_petsc_type_with_direct_is_one_line(tmp_path, ranks):
    cfg = write_config(tmp_path, small_text('[solver]\nmethod = "direct"'))
    p = run_cli(["steady", cfg, "-ksp_type", "nonsense"], ranks, timeout=TIMEOUT)
    assert_one_line(p, 2, "unknown KSP type 'nonsense'")


def test_corrupted_results_file_metadata(tmp_path):
    cfg = write_config(tmp_path, small_text())
    out = tmp_path / "r.h5"
    assert run_cli(["steady", cfg, "--out", out], 1).returncode == 0
    raw = bytearray(out.read_bytes())
    for k in range(96, len(raw), 97):          # scribble over the metadata, keep the superblock
        raw[k] ^= 0x5A
    bad = tmp_path / "bad.h5"
    bad.write_bytes(bytes(raw))
    p = run_cli(["show", bad], 1)
    assert_one_line(p, 2, "bad.h5")


# --- item 10: unused PETSc options ----------------------------------------------------------------

@pytest.mark.parametrize("ranks", [1, 2])
def test_unused_petsc_option_is_reported_once(tmp_path, ranks):
    cfg = write_config(tmp_path, small_text('[solver]\nmethod = "krylov"'))
    p = run_cli(["steady", cfg, "-ksp_moniter", "-ksp_monitor"], ranks, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    warn = [ln for ln in p.stderr.splitlines() if "were not used" in ln]
    assert len(warn) == 1 and "-ksp_moniter" in warn[0] and "-ksp_monitor " not in warn[0] + " "
    assert "KSP Residual norm" in p.stdout + p.stderr or "residual norm" in (p.stdout + p.stderr).lower()


# --- item 11: resume without a checkpoint; stale temporaries ---------------------------------------

def test_resume_without_a_checkpoint_is_refused(tmp_path):
    cfg = write_config(tmp_path, small_text("[evolve]\nt_end = 1.0"))
    p = run_cli(["evolve", cfg, "--resume"], 1)
    assert_one_line(p, 2, "checkpoint")


def test_stale_temporaries_of_the_output_are_removed(tmp_path):
    cfg = write_config(tmp_path, small_text())
    out = tmp_path / "s.h5"
    stale = tmp_path / f"s.h5.tmp-{dead_pid()}"
    stale.write_bytes(b"half a file")
    alive = tmp_path / f"s.h5.tmp-{os.getpid()}"           # a live process's: not ours to remove
    alive.write_bytes(b"being written")
    other = tmp_path / f"t.h5.tmp-{dead_pid()}"            # another output's: left alone
    other.write_bytes(b"x")
    p = run_cli(["steady", cfg, "--out", out], 1)
    assert p.returncode == 0, p.stderr
    assert not stale.exists() and alive.exists() and other.exists() and out.exists()


# --- item 12: one results format for every computing command --------------------------------------

def _show_json(path):
    p = run_cli(["show", path, "--json"], 1)
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()]


@pytest.mark.parametrize("command, extra, ranks", [
    ("steady", [], 2),
    ("evolve", [], 1),
    ("rate", ["--set", "drive.amplitude=0.05", "--set", "solver.rtol=1e-6"], 1),
    ("gap", [], 2),
    ("semiclassical", [], 1),
    ("steady", ["--set", "floquet.harmonics=1"], 1),
])
def test_every_command_writes_the_results_format(tmp_path, command, extra, ranks):
    cfg = write_config(tmp_path, small_text("[evolve]\nt_end = 1.0\noutput_every = 0.5\n[gap]\nnev = 2"))
    out = tmp_path / f"{command}.h5"
    p = run_cli([command, cfg, *extra, "--out", out, "--json"], ranks, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    printed = json.loads(p.stdout)
    shown = _show_json(out)[0]
    import pjcsync
    data = pjcsync.load(out)
    assert data["kind"] == ("steady" if command == "steady" else command)
    for key in printed:                             # every key of --json, with the same values
        assert key in shown, key
        assert json.dumps(shown[key], sort_keys=True) == json.dumps(printed[key], sort_keys=True), key
    p = run_cli(["show", out], 1)                  # and a table
    assert p.returncode == 0 and "Traceback" not in p.stderr and len(p.stdout.splitlines()) >= 3, p.stderr


def test_sweep_save_rho_stores_each_points_rho(tmp_path):
    cfg = write_config(tmp_path, small_text(SWEEP.replace("NUM", "3")))
    out = tmp_path / "sw.h5"
    p = run_cli(["sweep", cfg, "--out", out, "--save-rho"], 2, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    import pjcsync
    data = pjcsync.load(out)
    assert len(data["points"]) == 3
    for k, point in enumerate(data["points"]):     # the same rho as steady --save-rho of the point
        from pjcsync.results import config_to_toml
        pcfg = write_config(tmp_path, config_to_toml(point["config"]), f"p{k}.toml")
        one = tmp_path / f"p{k}.h5"
        assert run_cli(["steady", pcfg, "--out", one, "--save-rho"], 1).returncode == 0
        ref = pjcsync.load(one)["rho"]
        assert point["rho"].shape == (12, 12)
        assert np.max(np.abs(point["rho"] - ref)) < 1e-10
    shown = _show_json(out)
    assert len(shown) == 3


# --- item 13: the README's and the guide's examples ------------------------------------------------

SETUP = ("make ", "pip ", "python3 -m venv", "export ", ". .venv/bin/activate", "PETSC_", "sbatch ")


def doc_commands(path: Path) -> list[str]:
    """The commands of the ``sh`` blocks of a Markdown file, continuation lines joined."""
    cmds, block, pending = [], False, ""
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            block = line.strip() == "```sh"
            continue
        if not block:
            continue
        text = pending + line.strip()
        if text.endswith("\\"):
            pending = text[:-1] + " "
            continue
        pending = ""
        if text and not text.startswith("#"):
            cmds.append(text)
    return cmds


def runnable(cmd: str) -> bool:
    """Not an installation step nor a cluster submission, not marked ``(long)``, not the
    reader's own file (``my.toml``), not a figure script (tests/test_figures.py)."""
    return (not cmd.startswith(SETUP) and "(long" not in cmd and " my" not in cmd
            and "scripts/fig_" not in cmd)


@pytest.mark.parametrize("doc", ["README.md", "docs/guide.md"])
def test_documented_examples_run_in_order(tmp_path, doc):
    cmds = [c for c in doc_commands(ROOT / doc) if runnable(c)]
    assert len(cmds) >= 5
    (tmp_path / "bin").mkdir()
    shim = tmp_path / "bin" / "pjcsync"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m pjcsync "$@"\n')
    shim.chmod(0o755)
    for name in ("examples", "scripts"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = _env()
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"
    for cmd in cmds:
        p = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=600)
        assert p.returncode == 0, f"{doc}: {cmd!r} failed ({p.returncode}):\n{p.stderr[-2000:]}"


# --- the table of bad inputs and faults -------------------------------------------------------------

GOOD = small_text('[evolve]\nt_end = 0.5\n[solver]\nmethod = "direct"')


def _cases():
    """(name, args, exit status, text in the error line); files named in args live in the case
    directory (see :func:`case_dir`)."""
    s = ["--set"]
    c = [
        ("config missing", ["steady", "nope.toml"], 2, "not found"),
        ("config is a directory", ["steady", "adir"], 2, "is a directory"),
        ("config not TOML", ["steady", "bad.toml"], 2, "not valid TOML"),
        ("config binary", ["steady", "binary.toml"], 2, None),
        ("unknown section", ["steady", "good.toml", *s, "foo.bar=1"], 2, "unknown section"),
        ("unknown key", ["steady", "good.toml", *s, "cavity.colour=1"], 2, "unknown key"),
        ("wrong type", ["steady", "good.toml", *s, "cavity.levels=abc"], 2, "integer"),
        ("negative rate", ["steady", "good.toml", *s, "cavity.decay=-1"], 2, "negative"),
        ("levels = 1e23", ["steady", "good.toml", *s, "cavity.levels=1e23"], 2, "integer"),
        ("levels 10^23 integer", ["info", "good.toml", *s, "cavity.levels=100000000000000000000000"], 2, "large"),
        ("rtol = 1e308", ["steady", "good.toml", *s, "solver.rtol=1e308"], 2, "rtol"),
        ("rtol = 2", ["steady", "good.toml", *s, "solver.rtol=2.0"], 2, "below 1"),
        ("amplitude 1e308", ["steady", "good.toml", *s, "drive.amplitude=1e308"], 2, "too large"),
        ("detuning -1e300", ["steady", "good.toml", *s, "qubits.detuning=[-1e300]"], 2, "too large"),
        ("nan", ["steady", "good.toml", *s, "drive.amplitude=nan"], 2, "finite"),
        ("qubit lists", ["steady", "good.toml", *s, "qubits.coupling=[1.0, 2.0]"], 2, "one per qubit"),
        ("--set syntax", ["steady", "good.toml", *s, "levels"], 2, "section.key=value"),
        ("unknown argument", ["steady", "good.toml", "--bogus"], 2, "unrecognized"),
        ("unknown command", ["steddy", "good.toml"], 2, "invalid choice"),
        ("ksp_type nonsense direct", ["steady", "good.toml", "-ksp_type", "nonsense"], 2, "nonsense"),
        ("pc_type nonsense krylov", ["steady", "good.toml", *s, "solver.method=krylov", "-pc_type", "bogus"], 2,
         "bogus"),
        ("ts_type nonsense", ["evolve", "good.toml", "-ts_type", "zzz"], 2, "zzz"),
        ("PETSc value not a number", ["steady", "good.toml", *s, "solver.method=krylov", "-ksp_rtol", "abc"], 2,
         "Input string abc"),
        ("PETSc value not an integer", ["steady", "good.toml", *s, "solver.method=krylov", "-ksp_gmres_restart",
                                        "x"], 2, "-ksp_gmres_restart"),
        ("PETSc value evolve", ["evolve", "good.toml", "-ts_max_steps", "1.5"], 2, "Input string 1.5"),
        ("PETSc value gap", ["gap", "good.toml", "-eps_ncv", "x"], 2, "eigensolver"),
        ("gap target 0", ["gap", "good.toml", *s, "gap.target=0.0"], 2, "must not be 0"),
        ("evolve end twice", ["evolve", "good.toml", *s, "evolve.periods=3.0"], 2, "exactly one"),
        ("evolve npy of strings", ["evolve", "good.toml", *s, 'evolve.initial="strings.npy"'], 2, "numbers"),
        ("evolve npy of objects", ["evolve", "good.toml", *s, 'evolve.initial="objects.npy"'], 2, "initial"),
        ("evolve npy wrong shape", ["evolve", "good.toml", *s, 'evolve.initial="small.npy"'], 2, "need"),
        ("evolve npy damaged", ["evolve", "good.toml", *s, 'evolve.initial="damaged.npy"'], 2, "initial"),
        ("evolve --resume no checkpoint", ["evolve", "good.toml", "--resume"], 2, "checkpoint"),
        ("evolve --out .json", ["evolve", "good.toml", "--out", "e.json"], 2, "HDF5"),
        ("initial guess missing", ["steady", "good.toml", *s, "solver.method=krylov",
                                   *s, 'solver.initial_guess="gone.h5"'], 2, "gone.h5"),
        ("steady --out config", ["steady", "good.toml", "--out", "good.toml", "--overwrite"], 2, "configuration"),
        ("steady --out existing", ["steady", "good.toml", "--out", "keep.h5"], 2, "--overwrite"),
        ("steady --out no dir", ["steady", "good.toml", "--out", "nodir/x.h5"], 2, "does not exist"),
        ("steady --out a dir", ["steady", "good.toml", "--out", "adir"], 2, "directory"),
        ("steady --save-rho alone", ["steady", "good.toml", "--save-rho"], 2, "--out"),
        ("evolve --out no dir", ["evolve", "good.toml", "--out", "nodir/e.h5"], 2, "does not exist"),
        ("rate --out no dir", ["rate", "good.toml", "--out", "nodir/r.h5"], 2, "does not exist"),
        ("gap --out existing", ["gap", "good.toml", "--out", "keep.h5"], 2, "--overwrite"),
        ("semiclassical --out config", ["semiclassical", "good.toml", "--out", "good.toml"], 2, "configuration"),
        ("sweep --out no dir", ["sweep", "sweep.toml", "--out", "nodir/s.h5"], 2, "does not exist"),
        ("sweep existing", ["sweep", "sweep.toml", "--out", "keep.h5"], 2, "exists"),
        ("sweep resume+overwrite", ["sweep", "sweep.toml", "--resume", "--overwrite"], 2, "exclude"),
        ("sweep --task 3/2", ["sweep", "sweep.toml", "--task", "3/2"], 2, "--task"),
        ("sweep --groups 0", ["sweep", "sweep.toml", "--groups", "0"], 2, "--groups"),
        ("sweep without axes", ["sweep", "good.toml", "--out", "n.h5"], 2, "no key to vary"),
        ("merge no inputs", ["merge", "m.h5"], 2, "no inputs"),
        ("merge into an input", ["merge", "keep.h5", "keep.h5"], 2, "input"),
        ("show missing", ["show", "gone.h5"], 2, "not found"),
        ("show a TOML file", ["show", "good.toml"], 2, "not an HDF5 file"),
        ("show a directory", ["show", "adir"], 2, "directory"),
        ("show truncated", ["show", "truncated.h5"], 2, "truncated.h5"),
        ("show damaged metadata", ["show", "damaged.h5"], 2, "damaged.h5"),
        ("output locked", ["steady", "good.toml", "--out", "locked.h5"], 2, "another pjcsync run"),
        ("memory refused", ["steady", "good.toml", *s, "cavity.levels=40000", *s, "solver.method=direct"], 2,
         None),
        # failed computations: exit 1, no result file
        ("krylov not converged", ["steady", "good.toml", *s, "solver.method=krylov", *s,
                                  "solver.max_iterations=1", *s, "solver.rtol=1e-14", "--out", "nc.h5"], 1, None),
        ("sweep point fails", ["sweep", "sweep.toml", *s, "solver.method=krylov", *s,
                               "solver.max_iterations=1", *s, "solver.rtol=1e-14", "--out", "f.h5"], 1, "failed"),
        ("merge incomplete", ["merge", "mm.h5", "part.h5.parts"], 1, "missing"),
    ]
    return c


CASES = _cases()
TWO_RANKS = {"config missing", "config is a directory", "rtol = 1e308", "ksp_type nonsense direct",
             "evolve npy of strings", "steady --out config", "evolve --out no dir", "show damaged metadata",
             "output locked", "krylov not converged", "sweep point fails", "evolve --resume no checkpoint",
             "unknown argument"}


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cases")
    (d / "good.toml").write_text(GOOD)
    (d / "sweep.toml").write_text(small_text(SWEEP.replace("NUM", "3")))
    (d / "bad.toml").write_text("[cavity\nlevels = 3\n")
    (d / "binary.toml").write_bytes(b"\xff\xfe\x00\x01garbage")
    (d / "adir").mkdir()
    np.save(d / "strings.npy", np.full((12, 12), "x"))
    np.save(d / "objects.npy", np.array([[{"a": 1}] * 12] * 12, dtype=object), allow_pickle=True)
    np.save(d / "small.npy", np.eye(3, dtype=complex))
    (d / "damaged.npy").write_bytes(b"\x93NUMPY garbage")
    p = run_cli(["steady", d / "good.toml", "--out", d / "keep.h5"], 1)
    assert p.returncode == 0, p.stderr
    raw = (d / "keep.h5").read_bytes()
    (d / "truncated.h5").write_bytes(raw[:len(raw) // 3])
    bad = bytearray(raw)
    for k in range(96, len(bad), 97):
        bad[k] ^= 0x5A
    (d / "damaged.h5").write_bytes(bytes(bad))
    # a sweep's parts directory with one point: merging it without --partial is a failure
    p = run_cli(["sweep", d / "sweep.toml", "--out", d / "part.h5"], 1)
    assert p.returncode == 0, p.stderr
    (d / "part.h5.parts").mkdir()
    import pjcsync
    data = pjcsync.load(d / "part.h5", rho=False)
    from pjcsync.results import write_points
    write_points(d / "part.h5.parts" / "p0.h5", data["points"][:1], sweep=data["sweep"])
    (d / "part.h5").unlink()
    return d


def _run_case(case_dir, case, ranks):
    from pjcsync.outputs import OutputLock
    name, args, code, text = case
    before = snapshot(case_dir)
    lock = OutputLock(case_dir / "locked.h5").acquire() if name == "output locked" else None
    try:
        t0 = time.time()
        p = run_cli(args, ranks, timeout=TIMEOUT, cwd=case_dir)
        elapsed = time.time() - t0
    finally:
        if lock:
            lock.release()
    try:
        assert_one_line(p, code, text)
        after = snapshot(case_dir)
        for path, digest in before.items():         # no finished result lost or changed
            assert after.get(path) == digest, f"{path} changed or lost"
        if code == 1 and "--out" in args:             # a failed computation writes no result
            assert not (case_dir / args[args.index("--out") + 1]).exists() or name.startswith("sweep")
    finally:
        for extra in set(snapshot(case_dir)) - set(before):
            Path(extra).unlink()
        for extra in case_dir.glob("*.parts"):
            if extra.name != "part.h5.parts":
                shutil.rmtree(extra)
    return p.returncode, elapsed


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_inputs_table(case_dir, case):
    _run_case(case_dir, case, 1)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in TWO_RANKS], ids=lambda c: c[0])
def test_bad_inputs_table_2_ranks(case_dir, case):
    _run_case(case_dir, case, 2)


@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c in CASES if c[0] not in TWO_RANKS], ids=lambda c: c[0])
def test_bad_inputs_table_2_ranks_all(case_dir, case):
    _run_case(case_dir, case, 2)


def test_table_has_enough_cases():
    assert len(CASES) >= 40
