"""Adaptive truncation (``[cavity] levels = "auto"``), coarse starts and the automatic Krylov
settings (issue 12): checked against QuTiP steady states at a fixed, converged n_c, at 1 and 2
ranks, and the state transfer between n_c against numpy."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

from conftest import A4_M3_MODEL, cli_json, fig8_text, run_cli, run_mpi_script, write_config
from reference import fig8_qutip as fig8_reference


def test_coarse_ladder_and_next_levels():
    from pjcsync.truncation import coarse_ladder, next_levels
    assert coarse_ladder(100, 16) == [25, 50]
    assert coarse_ladder(40, 16) == [20]
    assert coarse_ladder(31, 16) == [16]
    assert coarse_ladder(30, 16) == []
    # geometric populations r^n: the predicted n_c brings the top 5 levels below the tolerance
    r, n = 0.5, 30
    pops = (1 - r) * r ** np.arange(n)
    nxt = next_levels(n, pops, 5, 1e-12, 400)
    assert int(np.ceil(1.25 * n)) <= nxt < 2 * n
    assert ((1 - r) * r ** np.arange(nxt - 5, nxt)).sum() <= 1e-12
    # a plateau up to the cut (no decay yet): double
    assert next_levels(n, np.full(n, 1.0 / n), 5, 1e-12, 400) == 2 * n
    assert next_levels(n, pops, 5, 1e-12, 45) == 45          # capped at levels_max


EMBED = textwrap.dedent("""
    import sys
    import numpy as np
    import petsc4py; petsc4py.init()
    from pjcsync.model import Model
    from pjcsync.parallel import RowLayout
    from pjcsync.truncation import embed_rows, with_levels
    base = Model(levels=5, gamma=0.3, detunings=(1.0, -1.0), couplings=(1.0, 1.0), gamma_s=(0.1, 0.1),
                 amplitude=0.2, drive_detuning=0.0)
    rng = np.random.default_rng(3)
    bad = 0.0
    for a, b in ((5, 9), (9, 5), (5, 5)):
        ma, mb = with_levels(base, a), with_levels(base, b)
        la, lb = RowLayout.create(ma.N), RowLayout.create(mb.N)
        full = rng.standard_normal((ma.N, ma.N)) + 1j * rng.standard_normal((ma.N, ma.N))
        full = la.comm.bcast(full, root=0)
        rows = embed_rows(full[la.i0:la.i1], ma, la, mb, lb)
        want = np.zeros((mb.N, mb.N), dtype=complex)
        k = min(ma.N, mb.N)
        want[:k, :k] = full[:k, :k]          # |n, q> has index n 2^M + q whatever n_c
        bad = max(bad, np.abs(rows - want[lb.i0:lb.i1]).max())
    bad = la.comm.allreduce(bad, op=__import__("mpi4py.MPI", fromlist=["MPI"]).MAX)
    if la.comm.rank == 0:
        print("MAXERR", bad)
""")


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_embed_rows_pads_and_cuts(tmp_path, ranks):
    script = tmp_path / "embed.py"
    script.write_text(EMBED)
    p = run_mpi_script(script, ranks)
    assert p.returncode == 0, p.stderr[-2000:]
    err = float(p.stdout.split("MAXERR")[1].split()[0])
    assert err == 0.0


@pytest.mark.parametrize("ranks", [1, 2])
def test_levels_auto_matches_converged_qutip(tmp_path, ranks):
    """Fig. 8 at resonance, levels = auto with krylov: the chosen n_c meets the tolerance and the
    observables equal QuTiP's at a converged fixed n_c (FIG8_QUTIP_LEVELS) to 1e-6."""
    cfg = write_config(tmp_path, fig8_text('[solver]\nmethod = "krylov"\n', levels='"auto"')
                       .replace('levels = "auto"', 'levels = "auto"\nlevels_start = 8\nlevels_tolerance = 1e-10'))
    d = cli_json(["steady", cfg], ranks)
    lv = d["solver"]["levels"]
    assert lv["converged"] and lv["chosen"] > 8 and lv["steps"][0]["levels"] == 8
    assert d["observables"]["edge_population"] <= 1e-10
    ref = fig8_reference()
    assert ref["edge"] < 1e-14
    assert abs(d["observables"]["n"] - ref["n"]) < 1e-6
    assert abs(d["observables"]["sigma"][0][2] - ref["sz"][0]) < 1e-6
    assert not d["warnings"]


def test_levels_auto_from_a_poorly_truncated_file_guess(tmp_path):
    """``initial_guess`` = a results file of 4 levels (edge population far above 1e-6): the
    first step starts from it, the later steps start cold from the default guess (they used to
    fail, asking the solver to read the file), and the result equals QuTiP's converged one."""
    small = tmp_path / "small.h5"
    cfg4 = write_config(tmp_path, fig8_text('[solver]\nmethod = "direct"\n', levels=4), "four.toml")
    assert run_cli(["steady", cfg4, "--out", small, "--save-rho", "--quiet"]).returncode == 0
    cfg = write_config(tmp_path, fig8_text(f'[solver]\nmethod = "krylov"\ninitial_guess = "{small}"\n',
                                           levels='"auto"'))
    d = cli_json(["steady", cfg, "--quiet"])
    steps = d["solver"]["levels"]["steps"]
    assert steps[0]["levels"] == 4 and steps[0]["started_from_previous"]
    assert not steps[1]["started_from_previous"] and d["solver"]["levels"]["converged"]
    ref = fig8_reference()
    assert abs(d["observables"]["n"] - ref["n"]) < 1e-6


def test_levels_auto_reports_levels_max(tmp_path):
    """A levels_max too small for the tolerance: the state of levels_max with the warning."""
    text = fig8_text(levels='"auto"').replace('levels = "auto"', 'levels = "auto"\nlevels_start = 6\nlevels_max = 8')
    d = cli_json(["steady", write_config(tmp_path, text)])
    assert d["solver"]["levels"]["chosen"] == 8 and not d["solver"]["levels"]["converged"]
    assert any("levels_max" in w for w in d["warnings"])


def test_levels_auto_refused_where_it_cannot_apply(tmp_path):
    text = fig8_text("[floquet]\nharmonics = 1\n", levels='"auto"', omega0=10.0)
    p = run_cli(["steady", write_config(tmp_path, text)])
    assert p.returncode == 2 and "levels = 'auto'" in p.stderr
    p = run_cli(["steady", write_config(tmp_path, fig8_text(levels='"many"'), "b.toml")])
    assert p.returncode == 2 and "'auto'" in p.stderr


@pytest.mark.parametrize("ranks", [1, 2])
def test_coarse_start_agrees_with_qutip(tmp_path, ranks):
    """A fixed n_c = 50 by krylov with the coarse start (25 levels first) gives QuTiP's converged
    state, and records the coarse solve; without it the same numbers come out."""
    base = fig8_text('[solver]\nmethod = "krylov"\ncoarse_levels = 20\n', levels=50)
    d = cli_json(["steady", write_config(tmp_path, base)], ranks)
    steps = d["solver"]["coarse_start"]
    assert [s["levels"] for s in steps] == [25]
    cold = cli_json(["steady", write_config(tmp_path, base, "c.toml"), "--set", "solver.coarse_start=false"], ranks)
    assert "coarse_start" not in cold["solver"]
    # started from the (well truncated) 25-level state
    assert steps[0]["edge_population"] < 1e-6
    assert d["solver"]["iterations"] < cold["solver"]["iterations"] / 2
    ref = fig8_reference()
    for out in (d, cold):
        assert abs(out["observables"]["n"] - ref["n"]) < 1e-8
        assert abs(out["observables"]["sigma"][0][2] - ref["sz"][0]) < 1e-8


@pytest.mark.parametrize("ranks", [1, 2])
def test_auto_levels_first_step_is_coarse_started(tmp_path, ranks):
    """levels = "auto" starting at 50 levels solves its first n_c with the coarse start (from
    coarse_levels = 16: 25 levels first), as a fixed n_c = 50 does; before, levels_start was
    also the ladder's floor and a start of 50 was solved cold (Fig. 5 at the paper's 100 levels:
    70-90 s per point cold against 1.5 s coarse-started)."""
    text = fig8_text('[solver]\nmethod = "krylov"\n', levels='"auto"').replace(
        'levels = "auto"', 'levels = "auto"\nlevels_start = 50')
    d = cli_json(["steady", write_config(tmp_path, text)], ranks)
    assert d["solver"]["levels"]["chosen"] == 50
    assert [s["levels"] for s in d["solver"]["coarse_start"]] == [25]
    cold = cli_json(["steady", write_config(tmp_path, text, "c.toml"), "--set", "solver.coarse_start=false"], ranks)
    assert "coarse_start" not in cold["solver"]
    assert d["solver"]["iterations"] < cold["solver"]["iterations"] / 2
    ref = fig8_reference()
    for out in (d, cold):
        assert abs(out["observables"]["n"] - ref["n"]) < 1e-8


def test_krylov_settings():
    import petsc4py
    petsc4py.init([])
    from petsc4py import PETSc
    from pjcsync.model import Model
    from pjcsync.choices import AUTO_SINGLE_MIN_N, FLEXIBLE_KSPS, krylov_settings
    big = Model(levels=AUTO_SINGLE_MIN_N // 4, gamma=0.2, detunings=(1.0, 2.0), couplings=(1.0, 1.0),
                gamma_s=(0.2, 0.2), amplitude=0.77, drive_detuning=0.0)
    small = Model(levels=8, gamma=0.2, detunings=(1.0,), couplings=(1.0,), gamma_s=(0.2,), amplitude=0.7,
                  drive_detuning=0.0)
    s = krylov_settings(big, {"ksp_type": "auto", "preconditioner_precision": "auto"})
    assert s["ksp_type"] in FLEXIBLE_KSPS and s["precision"] == "single"
    s = krylov_settings(small, {"ksp_type": "auto", "preconditioner_precision": "auto"})
    assert s["precision"] == "double"
    s = krylov_settings(big, {"ksp_type": "gmres", "preconditioner_precision": "auto"})
    assert s["ksp_type"] == "gmres" and s["precision"] == "double"      # not flexible: exact L0^-1
    opts = PETSc.Options()
    opts["ksp_type"] = "bcgs"
    try:
        s = krylov_settings(big, {"ksp_type": "fgmres", "preconditioner_precision": "auto"})
    finally:
        opts.delValue("ksp_type")
    assert s["ksp_type"] == "bcgs" and s["precision"] == "double"       # the option wins


def test_sweep_with_levels_auto(tmp_path):
    """A sweep with levels = auto: every point chooses its n_c, the records say which, and the
    observables match QuTiP at a converged n_c."""
    text = fig8_text('[solver]\nmethod = "krylov"\n[sweep.drive]\ndetuning = [-0.2, 0.0]\n', levels='"auto"')
    text = text.replace('levels = "auto"', 'levels = "auto"\nlevels_start = 8\nlevels_tolerance = 1e-10')
    out = tmp_path / "s.h5"
    p = run_cli(["sweep", write_config(tmp_path, text), "--out", out], 2)
    assert p.returncode == 0, p.stderr[-2000:]
    import pjcsync
    data = pjcsync.load(out)
    pts = data["points"]
    assert len(pts) == 2
    for pt in pts:
        lv = pt["solver"]["levels"]
        assert lv["converged"]
        det = pt["parameters"]["drive.detuning"]
        ref = fig8_reference(det)
        assert abs(pt["observables"]["n"] - ref["n"]) < 1e-6


def test_levels_needed():
    from pjcsync.truncation import levels_needed
    n = 30
    assert levels_needed(n, np.full(n, 1.0 / n), 5, 1e-6) == np.inf      # a plateau: no prediction
    pops = 0.5 * 0.5 ** np.arange(n)
    assert levels_needed(n, pops, 5, 1.0) == n                          # already below
    assert n < levels_needed(n, pops, 5, 1e-15) < 3 * n


def test_levels_needed_follows_a_poisson_tail():
    """A coherent state's populations (Poisson, <n> = 45, as Fig. 11's cavity at resonance with
    one qubit): cut at 80 levels, the prediction reaches the tolerance without overshooting by
    more than the margin; the geometric fit alone asks for far more.  Geometric populations
    keep the geometric prediction (the tail model's kappa comes out 0)."""
    from scipy.stats import geom, poisson
    from pjcsync.truncation import levels_needed
    mu, cut, tol = 45.0, 80, 1e-6
    need = next(nc for nc in range(cut, 400) if poisson.pmf(np.arange(nc - 5, nc), mu).sum() <= tol)
    got = levels_needed(cut, poisson.pmf(np.arange(cut), mu), 5, tol)
    assert need <= got <= need + 10, (need, got)
    pops = geom.pmf(np.arange(1, 41), 0.3)          # P(n) = 0.3 * 0.7^n, n < 40
    nc = levels_needed(40, pops, 5, tol)
    assert geom.pmf(np.arange(nc - 4, nc + 1), 0.3).sum() <= tol < geom.pmf(np.arange(nc - 14, nc - 9), 0.3).sum()


def test_coarse_ladder_stops_on_a_fat_tail(tmp_path):
    """Fig. 11 with one qubit at resonance (tens of photons): 16 levels are far too few and the
    tail too flat for 32 to be well truncated, so the ladder stops after 16 levels and the fine
    solve starts cold -- and still agrees with the solve without the coarse start."""
    text = ("[cavity]\nlevels = 64\ndecay = 0.2\n[qubits]\ndetuning = [1.0]\n"
            "decay = 0.2\n[drive]\namplitude = 0.77\n[solver]\nmethod = \"krylov\"\n")
    d = cli_json(["steady", write_config(tmp_path, text)])
    steps = d["solver"]["coarse_start"]
    assert [s["levels"] for s in steps] == [16] and "ladder_stopped" in steps[0]
    cold = cli_json(["steady", write_config(tmp_path, text, "b.toml"), "--set", "solver.coarse_start=false"])
    assert abs(d["observables"]["n"] - cold["observables"]["n"]) < 1e-8 * max(1.0, cold["observables"]["n"])


A4_M3 = A4_M3_MODEL + '[solver]\nmethod = "krylov"\n'



@pytest.mark.parametrize("ranks", [1, 2])
def test_automatic_bicgstab_rides_out_its_spike_and_a_diverging_one_is_replaced_by_fgmres(tmp_path, ranks):
    """Fig. A4, M = 3 (gamma = gamma_s = 2): the automatic fbcgs's residual spikes above 1e4 ||b||
    (PETSc's default divergence test) within a few iterations and then converges, with the
    automatic choice's divergence tolerance (AUTO_DIVTOL).  With -ksp_divtol 1e3 it diverges
    (dtol) and the solve goes on with FGMRES.  Both agree with the direct LU (MUMPS) of the same
    point.  A KSP that was asked for keeps PETSc's test and is not replaced: exit 1."""
    import pjcsync
    from pjcsync.model import Model
    cfg = write_config(tmp_path, A4_M3)
    ref = pjcsync.steadystate(Model.from_toml(cfg), method="direct").observables()
    rode = cli_json(["steady", cfg, "--quiet"], ranks)
    s = rode["solver"]
    assert s["ksp_type"] == "fbcgs" and "ksp_fallback" not in s and s["peak_residual"] > 1e4
    assert s["peak_residual"] >= max(s["residual_history"])          # the thinned history's
    d = cli_json(["steady", cfg, "--quiet", "-ksp_divtol", "1e3"], ranks)
    s = d["solver"]
    assert s["ksp_type"] == "fgmres" and "fbcgs gave up" in s["ksp_fallback"] and "reason -4" in s["ksp_fallback"]
    for out in (rode, d):
        assert abs(out["observables"]["n"] - ref["n"]) < 1e-8 * ref["n"]
        assert np.allclose(out["observables"]["sigma"], ref["sigma"], atol=1e-8)
    p = run_cli(["steady", write_config(tmp_path, A4_M3 + 'ksp_type = "fbcgs"\n', "f.toml"), "--quiet"], ranks)
    assert p.returncode == 1 and "diverged" in p.stderr
