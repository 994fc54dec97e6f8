"""PETSc options given on the command line: type names checked before any work, options that
nothing used reported, PETSc errors turned into one line.

* :func:`check_types`: every ``-[prefix]ksp_type``, ``pc_type``, ``ts_type``, ``eps_type``,
  ``st_type`` value is tried on a throw-away object of that class (on ``COMM_SELF``: the same
  answer on every rank, no communication), so that ``-ksp_type nonsense`` is a bad input
  (exit 2) found before the computation, whichever method would have read it.
* :func:`unused_options`: the options nothing queried during the run (PETSc's
  ``PetscOptionsLeftGet``, the machinery behind ``-options_left``), e.g. a misspelt
  ``-ksp_moniter``.
* :func:`set_from_options`: ``obj.setFromOptions()`` with a value PETSc cannot read
  (``-ksp_rtol abc``, ``-ts_max_steps 1.5``) turned into a bad input (exit 2, one line).
* :func:`error_line`: the one line of a ``PETSc.Error`` (its innermost message).
"""
from __future__ import annotations

import ctypes

_TYPE_OPTIONS = ("ksp_type", "pc_type", "ts_type", "eps_type", "st_type")


def check_types(opts: dict | None = None) -> None:
    """Raise :class:`pjcsync.parallel.InputError` for an unknown PETSc/SLEPc type name."""
    from petsc4py import PETSc
    from .parallel import InputError
    opts = PETSc.Options().getAll() if opts is None else opts
    for name, value in opts.items():
        suffix = next((s for s in _TYPE_OPTIONS if name == s or name.endswith("_" + s)), None)
        if suffix is None or not isinstance(value, str) or not value:
            continue
        obj = None
        try:
            if suffix == "ksp_type":
                obj = PETSc.KSP().create(PETSc.COMM_SELF)
            elif suffix == "pc_type":
                obj = PETSc.PC().create(PETSc.COMM_SELF)
            elif suffix == "ts_type":
                obj = PETSc.TS().create(PETSc.COMM_SELF)
            else:
                from slepc4py import SLEPc
                obj = (SLEPc.EPS() if suffix == "eps_type" else SLEPc.ST()).create(PETSc.COMM_SELF)
            obj.setType(value)
        except PETSc.Error:
            kind = suffix.split("_")[0].upper()
            raise InputError(f"PETSc option -{name} {value}: unknown {kind} type {value!r}") from None
        except ImportError:
            pass
        finally:
            if obj is not None:
                obj.destroy()


def set_from_options(obj, what: str) -> None:
    """``obj.setFromOptions()`` (a KSP, TS, EPS ...); raises
    :class:`pjcsync.parallel.InputError` naming ``what`` and PETSc's message when an option's
    value is rejected (every rank reads the same options, so every rank raises)."""
    from petsc4py import PETSc
    from .parallel import InputError
    try:
        obj.setFromOptions()
    except PETSc.Error as exc:
        raise InputError(f"PETSc options for {what} rejected: {error_line(exc)}") from None


def get_int(name: str, default: int, prefix: str | None = None) -> int:
    """``-[prefix]name`` as an integer (``default`` if absent); a value that is not one is a
    bad input (:class:`pjcsync.parallel.InputError`)."""
    from petsc4py import PETSc
    from .parallel import InputError
    opts = PETSc.Options(prefix)
    if not opts.hasName(name):
        return default
    try:
        return opts.getInt(name, default)
    except PETSc.Error as exc:
        raise InputError(f"PETSc option -{prefix or ''}{name} {opts.getString(name, '')!r}: "
                         f"{error_line(exc)}") from None


def _libpetsc():
    """The loaded PETSc shared library (the one petsc4py uses)."""
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 6 and "/libpetsc" in fields[-1] and ".so" in fields[-1]:
                return ctypes.CDLL(fields[-1])
    return None


def unused_options() -> list[str]:
    """Names (``-name`` or ``-name value``) of the options in PETSc's database that were never
    queried; empty if PETSc's library cannot be reached."""
    try:
        lib = _libpetsc()
        if lib is None:
            return []
        import numpy as np
        from petsc4py import PETSc
        n = (ctypes.c_int64 if np.dtype(PETSc.IntType).itemsize == 8 else ctypes.c_int)(0)   # PetscInt
        names, values = ctypes.POINTER(ctypes.c_char_p)(), ctypes.POINTER(ctypes.c_char_p)()
        if lib.PetscOptionsLeftGet(None, ctypes.byref(n), ctypes.byref(names), ctypes.byref(values)):
            return []
        out = []
        for i in range(n.value):
            name = names[i].decode()
            value = values[i].decode() if values[i] else None
            out.append(f"-{name}" + (f" {value}" if value else ""))
        lib.PetscOptionsLeftRestore(None, ctypes.byref(n), ctypes.byref(names), ctypes.byref(values))
        return out
    except (OSError, AttributeError, ValueError):
        return []


def error_line(exc) -> str:
    """One line for a ``PETSc.Error``: the innermost message of PETSc's traceback and its code."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    msgs = [ln[3:].strip() if ln.startswith("[") and "]" in ln[:6] else ln for ln in lines[1:]]
    msgs = [m for m in msgs if not m.endswith(")") or " at " not in m]
    text = msgs[-1] if msgs else (lines[0] if lines else "PETSc error")
    return f"PETSc error {getattr(exc, 'ierr', '?')}: {text}"
