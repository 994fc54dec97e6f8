"""The Krylov part of the memory estimate follows the run-time restart policy: the basis takes
at most 30 % of a rank's available memory, the restart stays within [20, 100], and FGMRES (the
single-precision preconditioner) keeps two vectors per step."""
import pytest

from pjcsync.memory import gmres_restart, krylov_vectors

N2 = 1_000_000                       # 16 MB per complex vector on one rank


@pytest.mark.parametrize("available,ranks,flexible,restart", [
    (100e9, 1, False, 100),          # plenty of memory: the default restart
    (4e9, 1, False, 75),             # 0.3 * 4e9 / 16e6
    (4e9, 1, True, 37),              # two vectors of 16 MB per step
    (4e9, 2, False, 100),            # half a vector per rank: 150 -> capped at 100
    (1e9, 1, False, 20),             # 18.75 -> the floor of 20
])
def test_restart_policy(available, ranks, flexible, restart):
    per_step = 2 if flexible else 1
    assert gmres_restart(N2, ranks, available, per_step) == restart
    assert krylov_vectors(N2, ranks, available, flexible) == per_step * restart + 6


# --- item 6 of issue 14: the estimate is arithmetic, made before anything is built ---------------

import json
import time

import numpy as np

from conftest import EXAMPLES, fig8_text, run_cli, write_config
from pjcsync.config import load_config
from pjcsync.memory import estimate_sizes, operator_nonzeros
from pjcsync.model import Model


def _model(levels, detuning, F, gamma, gamma_s, coupling=1.0):
    return Model.from_config(load_config(data={
        "cavity": {"levels": levels, "decay": gamma, "frequency": 5.0},
        "qubits": {"detuning": detuning, "coupling": coupling, "decay": gamma_s},
        "drive": {"amplitude": F, "detuning": 0.3}}))


@pytest.mark.parametrize("levels,detuning,F,gamma,gamma_s,coupling", [
    (5, [1.0, -1.0], 0.25, 0.3, 3e-3, 1.0),      # Fig. 8
    (7, [1.0], 0.0, 0.3, 0.0, 1.0),              # no drive, no qubit decay
    (4, [1.0, 2.0, 3.0], 1.0, 0.0, 0.1, [1.0, 0.0, 2.0]),   # no cavity decay, one qubit uncoupled
    (6, [], 0.5, 0.1, 0.0, 1.0),                 # the empty cavity
])
def test_closed_form_nonzeros_match_the_built_operators(levels, detuning, F, gamma, gamma_s, coupling):
    """The closed-form counts bound the built matrices' stored entries (equal up to entries
    that cancel numerically)."""
    from pjcsync import superoperator as so
    from pjcsync.evolve import commutator_rows, counter_rotating_operator, half_rows
    from pjcsync.parallel import RowLayout
    m = _model(levels, detuning, F, gamma, gamma_s, coupling)
    lay = RowLayout.create(m.N)
    H, c_ops = m.hamiltonian(), m.collapse_operators()
    nz = operator_nonzeros(m)
    built = {"L": so.local_rows(H, c_ops, lay).nnz, "A": so.drift_operator(H, c_ops).nnz,
             "commutator_V": commutator_rows(counter_rotating_operator(m), lay).nnz,
             "half": half_rows(so.drift_operator(H, c_ops), c_ops, lay).nnz}
    assert nz["c_ops"] == [c.nnz for c in c_ops]
    for key, n in built.items():
        assert n <= nz[key] <= n + 2 * m.N, (key, n, nz[key])


@pytest.mark.parametrize("levels", [10 ** 7, 10 ** 9, 10 ** 23])
def test_estimate_is_arithmetic(levels):
    """Any size answers at once: nothing of size N is built."""
    cfg = load_config(EXAMPLES / "fig11.toml")
    cfg["cavity"]["levels"] = levels              # past the configuration's own size check
    estimate_sizes(Model.from_config(cfg), cfg, 1, 8e9)      # imports done
    t0 = time.process_time()                                 # CPU time: the machine may be loaded
    for harmonics in (0, 3):
        cfg["floquet"]["harmonics"] = harmonics
        for command in ("steady", "evolve", "gap", "rate", "sweep"):
            est = estimate_sizes(Model.from_config(cfg), cfg, 2, 8e9, command)
            assert est["bytes_per_rank"] > 16.0 * (levels * 16) ** 2 / 2
    assert time.process_time() - t0 < 1.0


@pytest.mark.parametrize("ranks,levels,command", [
    (1, "10000000", ["info"]), (1, "1000000000", ["info"]), (1, "100000000000000000000000", ["info"]),
    (1, "1000000000", ["gap"]), (1, "1000000000", ["evolve", "--set", "evolve.t_end=1"]),
    (2, "1000000000", ["info"]), (2, "10000000", ["steady"])])
def test_info_refuses_huge_sizes_at_once(tmp_path, ranks, levels, command):
    """Issue 14 item 6: ``info --set cavity.levels=1e9`` was killed after 94 s; it must refuse
    in one line with exit status 2 (the time is the interpreter's start-up)."""
    cfg = write_config(tmp_path, fig8_text(levels=12, omega0=10.0))
    t0 = time.perf_counter()
    p = run_cli([*command, cfg, "--set", f"cavity.levels={levels}"], ranks, timeout=120)
    assert time.perf_counter() - t0 < 60
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len([l for l in lines if l.startswith("pjcsync")]) == 1, p.stderr
    assert ("too large" in lines[0] or "beyond any computer" in lines[0]) and "Traceback" not in p.stderr


# --- item 8: --force past the estimate ends in one line, exit 1 ----------------------------------

import resource
import subprocess
import sys

from conftest import MPIRUN, ROOT, _env


def _run_limited(args, ranks, limit_bytes, timeout=300):
    """``pjcsync ARGS`` with the address space of every process limited (``ulimit -v``)."""
    cmd = [sys.executable, "-m", "pjcsync", *map(str, args)]
    if ranks > 1:
        cmd = [MPIRUN, "-n", str(ranks), *cmd]

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(),
                          preexec_fn=limit)


def _pjcsync_lines(stderr):
    return [l for l in stderr.splitlines() if l.startswith("pjcsync")]


@pytest.mark.parametrize("ranks", [1, 2])
def test_numpy_allocation_failure_is_one_line(ranks):
    """N = 4000 with 1 GB of address space: the dense N x N factors of L0^-1 cannot be
    allocated.  One line naming the array and its size, exit 1, every rank ended."""
    p = _run_limited(["steady", EXAMPLES / "fig8.toml", "--set", "cavity.levels=1000",
                      "--set", "solver.method=krylov", "--set", "solver.coarse_start=false", "--force"],
                     ranks, 10 ** 9)
    assert p.returncode == 1, p.stderr
    lines = _pjcsync_lines(p.stderr)
    assert len(lines) == 1, p.stderr
    assert "out of memory" in lines[0] and "MiB" in lines[0] and "(4000, 4000)" in lines[0], lines[0]
    assert "Traceback" not in p.stderr


def test_mumps_allocation_failure_is_one_line():
    """MUMPS reports its failed allocation (INFOG(1) = -13) through the KSP: one line, exit 1."""
    p = _run_limited(["steady", EXAMPLES / "fig8.toml", "--set", "cavity.levels=60",
                      "--set", "solver.method=direct", "--force"], 1, 9 * 10 ** 8)
    assert p.returncode == 1, p.stderr
    lines = _pjcsync_lines(p.stderr)
    assert len(lines) == 1 and "out of memory in the MUMPS factorization" in lines[0], p.stderr
    assert "Traceback" not in p.stderr


def test_allocation_failure_messages():
    """The one-line messages: numpy's MemoryError, PETSc's failed PetscMalloc, and any other
    error passed through unchanged."""
    from petsc4py import PETSc
    from pjcsync.memory import OutOfMemory, allocation_failure, allocation_failures
    try:
        np.empty(2 ** 56, dtype=complex)
    except MemoryError as exc:
        msg = allocation_failure(exc)
    assert msg.startswith("out of memory") and "EiB" in msg
    old = resource.getrlimit(resource.RLIMIT_AS)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (4 * 10 ** 9, old[1]))
        with pytest.raises(OutOfMemory, match="out of memory in PETSc .*VecCreate"):
            with allocation_failures():
                PETSc.Vec().createSeq(10 ** 9)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, old)
    with pytest.raises(ValueError):
        with allocation_failures():
            raise ValueError("not a memory error")


# --- item 7: the estimate holds against measured peaks, on a ladder of sizes ---------------------

def _ladder(quick: bool):
    sys.path.insert(0, str(ROOT / "scripts"))
    import memory_ladder as ml
    import tempfile
    from pathlib import Path
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for c in ml.cases():
            if quick and not c["quick"]:
                continue
            rows.append(ml.run_case(c, Path(d)))
    return rows


def _check_ladder(rows):
    bad = [r for r in rows if r["rc"] != 0 or not r["measured"] <= r["estimate"] <= 2 * r["measured"]]
    import memory_ladder as ml
    assert not bad, "estimate vs measured peak:\n" + ml.table(bad) + "".join(
        f"\n{r['case']}: {r['error']}" for r in bad if r["error"])


def test_estimate_against_measured_peaks_quick():
    """A few rungs of the ladder (scripts/memory_ladder.py --quick): every command kind,
    1 and 2 ranks; measured <= estimate <= 2 x measured."""
    _check_ladder(_ladder(quick=True))


@pytest.mark.slow
def test_estimate_against_measured_peaks_full_ladder():
    """The whole ladder: N^2 from 1e4 to 1e6, every method, route, operator and command."""
    _check_ladder(_ladder(quick=False))


_TRIM_SCRIPT = """
import gc, json
import pjcsync
from petsc4py import PETSc
from pjcsync.parallel import available_memory_bytes

def rss():
    return int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1]) * 1024

r0 = rss()
m = pjcsync.TavisCummings(levels=40, cavity_decay=2.0, drive=4.4, detunings=[20.0, 30.0], qubit_decay=2.0)
r = pjcsync.steadystate(m, method="direct")
del r; gc.collect(); PETSc.garbage_cleanup()
r1 = rss()
available_memory_bytes()
print(json.dumps([r0, r1, rss()]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_memory_check_returns_the_freed_mumps_factor_first():
    """A destroyed MUMPS factor stays in the process's heap until malloc_trim: the node's free
    memory read by the checks before a solve (``available_memory_bytes``) must count it, so the
    reading returns it first (a sweep refused a point for 13.3 GB free when 22 GB were)."""
    p = subprocess.run([sys.executable, "-c", _TRIM_SCRIPT], capture_output=True, text=True, env=_env(),
                       cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    before, solved, checked = json.loads(p.stdout.strip().splitlines()[-1])
    kept = solved - before
    assert kept > 50e6, (before, solved)                  # the factor's memory, kept after destroy
    assert solved - checked > 0.5 * kept, (before, solved, checked)
