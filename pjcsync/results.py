"""Self-describing HDF5 result files: write (in parallel), load, and the pieces of ``show``.

Layout (format ``pjcsync-results``, version 1)::

    /                       attrs: format, format_version, kind ("steady" or "points"),
                            created (UTC, ISO 8601), ranks, versions (JSON), command (JSON)
    a point                 attrs: config (JSON), config_toml, solver (JSON), checks (JSON),
                            warnings (JSON)
      observables/          one dataset per observable, named as in ``pjcsync steady --json``
                            (scalars, arrays; nested dicts become subgroups)
      rho                   optional, complex (N, N): rho[i, j], row index
                            i = ((n * 2 + q_1) * 2 + q_2) ..., qubit digit 0 = up

For a single steady state (``kind = "steady"``) the point is the root group itself; a file of
many points (``kind = "points"``, e.g. a sweep) keeps them in ``/points/<k>``, k = 0, 1, ...

Files are complete or absent: everything is written to ``FILE.tmp-<pid>`` and renamed by rank 0
after every rank has closed it.  With an MPI-enabled h5py (``h5py.get_config().mpi``) and
several ranks each rank writes its own rows of rho (``driver="mpio"``, collective I/O);
otherwise rank 0 writes and receives the other ranks' rows one block at a time (never the
whole rho at once on one rank beyond the file itself).
"""
from __future__ import annotations

import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from .config import dumps_toml as config_to_toml  # noqa: F401  (the TOML of a results file)

FORMAT = "pjcsync-results"
FORMAT_VERSION = 1
POINT_ATTRS = ("config", "solver", "checks", "warnings", "index", "parameters")   # the last two: sweeps


class ResultsFileError(ValueError):
    """A results file that cannot be read or written (reported as one line, exit status 2)."""


# --- small helpers -----------------------------------------------------------------------------

def jsonable(o):
    """``json.dumps`` default for numpy scalars and arrays and complex numbers ([re, im])."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, complex):
        return [o.real, o.imag]
    return str(o)


def _dumps(obj) -> str:
    return json.dumps(obj, default=jsonable)


def software_versions() -> dict:
    """Versions of pjcsync and the libraries under it (PETSc, SLEPc, MPI, HDF5 ...)."""
    import numpy
    import scipy
    import h5py
    from . import __version__
    out = {"pjcsync": __version__, "python": sys.version.split()[0], "numpy": numpy.__version__,
           "scipy": scipy.__version__, "h5py": h5py.__version__, "hdf5": h5py.version.hdf5_version,
           "h5py_mpi": bool(h5py.get_config().mpi)}
    try:
        import petsc4py
        from petsc4py import PETSc
        out["petsc4py"] = petsc4py.__version__
        out["petsc"] = ".".join(map(str, PETSc.Sys.getVersion()))
        out["petsc_scalar"] = np.dtype(PETSc.ScalarType).name
    except ImportError:  # pragma: no cover - PETSc is a hard dependency of the solvers
        pass
    try:
        import slepc4py
        out["slepc4py"] = slepc4py.__version__
        from slepc4py import SLEPc
        out["slepc"] = ".".join(map(str, SLEPc.Sys.getVersion()))
    except ImportError:
        pass
    try:
        import mpi4py
        from mpi4py import MPI
        out["mpi4py"] = mpi4py.__version__
        out["mpi"] = MPI.Get_library_version().replace("\x00", "").strip().splitlines()[0].strip()
        out["mpi_standard"] = "%d.%d" % MPI.Get_version()
    except ImportError:  # pragma: no cover
        pass
    return out


def check_writable(path: str | Path) -> Path:
    """Refuse early (before any computation) an output path that cannot be written: the path
    checks of :func:`pjcsync.outputs.check_output` (the library's sweep and merge, which decide
    themselves about an existing file), as a :class:`ResultsFileError`."""
    from .outputs import check_output
    from .parallel import InputError
    try:
        return check_output(path, [], None, what="output")
    except InputError as exc:
        raise ResultsFileError(str(exc)) from None


# --- the tree of observables -------------------------------------------------------------------

def _write_tree(group, data: dict) -> None:
    """Datasets named like the keys of ``data``; nested dicts become subgroups."""
    import h5py
    for key, value in data.items():
        key = str(key)
        if isinstance(value, dict):
            _write_tree(group.create_group(key, track_order=True), value)
        elif value is None:
            group.create_dataset(key, data=h5py.Empty("f8"))
        elif isinstance(value, str):
            group.create_dataset(key, data=value, dtype=h5py.string_dtype())
        else:
            try:
                arr = np.asarray(value)
                if arr.dtype == object:
                    raise ValueError
            except ValueError:          # ragged lists: keep them as JSON text
                ds = group.create_dataset(key, data=_dumps(value), dtype=h5py.string_dtype())
                ds.attrs["encoding"] = "json"
                continue
            group.create_dataset(key, data=arr)


def _read_tree(group) -> dict:
    import h5py
    out = {}
    for key, item in group.items():
        if isinstance(item, h5py.Group):
            out[key] = _read_tree(item)
            continue
        if item.shape is None:
            out[key] = None
            continue
        value = item[()]
        if isinstance(value, bytes):
            value = value.decode()
            if item.attrs.get("encoding") == "json":
                value = json.loads(value)
            out[key] = value
        elif isinstance(value, np.ndarray):
            out[key] = value.tolist()
        else:
            out[key] = value.item() if isinstance(value, np.generic) else value
    return out


def _write_attrs(group, result: dict) -> None:
    """The keys of :data:`POINT_ATTRS` in ``result`` as JSON attributes of ``group``, and the
    configuration also as TOML (``config_toml``) when it can be written as TOML."""
    for name in POINT_ATTRS:
        if name in result:
            group.attrs[name] = _dumps(result[name])
    if result.get("config"):
        try:
            group.attrs["config_toml"] = config_to_toml(result["config"])
        except TypeError:
            pass


def write_point(group, point: dict) -> None:
    """Write one result (``config``, ``solver``, ``checks``, ``warnings``, ``observables``)
    into an open HDF5 group.  Collective under the mpio driver (identical data on every rank)."""
    _write_attrs(group, point)
    _write_tree(group.create_group("observables", track_order=True), point.get("observables", {}))


def read_point(group, rho: bool = True) -> dict:
    """One result from an HDF5 group: the keys of :func:`write_point`, plus ``rho`` (full
    N x N array) when stored and requested, and ``rho_shape`` when stored."""
    out = {}
    for name in POINT_ATTRS:
        if name in group.attrs:
            out[name] = json.loads(group.attrs[name])
    out["observables"] = _read_tree(group["observables"]) if "observables" in group else {}
    if "rho" in group:
        out["rho_shape"] = list(group["rho"].shape)
        if rho:
            out["rho"] = group["rho"][()]
    return out


# --- writing ---------------------------------------------------------------------------------

def _root_attrs(f, kind: str, header: dict) -> None:
    f.attrs["format"] = FORMAT
    f.attrs["format_version"] = FORMAT_VERSION
    f.attrs["kind"] = kind
    f.attrs["created"] = header["created"]
    f.attrs["ranks"] = int(header["ranks"])
    f.attrs["versions"] = _dumps(header["versions"])
    command = header.get("command")
    f.attrs["command"] = _dumps(list(command) if command is not None else list(sys.argv))


def write_steady(path: str | Path, point: dict, rho_rows: np.ndarray | None = None, layout=None,
                 comm=None, command=None, parallel_io: bool | None = None) -> Path:
    """Write one steady state to ``path`` (collective over ``comm``, default ``layout.comm``).

    ``point`` holds ``config``, ``solver``, ``checks``, ``warnings``, ``observables`` (rank 0's
    copy is the one written).  ``rho_rows`` (this rank's rows of rho, ``layout``) is stored as
    the dataset ``rho`` when given.  ``parallel_io``: None uses the MPI driver when h5py has it
    and there are several ranks, False forces the rank-0 writer.  The file appears complete or
    not at all."""
    import h5py
    if comm is None:
        if layout is None:
            from mpi4py import MPI
            comm = MPI.COMM_WORLD
        else:
            comm = layout.comm
    rank, size = comm.Get_rank(), comm.Get_size()
    path = Path(path)
    with_rho = comm.allreduce(int(rho_rows is not None), op=_mpi_min()) == 1
    versions = software_versions()          # on every rank: importing SLEPc may be collective
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    payload = (point, versions, created, f"{path}.tmp-{os.getpid()}") if rank == 0 else None
    point, versions, created, tmp = comm.bcast(payload, root=0)
    header = {"ranks": size, "versions": versions, "created": created, "command": command}
    parallel = size > 1 and with_rho and bool(h5py.get_config().mpi) and parallel_io is not False
    if with_rho:          # room for rho first: HDF5 1.10 can crash (SIGSEGV) on a write filling the disk
        from .outputs import space_shortfall
        short = comm.bcast(space_shortfall(path, 16.0 * layout.N ** 2) if rank == 0 else None, root=0)
        if short:
            raise ResultsFileError(f"could not write {str(path)!r}: {short}")
    error = None
    try:
        if parallel:
            with h5py.File(tmp, "w", driver="mpio", comm=comm, track_order=True) as f:
                _root_attrs(f, "steady", header)
                write_point(f, point)
                ds = f.create_dataset("rho", shape=(layout.N, layout.N), dtype=np.complex128)
                _rho_attrs(ds)
                with ds.collective:
                    ds[layout.i0:layout.i1, :] = np.ascontiguousarray(rho_rows, dtype=np.complex128)
        elif rank == 0:
            error = _write_serial_rank0(tmp, point, header, rho_rows, layout, with_rho)
        elif with_rho:
            comm.Send(np.ascontiguousarray(rho_rows, dtype=np.complex128), dest=0, tag=77)
    except Exception as exc:  # noqa: BLE001 - reported collectively below
        error = f"{type(exc).__name__}: {exc}"
    errors = comm.allgather(error)
    failed = [e for e in errors if e]
    if rank == 0:
        if failed:
            Path(tmp).unlink(missing_ok=True)
        else:
            os.replace(tmp, path)
    comm.Barrier()
    if failed:
        raise ResultsFileError(f"could not write {str(path)!r}: {failed[0]}")
    return path


def _write_serial_rank0(tmp, point, header, rho_rows, layout, with_rho) -> str | None:
    """Rank 0 writes everything, receiving the other ranks' rows block by block.  It receives
    every block even after a failure, so no rank is left waiting in a send."""
    import h5py
    error, f, ds = None, None, None
    buf = None if with_rho else io.BytesIO()     # small files: HDF5 never writes to the disk
    try:
        f = h5py.File(tmp if with_rho else buf, "w", track_order=True)
        _root_attrs(f, "steady", header)
        write_point(f, point)
        if with_rho:
            ds = f.create_dataset("rho", shape=(layout.N, layout.N), dtype=np.complex128)
            _rho_attrs(ds)
            ds[layout.i0:layout.i1, :] = rho_rows
    except Exception as exc:  # noqa: BLE001
        error = f"{type(exc).__name__}: {exc}"
    if with_rho:
        bounds = layout.all_bounds()
        for r in range(1, header["ranks"]):
            block = np.empty((bounds[r + 1] - bounds[r], layout.N), dtype=np.complex128)
            layout.comm.Recv(block, source=r, tag=77)
            if error is None:
                try:
                    ds[bounds[r]:bounds[r + 1], :] = block
                except Exception as exc:  # noqa: BLE001
                    error = f"{type(exc).__name__}: {exc}"
    if f is not None:
        try:
            f.close()
            if buf is not None and error is None:
                _store(buf, Path(tmp), Path(tmp))
        except Exception as exc:  # noqa: BLE001
            error = error or _describe(exc)
    return error


def write_points(path: str | Path, points: list[dict], ranks: int = 1, command=None,
                 sweep: dict | None = None, versions: dict | None = None) -> Path:
    """Write ``points`` (dicts as for :func:`write_point`, each with its ``index``) to a
    ``kind = "points"`` file by this process alone: ``/points/<index>``, in index order.

    ``sweep`` (JSON) describes the sweep the points belong to (:mod:`pjcsync.sweep`).  The file
    is written to ``FILE.tmp-<pid>``, flushed to disk (fsync) and renamed: it is complete or
    absent, and survives the process being killed right after this returns."""
    def fill(f):
        if sweep is not None:
            f.attrs["sweep"] = _dumps(sweep)
        group = f.create_group("points", track_order=True)
        for point in sorted(points, key=lambda p: int(p["index"])):
            g = group.create_group(str(int(point["index"])))
            write_point(g, point)
            if point.get("rho") is not None:
                ds = g.create_dataset("rho", data=np.asarray(point["rho"], dtype=np.complex128))
                _rho_attrs(ds)
    return _write_file(path, "points", fill, ranks, command, versions)


def _write_file(path: str | Path, kind: str, fill, ranks: int, command, versions: dict | None) -> Path:
    """A results file of ``kind`` written by this process alone: built in memory (the root
    attributes, then ``fill(f)`` on the open h5py file), then stored by :func:`_store` to
    ``FILE.tmp-<pid>``, fsynced and renamed.  Any failure is one :class:`ResultsFileError` and
    leaves no file."""
    import h5py
    path = Path(path)
    tmp = Path(f"{path}.tmp-{os.getpid()}")
    header = {"ranks": ranks, "versions": versions or software_versions(), "command": command,
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    try:
        buf = io.BytesIO()
        with h5py.File(buf, "w", track_order=True) as f:
            _root_attrs(f, kind, header)
            fill(f)
        _store(buf, tmp, path)
    except Exception as exc:  # noqa: BLE001 - one line for the user
        tmp.unlink(missing_ok=True)
        raise ResultsFileError(f"could not write {str(path)!r}: {_describe(exc)}") from None
    return path


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror} ({type(exc).__name__})"
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _store(buf: "io.BytesIO", tmp: Path, path: Path) -> None:
    """Write the bytes of an in-memory HDF5 file to ``tmp`` with plain writes, fsync, rename to
    ``path``.  HDF5 itself never writes to the disk here: a full disk (ENOSPC) or a quota is an
    ordinary OSError (HDF5 1.10 crashes when a write fails under an open file)."""
    data = buf.getbuffer()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view, done = memoryview(data), 0
        while done < len(view):
            done += os.write(fd, view[done:])
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_result(path: str | Path, kind: str, result: dict, ranks: int = 1, command=None,
                 versions: dict | None = None) -> Path:
    """Write the result of ``pjcsync evolve``, ``rate``, ``gap`` or ``semiclassical`` (``kind``)
    by this process alone: the root attributes of every results file, ``config`` (and the
    other keys of :data:`POINT_ATTRS`) as JSON attributes, every other key of ``result`` as a
    dataset or a group (the names of the command's ``--json`` output).  Atomic and fsynced as
    :func:`write_points`."""
    def fill(f):
        _write_attrs(f, result)
        _write_tree(f, {k: v for k, v in result.items() if k not in POINT_ATTRS})
    return _write_file(path, kind, fill, ranks, command, versions)


def _rho_attrs(ds) -> None:
    ds.attrs["convention"] = ("rho[i, j]; i = ((n * 2 + q_1) * 2 + q_2) ..., cavity first, "
                              "qubit digit 0 = up, 1 = down")


def _mpi_min():
    from mpi4py import MPI
    return MPI.MIN


# --- reading ---------------------------------------------------------------------------------

def load(path: str | Path, rho: bool = True) -> dict:
    """Read a results file back into Python.

    A single state gives a dict with keys ``config``, ``versions``, ``solver``, ``checks``,
    ``warnings``, ``observables`` (the names of ``pjcsync steady --json``), ``ranks``,
    ``created``, ``command``, ``format_version`` and, when stored (and ``rho=True``), ``rho``:
    the full N x N numpy array (``rho[i, j]``, pjcsync's basis order).  A file of many points
    gives the same header keys and ``points``, a list of such dicts.

    Parameters
    ----------
    path : str or pathlib.Path
        A file written by ``pjcsync ... --out``, ``pjcsync merge`` or ``SteadyStateResult.save``.
    rho : bool
        Read the stored density matrices too (they can be large).

    Returns
    -------
    dict
        The keys above; kinds other than steady states (evolve, rate, gap, semiclassical) give
        their command's ``--json`` record.

    Raises
    ------
    ResultsFileError
        Not found, a directory, not a pjcsync results file, a newer format, or damaged.
    """
    import h5py
    p = Path(path)
    if p.is_dir():
        raise ResultsFileError(f"{str(p)!r} is a directory, not a results file")
    if not p.is_file():
        raise ResultsFileError(f"results file {str(p)!r} not found")
    try:
        f = h5py.File(p, "r")
    except OSError:
        raise ResultsFileError(f"{str(p)!r} is not an HDF5 file (or it is damaged)") from None
    try:
        with f:
            return _load_open(f, p, rho)
    except ResultsFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - damaged metadata: h5py raises OSError, KeyError, ...
        raise ResultsFileError(f"{str(p)!r} is damaged: {type(exc).__name__}: "
                               f"{' '.join(str(exc).split())}") from None


def _load_open(f, p: Path, rho: bool) -> dict:
    if f.attrs.get("format") != FORMAT:
        raise ResultsFileError(f"{str(p)!r} is not a pjcsync results file")
    version = int(f.attrs.get("format_version", 0))
    if version > FORMAT_VERSION:
        raise ResultsFileError(f"{str(p)!r} has format version {version}; this pjcsync reads "
                               f"up to {FORMAT_VERSION}")
    out = {"format_version": version, "kind": str(f.attrs.get("kind", "steady")),
           "created": str(f.attrs.get("created", "")), "ranks": int(f.attrs.get("ranks", 1)),
           "versions": json.loads(f.attrs.get("versions", "{}")),
           "command": json.loads(f.attrs.get("command", "[]"))}
    if "sweep" in f.attrs:
        out["sweep"] = json.loads(f.attrs["sweep"])
    if out["kind"] == "points":
        pts = f.get("points", {})
        out["points"] = [read_point(pts[k], rho) for k in sorted(pts, key=int)]
    elif out["kind"] == "steady":
        out.update(read_point(f, rho))
    else:                               # evolve, rate, gap, semiclassical: see write_result
        for name in POINT_ATTRS:
            if name in f.attrs:
                out[name] = json.loads(f.attrs[name])
        out.update(_read_tree(f))
    return out


# --- a results file as the starting point of a solve ----------------------------------------------

def initial_guess(solver_cfg: dict, N: int | None = None):
    """``[solver] initial_guess`` as data for the solver: None for the named guesses
    (``identity``, ``ground``, ``rate``: the solver builds them), else the ``rho`` of the
    results file it names as a :class:`~pjcsync.states.GivenState` whose source is the path
    (``pjcsync steady --resume`` reads its checkpoint this way).  ``N``: the dimension the
    problem needs (None: any).  Bad input raises :class:`~pjcsync.parallel.InputError`."""
    from .parallel import InputError
    from .states import NAMED_GUESSES, GivenState
    path = solver_cfg.get("initial_guess", "identity")
    if path in NAMED_GUESSES:
        return None
    if not os.path.isfile(path):
        raise InputError(f"[solver] initial_guess = {path!r}: not {', '.join(map(repr, NAMED_GUESSES))} "
                         f"or an existing results file")
    try:
        data = load(path)
    except Exception as exc:  # noqa: BLE001 - a foreign or damaged file
        raise InputError(f"[solver] initial_guess: cannot read {path!r}: {exc}") from None
    rho = data.get("rho") if isinstance(data, dict) else None
    if rho is None:
        raise InputError(f"[solver] initial_guess: {path!r} holds no density matrix 'rho'")
    rho = np.asarray(rho)
    if N is not None and rho.shape != (N, N):
        raise InputError(f"[solver] initial_guess: {path!r} holds a {rho.shape} rho, this problem "
                         f"needs {N} x {N}")
    return GivenState(rho, source=str(path))
