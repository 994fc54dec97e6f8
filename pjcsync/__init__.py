"""pjcsync: distributed Lindblad solver for a driven cavity coupled to dissipative qubits.

The physics is that of Chepelianskii & Shepelyansky, Entropy 26, 415 (2024); equation numbers
in docstrings are the paper's.  Importing pjcsync does not initialize PETSc: the command line
initializes it with its PETSc options first; in Python, ``import petsc4py; petsc4py.init(args)``
before importing the solver modules if you need options.

The Python interface (docs/conventions.md; README "From Python"): ``steadystate``, ``mesolve``
and ``liouvillian_gap`` for any Lindbladian, ``TavisCummings`` for the paper's model, ``load``
for results files, ``to_qutip``/``from_qutip``, and the errors ``InputError`` (bad input),
``ConfigError`` (a bad option) and ``PjcsyncError`` (a failed computation).
"""
__version__ = "0.1.0"

_LAZY = {"to_qutip": "qutip_interop", "from_qutip": "qutip_interop", "load": "results",
         "steadystate": "api", "SteadyStateResult": "api", "mesolve": "api", "EvolutionResult": "api",
         "liouvillian_gap": "api", "GapResult": "api", "Lindbladian": "lindblad",
         "TavisCummings": "model", "Model": "model",
         "Error": "errors", "InputError": "errors", "ConfigError": "errors", "PjcsyncError": "errors"}


def __getattr__(name):
    """Lazy re-exports (``pjcsync.steadystate``, ``pjcsync.load`` ...): the modules behind them
    are imported on first use, so ``import pjcsync`` stays light."""
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
