"""The tables the command line prints: one module formats every result for people.

The physics modules return plain results (dicts of numbers, lists and strings: the records that
``--json`` prints and results files store); the functions here turn them into the text of
``pjcsync steady``, ``rate``, ``gap``, ``semiclassical``, ``evolve``, ``sweep``, ``info`` and
``show`` (which prints a results file as the command that wrote it did).  Nothing here computes.
"""
from __future__ import annotations

import json

import numpy as np

from .memory import fmt_bytes
from .results import jsonable


def format_info(model, est: dict) -> str:
    """``pjcsync info``: sizes and the memory estimate (:func:`pjcsync.memory.estimate`)."""
    return (f"Hilbert dimension N = {model.N} (n_c = {model.levels}, M = {model.M} qubits)\n"
            f"density matrix entries N^2 = {model.N ** 2:,}\n"
            f"Liouvillian nonzeros = {est['nonzeros']:,}\n"
            f"ranks = {est['ranks']} ({est['ranks_on_node']} on this node), method = {est['method']}\n"
            f"memory per rank (estimate) = {fmt_bytes(est['bytes_per_rank'])}, "
            f"this node: {fmt_bytes(est['bytes_node'])} of {fmt_bytes(est['available_bytes'])} available\n"
            f"largest parts: " + ", ".join(f"{k} {fmt_bytes(v)}" for k, v in sorted(
                est["parts"].items(), key=lambda kv: -kv[1])[:3]))

def format_other(data: dict) -> str:
    """The table a command prints, for a results file of kind evolve, rate, gap, semiclassical
    (JSON when the file's contents do not fit the table)."""
    from .config import validate
    from .model import Model
    kind = data["kind"]
    try:
        if kind == "gap":
            return format_gap(data)
        model = Model.from_config(validate(data["config"]))
        if kind == "semiclassical":
            return format_semiclassical(model, data)
        if kind == "rate":
            return format_rate(model, data)
        if kind == "evolve":
            return "\n".join([evolve_header(model, data["config"]["evolve"]["frame"])]
                             + [evolve_row(rec) for rec in data["records"]])
    except (KeyError, TypeError, ValueError, IndexError):
        pass
    return json.dumps({k: v for k, v in data.items() if k not in ("versions", "command")},
                      default=jsonable)


def header_lines(path: str, data: dict) -> str:
    """The two lines ``pjcsync show`` starts with: format, kind, date, versions."""
    v = data.get("versions", {})
    return (f"{path}: pjcsync results (format {data['format_version']}, {data['kind']}), "
            f"written {data['created']} by pjcsync {v.get('pjcsync', '?')} on {data['ranks']} rank(s)\n"
            f"  PETSc {v.get('petsc', '?')}, SLEPc {v.get('slepc', '?')}, {v.get('mpi', 'MPI ?').split(',')[0]}, "
            f"HDF5 {v.get('hdf5', '?')} (h5py {v.get('h5py', '?')})")


def format_results_file(path: str, data: dict) -> str:
    """``pjcsync show`` of a steady-state file (one point or many): header, then each point's
    table (or the checkpoint notice), stored rho and warnings."""
    from .config import validate
    from .model import Model
    lines = header_lines(path, data).split("\n")
    points = data["points"] if data["kind"] == "points" else [data]
    for k, point in enumerate(points):
        if data["kind"] == "points":
            lines.append(f"point {k}")
        from .checkpoint import is_checkpoint
        if is_checkpoint(point):
            sv = point.get("solver", {})
            lines.append(f"UNCONVERGED CHECKPOINT, not a steady state: the last iterate of {sv.get('method')} "
                         f"after {sv.get('iterations')} iterations, {sv.get('residual_norm', 'relative residual')} "
                         f"= {sv.get('relative_residual', float('nan')):.2e} (rtol "
                         f"{point.get('config', {}).get('solver', {}).get('rtol', float('nan')):.1e}); no observables; "
                         f"pjcsync steady --resume (or [solver] initial_guess = this file) continues from it")
            continue
        try:
            lines.append(format_steady_table(Model.from_config(validate(point["config"])),
                                             point["observables"], point["solver"]))
        except (KeyError, TypeError, ValueError):
            lines.append(json.dumps(point.get("observables", {}), default=jsonable))
        if "rho_shape" in point:
            lines.append(f"rho stored: {point['rho_shape'][0]} x {point['rho_shape'][1]} (pjcsync.load)")
        for w in point.get("warnings", []):
            lines.append(f"warning: {w}")
    return "\n".join(lines)


def format_steady_table(model, obs: dict, solver: dict) -> str:
    """The table of ``pjcsync steady``: the observables (docs/conventions.md) and the solver."""
    lines = [f"steady state  N = {model.N}  (n_c = {model.levels}, M = {model.M})  "
             f"omega - omega_0 = {model.drive_detuning:g}",
             f"  <n>              {obs['n']:.10g}",
             f"  <a>              {obs['a'][0]:.10g} {obs['a'][1]:+.10g}i",
             f"  Sx, Sy, Sz       {obs['Sx']:.10g}  {obs['Sy']:.10g}  {obs['Sz']:.10g}"]
    for l, s in enumerate(obs["sigma"]):
        theta = f"  theta = {obs['theta'][l]:+.6f} rad" if "theta" in obs else ""
        lines.append(f"  qubit {l + 1}: <sigma_x,y,z> = {s[0]:.8g}  {s[1]:.8g}  {s[2]:.8g}{theta}")
    if "negativity" in obs:
        i, j = obs.get("pair", [1, 2])
        lines.append(f"  qubits {i},{j}:      <S^2> = {obs['S2']:.8g}  singlet = {obs['singlet']:.8g}  "
                     f"negativity = {obs['negativity']:.8g}")
        lines.append(f"                   CHSH max = {obs['chsh']:.8g}  concurrence = {obs['concurrence']:.8g}")
        lines.append(f"  <S^2> all qubits {obs['S2_total']:.10g}")
    lines.append(f"  edge population  {obs['edge_population']:.3e} (top {obs['edge_levels']} levels)")
    if solver.get("levels"):
        lv = solver["levels"]
        lines.append(f"  levels = auto    n_c = {lv['chosen']} (edge population <= {lv['tolerance']:.0e}: "
                     f"{'yes' if lv['converged'] else 'NO'}; tried "
                     f"{', '.join(str(s['levels']) for s in lv['steps'])}; {lv['total_seconds']:.1f} s)")
    if solver.get("auto"):
        lines.append(f"auto: {solver['auto']}")
    lines.append(f"solver: {solver['method']}, {solver['iterations']} iterations, "
                 f"||L rho|| = {solver['residual']:.2e}, {solver['seconds']:.2f} s, "
                 f"{solver['ranks']} rank(s), peak memory {fmt_bytes(solver['peak_memory']['max_rank_bytes'])}/rank")
    return "\n".join(lines)

def format_rate(model, out: dict) -> str:
    """The table of ``pjcsync rate``: the series' residual per order and the observables."""
    series, obs, solver = out["series"], out["observables"], out["solver"]
    deg = series["near_degenerate"]
    return "\n".join(
        [f"rate series {solver['method']}  N = {model.N}  omega - omega_0 = {model.drive_detuning:g}: "
         f"{series['status']} ({series['stop_reason']}), best order {series['best_order']}",
         "  order  ||L rho||_F   relative"]
        + [f"  {j:5d}  {r:.3e}   {q:.2e}" for j, r, q in
           zip(series["orders"], series["residuals"], series["relative_residuals"])]
        + [f"  smallest level gap {deg['min_gap']:.3g}; {deg['below_damping']} pairs closer than "
           f"the damping {deg['max_rate']:.3g}; {deg['count']} near-degenerate pairs skipped",
           f"  <n> {obs['n']:.10g}   <a> {obs['a'][0]:.10g} {obs['a'][1]:+.10g}i",
           f"  Sx, Sy, Sz  {obs['Sx']:.10g}  {obs['Sy']:.10g}  {obs['Sz']:.10g}"])

def evolve_header(model, frame: str) -> str:
    """The two header lines of ``pjcsync evolve``'s table."""
    return (f"evolve  N = {model.N}  frame = {frame}  omega - omega_0 = {model.drive_detuning:g}\n"
            f"{'t':>12} {'periods':>10} {'<n>':>12} {'Sx_rot':>12} {'Sy_rot':>12} {'Sz':>12}")


def evolve_row(rec: dict) -> str:
    """One output of ``pjcsync evolve`` (a record of :func:`pjcsync.evolve.evolve`)."""
    periods = rec.get("periods")
    return (f"{rec['t']:12.6g} {float('nan') if periods is None else periods:10.4g} {rec['n']:12.8g} "
            f"{rec['Sx_rot']:12.8g} {rec['Sy_rot']:12.8g} {rec['Sz']:12.8g}")

def format_gap(out: dict) -> str:
    """The table of ``pjcsync gap``: the eigenvalues of L nearest the target
    (:func:`pjcsync.gap.liouvillian_gap`'s result)."""
    lines = [f"Liouvillian gap  N = {out['N']}  ({out['eps_type']}, {out['st_type']} target {out['target']:g}, "
             f"{out['ksp_type']}/{out['pc_type']}{'/' + out['factorization'] if out['factorization'] else ''}, "
             f"{out['ranks']} rank(s), {out['seconds']:.2f} s)",
             f"  {'k':>3} {'Re lambda':>16} {'Im lambda':>16} {'|lambda|':>12} {'residual':>10}"]
    for k, (lam, res) in enumerate(zip(out["eigenvalues"], out["residuals"]), 1):
        lines.append(f"  {k:3d} {lam[0]:16.10g} {lam[1]:16.10g} {np.hypot(*lam):12.6g} {res:10.2e}")
    lines.append(f"  gap |lambda_1| = {out['gap_modulus']:.8g}, slowest decay rate -Re lambda = "
                 f"{out['relaxation_rate']:.8g}")
    return "\n".join(lines)

def format_semiclassical(model, out: dict) -> str:
    """The table of ``pjcsync semiclassical``: :func:`pjcsync.semiclassical.run`'s result."""
    if "sweep" in out:
        lines = [f"semiclassical sweep  M = {model.M}  ({out['functional']} functional)",
                 f"{'omega-omega_0':>14} {'Sx':>11} {'|alpha|^2':>11} {'epsilon':>11} {'minima':>6} "
                 f"{'bistable':>8} {'eps/|l1|':>10} {'distance':>10}"]
        for p in out["sweep"]:
            lines.append(f"{p['drive_detuning']:14.6g} {p['Sx']:11.6g} {p['n']:11.6g} {p['epsilon']:11.4e} "
                         f"{len(p['minima']):6d} {str(p['bistable']):>8} "
                         f"{p.get('error_bound', float('nan')):10.3e} {p.get('distance', float('nan')):10.3e}")
        return "\n".join(lines)
    a = out["alpha"]
    lines = [f"semiclassical minimum  M = {model.M}  omega - omega_0 = {model.drive_detuning:g}  "
             f"({out['functional']} functional, {out['starts']} starts, {out['seconds']:.2f} s)",
             f"  alpha            {a[0]:.10g} {a[1]:+.10g}i   (|alpha|^2 = {out['n']:.8g})"]
    for l, b in enumerate(out["bloch"]):
        lines.append(f"  qubit {l + 1}: b = {b[0]:.8g}  {b[1]:.8g}  {b[2]:.8g}")
    lines.append(f"  Sx, Sy, Sz       {out['Sx']:.10g}  {out['Sy']:.10g}  {out['Sz']:.10g}")
    lines.append(f"  S_min            {out['S_min']:.6e}   epsilon = {out['epsilon']:.6e}")
    lines.append(f"  distinct minima  {len(out['minima'])}: S = "
                 + ", ".join(f"{m['S']:.4e}" for m in out["minima"][:6])
                 + ("   BISTABLE" if out["bistable"] else ""))
    if not out.get("converged", True):
        lines.append("  warning: no start reached a stationary point (raise [semiclassical] max_iterations)")
    if "error_bound" in out:
        l1 = out["lambda_1"]
        lines.append(f"  lambda_1         {l1[0]:.8g} {l1[1]:+.8g}i   epsilon/|lambda_1| = {out['error_bound']:.4e}")
    if "distance" in out:
        lines.append(f"  exact RWA state  ||rho_s - rho||_F = {out['distance']:.4e}, "
                     f"|rho_s,perp| = {out['perp_norm']:.4e}, Sx = {out['exact']['Sx']:.8g}")
        if out["coherent_truncation"] > 1e-8:
            lines.append(f"  warning: {out['coherent_truncation']:.2e} of the coherent state lies above "
                         f"n_c = {model.levels} levels: increase [cavity] levels for the exact comparison")
    return "\n".join(lines)

def format_points(points: list[dict]) -> str:
    """A table: index, swept parameters, <n>, Sx, Sz, <S^2> (M >= 2), method and iterations."""
    if not points:
        return "(no points)"
    names = list(points[0].get("parameters", {}))
    has_s2 = any("S2" in p["observables"] for p in points)
    cols = ["k"] + names + ["<n>", "Sx", "Sz"] + (["<S^2>"] if has_s2 else []) + ["solver"]
    rows = []
    for p in points:
        o, s = p["observables"], p.get("solver", {})
        vals = [str(p.get("index"))] + [_fmt(p["parameters"].get(n)) for n in names]
        vals += [f"{o.get('n', float('nan')):.6g}", f"{o.get('Sx', float('nan')):.6g}", f"{o.get('Sz', float('nan')):.6g}"]
        if has_s2:
            vals.append(f"{o['S2']:.6g}" if "S2" in o else "")
        vals.append(f"{s.get('method', '?')}/{s.get('iterations', '?')}"
                    + (f" w{s['warm_start_from']}" if s.get("warm_start_from") is not None else ""))
        rows.append(vals)
    width = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(cols, width))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, width)) for r in rows]
    return "\n".join(lines)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return json.dumps(v) if isinstance(v, list) else str(v)
