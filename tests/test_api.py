"""``pjcsync.steadystate`` for any Lindbladian (issue 13): agreement with ``qutip.steadystate``
to 1e-8 on random Lindbladians and two physical models that are not the Tavis-Cummings model,
with every method, in-process (one rank) and at 2 MPI ranks; inputs as Qobj, scipy sparse and
numpy; the result object; option and input errors."""
import json

import numpy as np
import pytest
import scipy.sparse as sp

from conftest import ROOT, run_mpi_script
from lindblad_cases import CASES, MPI_CASES, reference

qutip = pytest.importorskip("qutip")
import pjcsync  # noqa: E402
from pjcsync.config import ConfigError  # noqa: E402
from pjcsync.parallel import InputError  # noqa: E402

TOL = 1e-8
METHODS = ("direct", "krylov", "sylvester")


@pytest.fixture(scope="module")
def refs():
    return {name: reference(name) for name in CASES}


def _as(form, H, c_ops):
    if form == "qobj":
        return H, c_ops
    if form == "sparse":
        return sp.csr_matrix(H.full()), [sp.csr_matrix(c.full()) for c in c_ops]
    return H.full(), [c.full() for c in c_ops]


@pytest.mark.inprocess
@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("method", METHODS)
def test_steadystate_matches_qutip(name, method, refs):
    H, c_ops = CASES[name]()
    form = {"random17": "numpy", "random40": "sparse"}.get(name, "qobj")
    res = pjcsync.steadystate(*_as(form, H, c_ops), method=method)
    rho = res.full()
    assert rho.shape == (H.shape[0],) * 2
    assert np.abs(rho - refs[name]).max() <= TOL, (name, method, np.abs(rho - refs[name]).max())
    assert res.method == method
    q = res.to_qutip()
    assert q.dims == (H.dims if form == "qobj" else [[H.shape[0]], [H.shape[0]]])
    for op in (H, c_ops[0], c_ops[0].dag() * c_ops[0]):
        want = qutip.expect(op, qutip.Qobj(refs[name], dims=q.dims))
        got = res.expect(op if form == "qobj" else op.full())
        assert abs(got - want) <= TOL * max(1.0, abs(want))
        assert isinstance(got, float) == op.isherm


@pytest.mark.inprocess
def test_result_statistics_and_checks():
    H, c_ops = CASES["kerr"]()
    res = pjcsync.steadystate(H, c_ops, method="krylov", rtol=1e-12)
    assert res.method == "krylov" and res.iterations >= 1
    assert "krylov" in res.route and "L0^-1" in res.route
    h = res.residual_history
    assert len(h) >= 2 and h[-1] < h[0]
    assert res.seconds > 0 and res.peak_memory["max_rank_bytes"] > 0
    assert res.checks["relative_residual"] <= 1e-12
    assert abs(res.checks["trace_before_normalization"][0] - 1) < 1e-8
    assert res.checks["min_eigenvalue"] > -1e-8
    assert abs(res.trace() - 1) < 1e-12
    json.dumps(res.to_dict(), default=float)
    auto = pjcsync.steadystate(H, c_ops)
    assert auto.stats["requested_method"] == "auto" and auto.route.startswith("auto -> ")


@pytest.mark.inprocess
def test_warm_start_and_dims():
    H, c_ops = CASES["spin_chain"]()
    cold = pjcsync.steadystate(H, c_ops, method="krylov")
    warm = pjcsync.steadystate(H, c_ops, method="krylov", initial=cold)
    assert warm.iterations < cold.iterations
    assert warm.stats["initial_guess"] == "argument"
    plain = pjcsync.steadystate(H.full(), [c.full() for c in c_ops], dims=[2, 2, 2, 2], method="direct")
    assert plain.to_qutip().dims == [[2, 2, 2, 2], [2, 2, 2, 2]]


@pytest.mark.inprocess
def test_misspelled_option_lists_known_options():
    H, c_ops = CASES["random6"]()
    with pytest.raises(ConfigError, match=r"unknown option 'rtl'.*did you mean 'rtol'.*known options: method, rtol"):
        pjcsync.steadystate(H, c_ops, rtl=1e-12)
    with pytest.raises(ConfigError, match="method must be one of"):
        pjcsync.steadystate(H, c_ops, method="krylv")
    with pytest.raises(InputError, match="Tavis-Cummings"):
        pjcsync.steadystate(H, c_ops, method="rate")
    with pytest.raises(InputError, match="Tavis-Cummings"):
        pjcsync.steadystate(H, c_ops, method="krylov", initial_guess="rate")


@pytest.mark.inprocess
@pytest.mark.parametrize("bad, match", [
    (lambda H, c: (H.full() + 0.1j * np.eye(6), c), "not Hermitian"),
    (lambda H, c: (H, [np.eye(5)]), "5 x 5 but H is 6 x 6"),
    (lambda H, c: (np.ones(6), c), "square matrix"),
    (lambda H, c: (H.full() * np.nan, c), "not finite"),
    (lambda H, c: (qutip.spre(H), c), "superoperator"),
])
def test_bad_operators_are_input_errors(bad, match):
    H, c_ops = CASES["random6"]()
    with pytest.raises(InputError, match=match):
        pjcsync.steadystate(*bad(H, c_ops))


@pytest.mark.mpi
def test_steadystate_two_ranks(tmp_path, refs):
    out = tmp_path / "api.npz"
    p = run_mpi_script(ROOT / "tests" / "mpi" / "api_steady.py", 2, [out], timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    data = np.load(out)
    stats = json.loads((tmp_path / "api.npz.json").read_text())
    for name in MPI_CASES:
        H, _ = CASES[name]()
        for method in METHODS:
            key = f"{name}/{method}"
            assert stats[key]["ranks"] == 2 and stats[key]["method"] == method
            assert np.abs(data[key] - refs[name]).max() <= TOL, (key, np.abs(data[key] - refs[name]).max())
            want = qutip.expect(H * H, qutip.Qobj(refs[name], dims=H.dims))
            assert abs(stats[key]["expect_H2"] - want) <= TOL * max(1.0, abs(want))
            assert stats[key]["dims"] == H.dims


def _initial(H):
    return qutip.basis(H.dims[0], [0] * len(H.dims[0]))


@pytest.mark.inprocess
@pytest.mark.parametrize("name", ["kerr", "spin_chain", "random17"])
def test_mesolve_matches_qutip(name):
    H, c_ops = CASES[name]()
    tlist = np.linspace(0.0, 2.0, 5)
    e_ops = [H, c_ops[0], c_ops[0].dag() * c_ops[0]]
    ref = qutip.mesolve(H, _initial(H), tlist, c_ops, e_ops=e_ops, options={"atol": 1e-12, "rtol": 1e-10,
                                                                                 "store_final_state": True})
    res = pjcsync.mesolve(H, _initial(H), tlist, c_ops, e_ops, rtol=1e-10, atol=1e-12)
    assert np.array_equal(res.times, tlist)
    for k, (got, want) in enumerate(zip(res.expect, ref.expect)):
        assert np.iscomplexobj(got) == (not e_ops[k].isherm)
        assert np.abs(np.asarray(got) - np.asarray(want)).max() < 1e-8, (name, k)
    assert res.states == [] and res.stats["steps"] > 0
    again = pjcsync.mesolve(H, _initial(H), tlist, c_ops, e_ops=e_ops, options={"rtol": 1e-10, "atol": 1e-12})
    assert all(np.array_equal(a, b) for a, b in zip(again.expect, res.expect))
    states = pjcsync.mesolve(H, _initial(H), tlist[:2], c_ops).states       # no e_ops: states kept
    assert len(states) == 2 and abs(np.trace(states[1]) - 1) < 1e-10
    assert np.abs(res.final_state() - ref.final_state.full()).max() < 1e-8


@pytest.mark.inprocess
def test_mesolve_input_errors():
    H, c_ops = CASES["kerr"]()
    with pytest.raises(ConfigError, match="unknown option 'rtl'.*known options: rtol, atol"):
        pjcsync.mesolve(H, _initial(H), [0, 1], c_ops, rtl=1e-3)
    with pytest.raises(InputError, match="increasing"):
        pjcsync.mesolve(H, _initial(H), [1, 0], c_ops)
    with pytest.raises(InputError, match="not positive"):
        pjcsync.mesolve(H, np.diag([1.5, -0.5] + [0] * (H.shape[0] - 2)), [0, 1], c_ops)
    with pytest.raises(InputError, match="trace"):
        pjcsync.mesolve(H, 2 * qutip.ket2dm(_initial(H)), [0, 1], c_ops)


@pytest.mark.inprocess
@pytest.mark.parametrize("name", ["kerr", "spin_chain", "random17"])
def test_liouvillian_gap_matches_qutip(name):
    H, c_ops = CASES[name]()
    ev = qutip.liouvillian(H, c_ops).eigenenergies()
    ev = ev[np.abs(ev) > 1e-9]
    res = pjcsync.liouvillian_gap(H, c_ops, n=3)
    assert len(res.eigenvalues) == 3
    for lam in res.eigenvalues:
        assert np.abs(ev - lam).min() < 1e-8
    assert abs(res.gap - np.abs(ev).min()) < 1e-8
    with pytest.raises(ConfigError, match="unknown option 'tl'"):
        pjcsync.liouvillian_gap(H, c_ops, tl=1e-3)


@pytest.mark.inprocess
def test_misspelled_option_on_every_path(tmp_path):
    """The library's steady_state and the API reject a misspelled key, naming the known ones
    (the command line: next test, exit status 2)."""
    from conftest import EXAMPLES
    from pjcsync.model import Model
    from pjcsync.steady import steady_state
    m = Model.from_toml(EXAMPLES / "fig8.toml", ["cavity.levels=4"])
    for call in (lambda: steady_state(m, {"methd": "krylov"}),
                 lambda: pjcsync.steadystate(m, methd="krylov")):
        with pytest.raises(ConfigError, match=r"'methd'.*method, rtol, max_iterations"):
            call()
    with pytest.raises(ConfigError, match="operator must be one of"):
        steady_state(m, {"operator": "matrixfree"})


@pytest.mark.mpi
def test_misspelled_option_on_the_command_line():
    from conftest import EXAMPLES, run_cli
    p = run_cli(["steady", EXAMPLES / "fig8.toml", "--set", "solver.methd=krylov"])
    assert p.returncode == 2 and "'methd'" in p.stderr and "method, rtol, max_iterations" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


@pytest.mark.inprocess
def test_error_hierarchy_and_exit_codes():
    from pjcsync import errors, parallel, config
    assert parallel.PjcsyncError is errors.PjcsyncError and parallel.InputError is errors.InputError
    assert config.ConfigError is errors.ConfigError and issubclass(errors.ConfigError, errors.InputError)
    assert errors.exit_code(errors.ConfigError("x")) == 2 == errors.exit_code(errors.InputError("x"))
    assert errors.exit_code(errors.PjcsyncError("x")) == 1 == errors.exit_code(RuntimeError("x"))
    assert isinstance(errors.InputError("x"), ValueError) and isinstance(errors.PjcsyncError("x"), RuntimeError)


@pytest.mark.inprocess
def test_typed_options_follow_the_schema():
    import dataclasses
    from pjcsync.config import REQUIRED, SCHEMA
    from pjcsync.options import OPTION_CLASSES, SolverOptions
    for section, keys in SCHEMA.items():
        cls = OPTION_CLASSES[section]
        fields = {f.name: f for f in dataclasses.fields(cls)}
        assert set(fields) == set(keys)
        for name, key in keys.items():
            if key.default is REQUIRED:
                assert fields[name].default is dataclasses.MISSING
            elif fields[name].default is not dataclasses.MISSING:
                assert fields[name].default == key.default
    o = SolverOptions.from_dict({"method": "krylov"}, rtol=1e-12)
    assert (o.method, o.rtol, o.max_iterations) == ("krylov", 1e-12, SCHEMA["solver"]["max_iterations"].default)
    assert o.replace(rtol=1e-9).rtol == 1e-9 and o.rtol == 1e-12
    with pytest.raises(ConfigError, match="max_iterations must be >= 1"):
        o.replace(max_iterations=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.rtol = 1.0
