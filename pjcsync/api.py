"""The Python interface: steady states of any Lindbladian from a notebook or under ``mpirun``.

``pjcsync.steadystate(H, c_ops)`` takes QuTiP ``Qobj``, scipy sparse or numpy operators (or a
:class:`~pjcsync.model.Model`, e.g. from :func:`pjcsync.TavisCummings`), builds the
row-distributed Lindbladian of eq. (9) and solves ``L rho = 0``, ``Tr rho = 1`` with the
methods of :mod:`pjcsync.steady` (direct LU, Krylov preconditioned by the Sylvester inverse
``L0^-1`` of eqs. 10-13, or the paper's fixed point, eq. 14).  Every call is *collective*:
in a notebook it runs in one process; under ``mpirun`` every rank calls it with the same
arguments and keeps its own rows of rho (docs/conventions.md).

Options are the keys of the TOML ``[solver]`` section (:class:`pjcsync.options.SolverOptions`)
with the same defaults; an unknown name raises :class:`~pjcsync.config.ConfigError`.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .lindblad import Lindbladian, _is_qobj, as_problem, operator_matrix
from .options import SolverOptions
from .parallel import InputError, RowLayout, allreduce_sum

TC_ONLY_METHODS = ("rate", "rate*")


def _comm(comm):
    if comm is None:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
    return comm


def _initial_array(initial, N: int):
    """A warm start as something :func:`pjcsync.steady.initial_rows` takes."""
    if initial is None:
        return None
    if _is_qobj(initial):
        if initial.isket:
            v = initial.full().ravel()
            return np.outer(v, v.conj())
        return initial.full()
    if sp.issparse(initial):
        return initial.toarray()
    if hasattr(initial, "rho") and hasattr(initial, "layout"):     # a previous result
        return initial.rho
    return initial


class SteadyStateResult:
    """A checked steady state, distributed by rows, with its solver statistics.

    Attributes
    ----------
    problem : Lindbladian or Model
        The problem solved.
    N : int
        Hilbert-space dimension.
    dims : list of int
        Tensor dimensions (from the input ``Qobj`` or the model).
    method : str
        The method that ran (``"direct"``, ``"krylov"``, ``"sylvester"`` ...).
    route : str
        How it was chosen and applied: requested method, chosen method, operator, preconditioner.
    iterations : int
        Iterations of the solver (1 for ``direct``).
    residual_history : list of float
        Monitored residual norms (subsampled to about 50 entries); empty for ``direct``.
    seconds : float
        Wall time of the solve.
    peak_memory : dict
        ``max_rank_bytes`` and ``total_bytes`` of peak resident memory.
    stats : dict
        Every solver statistic (the ``solver`` record of ``pjcsync steady --json``).
    checks : dict
        Post-solve checks: trace before normalization, hermiticity, smallest eigenvalue, residual.
    """

    def __init__(self, state, problem):
        self.state = state
        self.problem = problem
        self.layout = state.layout
        self.stats = state.solver
        self.checks = state.checks

    # --- statistics ------------------------------------------------------------------------
    N = property(lambda self: self.layout.N)
    rho = property(lambda self: self.state.rho, doc="rho as a distributed PETSc Vec (row-major vec)")
    dims = property(lambda self: list(self.problem.dims))
    method = property(lambda self: self.stats["method"])
    iterations = property(lambda self: int(self.stats.get("iterations", 0)))
    seconds = property(lambda self: float(self.stats["seconds"]))
    peak_memory = property(lambda self: dict(self.stats["peak_memory"]))

    @property
    def residual_history(self) -> list[float]:
        return [float(v) for v in self.stats.get("residual_history", [])]

    @property
    def route(self) -> str:
        s = self.stats
        parts = [f"{s.get('requested_method', s['method'])} -> {s['method']}"]
        if "auto" in s:
            parts[0] += f" ({s['auto']})"
        if s.get("operator"):
            parts.append(f"{s['operator']} L")
        pre = s.get("preconditioner")
        if isinstance(pre, dict) and pre.get("kind"):
            parts.append(f"L0^-1 {pre['kind']} ({pre.get('precision', 'double')})")
        if s.get("factorization"):
            parts.append(f"LU {s['factorization']}")
        return ", ".join(parts)

    # --- the state --------------------------------------------------------------------------
    def rows(self) -> np.ndarray:
        """This rank's rows ``[i0, i1)`` of rho, shape ``(rows, N)`` (a view: do not modify)."""
        return self.state.rows()

    def full(self, root: int | None = None) -> np.ndarray | None:
        """The full N x N density matrix (collective).

        Parameters
        ----------
        root : int, optional
            Gather on this rank only (the others get None); default: on every rank.
        """
        rows = np.array(self.rows())
        comm = self.layout.comm
        if root is None:
            return np.concatenate(comm.allgather(rows), axis=0)
        parts = comm.gather(rows, root=root)
        return np.concatenate(parts, axis=0) if comm.Get_rank() == root else None

    def to_qutip(self):
        """rho as a ``qutip.Qobj`` with the problem's ``dims`` (collective; gathered)."""
        from .qutip_interop import to_qutip
        return to_qutip(self.full(), dims=self.dims, kind="oper")

    def expect(self, op):
        """``Tr(op rho)`` (collective): a float for a Hermitian ``op``, else a complex.

        Parameters
        ----------
        op : Qobj, scipy sparse matrix or array_like
            An N x N operator (or a list of them: a list of values is returned).
        """
        if isinstance(op, (list, tuple)):
            return [self.expect(o) for o in op]
        from .observables import expect
        m, _ = operator_matrix(op, "op")
        if m.shape[0] != self.N:
            raise InputError(f"op is {m.shape[0]} x {m.shape[0]} but rho is {self.N} x {self.N}")
        value = expect(m, self.rows(), self.layout)
        herm = abs(m - m.conj().T)
        if not herm.nnz or herm.max() <= 1e-12 * max(abs(m).max(), 1e-300):
            return float(value.real)
        return complex(value)

    def observables(self) -> dict:
        """The named observables of the paper's figures (``n``, ``a``, ``sigma``, ``S2``,
        ``singlet``, ``negativity``, ``chsh``, ``theta`` ...), as ``pjcsync steady --json``
        reports them; only for the Tavis-Cummings model (docs/conventions.md)."""
        from .model import Model
        if not isinstance(self.problem, Model):
            raise InputError("observables() needs the Tavis-Cummings model (pjcsync.TavisCummings); "
                             "use expect(op) for a general problem")
        from .observables import basic_observables, entanglement_observables
        obs = basic_observables(self.problem, self.rows(), self.layout)
        obs.update(entanglement_observables(self.problem, self.rows(), self.layout, sigma=obs["sigma"]))
        return obs

    def trace(self) -> complex:
        """``Tr rho`` (collective; 1 after the checks)."""
        lay = self.layout
        i = np.arange(lay.i0, lay.i1)
        return complex(allreduce_sum(self.rows()[i - lay.i0, i].sum(), lay.comm))

    def to_dict(self) -> dict:
        """Statistics and checks as plain data (the ``solver`` and ``checks`` records)."""
        return {"N": self.N, "dims": self.dims, "route": self.route, "solver": dict(self.stats),
                "checks": dict(self.checks)}

    def __repr__(self) -> str:
        return (f"<SteadyStateResult N={self.N} dims={self.dims} method={self.method} "
                f"iterations={self.iterations} residual={self.checks.get('relative_residual', float('nan')):.2e}>")


def steadystate(H, c_ops=None, *, method: str = "auto", initial=None, dims=None, comm=None,
                **options) -> SteadyStateResult:
    """The steady state of the Lindblad equation ``d rho/dt = L rho`` (eq. 9): ``L rho = 0``,
    ``Tr rho = 1``.  Collective: under MPI every rank calls it with the same arguments.

    Parameters
    ----------
    H : Qobj, scipy sparse matrix, array_like or Model
        The Hamiltonian (N x N, Hermitian; hbar = 1), or a model (:func:`pjcsync.TavisCummings`,
        :class:`pjcsync.model.Model`) that brings its Hamiltonian and collapse operators.
    c_ops : list of Qobj, sparse matrices or arrays, optional
        Collapse operators ``L_k`` with their rates (``sqrt(gamma) a``).  At least one is
        needed for a unique steady state.
    method : {"auto", "direct", "krylov", "sylvester"}
        ``direct``: sparse LU (MUMPS) of L with one equation replaced by the trace;
        ``krylov``: GMRES on the bordered system, right-preconditioned by ``-L0^-1``;
        ``sylvester``: the fixed point ``L0 rho_{m+1} = L1 rho_m`` (eq. 14), when it converges;
        ``auto``: ``direct`` for small N, ``krylov`` otherwise.  (``rate``/``rate*``: the
        Tavis-Cummings model only.)
    initial : array_like, Qobj or SteadyStateResult, optional
        Warm start of the iterative methods (a density matrix or ket).
    dims : list of int, optional
        Tensor dimensions (default: from the ``Qobj`` inputs, else ``[N]``).
    comm : mpi4py communicator, optional
        Default ``MPI.COMM_WORLD``.
    **options
        Any ``[solver]`` option: ``rtol`` (1e-10, target ``||L rho|| / (||L|| ||rho||)``),
        ``max_iterations``, ``initial_guess``, ``operator``, ``preconditioner``,
        ``preconditioner_precision``, ``check_tolerance`` (see docs/guide.md).

    Returns
    -------
    SteadyStateResult
        The state (distributed rows; ``.full()``, ``.to_qutip()``, ``.expect(op)``) with
        solver statistics and checks.

    Raises
    ------
    pjcsync.config.ConfigError
        Unknown or invalid option (lists the known ones).
    pjcsync.parallel.InputError
        Malformed operators.
    pjcsync.parallel.PjcsyncError
        The solve failed or its result failed the checks (trace, hermiticity, positivity,
        residual); no state is returned.

    Examples
    --------
    >>> import qutip, pjcsync
    >>> a = qutip.destroy(10)
    >>> res = pjcsync.steadystate(0.5 * (a + a.dag()), [a])
    >>> n = res.expect(a.dag() * a)
    """
    from .steady import steady_state
    problem = as_problem(H, c_ops, dims)
    opts = SolverOptions.from_dict(options, what="pjcsync.steadystate", method=method)
    if opts.method in TC_ONLY_METHODS and isinstance(problem, Lindbladian):
        raise InputError(f"method {opts.method!r} is the Tavis-Cummings rate series: it needs a "
                         f"pjcsync.TavisCummings model")
    layout = RowLayout.create(problem.N, _comm(comm))
    state = steady_state(problem, opts.to_dict(), layout, initial=_initial_array(initial, problem.N))
    return SteadyStateResult(state, problem)
