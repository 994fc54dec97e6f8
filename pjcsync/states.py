"""Initial states: the one loader of the density matrix a computation starts from.

:func:`initial_rows` gives this rank's rows of rho (``RowLayout``) for every way a starting
state is named or given:

* by name: ``"identity"`` (``I / N``) or ``"ground"`` (the basis state of
  ``ground_state_index()``: ``|n = 0, down, ..., down>`` for the Tavis-Cummings model);
* as the path of an ``.npy`` file holding rho (N x N, ``[evolve] initial``);
* as data: a :class:`GivenState` (data and where it came from), a PETSc Vec distributed like rho,
  a result with ``rho`` and ``layout`` (a previous steady state), a QuTiP ``Qobj`` (ket or density
  matrix), a scipy sparse matrix, or a numpy array (the full N x N rho, this rank's rows, or a
  ket of length N).

The callers (:func:`pjcsync.steady.steady_state`, :func:`pjcsync.evolve.evolve`,
:func:`pjcsync.mesolve`, :func:`pjcsync.steadystate`) differ only in what they require of the
trace (``trace=``) and in the name they give the state in messages (``what=``).  States that need
a solver (``"rate"``, ``"steady"``) are computed by the caller and handed in as data; results
files are read above the solvers (:func:`pjcsync.results.initial_guess`, the command line), so
that no solver imports the results layer (README, "Design").  Bad input raises
:class:`~pjcsync.parallel.InputError` (exit status 2 on the command line).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .lindblad import _is_qobj, operator_matrix
from .operators import DTYPE
from .parallel import InputError

NAMED_GUESSES = ("identity", "ground", "rate")     # [solver] initial_guess values that are no file
BUILT = ("identity", "ground")                      # the names initial_rows builds itself
TRACE_MODES = (None, "normalize", "check")


@dataclass(frozen=True)
class GivenState:
    """A density matrix handed to a solver as data, with where it came from.

    ``rho``: anything :func:`initial_rows` takes as data; ``source``: reported as the solver's
    ``initial_guess`` (a file's path, ``"rate"``, or ``"argument"``)."""

    rho: Any
    source: str = "argument"


def initial_rows(state, model, layout, *, what: str = "initial state",
                 trace: str | None = None) -> tuple[np.ndarray, str]:
    """This rank's rows of a starting density matrix, and where it came from.

    Parameters
    ----------
    state : str or data
        A name of ``BUILT``, the path of an ``.npy`` file, or data (see the module docstring).
    model
        The problem (a :class:`~pjcsync.model.Model` or :class:`~pjcsync.lindblad.Lindbladian`):
        ``ground_state_index()`` for ``"ground"``.
    layout : RowLayout
        The rows of rho this rank holds.
    what : str
        The state's name in messages (``"[evolve] initial"``, ``"rho0"`` ...).
    trace : {None, "normalize", "check"}
        None: the state as given; ``"normalize"``: divided by its trace (which must be finite and
        nonzero); ``"check"``: it must be a density matrix
        (:func:`pjcsync.validate.density_matrix_checks`: finite, unit trace, Hermitian,
        positive), and its Hermitian part is returned.

    Returns
    -------
    rows : numpy.ndarray
        complex, shape ``(layout.rows, N)``, a new array.
    source : str
        The name, the file's path, or the :class:`GivenState`'s source (``"argument"`` for
        other data).

    Raises
    ------
    pjcsync.parallel.InputError
        An unknown name, a missing or unreadable file, data of the wrong size, or (``trace``)
        no density matrix.
    """
    if trace not in TRACE_MODES:
        raise ValueError(f"trace must be one of {TRACE_MODES}, got {trace!r}")
    N = layout.N
    if isinstance(state, str):
        source = state
        if state in BUILT:
            rows = np.zeros((layout.rows, N), dtype=DTYPE)
            if state == "identity":
                i = np.arange(layout.i0, layout.i1)
                rows[i - layout.i0, i] = 1.0 / N
            else:
                g = model.ground_state_index()
                if layout.i0 <= g < layout.i1:
                    rows[g - layout.i0, g] = 1.0
        elif state.endswith(".npy"):
            rows = np.array(_read_npy(state, N, what)[layout.i0:layout.i1], dtype=DTYPE)
        else:
            raise InputError(f"{what} must be {' or '.join(map(repr, BUILT))}, an .npy file or data, got {state!r}")
    else:
        source = "argument"
        if isinstance(state, GivenState):
            state, source = state.rho, state.source
        rows = _data_rows(state, layout, what)
    if trace == "check":
        from .validate import density_matrix_checks
        _, problems = density_matrix_checks(rows, layout, what=what, normalize=False)
        if problems:
            raise InputError("; ".join(problems))
    elif trace == "normalize":
        from .parallel import allreduce_sum
        i = np.arange(layout.i0, layout.i1)
        tr = complex(allreduce_sum(rows[i - layout.i0, i].sum(), layout.comm))
        if not np.isfinite(tr) or abs(tr) < 1e-300:
            raise InputError(f"{what} ({source}) has trace {tr}: not a density matrix")
        rows = rows / tr
    return rows, source


def _data_rows(state, layout, what: str) -> np.ndarray:
    """This rank's rows (a new array) of a state given as data."""
    N = layout.N
    if hasattr(state, "rho") and hasattr(state, "layout"):          # a previous result
        state = state.rho
    if hasattr(state, "getArray"):                                   # a PETSc Vec
        arr = state.getArray(readonly=True).copy()
    elif sp.issparse(state) or _is_qobj(state) or (np.ndim(state) == 1 and len(state) == N):
        arr = full_matrix(state, what)
    else:
        try:
            arr = np.asarray(state, dtype=DTYPE)
        except (TypeError, ValueError):
            raise InputError(f"{what} must be a density matrix (array, Qobj, sparse matrix or PETSc Vec), "
                             f"got {type(state).__name__}") from None
    if arr.ndim == 2 and arr.shape[0] == arr.shape[1] and arr.shape != (N, N) and arr.shape[0] != layout.rows:
        raise InputError(f"{what} is {arr.shape[0]} x {arr.shape[1]} but the problem is {N} x {N}")
    if arr.shape == (N, N):
        arr = arr[layout.i0:layout.i1]
    if arr.size != layout.local_size:
        raise InputError(f"{what} has {arr.size} local entries, expected {layout.local_size} "
                         f"(rows {layout.i0}..{layout.i1} of a {N} x {N} density matrix)")
    return np.array(arr, dtype=DTYPE).reshape(layout.rows, N)


def full_matrix(state, what: str = "initial state") -> np.ndarray:
    """The whole density matrix (a new complex array) of a state given without a layout, of its
    own dimension: a ket (``Qobj`` or 1-D array: ``|v><v|``), a ``Qobj`` density matrix, a scipy
    sparse matrix or a square array_like.  Raises :class:`~pjcsync.parallel.InputError` for
    anything else (:func:`pjcsync.lindblad.operator_matrix`)."""
    if (state.isket if _is_qobj(state) else not sp.issparse(state) and np.ndim(state) == 1):
        v = (state.full() if _is_qobj(state) else np.asarray(state, dtype=DTYPE)).ravel()
        return np.outer(v, v.conj())
    return operator_matrix(state, what)[0].toarray()


def _read_npy(path: str, N: int, what: str) -> np.ndarray:
    """rho (N x N) from an ``.npy`` file, memory-mapped."""
    if not os.path.isfile(path):
        raise InputError(f"{what}: file {path!r} not found")
    try:
        arr = np.load(path, mmap_mode="r")
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"{what}: {path!r} is not a readable .npy array: {' '.join(str(exc).split())}") from None
    if arr.dtype.kind not in "biufc":
        raise InputError(f"{what}: {path!r} holds {arr.dtype} values, need numbers (complex rho)")
    if arr.shape != (N, N):
        raise InputError(f"{what}: {path!r} holds a {arr.shape} array, need ({N}, {N})")
    return arr
