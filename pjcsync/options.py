"""Typed option objects, built and validated from the configuration schema.

:data:`pjcsync.config.SCHEMA` is the one home of every option's kind, default, range and
documentation.  For each of its sections this module makes a frozen dataclass
(``SolverOptions``, ``EvolveOptions``, ``GapOptions`` ...), whose fields and defaults are read
from the schema, so the library path (``pjcsync.steadystate(H, c_ops, rtol=1e-12)``) and the
TOML path (``[solver] rtol = 1e-12``) accept the same names, apply the same defaults and
reject the same mistakes: an unknown or misspelled option raises
:class:`~pjcsync.config.ConfigError` naming the known ones (exit status 2 on the command line).
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
from typing import Any

from .config import REQUIRED, SCHEMA, ConfigError, _coerce, defaults

_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "floats": list,
          "float|floats": Any, "str|float": Any, "values": dict}


def unknown_option_error(name: str, known, what: str) -> ConfigError:
    """The error for an unknown option ``name`` of ``what``: lists the known options and
    suggests the closest one."""
    near = difflib.get_close_matches(str(name), list(known), n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return ConfigError(f"unknown option {name!r} for {what}{hint}; known options: {', '.join(known)}")


def validate_section(section: str, given: dict | None, what: str | None = None) -> dict:
    """The options of ``[section]`` from ``given`` checked against the schema, defaults filled.

    ``what`` names the caller in messages (default ``[section]``).  Values of None mean "not
    given".  Raises :class:`~pjcsync.config.ConfigError`."""
    keys = SCHEMA[section]
    what = what or f"[{section}]"
    given = dict(given or {})
    for name in given:
        if name not in keys:
            raise unknown_option_error(name, keys, what)
    out = defaults(section)
    for name, key in keys.items():
        if given.get(name) is not None:
            out[name] = _coerce(section, name, key, given[name])
        elif key.default is REQUIRED:
            raise ConfigError(f"{what}: {name} is required ({key.doc})")
    return out


def _make(section: str):
    keys = SCHEMA[section]
    required = [(n, _TYPES.get(k.kind, Any)) for n, k in keys.items() if k.default is REQUIRED]
    optional = []
    for n, k in keys.items():
        if k.default is REQUIRED:
            continue
        default = k.default
        if isinstance(default, (list, dict)):
            f = dataclasses.field(default_factory=lambda d=default: copy.deepcopy(d))
        else:
            f = dataclasses.field(default=default)
        optional.append((n, _TYPES.get(k.kind, Any), f))
    name = "".join(p.capitalize() for p in section.split("_")) + "Options"
    doc = (f"Options of ``[{section}]`` (fields, defaults and checks from ``config.SCHEMA``).\n\n"
           + "\n".join(f"``{n}``: {k.doc}" for n, k in keys.items()))

    def from_dict(cls, given: dict | None = None, what: str | None = None, **kwargs):
        """Validated options from a mapping (and/or keywords); unknown names raise ConfigError."""
        data = dict(given or {})
        data.update(kwargs)
        return cls(**validate_section(section, data, what))

    def to_dict(self) -> dict:
        """The options as a plain dict (the form of a TOML section)."""
        return {f.name: copy.deepcopy(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def replace(self, what: str | None = None, **changes):
        """A copy with ``changes`` applied and validated."""
        return type(self).from_dict({**self.to_dict(), **changes}, what)

    cls = dataclasses.make_dataclass(name, required + optional, frozen=True,
                                     namespace={"from_dict": classmethod(from_dict),
                                                "to_dict": to_dict, "replace": replace,
                                                "section": section})
    cls.__doc__ = doc
    cls.__module__ = __name__
    return cls


OPTION_CLASSES = {section: _make(section) for section in SCHEMA}
SolverOptions = OPTION_CLASSES["solver"]
EvolveOptions = OPTION_CLASSES["evolve"]
GapOptions = OPTION_CLASSES["gap"]
FloquetOptions = OPTION_CLASSES["floquet"]
RateOptions = OPTION_CLASSES["rate"]
SemiclassicalOptions = OPTION_CLASSES["semiclassical"]
