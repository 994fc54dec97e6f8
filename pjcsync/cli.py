"""The ``pjcsync`` command line.

    pjcsync info   CONFIG [--set section.key=value ...] [--json] [--force]
    pjcsync steady CONFIG [--set ...] [--json] [--force] [PETSc options]

Options that start with a single dash and a letter (``-ksp_type gmres``, ``-log_view``) are
PETSc options and go to the options database.  Exit status: 0 success, 1 a failed computation
(a solver that did not converge, a rejected state), 2 bad input (configuration, arguments,
a problem too large for memory).  Output comes from rank 0 only.
"""
from __future__ import annotations

import argparse
import json
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


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="TOML configuration file")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a configuration key (repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--force", action="store_true",
                   help="run even if the memory estimate exceeds this node's available memory")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pjcsync",
        description="Distributed Lindblad solver for a driven cavity coupled to qubits "
                    "(Chepelianskii & Shepelyansky, Entropy 26, 415 (2024)). "
                    "PETSc options (-ksp_type, -pc_type, -log_view ...) may follow.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("info", help="sizes, nonzeros and memory per rank; refuses what will not fit")
    _add_common(p)
    p = sub.add_parser("steady", help="RWA steady state (eq. 7) and its observables")
    _add_common(p)
    return parser


# --- commands ---------------------------------------------------------------------------------

def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TB"


def cmd_info(args, cfg) -> dict:
    from .model import Model
    from .memory import estimate, check_fits
    model = Model.from_config(cfg)
    est = estimate(model, cfg["solver"])
    out = {"N": model.N, "N2": model.N ** 2, "M": model.M, "levels": model.levels, **est}
    if args.json:
        _emit_json(out)
    else:
        _emit(f"Hilbert dimension N = {model.N} (n_c = {model.levels}, M = {model.M} qubits)\n"
              f"density matrix entries N^2 = {model.N ** 2:,}\n"
              f"Liouvillian nonzeros (upper bound) = {est['nonzeros']:,}\n"
              f"ranks = {est['ranks']} ({est['ranks_on_node']} on this node), method = {est['method']}\n"
              f"memory per rank (estimate) = {_fmt_bytes(est['bytes_per_rank'])}, "
              f"this node: {_fmt_bytes(est['bytes_node'])} of {_fmt_bytes(est['available_bytes'])} available")
    check_fits(est, args.force)
    return out


def cmd_steady(args, cfg) -> dict:
    from .model import Model
    from .memory import estimate, check_fits
    from .parallel import RowLayout
    from .steady import steady_state
    from .observables import basic_observables, EDGE_WARNING
    model = Model.from_config(cfg)
    check_fits(estimate(model, cfg["solver"]), args.force)
    layout = RowLayout.create(model.N)
    state = steady_state(model, cfg["solver"], layout)
    obs = basic_observables(model, state.rows(), layout)
    warnings = []
    if obs["edge_population"] > EDGE_WARNING:
        warnings.append(f"population {obs['edge_population']:.2e} in the top {obs['edge_levels']} cavity "
                        f"levels: the cavity is truncated too early, increase [cavity] levels")
    out = {"observables": obs, "solver": state.solver, "checks": state.checks, "warnings": warnings,
           "config": cfg}
    if args.json:
        _emit_json(out)
    else:
        _emit(format_steady_table(model, obs, state.solver))
    for w in warnings:
        _emit_err(f"pjcsync: warning: {w}")
    return out


def format_steady_table(model, obs: dict, solver: dict) -> str:
    lines = [f"steady state  N = {model.N}  (n_c = {model.levels}, M = {model.M})  "
             f"omega - omega_0 = {model.drive_detuning:g}",
             f"  <n>              {obs['n']:.10g}",
             f"  <a>              {obs['a'][0]:.10g} {obs['a'][1]:+.10g}i",
             f"  Sx, Sy, Sz       {obs['Sx']:.10g}  {obs['Sy']:.10g}  {obs['Sz']:.10g}"]
    for l, s in enumerate(obs["sigma"]):
        lines.append(f"  qubit {l + 1}: <sigma_x,y,z> = {s[0]:.8g}  {s[1]:.8g}  {s[2]:.8g}")
    lines.append(f"  edge population  {obs['edge_population']:.3e} (top {obs['edge_levels']} levels)")
    lines.append(f"solver: {solver['method']}, {solver['iterations']} iterations, "
                 f"||L rho|| = {solver['residual']:.2e}, {solver['seconds']:.2f} s, "
                 f"{solver['ranks']} rank(s), peak memory {_fmt_bytes(solver['peak_memory']['max_rank_bytes'])}/rank")
    return "\n".join(lines)


COMMANDS = {"info": cmd_info, "steady": cmd_steady}


# --- output and error discipline --------------------------------------------------------------

def _rank() -> int:
    from mpi4py import MPI
    return MPI.COMM_WORLD.Get_rank()


def _emit(text: str) -> None:
    if _rank() == 0:
        print(text, flush=True)


def _emit_err(text: str) -> None:
    if _rank() == 0:
        print(text, file=sys.stderr, flush=True)


def _json_default(o):
    import numpy as np
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, complex):
        return [o.real, o.imag]
    return str(o)


def _emit_json(obj: dict) -> None:
    _emit(json.dumps(obj, default=_json_default))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ours, petsc_args = split_petsc_options(argv)
    parser = build_parser()
    args = parser.parse_args(ours)   # argparse exits with status 2 on bad arguments

    import petsc4py
    petsc4py.init([sys.argv[0]] + petsc_args)
    from mpi4py import MPI
    from .parallel import InputError, PjcsyncError, abort_on_error, debug_enabled

    comm = MPI.COMM_WORLD
    try:
        cfg = load_config(args.config, args.set)
        COMMANDS[args.command](args, cfg)
    except (ConfigError, InputError) as exc:
        # raised identically on every rank (same inputs): report once, exit 2 everywhere
        _emit_err(f"pjcsync: error: {exc}")
        return EXIT_USAGE
    except PjcsyncError as exc:
        if debug_enabled():
            raise
        if getattr(exc, "collective", False):
            _emit_err(f"pjcsync: error: {exc}")
            return EXIT_FAILURE
        abort_on_error(exc, comm)
    except KeyboardInterrupt:
        abort_on_error(RuntimeError("interrupted"), comm)
    except Exception as exc:  # an unexpected failure on this rank: end the whole job
        if debug_enabled():
            import traceback
            traceback.print_exc()
        abort_on_error(RuntimeError(f"{type(exc).__name__}: {exc} (PJCSYNC_DEBUG=1 shows the traceback)"), comm)
    return 0


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
