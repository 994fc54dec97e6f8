"""TOML configuration: parsing, ``--set`` overrides and validation.

A configuration is a TOML file with the sections of :data:`SCHEMA`.  Energies and rates are in
units of the qubit-cavity coupling lambda (hbar = 1), as in the paper.  Every mistake is reported
as a :class:`ConfigError` carrying one readable line; the command line turns it into exit status 2.

Example (the paper's Fig. 8 at resonance)::

    [cavity]
    levels = 30            # Fock levels n_c (>= 2)
    decay = 0.3            # gamma
    [qubits]
    detuning = [1.0, -1.0] # Delta_l = Omega_l - omega_0 (M = len)
    coupling = 1.0         # lambda_l, number or list
    decay = 3e-3           # gamma_s, number or list
    [drive]
    amplitude = 0.25       # F
    detuning = 0.0         # omega - omega_0
"""
from __future__ import annotations

import copy
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError  # noqa: F401  (a configuration mistake: exit status 2)


@dataclass(frozen=True)
class Key:
    """One configuration key: its kind, default and documentation.

    kind is one of "int", "float", "str", "bool", "floats" (list of numbers),
    "float|floats" (a number or a list of numbers, one per qubit), "str|float", or "values":
    a table of keys of the section named like this key, each with a non-empty list of values
    or ``{start, stop, num}`` (num evenly spaced numbers, both ends included), e.g. the sweep's
    ``[sweep.drive] detuning = {start = -2, stop = 2, num = 41}``; every value is checked
    against the named key's own kind, and ranges are expanded to lists.
    ``default=REQUIRED`` marks a key that must be given.
    """

    kind: str
    default: Any
    doc: str
    choices: tuple | None = None
    minimum: float | None = None
    check: Callable[[Any], str | None] | None = None


REQUIRED = object()

MAX_MAGNITUDE = 1e12      # larger numbers overflow the double-precision products of the solvers
MAX_ENTRIES = 2 ** 62     # N^2 = (n_c 2^M)^2 above this cannot even be indexed


def _below_one(v) -> str | None:
    return f"must be below 1 (a relative tolerance), got {v:g}" if v >= 1 else None


def _switch_setting(v) -> str | None:
    if isinstance(v, str):
        return None if v in ("auto", "never") else f"must be 'auto', 'never' or an integer, got {v!r}"
    return None if v >= 1 else f"must be at least 1 iteration, got {v}"

NONNEG = 0.0

SCHEMA: dict[str, dict[str, Key]] = {
    "cavity": {
        "levels": Key("int|str", REQUIRED, "Fock levels n_c of the truncated cavity (>= 2), or 'auto': "
                      "steady states (steady, sweep) start with levels_start levels and grow n_c, "
                      "each solve starting from the previous state if it is well truncated, until the "
                      "population of the top levels is at most levels_tolerance", minimum=2,
                      check=lambda v: "must be an integer >= 2 or 'auto'"
                      if isinstance(v, str) and v != "auto" else None),
        "levels_tolerance": Key("float", 1e-9, "levels = 'auto': largest population of the top "
                                "Fock levels (the edge: min(5, n_c / 4) levels) accepted", minimum=0.0),
        "levels_start": Key("int", 16, "levels = 'auto': the first n_c tried", minimum=2),
        "levels_max": Key("int", 400, "levels = 'auto': the largest n_c tried; if its edge population "
                          "is still above the tolerance the result is kept with the truncation warning",
                          minimum=2),
        "decay": Key("float", REQUIRED, "cavity decay rate gamma", minimum=NONNEG),
        "frequency": Key("float", None, "cavity frequency omega_0 (lab frame only)", minimum=NONNEG),
    },
    "qubits": {
        "detuning": Key("floats", [], "Delta_l = Omega_l - omega_0, one per qubit; M = its length"),
        "coupling": Key("float|floats", 1.0, "qubit-cavity coupling lambda_l (number or list)"),
        "decay": Key("float|floats", 0.0, "qubit decay rate gamma_s (number or list)", minimum=NONNEG),
    },
    "drive": {
        "amplitude": Key("float", REQUIRED, "drive amplitude F"),
        "detuning": Key("float", 0.0, "drive detuning omega - omega_0"),
    },
    "solver": {
        "method": Key("str", "auto", "steady-state method",
                      choices=("auto", "direct", "krylov", "sylvester", "rate", "rate*")),
        "rtol": Key("float", 1e-10, "target relative residual ||L rho|| / ||L|| ||rho||", minimum=0.0,
                    check=_below_one),
        "max_iterations": Key("int", 1000, "iteration limit of iterative methods", minimum=1),
        "initial_guess": Key("str", "identity", "'identity', 'ground', 'rate', or a results file"),
        "operator": Key("str", "auto", "how L is applied: 'auto' (matrix-free for krylov and "
                        "sylvester, assembled for direct), 'assembled' or 'matrix-free'",
                        choices=("auto", "assembled", "matrix-free")),
        "preconditioner": Key("str", "auto", "inverse of L0: 'auto', 'eigen' or 'schur'",
                              choices=("auto", "eigen", "schur")),
        "preconditioner_precision": Key("str", "auto", "arithmetic of the L0^-1 preconditioner: "
                                        "'double', or 'single' (krylov only: about 1.7 times faster "
                                        "applications, the solution is still converged in double, "
                                        "needs a flexible Krylov method), or 'auto' (single for "
                                        "krylov with a flexible KSP from N = 256 on, else double)",
                                        choices=("auto", "double", "single")),
        "ksp_type": Key("str", "auto", "Krylov method of method = 'krylov' (any PETSc KSP type, e.g. "
                        "'fbcgs', 'fgmres', 'gmres', 'bcgs'); 'auto' picks from the problem "
                        "(docs/performance.md, KSP study: fbcgs, diverged above choices.AUTO_DIVTOL ||b||, "
                        "restarted as fgmres if it diverges or breaks down); the -ksp_type option "
                        "overrides it"),
        "stagnation_window": Key("int", 100, "ksp_type = 'auto': the automatic KSP is stopped when "
                                 "its best residual, once near rtol (steady.STAGNATION_NEAR), three decades "
                                 "below its first one (steady.STAGNATION_PROGRESS) or after a spike "
                                 "(steady.STAGNATION_SPIKE), has not decreased by 10 % in this "
                                 "many iterations, and restarted as fgmres from its last iterate when "
                                 "that is the better start (BiCGStab can stagnate above rtol with "
                                 "the single-precision L0^-1); 0 = never",
                                 minimum=0),
        "direct_switch": Key("int|str", "auto", "method = 'auto' (M-qubit models): a krylov solve "
                             "not converged after this many iterations, or that breaks down, is "
                             "abandoned and the point solved by MUMPS, when MUMPS's estimated memory "
                             "fits in the node; 'auto': the iterations one factorization is predicted "
                             "to cost (docs/performance.md, session 7); 'never': no switch",
                             check=_switch_setting),
        "coarse_start": Key("bool", True, "krylov and sylvester with the default initial guess and "
                            "n_c >= 2 coarse_levels: first solve with ceil(n_c / 2) levels (recursively) "
                            "and start from that state, zero-padded; with levels = 'auto' its first n_c"),
        "coarse_levels": Key("int", 16, "coarse_start: the smallest n_c of the coarse solves", minimum=2),
        "check_tolerance": Key("float", 1e-8,
                               "tolerance of the post-solve checks (trace, hermiticity, positivity)",
                               minimum=0.0),
        "acceleration": Key("str", "anderson", "sylvester: 'anderson' mixes the last "
                            "acceleration_history iterates (the combination with the smallest "
                            "||L rho||, then the paper's step from it); 'none': the paper's plain "
                            "iteration (eq. 14). Either stops early, naming krylov, when its "
                            "projected iterations exceed max_iterations",
                            choices=("anderson", "none")),
        "acceleration_history": Key("int", 10, "sylvester: iterates kept by Anderson mixing (2 vectors "
                                    "of N^2 entries each)", minimum=1),
        "progress": Key("float", 5.0, "seconds between progress lines of a krylov or sylvester solve "
                        "on stderr (iteration, residual, rate, time left; 0 = none; --quiet silences "
                        "them)", minimum=0.0),
        "checkpoint": Key("str", "auto", "pjcsync steady (krylov, sylvester): file keeping the last "
                          "iterate, written every checkpoint_every seconds and when the solve stops "
                          "unconverged, removed once it converges; pjcsync steady --resume continues "
                          "from it. 'auto': OUT.checkpoint.h5 for --out OUT, else "
                          "CONFIG.checkpoint.h5 in the current directory; 'none': no file"),
        "checkpoint_every": Key("float", 300.0, "seconds between checkpoints of a running solve "
                                "(0 = only when it stops unconverged)", minimum=0.0),
    },
    "evolve": {
        "frame": Key("str", "rotating", "'rotating' (the RWA, eq. 6) or 'lab' (the full model, eq. 1; "
                     "needs [cavity] frequency)", choices=("rotating", "lab")),
        "formulation": Key("str", "rotating", "lab frame only: integrate in the frame rotating at omega "
                           "(exact, counter-rotating terms at 2 omega) or 'direct' (stiff; for checks)",
                           choices=("rotating", "direct")),
        "t_end": Key("float", None, "end time in units of 1/lambda (or give periods)", minimum=0.0),
        "periods": Key("float", None, "end time in drive periods 2 pi / omega (or give t_end)", minimum=0.0),
        "output_every": Key("float", None, "output interval in 1/lambda (default: t_end / 100)", minimum=0.0),
        "output_every_periods": Key("float", None, "output interval in drive periods", minimum=0.0),
        "rtol": Key("float", 1e-8, "relative tolerance of the adaptive steps", minimum=0.0),
        "atol": Key("float", 1e-10, "absolute tolerance of the adaptive steps", minimum=0.0),
        "initial": Key("str", "ground", "'ground' (vacuum, qubits down), 'steady' (the RWA steady state) "
                       "or an .npy file holding rho (N x N)"),
        "checkpoint": Key("str", "", "checkpoint file prefix ('' = none); --resume continues from it"),
        "checkpoint_every": Key("int", 10, "write a checkpoint every this many outputs", minimum=1),
        "progress": Key("float", 10.0, "seconds between progress lines on stderr (0 = none)", minimum=0.0),
    },
    "floquet": {
        "harmonics": Key("int", 0, "pjcsync steady: 0 = the RWA steady state; K >= 1 = the periodic "
                         "steady state of the lab-frame model with harmonics e^{2ik omega t}, |k| <= K",
                         minimum=0),
        "method": Key("str", "auto", "solver of the harmonic block system: 'direct' (MUMPS), 'gmres' "
                      "(block Gauss-Seidel over harmonics with LU blocks), 'sylvester' (GMRES with "
                      "shifted Sylvester blocks; needs qubit damping)",
                      choices=("auto", "direct", "gmres", "sylvester")),
    },
    "rate": {
        "max_order": Key("int", 60, "highest order of the rate series (R)/(R)* (eqs. 19-30)", minimum=0),
        "degeneracy": Key("float", 1e-12,
                          "level pairs with |denominator| below this times the scale of L are not "
                          "divided by (near-degenerate, reported)", minimum=0.0),
    },
    "semiclassical": {
        "functional": Key("str", "absolute", "'absolute': minimize S = ||L rho||^2 (eq. 31, the paper's); "
                          "'relative': S / Tr rho^2 (avoids the mixed-qubit minima of S at large M)",
                          choices=("absolute", "relative")),
        "starts": Key("int", 8, "starting points of the minimization (eq. 36's alpha with qubits down "
                      "and up, then random ones)", minimum=1),
        "seed": Key("int", 1, "seed of the random starting points", minimum=0),
        "bistability": Key("float", 2.0, "a second distinct minimum with S <= this times S_min flags "
                           "bistability (Appendix A.3)", minimum=1.0),
        "gtol": Key("float", 1e-9, "gradient tolerance of the L-BFGS minimization", minimum=0.0),
        "max_iterations": Key("int", 3000, "L-BFGS iteration limit per start", minimum=1),
        "sweep": Key("floats", [], "drive detunings omega - omega_0 to sweep with warm starts "
                     "(empty: the [drive] detuning only)"),
        "both_ways": Key("bool", True, "sweep forward, then backward from the forward minima: each "
                         "point keeps the lowest minimum either direction reached"),
        "error_bound": Key("str", "auto", "epsilon/|lambda_1| and the distance to the exact steady state: "
                           "'auto' (when N <= max_exact_N), 'always' or 'never'",
                           choices=("auto", "always", "never")),
        "max_exact_N": Key("int", 200, "largest N = n_c 2^M for the automatic error bound "
                           "(MUMPS: ~0.6 GB at N = 200)", minimum=2),
    },
    "sweep": {
        "cavity": Key("values", {}, "[cavity] keys to vary (pjcsync sweep): key = [values] or "
                      "{start, stop, num}"),
        "qubits": Key("values", {}, "[qubits] keys to vary: a number per point (every qubit) or a "
                      "list per point, e.g. detuning = [[2.0, -2.0], [2.0, 3.0]]"),
        "drive": Key("values", {}, "[drive] keys to vary; several keys make a grid, drive.detuning "
                     "varying fastest (the warm-started frequency sweep)"),
        "warm_start": Key("bool", True, "start each point's iterative solve from its neighbour's "
                          "steady state"),
        "cold_reference": Key("bool", False, "also solve every warm-started point from the cold "
                              "initial guess and record the iterations saved (twice the work)"),
        "schedule": Key("str", "auto", "how --groups share the missing points: 'contiguous' (cut in "
                        "snake order: warm starts along each share), 'cyclic' (point i of the missing "
                        "ones to group i mod K: a costly stretch such as a resonance is spread over the "
                        "groups), 'auto' (contiguous with warm starts, cyclic without)",
                        choices=("auto", "contiguous", "cyclic")),
    },
    "gap": {
        "nev": Key("int", 4, "number of nonzero eigenvalues of L nearest 0", minimum=1),
        "target": Key("float", None, "shift-and-invert target tau, nonzero (default: -0.01 x the "
                      "smallest nonzero decay rate)",
                      check=lambda v: "must not be 0: 0 is the steady state's eigenvalue and L - 0 I is "
                                      "singular; use a small nonzero target" if v == 0 else None),
        "tol": Key("float", 1e-10, "SLEPc convergence tolerance", minimum=0.0, check=_below_one),
        "max_iterations": Key("int", 200, "SLEPc restart limit", minimum=1),
        "deflate": Key("bool", True, "exclude the steady state's eigenvalue 0 exactly (deflation "
                       "space vec(I): the eigenvectors of nonzero eigenvalues are traceless)"),
        "solver": Key("str", "direct", "linear solves of shift-and-invert: 'direct' (MUMPS LU of "
                      "L - tau) or 'sylvester' (GMRES with the preconditioner -(L0 + tau)^-1)",
                      choices=("direct", "sylvester")),
    },
}


def defaults(section: str) -> dict:
    """The defaults of one section of :data:`SCHEMA`, its required keys left out: the library
    functions that take a section as a dict (``gap.liouvillian_gap``, ``rate.solve_rate``,
    ``semiclassical.minimize``) and ``options.validate_section`` fill the keys a caller leaves
    out from here, so that every default has this one home."""
    return {name: copy.deepcopy(key.default) for name, key in SCHEMA[section].items()
            if key.default is not REQUIRED}


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _coerce(section: str, name: str, key: Key, value: Any) -> Any:
    where = f"[{section}] {name}"
    kinds = key.kind.split("|")
    for kind in kinds:
        if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
            out = value
            break
        if kind == "float" and _is_number(value):
            out = float(value)
            break
        if kind == "str" and isinstance(value, str):
            out = value
            break
        if kind == "bool" and isinstance(value, bool):
            out = value
            break
        if kind == "floats" and isinstance(value, list) and all(_is_number(v) for v in value):
            out = [float(v) for v in value]
            break
        if kind == "values" and isinstance(value, dict):
            out = _coerce_values(name, value)
            break
    else:
        expected = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
                    "floats": "a list of numbers", "values": f"a table of [{name}] keys"}
        want = " or ".join(expected[k] for k in kinds)
        raise ConfigError(f"{where} must be {want}, got {value!r}")
    values = out if isinstance(out, list) else [out]
    for v in values:
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(f"{where} must be finite, got {v}")
        if _is_number(v) and abs(v) > MAX_MAGNITUDE:
            raise ConfigError(f"{where} = {v:g} is too large: at most {MAX_MAGNITUDE:g} in magnitude "
                              f"(units of lambda)")
        if key.minimum is not None and _is_number(v) and v < key.minimum:
            if key.minimum == 0.0:
                raise ConfigError(f"{where} must not be negative, got {v}")
            raise ConfigError(f"{where} must be >= {key.minimum:g}, got {v}")
    if key.choices is not None and out not in key.choices:
        raise ConfigError(f"{where} must be one of {', '.join(map(repr, key.choices))}, got {out!r}")
    if key.check is not None:
        msg = key.check(out)
        if msg:
            raise ConfigError(f"{where} {msg}")
    return out


def _coerce_values(target: str, table: dict) -> dict:
    """Kind "values": ``{key: [v, ...] or {start, stop, num}}`` for keys of section ``target``;
    returns ``{key: [checked values]}``."""
    keys = SCHEMA.get(target, {})
    out = {}
    for name, spec in table.items():
        where = f"[sweep.{target}] {name}"
        if name not in keys or keys[name].kind == "values":
            raise ConfigError(f"{where}: {target}.{name} is not a key that can vary "
                              f"(known: {', '.join(k for k in keys if keys[k].kind != 'values')})")
        if isinstance(spec, dict):
            if set(spec) != {"start", "stop", "num"}:
                raise ConfigError(f"{where} must be a list or {{start, stop, num}}, got keys "
                                  f"{', '.join(map(repr, spec))}")
            if not (isinstance(spec["num"], int) and not isinstance(spec["num"], bool) and spec["num"] >= 1):
                raise ConfigError(f"{where}: num must be a positive integer, got {spec['num']!r}")
            if not (_is_number(spec["start"]) and _is_number(spec["stop"])):
                raise ConfigError(f"{where}: start and stop must be numbers")
            n, a, b = spec["num"], float(spec["start"]), float(spec["stop"])
            spec = [a + (b - a) * k / (n - 1) if 0 < k < n - 1 else (a, b)[k > 0] for k in range(n)]
        if not isinstance(spec, list) or not spec:
            raise ConfigError(f"{where} must be a non-empty list of values or {{start, stop, num}}, "
                              f"got {spec!r}")
        try:
            out[name] = [_coerce(target, name, keys[name], v) for v in spec]
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return out


def parse_override(text: str) -> tuple[str, str, Any]:
    """Parse ``section.key=value``; the value is read as TOML (a bare word is a string)."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ConfigError(f"--set expects section.key=value, got {text!r}")
    path, raw = text.split("=", 1)
    section, name = path.strip().split(".", 1)
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return section.strip(), name.strip(), value


def load_config(path: str | Path | None = None, overrides: list[str] | None = None,
                data: dict | None = None) -> dict:
    """Read a TOML file (or take ``data``), apply ``--set`` overrides and validate.

    Returns a new dict with every section of :data:`SCHEMA` present and defaults filled in.
    """
    if data is None:
        if path is None:
            raise ConfigError("no configuration given")
        p = Path(path)
        if p.is_dir():
            raise ConfigError(f"configuration {str(p)!r} is a directory, not a TOML file")
        if not p.is_file():
            raise ConfigError(f"configuration file {str(p)!r} not found")
        try:
            data = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"configuration {str(p)!r} cannot be read: "
                              f"{getattr(exc, 'strerror', None) or exc}") from None
    data = copy.deepcopy(data)
    for text in overrides or []:
        section, name, value = parse_override(text)
        data.setdefault(section, {})
        if not isinstance(data[section], dict):
            raise ConfigError(f"[{section}] is not a table")
        table = data[section]
        *outer, name = name.split(".")      # sweep.drive.detuning=... sets [sweep.drive] detuning
        for part in outer:
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                raise ConfigError(f"--set {text!r}: {section}.{part} is not a table")
        table[name] = value
    return validate(data)


def validate(data: dict) -> dict:
    """Check sections, keys, types and ranges; fill defaults. Raises ConfigError."""
    for section in data:
        if section not in SCHEMA:
            raise ConfigError(f"unknown section [{section}] (known: {', '.join(SCHEMA)})")
        if not isinstance(data[section], dict):
            raise ConfigError(f"[{section}] must be a table")
    out: dict[str, dict] = {}
    for section, keys in SCHEMA.items():
        given = data.get(section, {})
        for name in given:
            if name not in keys:
                raise ConfigError(f"unknown key {name!r} in [{section}] (known: {', '.join(keys)})")
        out[section] = {}
        for name, key in keys.items():
            if given.get(name) is not None:   # None (JSON null from a results file) = not given
                out[section][name] = _coerce(section, name, key, given[name])
            elif key.default is REQUIRED:
                raise ConfigError(f"[{section}] {name} is required ({key.doc})")
            else:
                out[section][name] = copy.deepcopy(key.default)
    _check_qubit_lists(out)
    levels = out["cavity"]["levels"]
    if levels == "auto":
        levels = out["cavity"].get("levels_max", 2)
    n = levels * 2 ** len(out["qubits"]["detuning"])
    if n * n > MAX_ENTRIES:
        raise ConfigError(f"[cavity] levels = {levels} with "
                          f"{len(out['qubits']['detuning'])} qubit(s): rho would have N^2 = {n * n:.3g} "
                          f"entries, beyond any computer")
    return out


def _check_qubit_lists(cfg: dict) -> None:
    m = len(cfg["qubits"]["detuning"])
    for name in ("coupling", "decay"):
        value = cfg["qubits"][name]
        if isinstance(value, list):
            if len(value) != m:
                raise ConfigError(f"[qubits] {name} has {len(value)} entries but detuning has {m} "
                                  f"(one per qubit)")
        else:
            cfg["qubits"][name] = [value] * m


def _toml_value(v) -> str:
    import numpy as np
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, str):
        return json.dumps(v)            # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):             # an inline table, e.g. [sweep] drive = {detuning = [...]}
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def dumps_toml(cfg: dict) -> str:
    """A (validated) configuration as TOML text (keys with value None are left out), readable
    by :func:`load_config`; floats are written exactly (``repr``)."""
    lines = []
    for section, keys in cfg.items():
        lines.append(f"[{section}]")
        for name, value in keys.items():
            if value is not None:
                lines.append(f"{name} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)
