"""Parameter sweeps: grids, warm starts, groups of ranks, array tasks, resume.

A ``[sweep]`` table names the keys to vary (config kind ``values``)::

    [sweep.drive]
    detuning = {start = -2.0, stop = 2.0, num = 41}    # omega - omega_0, 41 points
    amplitude = [0.05, 0.1, 0.2]                       # a second key makes a grid

Points and their order
    The points are the Cartesian product of the varied keys.  Axes are ordered cavity, qubits,
    drive (and as written inside a section), except that ``drive.detuning`` is always the last,
    fastest-varying axis: the paper's frequency sweep.  Point ``k`` is the row-major (C order)
    index of the grid.  Points are *computed* in boustrophedon ("snake") order, so that
    consecutive points are always grid neighbours, and each iterative solve starts from the
    steady state of the point computed just before it (the paper's warm start;
    ``[sweep] warm_start``).  ``[sweep] cold_reference = true`` also solves each warm-started
    point from the cold guess and records ``cold_iterations`` and ``iterations_saved``.

Parallelism
    ``--groups K`` splits COMM_WORLD into K sub-communicators of contiguous ranks; each solves
    its share of the points still missing, one point at a time on all its ranks: a contiguous
    share in snake order (warm starts along it), or with ``[sweep] schedule = "cyclic"`` (the
    default without warm starts) every K-th point, so that a stretch of costly points, such as
    a resonance where the cavity needs many levels, is spread over the groups.  An array job
    (``--task i/n`` or ``SLURM_ARRAY_TASK_ID`` with ``SLURM_ARRAY_TASK_COUNT``) gives task i the
    i-th contiguous share of the snake order and writes ``STEM.task-i-of-n.h5``; ``pjcsync
    merge`` joins them.

Durability and resume
    Each finished point is written at once, by rank 0 of its group, to its own small file
    ``OUT.parts/p<k>.h5`` (written to a temporary name, fsynced and renamed: complete or absent;
    no two processes ever write the same file).  When every group is done, world rank 0 gathers
    the parts (and, on ``--resume``, the points of an existing ``OUT``) into ``OUT`` (again
    atomically) and removes ``OUT.parts``.  A killed sweep keeps every finished point;
    ``--resume`` computes only the missing ones (the first point after a gap starts cold) and
    writes the same ``OUT`` as a run straight through, since both are written by the same
    gathering step.  A ``signature`` (hash of the configuration) guards against resuming or
    merging points of a different sweep.  The points a run could not solve are named in the
    file's ``sweep`` attribute (``failed``: index, parameters, reason), so the reason outlives
    the run's stderr.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mpi4py import MPI

from .config import SCHEMA, ConfigError, validate
from .parallel import InputError, PjcsyncError, RowLayout

PART_RE = re.compile(r"^p(\d+)\.h5$")


# --- the grid -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Grid:
    """The varied keys ``axes = [(section, key, values), ...]`` (last axis fastest)."""

    axes: tuple

    @classmethod
    def from_config(cls, cfg: dict) -> "Grid":
        axes = []
        for section in ("cavity", "qubits", "drive"):
            for key, values in cfg["sweep"].get(section, {}).items():
                if (section, key) != ("drive", "detuning"):
                    axes.append((section, key, tuple(_freeze(v) for v in values)))
        if "detuning" in cfg["sweep"].get("drive", {}):
            axes.append(("drive", "detuning", tuple(cfg["sweep"]["drive"]["detuning"])))
        if not axes:
            raise InputError("[sweep] names no key to vary: add e.g. "
                             "[sweep.drive] detuning = {start = -2.0, stop = 2.0, num = 41}")
        return cls(tuple(axes))

    @property
    def names(self) -> list[str]:
        return [f"{s}.{k}" for s, k, _ in self.axes]

    @property
    def shape(self) -> tuple:
        return tuple(len(v) for _, _, v in self.axes)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def multi(self, k: int) -> tuple:
        return tuple(int(i) for i in np.unravel_index(k, self.shape))

    def parameters(self, k: int) -> dict:
        """``{"drive.detuning": value, ...}`` of point k."""
        return {name: _thaw(vals[i]) for name, (_, _, vals), i in zip(self.names, self.axes, self.multi(k))}

    def snake(self) -> list[int]:
        """All point indices in boustrophedon order: consecutive points are grid neighbours."""
        order = []
        for idx in _snake(self.shape):
            order.append(int(np.ravel_multi_index(idx, self.shape)))
        return order

    def adjacent(self, k1: int, k2: int) -> bool:
        d = [abs(a - b) for a, b in zip(self.multi(k1), self.multi(k2))]
        return sum(d) == 1

    def point_config(self, base: dict, k: int) -> dict:
        """The validated configuration of point k: ``base`` with the point's values and an
        empty ``[sweep]`` (so that ``pjcsync steady`` reproduces the point from it)."""
        data = copy.deepcopy(base)
        data["sweep"] = {}
        for (section, key, _), value in zip(self.axes, self.parameters(k).values()):
            data[section][key] = copy.deepcopy(value)
        q = data["qubits"]
        m = len(q["detuning"])
        for name in ("coupling", "decay"):   # a swept qubit count: uniform lists follow it
            if isinstance(q[name], list) and len(q[name]) != m and len(set(q[name])) <= 1:
                q[name] = q[name][0] if q[name] else SCHEMA["qubits"][name].default
        try:
            return validate(data)
        except ConfigError as exc:
            raise InputError(f"sweep point {k} ({format_parameters(self.parameters(k))}): {exc}") from None

    def describe(self) -> dict:
        return {"axes": [{"section": s, "key": k, "values": [_thaw(v) for v in vals]} for s, k, vals in self.axes],
                "names": self.names, "shape": list(self.shape), "points": self.size}


def _snake(shape: tuple):
    """Multi-indices of ``shape`` in boustrophedon order (each axis reverses when the slower
    ones step), so that consecutive multi-indices differ by one in one axis."""
    if len(shape) == 1:
        for i in range(shape[0]):
            yield (i,)
        return
    for n, i in enumerate(range(shape[0])):
        inner = list(_snake(shape[1:]))
        if n % 2:
            inner.reverse()
        for rest in inner:
            yield (i, *rest)


def _freeze(v):
    return tuple(v) if isinstance(v, list) else v


def _thaw(v):
    return list(v) if isinstance(v, tuple) else v


def format_parameters(params: dict) -> str:
    """One sweep point's parameters as ``name=value, ...`` (floats in ``%g``): the progress
    lines, the errors and `pjcsync show`'s ``failed:`` lines."""
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def signature(cfg: dict) -> str:
    """Hash of the configuration's non-default values: points of one sweep share it.

    Keys left at their default are not part of it, so that a pjcsync that adds configuration
    keys (with defaults) can still resume and merge the files of an earlier version."""
    given = {}
    for section, keys in cfg.items():
        schema = SCHEMA.get(section, {})
        for name, value in keys.items():
            if name not in schema or value != schema[name].default:
                given.setdefault(section, {})[name] = value
    text = json.dumps(given, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def contiguous_share(items: list, parts: int, i: int) -> list:
    """The i-th of ``parts`` contiguous, nearly equal shares of ``items``."""
    n = len(items)
    return items[(i * n) // parts:((i + 1) * n) // parts]


def group_share(items: list, groups: int, i: int, sweep_cfg: dict) -> list:
    """Group ``i``'s share of ``items`` (the missing points in snake order) by ``[sweep]
    schedule``: ``cyclic`` deals them out (every ``groups``-th, from the i-th), ``contiguous``
    cuts them in order; ``auto`` is contiguous when warm starts are on (each point then starts
    from the one before it in its share), cyclic when they are off (nothing is lost by dealing)."""
    schedule = sweep_cfg["schedule"]
    if schedule == "auto":
        schedule = "contiguous" if sweep_cfg["warm_start"] else "cyclic"
    return items[i::groups] if schedule == "cyclic" else contiguous_share(items, groups, i)


# --- tasks and files -----------------------------------------------------------------------------

def parse_task(text: str | None, env=None) -> tuple[int, int]:
    """``(i, n)`` from ``--task i/n`` or SLURM's array variables (0-based i); ``(0, 1)`` otherwise.

    ``SLURM_ARRAY_TASK_ID`` is taken relative to ``SLURM_ARRAY_TASK_MIN`` (default 0), so both
    ``--array=0-7`` and ``--array=1-8`` give tasks 0..7 of 8."""
    env = os.environ if env is None else env
    if text is None:
        if "SLURM_ARRAY_TASK_ID" not in env:
            return 0, 1
        try:
            i = int(env["SLURM_ARRAY_TASK_ID"]) - int(env.get("SLURM_ARRAY_TASK_MIN", 0))
            n = int(env["SLURM_ARRAY_TASK_COUNT"])
        except (KeyError, ValueError):
            raise InputError("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is missing or not "
                             "an integer: pass --task i/n") from None
        text = f"{i}/{n}"
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m or not 0 <= int(m.group(1)) < int(m.group(2)):
        raise InputError(f"--task expects i/n with 0 <= i < n, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def task_path(out: str | Path, i: int, n: int) -> Path:
    """The file of array task i of n: ``STEM.task-i-of-n.h5`` beside ``out``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.task-{i}-of-{n}{out.suffix or '.h5'}")


def parts_dir(path: str | Path) -> Path:
    return Path(f"{path}.parts")


def _read_part_points(path: Path, sig: str | None, rho: bool = False) -> tuple[dict, list]:
    """``({index: point}, problems)`` from a sweep file, checking its signature."""
    from .results import ResultsFileError, load
    try:
        data = load(path, rho=rho)
    except ResultsFileError as exc:
        return {}, [str(exc)]
    got = data.get("sweep", {}).get("signature")
    if sig is not None and got != sig:
        return {}, [f"{str(path)!r} belongs to a different sweep (configuration signature {got}, "
                    f"this one {sig})"]
    return {int(p["index"]): p for p in data.get("points", [])}, []


def collect(path: Path, sig: str | None, include_final: bool = True, rho: bool = False) -> tuple[dict, list]:
    """Points already stored for ``path``: its finished file (if ``include_final``) and its
    ``.parts`` directory (with their rho when stored and ``rho``).  Unfinished temporary files
    are ignored."""
    points, problems = {}, []
    if include_final and path.is_file():
        pts, probs = _read_part_points(path, sig, rho)
        points.update(pts)
        problems += probs
    pdir = parts_dir(path)
    if pdir.is_dir():
        for entry in sorted(pdir.iterdir()):
            if PART_RE.match(entry.name):
                pts, probs = _read_part_points(entry, sig, rho)
                points.update(pts)
                problems += probs
    return points, problems


def sweep_header(cfg: dict, grid: Grid, task: tuple[int, int], indices: list[int], complete: bool,
                 failed: list | None = None) -> dict:
    """The ``sweep`` attribute of a sweep's results file.  ``failed``: the points the run that
    wrote it could not solve, ``[{"index", "parameters", "reason"}]`` (a ``--resume`` solves
    them again and rewrites the list)."""
    return {"signature": signature(cfg), **grid.describe(), "task": list(task),
            "task_points": len(indices), "complete": bool(complete), "base_config": cfg,
            "failed": [{"index": int(k), "parameters": grid.parameters(k), "reason": msg}
                       for k, msg in (failed or [])]}


# --- one point ------------------------------------------------------------------------------------

def solve_point(model, cfg: dict, layout: RowLayout, initial=None, initial_model=None,
                force: bool = False, log=None, checkpoint=None):
    """The steady state of one point (as ``pjcsync steady``) and its observables and warnings.

    ``[cavity] levels = "auto"`` chooses n_c (:func:`pjcsync.truncation.adaptive_steady_state`;
    ``initial`` may then come from a model with other levels, ``initial_model``); a fixed n_c is
    solved with the coarse start of :func:`pjcsync.truncation.coarse_started_steady_state`.
    The returned state's ``model`` and ``layout`` are those of the final solve.
    ``checkpoint``: see :func:`pjcsync.steady.steady_state` (fixed n_c; the coarse solves write
    none).  Without ``initial``, a results file named by ``[solver] initial_guess`` is read here
    (:func:`pjcsync.results.initial_guess`); with ``levels = "auto"`` its rho may have any n_c."""
    from .truncation import adaptive_steady_state, coarse_started_steady_state
    from .observables import EDGE_WARNING, all_observables
    auto_levels = cfg["cavity"]["levels"] == "auto"
    if initial is None and cfg["floquet"]["harmonics"] == 0:
        initial, initial_model = _configured_guess(model, cfg["solver"], layout, auto_levels)
    if cfg["floquet"]["harmonics"] > 0:
        if auto_levels:
            raise InputError("[cavity] levels = 'auto' is not available for the periodic steady state "
                             "([floquet] harmonics > 0): give a number of levels")
        from .floquet import periodic_steady_state
        state = periodic_steady_state(model, cfg, layout)
    elif auto_levels:
        state = adaptive_steady_state(model, cfg["solver"], cfg["cavity"], layout.comm, initial=initial,
                                      initial_model=initial_model if initial is not None else None,
                                      force=force, log=log)
    else:
        state = coarse_started_steady_state(model, cfg["solver"], layout, initial=initial,
                                            log=log, checkpoint=checkpoint)
    model, layout = state.model, state.layout
    obs = all_observables(model, state.rows(), layout)
    warnings = []
    if auto_levels and not state.solver["levels"]["converged"]:
        warnings.append(f"levels = 'auto' reached levels_max = {model.levels} with population "
                        f"{obs['edge_population']:.2e} in the top {obs['edge_levels']} cavity levels "
                        f"(tolerance {cfg['cavity']['levels_tolerance']:.0e}): raise [cavity] levels_max")
    elif obs["edge_population"] > EDGE_WARNING:
        warnings.append(f"population {obs['edge_population']:.2e} in the top {obs['edge_levels']} cavity "
                        f"levels: the cavity is truncated too early, increase [cavity] levels")
    return state, obs, warnings


def _configured_guess(model, solver_cfg: dict, layout: RowLayout, auto_levels: bool):
    """``(initial, initial_model)`` for :func:`solve_point` from ``[solver] initial_guess``:
    ``(None, None)`` for the named guesses; a results file's rho as a
    :class:`~pjcsync.states.GivenState` (fixed n_c), or with ``levels = "auto"`` as this rank's
    rows of the model with the file's n_c."""
    from .results import initial_guess
    given = initial_guess(solver_cfg, None if auto_levels else model.N)
    if given is None or not auto_levels:
        return given, None
    from .truncation import levels_start
    return levels_start(given.rho, model, layout.comm, f"[solver] initial_guess {given.source!r}")


# --- the sweep ------------------------------------------------------------------------------------

def run_sweep(cfg: dict, out: str | Path, groups: int = 1, task: tuple[int, int] = (0, 1),
              resume: bool = False, overwrite: bool = False, force: bool = False,
              command=None, log=None, save_rho: bool = False) -> dict:
    """Run (or resume) the sweep of ``cfg`` on COMM_WORLD; collective.

    ``save_rho`` stores each point's full rho (``/points/<k>/rho``) too; the final gathering
    then holds every stored rho in world rank 0's memory once (small and moderate sweeps).
    The caller owns ``out`` (the command line locks it, :mod:`pjcsync.outputs`).  The final
    file is read back and checked to hold every point of this task computed or found, before
    success is reported.

    Returns ``{"file", "points" (this task's, in index order, from the written file),
    "failed" ([(index, message)]), "computed", "summary"}``.  Only world rank 0 gets the
    points; ``log(text)`` (world rank 0) receives the progress lines."""
    from .model import Model
    from .memory import check_fits, estimate
    from .results import ResultsFileError, check_writable, load, software_versions, write_points
    world = MPI.COMM_WORLD
    wrank, wsize = world.Get_rank(), world.Get_size()
    grid = Grid.from_config(cfg)
    if not 1 <= groups <= wsize:
        raise InputError(f"--groups {groups}: need 1 <= groups <= number of ranks ({wsize})")
    ti, tn = task
    target = Path(out) if tn == 1 else task_path(out, ti, tn)
    sig = signature(cfg)
    indices = contiguous_share(grid.snake(), tn, ti)
    configs = {k: grid.point_config(cfg, k) for k in indices}    # input errors before any work

    # world rank 0 looks at the disk and decides; everybody learns the same answer
    decision = None
    if wrank == 0:
        try:
            check_writable(target)
            pdir = parts_dir(target)
            if not resume and not overwrite and (target.exists() or pdir.exists()):
                what = target if target.exists() else pdir
                raise InputError(f"{str(what)!r} exists (an earlier run of this sweep?): use --resume to "
                                 f"compute only the missing points, or --overwrite to start again")
            if overwrite and not resume:
                shutil.rmtree(pdir, ignore_errors=True)
                target.unlink(missing_ok=True)
            done, problems = (collect(target, sig) if resume else ({}, []))
            if problems:
                raise InputError(f"cannot resume: {problems[0]}")
            pdir.mkdir(exist_ok=True)
            for stale in pdir.glob("*.tmp-*"):       # a write cut short by a kill
                stale.unlink(missing_ok=True)
            decision = {"done": sorted(k for k in done if k in configs), "error": None}
        except (InputError, ResultsFileError, OSError) as exc:
            decision = {"error": str(exc)}
    decision = world.bcast(decision, root=0)
    if decision["error"]:
        raise InputError(decision["error"])
    done = set(decision["done"])
    missing = [k for k in indices if k not in done]

    color = (wrank * groups) // wsize
    sub = world.Split(color, wrank)
    mine = group_share(missing, groups, color, cfg["sweep"])
    # memory check of this group's largest point, agreed by all groups (no group left waiting)
    problem = None
    try:
        biggest = max(mine, key=lambda k: Model.from_config(configs[k]).N, default=None)
        if biggest is not None:
            pcfg = configs[biggest]
            check_fits(estimate(Model.from_config(pcfg), pcfg, sub, command="sweep"), force)
    except InputError as exc:
        problem = f"group {color}: {exc}" if groups > 1 else str(exc)
    problems = [p for p in world.allgather(problem) if p]
    if problems:
        sub.Free()
        raise InputError(problems[0])

    versions = software_versions()
    header = sweep_header(cfg, grid, task, indices, complete=False)
    pdir = parts_dir(target)
    failed, computed = [], []
    stats = {"warm": [], "cold": [], "saved": []}
    prev = None                                   # (index, model, this rank's rows)
    t_start = time.perf_counter()
    parts_at_start = _count_parts(pdir) if wrank == 0 else 0
    for n_done, k in enumerate(mine):
        pcfg = configs[k]
        model = Model.from_config(pcfg)
        layout = RowLayout.create(model.N, comm=sub)
        initial, warm_from, initial_model = None, None, None
        auto_levels = pcfg["cavity"]["levels"] == "auto"
        if (cfg["sweep"]["warm_start"] and prev is not None and (auto_levels or prev[1].N == model.N)
                and grid.adjacent(prev[0], k)):
            initial, warm_from, initial_model = prev[2], prev[0], prev[1]
        t0 = time.perf_counter()
        try:
            cold_its = None
            if initial is not None and cfg["sweep"]["cold_reference"] and not auto_levels:
                from .results import initial_guess
                from .steady import steady_state
                ref = steady_state(model, pcfg["solver"], layout, initial=initial_guess(pcfg["solver"], model.N))
                cold_its = ref.solver.get("iterations")
                ref.rho.destroy()
            state, obs, warnings = solve_point(model, pcfg, layout, initial, initial_model, force=force)
        except (PjcsyncError, InputError, ConfigError) as exc:
            if isinstance(exc, PjcsyncError) and not exc.collective:
                raise                                  # one rank only: the job ends (cli)
            failed.append((k, str(exc)))               # the whole group: record, go on
            prev = None
            _progress(log, wrank, grid, k, None, time.perf_counter() - t0, pdir, parts_at_start,
                      len(missing), t_start, failed=str(exc))
            continue
        solver = dict(state.solver)
        if solver.get("initial_guess") != "argument":      # direct, rate: no initial guess used
            warm_from = None
        solver["warm_start_from"] = warm_from
        its = solver.get("iterations")
        if cold_its is not None:
            solver["cold_iterations"] = cold_its
            solver["iterations_saved"] = cold_its - its
            stats["saved"].append(cold_its - its)
        (stats["warm"] if warm_from is not None else stats["cold"]).append(its)
        point = {"index": k, "parameters": grid.parameters(k), "config": pcfg, "solver": solver,
                 "checks": state.checks, "warnings": warnings, "observables": obs}
        prev = (k, state.model, state.rows().copy())
        state.rho.destroy()
        if save_rho:                                   # the group's rows, to its rank 0
            blocks = sub.gather(prev[2], root=0)
            if sub.Get_rank() == 0:
                point["rho"] = np.vstack(blocks)
        if sub.Get_rank() == 0:
            try:
                write_points(pdir / f"p{k}.h5", [point], ranks=sub.Get_size(), command=command,
                             sweep=header, versions=versions)
            except ResultsFileError as exc:
                raise PjcsyncError(str(exc)) from None     # one rank: ends the job
        computed.append(k)
        _progress(log, wrank, grid, k, solver, time.perf_counter() - t0, pdir, parts_at_start,
                  len(missing), t_start)

    # every rank of a group records the group's points: one entry per point
    failed = sorted(dict(sum(world.allgather(failed), [])).items())
    computed = sorted(set(sum(world.allgather(computed), [])))
    its = world.allgather(stats)
    summary = {"points": len(indices), "already_done": len(done), "computed": len(computed),
               "failed": len(failed), "groups": groups, "ranks": wsize, "task": list(task),
               "seconds": time.perf_counter() - t_start,
               "iterations_warm": sum((s["warm"] for s in its), []),
               "iterations_cold": sum((s["cold"] for s in its), []),
               "iterations_saved": sum((s["saved"] for s in its), [])}
    sub.Free()
    world.Barrier()
    result = {"file": str(target), "failed": failed, "computed": computed, "summary": summary, "points": None}
    error = None
    if wrank == 0:
        try:
            points, problems = collect(target, sig, rho=save_rho)
            if problems:
                raise ResultsFileError(problems[0])
            points = [points[k] for k in sorted(points) if k in configs]
            complete = len(points) == len(indices)
            write_points(target, points, ranks=wsize, command=command,
                         sweep=sweep_header(cfg, grid, task, indices, complete, failed), versions=versions)
            del points
            written = load(target, rho=False)["points"]
            lost = sorted((set(computed) | done) - {int(p["index"]) for p in written})
            if lost:            # never report success for a file that lacks this run's points
                raise ResultsFileError(f"{len(lost)} finished point(s) (first: {lost[:5]}) are missing "
                                       f"from the file written")
            shutil.rmtree(pdir, ignore_errors=True)
            result["points"] = written
        except (ResultsFileError, OSError) as exc:
            error = str(exc)
    error = world.bcast(error, root=0)
    if error:
        raise PjcsyncError(f"could not gather the sweep into {str(target)!r}: {error} (the finished "
                           f"points are kept in {str(pdir)!r}; run again with --resume)", collective=True)
    return result


def _count_parts(pdir: Path) -> int:
    try:
        return sum(1 for e in os.scandir(pdir) if PART_RE.match(e.name))
    except OSError:
        return 0


def _progress(log, wrank, grid, k, solver, seconds, pdir, parts_at_start, n_missing, t_start, failed=None):
    """One progress line on world rank 0: points done (all groups, from the parts on disk),
    this point's iterations and time, and an ETA from the mean time per point so far."""
    if log is None or wrank != 0:
        return
    done_run = max(_count_parts(pdir) - parts_at_start, 1)
    elapsed = time.perf_counter() - t_start
    eta = (n_missing - done_run) * elapsed / done_run
    head = f"sweep: {done_run}/{n_missing} points  point {k} ({format_parameters(grid.parameters(k))})"
    if failed:
        log(f"{head}: FAILED: {failed}")
        return
    warm = solver.get("warm_start_from")
    its = f"{solver.get('method')} {solver.get('iterations')} it"
    if "cold_iterations" in solver:
        its += f" (cold {solver['cold_iterations']}, saved {solver['iterations_saved']})"
    elif warm is not None:
        its += f" (warm from {warm})"
    log(f"{head}: {its}, {seconds:.2f} s; elapsed {elapsed:.1f} s, ETA {max(eta, 0.0):.1f} s")


# --- merge ------------------------------------------------------------------------------------------

def merge(out: str | Path, inputs: list, partial: bool = False, command=None) -> dict:
    """Join sweep files (array tasks, or ``.parts`` directories of interrupted runs) into ``out``.

    All inputs must carry the same sweep signature.  Without ``partial`` a sweep with missing
    points is refused (exit 1) and nothing is written.  The inputs' failed points (``sweep``
    attribute) are kept unless another input holds the point.  Serial (call on one process)."""
    from .results import ResultsFileError, load, write_points
    out = Path(out)
    if not inputs:
        inputs = sorted(out.parent.glob(f"{out.stem}.task-*-of-*{out.suffix or '.h5'}"))
        if not inputs:
            raise InputError(f"no inputs given and no task files {out.stem}.task-*-of-*.h5 beside {str(out)!r}")
    points, header, failed = {}, None, {}
    for path in map(Path, inputs):
        files = sorted(p for p in path.iterdir() if PART_RE.match(p.name)) if path.is_dir() else [path]
        for f in files:
            try:
                data = load(f, rho=False)
            except ResultsFileError as exc:
                raise InputError(str(exc)) from None
            sw = data.get("sweep")
            if not sw or "signature" not in sw:
                raise InputError(f"{str(f)!r} is not a sweep file")
            if header is None:
                header = sw
            elif sw["signature"] != header["signature"]:
                raise InputError(f"{str(f)!r} belongs to a different sweep (signature {sw['signature']}, "
                                 f"{header['signature']} before)")
            for p in data["points"]:
                points.setdefault(int(p["index"]), p)
            for rec in sw.get("failed", []):
                failed.setdefault(int(rec["index"]), rec)
    total = header["points"]
    missing = [k for k in range(total) if k not in points]
    if missing and not partial:
        raise PjcsyncError(f"{len(missing)} of {total} points are missing (first: {missing[:5]}): "
                           f"finish those tasks (--resume), or merge with --partial", collective=True)
    try:
        from .results import check_writable
        check_writable(out)
    except ResultsFileError as exc:
        raise InputError(str(exc)) from None
    sweep = {**header, "task": [0, 1], "task_points": total, "complete": not missing,
             "failed": [failed[k] for k in sorted(failed) if k not in points]}   # solved in another input
    write_points(out, [points[k] for k in sorted(points)], ranks=1, command=command, sweep=sweep)
    return {"file": str(out), "points": len(points), "missing": missing, "total": total}


# --- output -------------------------------------------------------------------------------------------

def point_record(p: dict) -> dict:
    """One point of a sweep file as printed by ``show --json`` / ``sweep --json``."""
    return {"index": p.get("index"), "parameters": p.get("parameters", {}), "observables": p.get("observables", {}),
            "solver": p.get("solver", {}), "checks": p.get("checks", {}), "warnings": p.get("warnings", []),
            "config": p.get("config", {})}
