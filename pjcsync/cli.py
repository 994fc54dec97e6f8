"""The ``pjcsync`` command line.

    pjcsync info   CONFIG [--set section.key=value ...] [--json] [--force]
    pjcsync steady CONFIG [--set ...] [--json] [--force] [--out FILE [--save-rho]] [--resume] [PETSc options]
    pjcsync show   FILE [--json]
    pjcsync evolve CONFIG [--set ...] [--json] [--resume] [--out FILE] [--save-state FILE.npy] [PETSc options]
    pjcsync rate   CONFIG [--star] [--set ...] [--json] [--out FILE]
    pjcsync semiclassical CONFIG [--set semiclassical.sweep=[...] ...] [--json] [--out FILE]
    pjcsync gap    CONFIG [--set gap.nev=N ...] [--json] [--out FILE] [PETSc/SLEPc options: -eps_*, -st_*]
    pjcsync sweep  CONFIG [--out FILE] [--groups K] [--task i/n] [--resume | --overwrite] [--save-rho] [--json]
    pjcsync merge  OUT [INPUT ...] [--partial]

Every ``--out FILE`` is the same self-describing HDF5 results format (:mod:`pjcsync.results`),
read by ``pjcsync show``; an existing FILE is refused unless ``--overwrite`` (sweep: ``--resume``
or ``--overwrite``), every output is checked before any work, and a run holds an exclusive lock on
its outputs (:mod:`pjcsync.outputs`).

Options that start with a single dash and a letter (``-ksp_type gmres``, ``-log_view``) are
PETSc options and go to the options database.  Exit status: 0 success, 1 a failed computation
(a solver that did not converge, a rejected state), 2 bad input (configuration, arguments,
a problem too large for memory).  Output comes from rank 0 only.  Every command accepts
``--quiet`` (no progress or informational lines on stderr; warnings and errors stay).  With
``--json`` standard output holds the JSON only: whatever else writes to it (PETSc's
``-ksp_monitor``, ``-log_view`` ...) is sent to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from .config import ConfigError, load_config

EXIT_FAILURE = 1
EXIT_USAGE = 2


def split_petsc_options(argv: list[str]) -> tuple[list[str], list[str]]:
    """Separate PETSc options (``-name [value]``) from pjcsync's own arguments."""
    ours, petsc = [], []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok.startswith("-") and not tok.startswith("--") and len(tok) > 2 and tok[1].isalpha():
            petsc.append(tok)
            if i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                # a value, unless it is clearly our positional config file
                nxt = argv[i + 1]
                if not nxt.endswith(".toml"):
                    petsc.append(nxt)
                    i += 1
        else:
            ours.append(tok)
        i += 1
    return ours, petsc


def _env_rank() -> int:
    """This process's MPI rank from the launcher's environment (before MPI is initialized)."""
    for var in ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "MV2_COMM_WORLD_RANK", "SLURM_PROCID"):
        value = os.environ.get(var, "")
        if value.isdigit():
            return int(value)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with one error line (rank 0 only) and exit status 2."""

    def error(self, message):
        if _env_rank() == 0:
            sys.stderr.write(f"pjcsync: error: {message} (see {self.prog} --help)\n")
            sys.stderr.flush()
        sys.exit(EXIT_USAGE)


def _add_out(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--out", metavar="FILE", help=f"write {what} to an HDF5 results file (see pjcsync show)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out FILE")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="TOML configuration file")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a configuration key (repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--force", action="store_true",
                   help="run even if the memory estimate exceeds this node's available memory")
    _add_quiet(p)


def _add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true",
                   help="no progress or informational lines on stderr (warnings and errors stay)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pjcsync",
        description="Distributed Lindblad solver for a driven cavity coupled to qubits "
                    "(Chepelianskii & Shepelyansky, Entropy 26, 415 (2024)). "
                    "PETSc options (-ksp_type, -pc_type, -log_view ...) may follow.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("info", help="sizes, nonzeros and memory per rank; refuses what will not fit")
    _add_common(p)
    p = sub.add_parser("steady", help="RWA steady state (eq. 7) and its observables")
    _add_common(p)
    _add_out(p, "the steady state's observables")
    p.add_argument("--save-rho", action="store_true", help="also store the full rho in --out FILE")
    p.add_argument("--resume", action="store_true", help="continue a krylov or sylvester solve from its "
                   "checkpoint ([solver] checkpoint: OUT.checkpoint.h5 or CONFIG.checkpoint.h5)")
    p = sub.add_parser("rate", help="rate-equation series (R) or (R)* (eqs. 19-30): observables, "
                                    "residual per order; exit 1 if the series diverges")
    _add_common(p)
    p.add_argument("--star", action="store_true", help="the resummed series (R)* of eqs. 28-30")
    _add_out(p, "the series and observables")
    p = sub.add_parser("evolve", help="time evolution with PETSc TS ([evolve]): RWA or the full lab-frame "
                                      "model, observables at each output, checkpoints")
    _add_common(p)
    p.add_argument("--resume", action="store_true",
                   help="continue from the last checkpoint ([evolve] checkpoint, which must be set)")
    _add_out(p, "the records and final state's observables (and --save-state FILE.npy)")
    p.add_argument("--save-state", metavar="FILE.npy", help="write the final rho (N x N, rotating frame "
                   "for frame = 'lab') to an .npy file")
    p = sub.add_parser("semiclassical", help="minima of the semiclassical functional S (eqs. 31, 41) for "
                                             "any M, bistability, error bound epsilon/|lambda_1|")
    _add_common(p)
    _add_out(p, "the minima")
    p = sub.add_parser("gap", help="slowest nonzero eigenvalues of L (SLEPc shift-and-invert) with residuals")
    _add_common(p)
    _add_out(p, "the eigenvalues")
    p = sub.add_parser("sweep", help="steady states over the [sweep] grid: warm starts, --groups of ranks, "
                                     "array tasks, --resume; one HDF5 file of points")
    _add_common(p)
    next(a for a in p._actions if a.dest == "json").help = "print one JSON object per point instead of a table"
    p.add_argument("--out", metavar="FILE", help="results file (default: CONFIG's name with .h5, "
                   "in the current directory)")
    p.add_argument("--groups", type=int, default=1, metavar="K",
                   help="split the ranks into K groups, each solving a contiguous share of the points")
    p.add_argument("--task", metavar="i/n", help="array task i of n (0-based; default: "
                   "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT when set); writes STEM.task-i-of-n.h5")
    p.add_argument("--resume", action="store_true", help="keep the points already written, compute the rest")
    p.add_argument("--overwrite", action="store_true", help="discard an earlier run's file and points")
    p.add_argument("--save-rho", action="store_true", help="also store each point's full rho in the file")
    p = sub.add_parser("merge", help="join the files of a sweep's array tasks (or an interrupted run's "
                                     "FILE.parts) into one results file")
    p.add_argument("out", help="merged results file to write")
    p.add_argument("inputs", nargs="*", help="task files or .parts directories (default: OUT's "
                   "STEM.task-*-of-*.h5)")
    p.add_argument("--partial", action="store_true", help="write the file even if points are missing")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_quiet(p)
    p = sub.add_parser("show", help="print an HDF5 results file written with --out")
    p.add_argument("file", help="results file (HDF5)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    _add_quiet(p)
    return parser


# --- commands ---------------------------------------------------------------------------------

def cmd_info(args, cfg) -> dict:
    from .model import Model
    from .memory import estimate, check_fits
    model = Model.from_config(cfg)
    est = estimate(model, cfg)
    out = {"N": model.N, "N2": model.N ** 2, "M": model.M, "levels": model.levels, **est}
    if args.json:
        _emit_json(out)
    else:
        from .report import format_info
        _emit(format_info(model, est))
    check_fits(est, args.force)
    return out


def _check_rho_space(args, model) -> None:
    """``--save-rho``: room for rho (16 N^2 bytes) beside ``--out``, before any work (exit 2).
    With ``levels = "auto"`` n_c is not known yet; ``write_steady`` checks again before writing."""
    if args.out and getattr(args, "save_rho", False):
        from mpi4py import MPI
        from .outputs import space_shortfall
        from .parallel import InputError
        comm = MPI.COMM_WORLD
        short = comm.bcast(space_shortfall(args.out, 16.0 * model.N ** 2) if comm.Get_rank() == 0 else None)
        if short:
            raise InputError(f"--out --save-rho: {short}")


def cmd_steady(args, cfg) -> dict:
    from .model import Model
    from .memory import estimate, check_fits
    from .parallel import RowLayout
    from .sweep import solve_point
    model = Model.from_config(cfg)
    check_fits(estimate(model, cfg), args.force)
    _check_rho_space(args, model)
    layout = RowLayout.create(model.N)
    state, obs, warnings = _solve_with_checkpoint(
        args, cfg, model, layout, solve_point, force=args.force,
        log=None if getattr(args, "quiet", False) else _emit_err_progress)
    model, layout = state.model, state.layout       # levels = "auto": those of the chosen n_c
    out = {"observables": obs, "solver": state.solver, "checks": state.checks, "warnings": warnings,
           "config": cfg}
    if args.out:
        from .parallel import PjcsyncError
        from .results import ResultsFileError, write_steady
        try:
            write_steady(args.out, out, state.rows() if args.save_rho else None, layout)
        except ResultsFileError as exc:       # raised on every rank alike
            raise PjcsyncError(str(exc), collective=True) from None
    if args.json:
        _emit_json(out)
    else:
        from .report import format_steady_table
        _emit(format_steady_table(model, obs, state.solver))
    for w in warnings:
        _emit_err(f"pjcsync: warning: {w}")
    return out


def _solve_with_checkpoint(args, cfg, model, layout, solve_point, **kw):
    """``solve_point`` with the checkpoint of :mod:`pjcsync.checkpoint`: resumed from with
    ``--resume``, written while the solve runs and when it stops unconverged (the error then
    says where), removed once it converges.  Not for ``levels = "auto"`` or the periodic
    steady state (``[floquet] harmonics``), which solve several problems."""
    from .checkpoint import Checkpoint, checkpoint_path, resume_source
    from .parallel import InputError
    from .progress import info
    from .steady import UnconvergedError
    if cfg["cavity"]["levels"] == "auto" or cfg["floquet"]["harmonics"] > 0:
        if args.resume:
            raise InputError("--resume continues a single fixed-n_c solve: not available with "
                             "[cavity] levels = 'auto' or [floquet] harmonics > 0")
        return solve_point(model, cfg, layout, **kw)
    path, explicit = checkpoint_path(cfg["solver"], args.config, args.out)
    resume_source(path, args.resume, layout.comm)
    if args.resume:
        cfg["solver"]["initial_guess"] = str(path)
        info(f"pjcsync: resuming from the checkpoint {path}", layout.comm)
    ckpt = Checkpoint(path, explicit, cfg, layout, command=sys.argv) if path is not None else None
    try:
        result = solve_point(model, cfg, layout, checkpoint=ckpt, **kw)
    except UnconvergedError as exc:
        where = ckpt.final(exc) if ckpt is not None else None
        if where is not None:
            exc.args = (f"{exc}; the last iterate is kept in {where} (not a steady state): the same "
                        f"command with --resume continues from it",)
        raise
    if ckpt is not None and (ckpt.written or args.resume):
        ckpt.remove()
    return result


def cmd_show(args, cfg=None) -> dict:
    """Print a results file: the table of ``pjcsync steady``, or (``--json``) one JSON object
    with the same keys as ``pjcsync steady --json`` plus ``versions``, ``ranks``, ``created``."""
    from .parallel import InputError
    from .results import ResultsFileError, load
    from pathlib import Path
    try:
        data = load(args.file, rho=False)
    except ResultsFileError as exc:
        if Path(f"{args.file}.parts").is_dir():
            exc = (f"{args.file!r} is not written yet: its sweep is running or was interrupted "
                   f"({args.file}.parts holds the finished points; pjcsync sweep --resume, or "
                   f"pjcsync merge OUT {args.file}.parts --partial)")
        raise InputError(str(exc)) from None
    if "sweep" in data:                     # a sweep: one JSON object (or table row) per point
        from .report import format_points
        from .sweep import format_parameters, point_record
        if args.json:
            for p in data["points"]:
                _emit_json(point_record(p))
        else:
            sw = data["sweep"]
            _emit(f"{args.file}: sweep of {', '.join(sw['names'])} (grid {' x '.join(map(str, sw['shape']))}), "
                  f"{len(data['points'])} of {sw['task_points']} points"
                  f"{'' if sw['task'] == [0, 1] else ' of task %d/%d' % tuple(sw['task'])}, "
                  f"written {data['created']}\n" + format_points(data["points"])
                  + "".join(f"\nfailed: point {r['index']} ({format_parameters(r['parameters'])}): {r['reason']}"
                            for r in sw.get("failed", [])))
        return data
    if args.json:
        _emit_json(data)
    elif data["kind"] in ("steady", "points"):
        from .report import format_results_file
        _emit(format_results_file(args.file, data))
    else:
        from .report import format_other, header_lines
        _emit(header_lines(args.file, data) + "\n" + format_other(data))
    return data


def cmd_rate(args, cfg) -> dict:
    """(R) or (R)* on rank 0, scattered into the row layout; observables as ``steady``.

    The output (table or JSON) is printed also for a diverged series (the observables are
    those of the best partial sum); the exit status is then 1."""
    from .model import Model
    from .parallel import PjcsyncError, RowLayout
    from .rate import solve_rate, _diverged_message
    from .observables import basic_observables
    from .memory import estimate, check_fits
    model = Model.from_config(cfg)
    check_fits(estimate(model, cfg, command="rate"), args.force)
    layout = RowLayout.create(model.N)
    rho, info = solve_rate(model, cfg["solver"], layout, star=args.star, rate_cfg=cfg["rate"],
                           allow_diverged=True)
    obs = basic_observables(model, rho.getArray(readonly=True).reshape(layout.rows, layout.N), layout)
    rho.destroy()
    keys = ("status", "stop_reason", "orders", "residuals", "relative_residuals", "best_order",
            "best_residual", "best_relative_residual", "near_degenerate")
    series = {k: info[k] for k in keys}
    solver = {k: v for k, v in info.items() if k not in keys}
    solver.update(ranks=layout.comm.Get_size(), residual=info["best_residual"])
    out = {"observables": obs, "series": series, "solver": solver, "config": cfg}
    if args.out and series["status"] == "converged":     # a diverged series: no result file
        _write_result(args, "rate", out)
    from .report import format_rate
    _emit_json(out) if args.json else _emit(format_rate(model, out))
    if series["status"] != "converged":
        raise PjcsyncError(_diverged_message(info), collective=True)
    return out


def _write_result(args, kind: str, out: dict) -> None:
    """``--out FILE`` of evolve, rate, gap, semiclassical: rank 0 writes
    (:func:`pjcsync.results.write_result`); a failure ends every rank with one line, exit 1."""
    from mpi4py import MPI
    from .parallel import PjcsyncError
    from .results import ResultsFileError, software_versions, write_result
    comm = MPI.COMM_WORLD
    versions = software_versions()          # on every rank: importing SLEPc may be collective
    err = None
    if comm.Get_rank() == 0:
        try:
            write_result(args.out, kind, out, ranks=comm.Get_size(), command=sys.argv, versions=versions)
        except ResultsFileError as exc:
            err = str(exc)
    err = comm.bcast(err, root=0)
    if err:
        raise PjcsyncError(err, collective=True)


def cmd_evolve(args, cfg) -> dict:
    """``pjcsync evolve``: integrate ``[evolve]`` (see :mod:`pjcsync.evolve`); records at each output."""
    import numpy as np
    from .model import Model
    from .memory import estimate, check_fits
    from .parallel import InputError, RowLayout
    from . import evolve as ev
    model = Model.from_config(cfg)
    ev.Plan.from_config(model, cfg["evolve"])          # configuration errors before any work
    check_fits(estimate(model, cfg, command="evolve"), args.force)
    layout = RowLayout.create(model.N)
    rows0 = None
    init = cfg["evolve"]["initial"]
    if init not in ("ground", "steady") and not init.endswith(".npy"):
        from .results import ResultsFileError, load     # a results file written with --save-rho
        try:
            data = load(init, rho=True)
        except ResultsFileError as exc:
            raise InputError(f"[evolve] initial: {exc}") from None
        if "rho" not in data or tuple(data["rho"].shape) != (model.N, model.N):
            raise InputError(f"[evolve] initial: {init!r} holds no rho of size {model.N} (use --save-rho)")
        rows0 = np.array(data["rho"][layout.i0:layout.i1])
    guess = None
    if init == "steady":
        from .results import initial_guess
        guess = initial_guess(cfg["solver"], model.N)
    log = (lambda text: None) if args.quiet else ev.stderr_log(layout)
    from .report import evolve_header, evolve_row
    if not args.json:
        _emit(evolve_header(model, cfg["evolve"]["frame"]))

    def show(rec):
        if not args.json:
            _emit(evolve_row(rec))
    result = ev.evolve(model, cfg, layout, rows0=rows0, resume=args.resume, on_output=show, log=log,
                       guess=guess)
    from .observables import cavity_populations, diagonal
    diag = diagonal(result.rows(), layout)
    final = {"qubit_resolved_populations": diag.reshape(model.levels, 2 ** model.M).tolist(),
             "cavity_populations": cavity_populations(model, result.rows(), layout).tolist()}
    out = {"times": [r["t"] for r in result.records], "records": result.records,
           "statistics": result.statistics, "final": final, "config": cfg}
    if args.save_state:
        ev.write_checkpoint_array(args.save_state, layout, result.rows_in("rotating"))
    if args.out:
        _write_result(args, "evolve", out)
    if args.json:
        _emit_json(out)
    else:
        s = result.statistics
        _emit(f"TS {s['ts_type']}{'/' + s['rk_type'] if s.get('rk_type') else ''}: {s['steps']} steps, "
              f"{s['rejected_steps']} rejected, {s['rhs_evaluations']} RHS evaluations, "
              f"{s['seconds']:.2f} s on {s['ranks']} rank(s)")
    return out


def cmd_semiclassical(args, cfg) -> dict:
    """``pjcsync semiclassical``: see :func:`pjcsync.semiclassical.run`."""
    from mpi4py import MPI
    from .model import Model
    from . import semiclassical as sc
    model = Model.from_config(cfg)
    if sc.wants_error_bound(model, cfg["semiclassical"]):
        from .memory import estimate, check_fits
        check_fits(estimate(model, cfg, command="semiclassical"), args.force)
    out = sc.run(model, cfg, MPI.COMM_WORLD)
    out["config"] = cfg
    if args.out:
        _write_result(args, "semiclassical", out)
    from .report import format_semiclassical
    _emit_json(out) if args.json else _emit(format_semiclassical(model, out))
    return out


def cmd_gap(args, cfg) -> dict:
    """``pjcsync gap``: see :func:`pjcsync.gap.liouvillian_gap`."""
    from .model import Model
    from .memory import estimate, check_fits
    from .parallel import RowLayout
    from . import gap
    model = Model.from_config(cfg)
    check_fits(estimate(model, cfg, command="gap"), args.force)
    out = gap.liouvillian_gap(model, cfg["gap"], RowLayout.create(model.N))
    out["config"] = cfg
    if args.out:
        _write_result(args, "gap", out)
    from .report import format_gap
    _emit_json(out) if args.json else _emit(format_gap(out))
    return out


def cmd_sweep(args, cfg) -> dict:
    """``pjcsync sweep``: see :mod:`pjcsync.sweep`.  Progress lines go to stderr (world rank 0);
    the points (table, or one JSON object per point) to stdout.  Exit 1 if a point failed (the
    others are written; --resume retries the failed ones)."""
    from pathlib import Path
    from .parallel import PjcsyncError
    from . import sweep as sw
    out = args.out or Path(args.config).with_suffix(".h5").name
    task = sw.parse_task(args.task)
    res = sw.run_sweep(cfg, out, groups=args.groups, task=task, resume=args.resume,
                       overwrite=args.overwrite, force=args.force, command=sys.argv,
                       log=None if args.quiet else _emit_err, save_rho=args.save_rho)
    s = res["summary"]
    if res["points"] is not None:
        if args.json:
            for p in res["points"]:
                _emit_json(sw.point_record(p))
        else:
            from .report import format_points
            _emit(format_points(res["points"]))
    warm, cold = s["iterations_warm"], s["iterations_cold"]
    line = (f"sweep: {s['computed']} points computed ({s['already_done']} already done) in "
            f"{s['seconds']:.1f} s on {s['ranks']} rank(s), {s['groups']} group(s) -> {res['file']}")
    if warm and cold and all(isinstance(v, int) for v in warm + cold):
        line += (f"; mean iterations {sum(cold) / len(cold):.1f} at the {len(cold)} cold-started and "
                 f"{sum(warm) / len(warm):.1f} at the {len(warm)} warm-started points")
    if s["iterations_saved"]:
        line += (f"; warm starts saved {sum(s['iterations_saved'])} iterations in all against cold "
                 f"starts of the same points")
    if not args.quiet:
        _emit_err(line)
    if res["failed"]:
        if not args.quiet:       # every failed point, whichever group had it (progress: rank 0's only)
            for k, msg in res["failed"]:
                _emit_err(f"sweep: failed point {k}: {msg}")
        k, msg = res["failed"][0]
        raise PjcsyncError(f"{len(res['failed'])} point(s) failed (first: point {k}: {msg}); the others "
                           f"are in {res['file']}; --resume retries the failed ones", collective=True)
    return res


def cmd_merge(args, cfg=None) -> dict:
    """``pjcsync merge OUT [INPUT ...]``: :func:`pjcsync.sweep.merge` on rank 0."""
    from mpi4py import MPI
    from .parallel import InputError, PjcsyncError
    from . import sweep as sw
    res, err = None, None
    if MPI.COMM_WORLD.Get_rank() == 0:
        try:
            res = sw.merge(args.out, args.inputs, partial=args.partial, command=sys.argv)
        except (InputError, PjcsyncError) as exc:
            err = (type(exc).__name__, str(exc))
    res, err = MPI.COMM_WORLD.bcast((res, err), root=0)
    if err:
        raise (InputError(err[1]) if err[0] == "InputError" else PjcsyncError(err[1], collective=True))
    if args.json:
        _emit_json(res)
    else:
        _emit(f"merged {res['points']} of {res['total']} points into {res['file']}"
              + (f" ({len(res['missing'])} missing)" if res["missing"] else ""))
    return res


COMMANDS = {"sweep": cmd_sweep, "merge": cmd_merge, "info": cmd_info, "steady": cmd_steady, "show": cmd_show, "rate": cmd_rate,
            "evolve": cmd_evolve, "semiclassical": cmd_semiclassical, "gap": cmd_gap}


# --- output and error discipline --------------------------------------------------------------

def _rank() -> int:
    from mpi4py import MPI
    return MPI.COMM_WORLD.Get_rank()


_STDOUT = None      # with --json: the real standard output (fd 1 itself then goes to stderr)


def _json_stdout() -> None:
    """Keep standard output for pjcsync's JSON alone: duplicate its file descriptor for
    :func:`_emit` and point fd 1 at stderr, so that anything else written to stdout (PETSc's
    monitors and -log_view, which print through C's stdout, stray prints) lands on stderr."""
    import os
    global _STDOUT
    if _STDOUT is not None:
        return
    sys.stdout.flush()
    _STDOUT = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)


def _emit(text: str) -> None:
    if _rank() == 0:
        print(text, file=_STDOUT or sys.stdout, flush=True)


def _emit_err(text: str) -> None:
    if _rank() == 0:
        print(text, file=sys.stderr, flush=True)


def _json_default(o):
    from .results import jsonable
    return jsonable(o)


def _emit_err_progress(text: str) -> None:
    """A progress line of a long computation (stderr, rank 0)."""
    _emit_err(f"pjcsync: {text}")


def _emit_json(obj: dict) -> None:
    _emit(json.dumps(obj, default=_json_default))


def _agree(fn, comm):
    """Run ``fn()`` on rank 0 only and give every rank its result, or raise its error
    (ConfigError / InputError: exit 2) on every rank alike."""
    from .parallel import InputError
    res, err = None, None
    if comm.Get_rank() == 0:
        try:
            res = fn()
        except ConfigError as exc:
            err = ("config", str(exc))
        except InputError as exc:
            err = ("input", str(exc))
    if comm.Get_size() > 1:
        res, err = comm.bcast((res, err) if comm.Get_rank() == 0 else None, root=0)
    if err:
        raise (ConfigError if err[0] == "config" else InputError)(err[1])
    return res


def _same_arguments(ours: list[str], comm) -> None:
    """Every rank must run the same command (an MPMD launch with different arguments is refused)."""
    from .parallel import InputError
    if comm.Get_size() == 1:
        return
    every = comm.allgather(ours)
    for r, other in enumerate(every):
        if other != every[0]:
            raise InputError(f"the ranks were started with different arguments (rank 0: "
                             f"{' '.join(every[0])!r}, rank {r}: {' '.join(other)!r})")


def sweep_target(args):
    """The file a ``sweep`` run writes: ``--out`` (default CONFIG's stem .h5 here), or its array
    task's ``STEM.task-i-of-n.h5``."""
    from pathlib import Path
    from . import sweep as sw
    out = args.out or Path(args.config).with_suffix(".h5").name
    ti, tn = sw.parse_task(args.task)
    return Path(out) if tn == 1 else sw.task_path(out, ti, tn)




_LOCKS: list = []      # rank 0's output locks, held until main() returns


def _claim(args, cfg) -> None:
    """Rank 0: check every output of this command and lock it (:mod:`pjcsync.outputs`)."""
    from .outputs import claim_outputs
    from .parallel import InputError
    inputs, outputs = [], []
    cmd = args.command
    if "config" in vars(args):
        inputs.append(("configuration", args.config))
    if cfg is not None:
        guess = cfg["solver"]["initial_guess"]
        from .states import NAMED_GUESSES
        if guess not in NAMED_GUESSES:
            inputs.append(("initial guess ([solver] initial_guess)", guess))
        init = cfg["evolve"]["initial"]
        if cmd == "evolve" and init not in ("ground", "steady"):
            inputs.append(("initial state ([evolve] initial)", init))
    if getattr(args, "save_rho", False) and cmd == "steady" and not args.out:
        raise InputError("--save-rho needs --out FILE")
    if cmd in ("steady", "rate", "evolve", "gap", "semiclassical") and args.out:
        if str(args.out).endswith(".json"):
            raise InputError(f"--out {args.out!r}: --out writes an HDF5 results file (use a name "
                             f"ending in .h5; --json prints JSON to stdout)")
        outputs.append(("--out", args.out, args.overwrite))
    if cmd == "evolve":
        if args.save_state:
            outputs.append(("--save-state", args.save_state, args.overwrite))
        if args.resume and not cfg["evolve"]["checkpoint"]:
            raise InputError("--resume continues from a checkpoint, but none is configured: set "
                             "[evolve] checkpoint = \"PREFIX\" (and checkpoint_every)")
        if cfg["evolve"]["checkpoint"]:
            outputs.append(("[evolve] checkpoint", cfg["evolve"]["checkpoint"] + ".json", None))
    if cmd == "sweep":
        if args.resume and args.overwrite:
            raise InputError("--resume and --overwrite exclude each other")
        outputs.append(("sweep output", sweep_target(args), None))
    if cmd == "merge":
        inputs += [("merge input", x) for x in args.inputs]
        outputs.append(("merge output", args.out, None))
    _LOCKS.extend(claim_outputs(outputs, inputs))


def _warn_unused_options(petsc_args: list[str]) -> None:
    from .petsc_options import unused_options
    if not petsc_args:
        return
    left = unused_options()
    if left:
        _emit_err(f"pjcsync: warning: PETSc option(s) {', '.join(left)} were not used (misspelt, or "
                  f"not read by this command and method)")


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ours, petsc_args = split_petsc_options(argv)
    parser = build_parser()
    args = parser.parse_args(ours)   # one line, exit status 2 on bad arguments
    if getattr(args, "json", False):
        _json_stdout()
    from .progress import set_quiet
    set_quiet(getattr(args, "quiet", False))

    import petsc4py
    petsc4py.init([sys.argv[0]] + petsc_args)
    from petsc4py import PETSc  # noqa: F401  (initializes PETSc with the options above)
    import signal
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # `pjcsync show f | head` ends quietly
    from mpi4py import MPI
    from .outputs import release
    from .parallel import InputError, PjcsyncError, abort_on_error, debug_enabled
    from .petsc_options import check_types, error_line

    comm = MPI.COMM_WORLD
    try:
        _same_arguments(ours, comm)
        # the configuration is read and validated on rank 0 only (a node-local path), then shared
        cfg = _agree(lambda: load_config(args.config, args.set), comm) if "config" in vars(args) else None
        check_types()                    # the same options on every rank: the same answer
        _agree(lambda: _claim(args, cfg), comm)     # outputs checked and locked (rank 0)
        from .memory import allocation_failures
        with allocation_failures():      # --force past the estimate: one line, exit 1, job ended
            COMMANDS[args.command](args, cfg)
        _warn_unused_options(petsc_args)
    except (ConfigError, InputError) as exc:
        # raised identically on every rank (same inputs): report once, exit 2 everywhere
        _emit_err(f"pjcsync: error: {_one_line(str(exc))}")
        return EXIT_USAGE
    except PjcsyncError as exc:
        if debug_enabled():
            raise
        if getattr(exc, "collective", False):
            _emit_err(f"pjcsync: error: {exc}")
            return EXIT_FAILURE
        abort_on_error(PjcsyncError(_one_line(str(exc))), comm)
    except KeyboardInterrupt:
        abort_on_error(RuntimeError("interrupted"), comm)
    except PETSc.Error as exc:
        if debug_enabled():
            import traceback
            traceback.print_exc()
        abort_on_error(RuntimeError(error_line(exc)), comm)
    except Exception as exc:  # an unexpected failure on this rank: end the whole job
        if debug_enabled():
            import traceback
            traceback.print_exc()
        abort_on_error(RuntimeError(f"{type(exc).__name__}: {_one_line(str(exc))} "
                                    f"(PJCSYNC_DEBUG=1 shows the traceback)"), comm)
    finally:
        release(_LOCKS)
        _LOCKS.clear()
    return 0


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
