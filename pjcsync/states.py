"""Initial states: the one loader of the density matrix a computation starts from.

A state is given either by name (``[solver] initial_guess``, ``[evolve] initial``) or as data
(:class:`GivenState`, a PETSc Vec, a numpy array, a ket, a QuTiP ``Qobj``).  Files are read by
the callers above the solvers (the results layer, :func:`pjcsync.results.initial_guess`, and the
command line), which hand the data down as a :class:`GivenState` naming the file: the solvers
never import the results layer (data flows one way, README "Design").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NAMED_GUESSES = ("identity", "ground", "rate")     # [solver] initial_guess values that are no file


@dataclass(frozen=True)
class GivenState:
    """A density matrix handed to a solver as data, with where it came from.

    ``rho``: a PETSc Vec distributed like rho, the full N x N array or this rank's rows;
    ``source``: reported as the solver's ``initial_guess`` (a file's path, or ``"argument"``)."""

    rho: Any
    source: str = "argument"
