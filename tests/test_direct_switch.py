"""``method = "auto"`` leaves a Krylov solve that is slow or breaks down for MUMPS (the direct
switch, :func:`pjcsync.choices.direct_switch_iterations`), and MUMPS's fill law
(:func:`pjcsync.memory.direct_fill`) against MUMPS's own count of its factor entries.

References: QuTiP's steady state (an independent code), MUMPS's INFOG(29)."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

from conftest import A4_M3_MODEL, cli_json, run_cli, run_mpi_script, write_config
from reference import fig8_qutip, qutip_steady as qutip_reference

# Fig. 7's resonance (F = 1.5, gamma = gamma_s = 0.2, Delta = (2, 3)) with 20 levels: N = 80, so
# "auto" picks krylov (N^2 > 4096), which needs far more than 3 iterations here
FIG7 = textwrap.dedent("""\
    [cavity]
    levels = 20
    decay = 0.2
    [qubits]
    detuning = [2.0, 3.0]
    decay = 0.2
    [drive]
    amplitude = 1.5
    detuning = 0.0
    [solver]
    rtol = 1e-11
    """)


def assert_matches(obs, ref):
    assert abs(obs["n"] - ref["n"]) < 1e-8 * max(1.0, ref["n"])
    assert np.allclose([s[2] for s in obs["sigma"]], ref["sz"], atol=1e-8)


@pytest.mark.parametrize("ranks", [1, 2])
def test_auto_gives_a_slow_krylov_solve_to_mumps(tmp_path, ranks):
    """With a budget of 3 iterations the automatic krylov stops unconverged and MUMPS solves the
    point: the state is QuTiP's, and the statistics say what happened.  ``never``: the Krylov
    solve runs to convergence (same state, no switch)."""
    ref = qutip_reference(20, (2.0, 3.0), (0.2, 0.2), 1.5, 0.0, 0.2)
    d = cli_json(["steady", write_config(tmp_path, FIG7 + "direct_switch = 3\n"), "--quiet"], ranks)
    s = d["solver"]
    assert s["requested_method"] == "auto" and s["method"] == "direct"
    assert s["krylov_iterations"] == 3 and "stopped at its budget after 3 iterations" in s["direct_switch"]
    assert "then direct" in s["auto"] and "MUMPS" in s["direct_switch"]
    assert_matches(d["observables"], ref)
    never = cli_json(["steady", write_config(tmp_path, FIG7 + 'direct_switch = "never"\n', "n.toml"), "--quiet"],
                     ranks)
    k = never["solver"]
    assert k["method"] == "krylov" and k["iterations"] > 3 and "direct_switch" not in k
    assert_matches(never["observables"], ref)


def test_a_solve_nearly_done_at_its_budget_goes_on(tmp_path):
    """A budget a few iterations short of what the Krylov solve needs: its recent rate projects
    few more iterations, so the same solve goes on instead of switching, and converges to
    QuTiP's state."""
    never = cli_json(["steady", write_config(tmp_path, FIG7 + 'direct_switch = "never"\n'), "--quiet"])
    need = never["solver"]["iterations"]
    d = cli_json(["steady", write_config(tmp_path, FIG7 + f"direct_switch = {need - 5}\n", "b.toml"), "--quiet"])
    s = d["solver"]
    assert s["method"] == "krylov" and "direct_switch" not in s
    assert s["budget"].startswith(f"{need - 5} iterations") and "went on" in s["budget"] and s["iterations"] >= need - 4
    assert_matches(d["observables"], qutip_reference(20, (2.0, 3.0), (0.2, 0.2), 1.5, 0.0, 0.2))


def test_projected_iterations():
    """A geometric history r^k: the iterations left to rtol are log(rtol / r^k) / log(r); none
    for a stagnating or growing residual."""
    from pjcsync.steady import projected_iterations
    h = [0.9 ** k for k in range(100)]
    assert projected_iterations(h, 1e-10) == pytest.approx(np.log(1e-10 / h[-1]) / np.log(0.9), rel=1e-9)
    assert projected_iterations([1.0] * 50, 1e-10) is None
    assert projected_iterations([1.1 ** k for k in range(50)], 1e-10) is None
    assert projected_iterations(h[:5], 1e-10) is None


A4_M3_REFERENCE = ((20.0, 30.0, 25.0), (2.0,) * 3, 4.4, 11.0, 2.0)
# QuTiP at 12 levels for the 20-level A4_M3_MODEL: <n> = 0.152 there, and <n>, <sigma_z> equal
# QuTiP's at 20 levels to 1e-13 (measured), in 6 s instead of 45 s
A4_M3_QUTIP_LEVELS = 12


def test_a_broken_down_krylov_solve_gets_the_rest_of_its_budget_in_fgmres(tmp_path):
    """BiCGStab diverges after 8 iterations (staged: -ksp_divtol 1e3), long before the budget
    (about 620 iterations at M = 3, N = 160): ``auto`` goes on with FGMRES for the rest of the
    budget before paying for MUMPS, converges there, and gets QuTiP's state."""
    d = cli_json(["steady", write_config(tmp_path, A4_M3_MODEL), "--quiet", "-ksp_divtol", "1e3"])
    s = d["solver"]
    assert s["method"] == "krylov" and s["ksp_type"] == "fgmres" and "direct_switch" not in s
    assert "gave up after" in s["ksp_fallback"] and "MUMPS after" in s["ksp_fallback"]
    assert_matches(d["observables"], qutip_reference(A4_M3_QUTIP_LEVELS, *A4_M3_REFERENCE))


def test_a_broken_down_krylov_solve_goes_to_mumps_when_the_fallback_spends_the_budget(tmp_path):
    """The same point with a budget of 10 iterations: BiCGStab's breakdown leaves 2 to FGMRES,
    which stops at once, and MUMPS solves the point (both attempts recorded)."""
    d = cli_json(["steady", write_config(tmp_path, A4_M3_MODEL + "[solver]\ndirect_switch = 10\n"), "--quiet",
                  "-ksp_divtol", "1e3"])
    s = d["solver"]
    assert s["method"] == "direct" and "gave up after" in s["ksp_fallback"]
    assert "fgmres (the fallback) stopped at its budget" in s["direct_switch"]
    assert_matches(d["observables"], qutip_reference(A4_M3_QUTIP_LEVELS, *A4_M3_REFERENCE))


def test_no_switch_when_mumps_would_not_fit(monkeypatch):
    """When MUMPS's estimate does not fit the node, the Krylov solve keeps its whole iteration
    limit and converges (in process, 1 rank)."""
    import pjcsync.memory as memory
    from pjcsync.config import validate
    from pjcsync.model import Model
    from pjcsync.steady import steady_state
    cfg = validate({
        "cavity": {"levels": 20, "decay": 0.2}, "qubits": {"detuning": [2.0, 3.0], "decay": 0.2},
        "drive": {"amplitude": 1.5}, "solver": {"rtol": 1e-11, "direct_switch": 3, "progress": 0}})
    calls = []
    monkeypatch.setattr(memory, "direct_fits", lambda model, comm: calls.append(model.N) or (False, "no"))
    st = steady_state(Model.from_config(cfg), cfg["solver"])
    assert calls == [80] and st.solver["method"] == "krylov" and st.solver["iterations"] > 3
    assert "direct_switch" not in st.solver


@pytest.mark.parametrize("last_is_better", [True, False])
def test_a_broken_down_krylov_solve_hands_its_last_iterate_on_when_it_is_better(monkeypatch, last_is_better):
    """After a breakdown the fallback starts from the last iterate when its true residual is below
    the initial guess's, else from the initial guess.  The breakdown is staged (in process, one
    rank, Fig. 7's resonance, N = 80): the automatic KSP's solve is replaced by 15 FGMRES
    iterations whose stop is relabelled KSP reason -5; the fallback is the real one.  Its first
    residual is the one the staged solve measured for the iterate it kept; the state is QuTiP's."""
    import pjcsync.steady as steady
    from pjcsync.config import validate
    from pjcsync.model import Model
    cfg = validate({
        "cavity": {"levels": 20, "decay": 0.2}, "qubits": {"detuning": [2.0, 3.0], "decay": 0.2},
        "drive": {"amplitude": 1.5}, "solver": {"rtol": 1e-11, "direct_switch": "never", "progress": 0}})
    real, staged = steady.solve_krylov, {}

    def solve(model, layout, L, sylv, x0, rtol, max_it, ksp_type=None, **kw):
        if staged:                                         # the fallback
            staged["fallback_start"] = x0.copy()
            return real(model, layout, L, sylv, x0, rtol, max_it, ksp_type=ksp_type, **kw)
        staged["x0"] = x0.copy()
        try:
            real(model, layout, L, sylv, x0, rtol, 15, ksp_type="fgmres", progress=0)
        except steady.UnconvergedError as exc:
            exc.info["ksp_reason"] = -5
            if not last_is_better:
                exc.info["last_iterate_residual"] = 10 * exc.info["residual_history"][0]
            staged["last"] = exc.rho.getArray(readonly=True).copy()
            staged["info"] = exc.info
            raise
        raise AssertionError("15 FGMRES iterations were expected not to converge")

    monkeypatch.setattr(steady, "solve_krylov", solve)
    st = steady.steady_state(Model.from_config(cfg), cfg["solver"])
    s = st.solver
    assert "gave up after 15 iterations (KSP reason -5)" in s["ksp_fallback"]
    start = staged["fallback_start"].ravel()
    if last_is_better:
        assert np.array_equal(start, staged["last"]) and "from its last iterate" in s["ksp_fallback"]
        assert s["residual_history"][0] == pytest.approx(staged["info"]["last_iterate_residual"], rel=1e-8)
        assert s["residual_history"][0] < staged["info"]["residual_history"][0] / 10
    else:
        assert np.array_equal(start, staged["x0"].ravel()) and "the same initial guess" in s["ksp_fallback"]
    from pjcsync.observables import basic_observables
    assert_matches(basic_observables(st.model, st.rows(), st.layout),
                   qutip_reference(20, (2.0, 3.0), (0.2, 0.2), 1.5, 0.0, 0.2))


def test_switch_budget():
    """The budget: configured, off, or the predicted ratio of a factorization to an iteration,
    growing with M and N; none for a method asked for, or for a Lindbladian without qubits."""
    from types import SimpleNamespace as NS
    from pjcsync import choices
    f = choices.direct_switch_iterations
    m = NS(M=2, N=400)
    assert f(m, {}) == choices.SWITCH_RATIO_M2_N400
    assert f(m, {"direct_switch": 7}) == 7 and f(m, {"direct_switch": "never"}) is None
    assert f(m, {"method": "krylov"}) is None and f(NS(N=400), {}) is None
    assert f(NS(M=1, N=400), {}) < f(m, {}) < f(NS(M=3, N=400), {})
    assert f(NS(M=2, N=200), {}) < f(m, {}) < f(NS(M=2, N=800), {})


@pytest.mark.parametrize("value", ["0", "'sometimes'", "2.5"])
def test_direct_switch_setting_is_checked(tmp_path, value):
    p = run_cli(["steady", write_config(tmp_path, FIG7 + f"direct_switch = {value}\n")])
    assert p.returncode == 2 and "direct_switch" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_direct_fill_bounds_mumps_count():
    """The fill law lies above MUMPS's own count of factor entries (INFOG(29)) per nonzero of
    L, and within 1.5 times it, for M = 1..4 (N = 64-120; scripts/bench_direct_switch.py
    --fill measures them)."""
    import json
    import subprocess
    import sys
    from conftest import ROOT, _env
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_direct_switch.py"), "--fill",
                        "1:60", "2:16", "2:25", "3:10", "4:4", "--json"],
                       capture_output=True, text=True, timeout=300, env=_env())
    assert p.returncode == 0, p.stderr[-2000:]
    rows = json.loads(p.stdout)
    assert [r["M"] for r in rows] == [1, 2, 2, 3, 4]
    for r in rows:
        assert r["fill"] <= r["law"] <= 1.5 * r["fill"], r


JOB = textwrap.dedent("""
    import os
    from mpi4py import MPI
    from pjcsync.parallel import job_ranks_on_node, LOCAL_SIZE_VARIABLES
    plain = job_ranks_on_node()
    for name in LOCAL_SIZE_VARIABLES:
        os.environ.pop(name, None)
    counts = MPI.COMM_WORLD.gather((plain, job_ranks_on_node()), root=0)
    if MPI.COMM_WORLD.rank == 0:
        print(counts)
    """)


def test_job_ranks_on_node(tmp_path):
    """Both ranks of a 2-rank job on this node count 2, from the launcher's variable or, without
    it, from COMM_WORLD (no communication either way)."""
    script = tmp_path / "job.py"
    script.write_text(JOB)
    p = run_mpi_script(script, 2)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.strip() == "[(2, 2), (2, 2)]"


class _FakeKSP:
    """What :class:`pjcsync.steady._KrylovMonitor` asks of a KSP when it stops one."""

    def __init__(self):
        self.max_it = None

    def setTolerances(self, max_it):
        self.max_it = max_it


def _stops_at(history, rtol=1e-10, window=5):
    """The iteration at which the stagnation test stops a solve with this relative residual
    history (None: it runs on)."""
    from pjcsync.steady import _KrylovMonitor
    mon, ksp = _KrylovMonitor(None, None, 1.0, None, 0.0, rtol=rtol, stagnation=window), _FakeKSP()
    for its, r in enumerate(history):
        mon._watch(ksp, its, r)
        if ksp.max_it is not None:
            return ksp.max_it
    return None


def test_stagnation_test():
    """Stops ``window`` iterations after the last 10 % decrease of the best residual, once that
    best is within STAGNATION_NEAR of rtol or STAGNATION_PROGRESS of the first residual (or
    after a spike): a plateau near the start (BiCGStab's first tens of iterations at a
    resonance) or a fluctuating but converging residual runs on."""
    from pjcsync.steady import STAGNATION_NEAR, STAGNATION_PROGRESS, STAGNATION_SPIKE
    # best 3e-10 at iteration 10; 2.9e-10 and 2.8e-10 are not 10 % below it: stop at 10 + 5
    near = [10.0 ** -k for k in range(10)] + [3e-10, 5e-10, 2.9e-10, 4e-10, 2.8e-10, 6e-10, 3e-10, 3e-10]
    assert _stops_at(near) == 15
    assert _stops_at(near[:12] + [2.6e-10] + near[13:]) == 17     # 2.6e-10 < 0.9 x 3e-10: a new best at 12
    assert _stops_at([1.0] * 30 + [0.5 ** k for k in range(40)]) is None
    wobbly = [r * (1.5 if k % 3 else 1.0) for k, r in enumerate(0.8 ** k for k in range(120))]
    assert _stops_at(wobbly, rtol=1e-11) is None
    # stuck far above rtol: runs on while the best is within three decades of the first residual
    # (a slow start), stops once it is below (progress, then a stall: best 2e-4 at iteration 4)
    far = [1.0, 0.5, 0.2, 0.1, 2e-3] + [2e-3] * 30
    assert 2e-3 > STAGNATION_NEAR * 1e-10 and 2e-3 > STAGNATION_PROGRESS and _stops_at(far) is None
    stalled = [10.0 ** -k for k in range(4)] + [2e-4] * 30
    assert 2e-4 > STAGNATION_NEAR * 1e-10 and 2e-4 < STAGNATION_PROGRESS and _stops_at(stalled) == 9
    # after a spike above STAGNATION_SPIKE (what PETSc's default divergence test stopped), a
    # plateau far above rtol stops too (best 0.5 at iteration 4: stop at 4 + 5); a spike that
    # converges runs on
    spike = [8.0, 6.0, 2e4, 1.0, 0.5] + [0.6, 0.55, 0.7, 0.52, 0.5, 0.6]
    assert spike[2] > STAGNATION_SPIKE and _stops_at(spike) == 9 and _stops_at(spike[:2] + [1e3] + spike[3:]) is None
    assert _stops_at([8.0, 6.0, 2e4] + [0.7 ** k for k in range(80)]) is None


FIG8_64 = textwrap.dedent("""\
    [cavity]
    levels = 64
    decay = 0.3
    [qubits]
    detuning = [1.0, -1.0]
    decay = 3e-3
    [drive]
    amplitude = 0.25
    detuning = 0.0
    [solver]
    method = "krylov"
    coarse_start = false
    rtol = 1e-12
    stagnation_window = 3
    """)


@pytest.fixture(scope="module")
def fig8_reference():
    """QuTiP's state at 32 levels: <n> = 2.6, and the same at 64 levels to 1e-15 (measured;
    QuTiP takes 70 s at 64 levels, 7 s at 32)."""
    return fig8_qutip()


@pytest.mark.parametrize("ranks", [1, 2])
def test_a_stagnating_krylov_solve_goes_on_in_fgmres_from_its_last_iterate(tmp_path, ranks, fig8_reference):
    """Fig. 8 at resonance, N = 256 (automatic BiCGStab with the single-precision L0^-1), with a
    stagnation window of 3 iterations: the stagnation test stops BiCGStab (its ordinary stalls
    are longer: 10-11 iterations once three decades below its first residual, where
    STAGNATION_PROGRESS lets the test act; with no window it converges in 214), FGMRES
    converges from its last iterate, and the state is QuTiP's."""
    d = cli_json(["steady", write_config(tmp_path, FIG8_64), "--quiet"], ranks)
    s = d["solver"]
    assert s["method"] == "krylov" and s["ksp_type"] == "fgmres" and s["ksp_reason"] > 0
    first = s["ksp_fallback"]
    assert first.startswith("fbcgs gave up after") and "stagnated" in first and "from its last iterate" in first
    assert_matches(d["observables"], fig8_reference)
