"""HDF5 result files (issue 3, item 5): ``steady --out``, ``show``, ``pjcsync.load``; parallel
writing of rho; files complete or absent; one-line errors with exit status 2."""
from __future__ import annotations

import json
import sys
import textwrap
import tomllib
import warnings

import numpy as np
import pytest

from conftest import cli_json, fig8_text, run_cli, run_mpi_script, write_config

warnings.filterwarnings("ignore", message="matplotlib not found")

CASE = fig8_text(levels=8, dw=0.1)       # Fig. 8 off resonance, few levels


def qutip_reference(levels=8, det=0.1):
    """The case above written from scratch in QuTiP (eq. 3, eq. 5): its steady state."""
    import qutip
    a = qutip.tensor(qutip.destroy(levels), qutip.qeye(2), qutip.qeye(2))

    def on(op, l):
        return qutip.tensor(qutip.qeye(levels), *[op if k == l else qutip.qeye(2) for k in range(2)])
    wr = -det
    H = wr * a.dag() * a + 0.25 * (a + a.dag())
    for l, d in enumerate((1.0, -1.0)):
        H += a * on(qutip.sigmap(), l) + a.dag() * on(qutip.sigmam(), l) + 0.5 * (d + wr) * on(qutip.sigmaz(), l)
    c_ops = [np.sqrt(0.3) * a] + [np.sqrt(3e-3) * on(qutip.sigmam(), l) for l in range(2)]
    return qutip.steadystate(H, c_ops).full()


@pytest.mark.parametrize("ranks", [1, 2])
def test_steady_out_show_load_roundtrip(tmp_path, ranks):
    import pjcsync
    from pjcsync.config import load_config
    cfg = write_config(tmp_path, CASE)
    out = tmp_path / "r.h5"
    steady = cli_json(["steady", cfg, "--out", out, "--save-rho"], ranks)
    assert out.is_file()
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []
    data = pjcsync.load(out)
    # same names and values as steady --json
    assert data["observables"] == steady["observables"]
    for key in ("negativity", "chsh", "S2", "singlet", "theta", "n", "sigma"):
        assert key in data["observables"]
    assert data["config"] == steady["config"] and data["solver"] == steady["solver"]
    assert data["checks"] == steady["checks"] and data["warnings"] == steady["warnings"]
    assert data["ranks"] == ranks
    for key in ("pjcsync", "petsc", "slepc", "mpi", "h5py", "hdf5"):
        assert data["versions"].get(key), key
    if ranks > 1:      # with Debian's h5py-mpi under mpirun, each rank wrote its rows (mpio)
        import subprocess
        from conftest import MPIRUN, _env
        probe = subprocess.run([MPIRUN, "-n", "2", sys.executable, "-c",
                                "from mpi4py import MPI; import h5py; "
                                "MPI.COMM_WORLD.rank or print(h5py.get_config().mpi)"],
                               capture_output=True, text=True, env=_env(), timeout=120)
        if probe.returncode == 0 and probe.stdout.split():
            assert data["versions"]["h5py_mpi"] == (probe.stdout.split()[0] == "True")
    # rho: full N x N, row-major semantics rho[i, j], against an independent QuTiP solve
    rho = data["rho"]
    assert rho.shape == (32, 32) and rho.dtype == np.complex128
    assert np.abs(rho - qutip_reference()).max() < 1e-8
    # the stored TOML reproduces the configuration
    import h5py
    with h5py.File(out, "r") as f:
        toml = f.attrs["config_toml"]
    assert load_config(data=tomllib.loads(toml)) == steady["config"]
    # show --json: one JSON object with the same observables
    shown = cli_json(["show", out], 1)
    assert shown["observables"] == steady["observables"]
    assert "rho" not in shown and shown["rho_shape"] == [32, 32]
    p = run_cli(["show", out], 1)
    assert p.returncode == 0 and "negativity" in p.stdout and "rho stored: 32 x 32" in p.stdout


WRITERS = textwrap.dedent('''
    import sys, numpy as np
    from mpi4py import MPI
    from pjcsync.parallel import RowLayout
    from pjcsync.results import write_steady
    N = 37
    layout = RowLayout.create(N)
    full = np.arange(N * N).reshape(N, N) * (1 + 0.5j)
    rows = full[layout.i0:layout.i1]
    point = {"config": {}, "observables": {"n": 1.0}}
    write_steady(sys.argv[1] + "/mpio.h5", point, rows, layout)
    write_steady(sys.argv[1] + "/rank0.h5", point, rows, layout, parallel_io=False)
''')


def test_both_writers_give_the_same_rho(tmp_path):
    """The MPI-IO writer and the rank-0 writer (blocks received one at a time), 2 ranks,
    uneven row blocks (N = 37)."""
    import pjcsync
    script = tmp_path / "w.py"
    script.write_text(WRITERS)
    p = run_mpi_script(script, 2, [tmp_path], timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    expected = np.arange(37 * 37).reshape(37, 37) * (1 + 0.5j)
    for name in ("mpio.h5", "rank0.h5"):
        data = pjcsync.load(tmp_path / name)
        assert np.array_equal(data["rho"], expected), name
        assert data["ranks"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mpio.h5", "rank0.h5", "w.py"]


def test_without_rho_and_table_output(tmp_path):
    import pjcsync
    cfg = write_config(tmp_path, CASE)
    out = tmp_path / "n.h5"
    p = run_cli(["steady", cfg, "--out", out], 1)
    assert p.returncode == 0, p.stderr
    assert "negativity" in p.stdout and "CHSH" in p.stdout and "theta" in p.stdout
    data = pjcsync.load(out)
    assert "rho" not in data and "rho_shape" not in data
    assert data["observables"]["negativity"] > 0


def test_bad_inputs_are_one_line_exit_2(tmp_path):
    cfg = write_config(tmp_path, CASE)
    for args in (["steady", cfg, "--save-rho"],
                 ["steady", cfg, "--out", tmp_path / "missing" / "r.h5"],
                 ["steady", cfg, "--out", tmp_path],
                 ["show", tmp_path / "nothing.h5"],
                 ["show", cfg]):                       # a TOML file is not an HDF5 file
        p = run_cli(args, 1)
        assert p.returncode == 2, (args, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr, p.stderr
    assert not (tmp_path / "missing").exists()
    import h5py
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    p = run_cli(["show", tmp_path / "other.h5"], 1)
    assert p.returncode == 2 and "not a pjcsync results file" in p.stderr


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    """A failure while writing leaves neither the file nor its temporary; an existing file is
    replaced only by a complete new one."""
    from mpi4py import MPI
    from pjcsync import results
    path = tmp_path / "r.h5"
    point = {"config": {}, "solver": {"method": "x"}, "checks": {}, "warnings": [],
             "observables": {"n": 1.5, "sigma": [[0.1, 0.2, 0.3]], "note": None, "label": "a",
                             "ragged": [[1.0], [2.0, 3.0]], "nested": {"k": 2}}}
    results.write_steady(path, point, comm=MPI.COMM_SELF)
    first = results.load(path)
    assert first["observables"] == point["observables"]

    def boom(*args, **kwargs):
        raise OSError("disk full (simulated)")
    monkeypatch.setattr(results, "_write_tree", boom)
    with pytest.raises(results.ResultsFileError, match="disk full"):
        results.write_steady(path, dict(point, observables={"n": 9.0}), comm=MPI.COMM_SELF)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.h5"]
    assert results.load(path)["observables"]["n"] == 1.5       # the old file is intact
    with pytest.raises(results.ResultsFileError):
        results.write_steady(tmp_path / "new.h5", point, comm=MPI.COMM_SELF)
    assert not (tmp_path / "new.h5").exists()


def test_points_layout_for_sweeps(tmp_path):
    """A file of many points (/points/<k>) loads as a list, in order (sweep-ready layout)."""
    import h5py
    from pjcsync import results
    header = {"ranks": 1, "versions": {"pjcsync": "test"}, "created": "now", "command": ["x"]}
    with h5py.File(tmp_path / "s.h5", "w") as f:
        results._root_attrs(f, "points", header)
        g = f.create_group("points")
        for k in range(12):
            results.write_point(g.create_group(str(k)), {"config": {"drive": {"detuning": k / 10}},
                                                         "observables": {"n": float(k)}})
    data = results.load(tmp_path / "s.h5")
    assert [p["observables"]["n"] for p in data["points"]] == [float(k) for k in range(12)]
    assert data["points"][3]["config"] == {"drive": {"detuning": 0.3}}
