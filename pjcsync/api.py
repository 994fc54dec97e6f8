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

from .lindblad import Lindbladian, as_problem, operator_matrix
from .options import SolverOptions
from .parallel import InputError, RowLayout, allreduce_sum

TC_ONLY_METHODS = ("rate", "rate*")


def _comm(comm):
    if comm is None:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
    return comm


class SteadyStateResult:
    """A checked steady state, distributed by rows, with its solver statistics.

    Attributes
    ----------
    problem : Lindbladian or Model
        The problem solved; for a model with ``levels = "auto"`` the model of the chosen n_c
        (every step is in ``stats["levels"]``).
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
        """This rank's rows of rho.

        Returns
        -------
        numpy.ndarray
            Rows ``[i0, i1)`` of ``self.layout``, shape ``(rows, N)``, complex (a view: do not
            modify).
        """
        return self.state.rows()

    def full(self, root: int | None = None) -> np.ndarray | None:
        """The full N x N density matrix (collective).

        Parameters
        ----------
        root : int, optional
            Gather on this rank only (the others get None); default: on every rank.

        Returns
        -------
        numpy.ndarray or None
            ``rho[i, j]`` (N x N, complex), in the basis order of docs/conventions.md.
        """
        rows = np.array(self.rows())
        comm = self.layout.comm
        if root is None:
            return np.concatenate(comm.allgather(rows), axis=0)
        parts = comm.gather(rows, root=root)
        return np.concatenate(parts, axis=0) if comm.Get_rank() == root else None

    def to_qutip(self):
        """rho as a QuTiP object (collective; gathered on every rank).

        Returns
        -------
        qutip.Qobj
            The density matrix with the problem's ``dims``.
        """
        from .qutip_interop import to_qutip
        return to_qutip(self.full(), dims=self.dims, kind="oper")

    def expect(self, op):
        """``Tr(op rho)`` (collective): a float for a Hermitian ``op``, else a complex.

        Parameters
        ----------
        op : Qobj, scipy sparse matrix or array_like
            An N x N operator (or a list of them: a list of values is returned).

        Returns
        -------
        float, complex or list
            ``Tr(op rho)``.

        Raises
        ------
        pjcsync.parallel.InputError
            ``op`` is not an N x N operator.
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
        reports them (collective).

        Returns
        -------
        dict
            Name -> value; the names and their meanings are in docs/conventions.md.

        Raises
        ------
        pjcsync.parallel.InputError
            The problem is not the Tavis-Cummings model (use :meth:`expect`).
        """
        from .model import Model
        if not isinstance(self.problem, Model):
            raise InputError("observables() needs the Tavis-Cummings model (pjcsync.TavisCummings); "
                             "use expect(op) for a general problem")
        from .observables import all_observables
        return all_observables(self.problem, self.rows(), self.layout)

    def trace(self) -> complex:
        """``Tr rho`` (collective; 1 after the checks)."""
        lay = self.layout
        i = np.arange(lay.i0, lay.i1)
        return complex(allreduce_sum(self.rows()[i - lay.i0, i].sum(), lay.comm))

    def save(self, path, rho: bool = True) -> None:
        """Write the state to a pjcsync results file (HDF5; collective): the same file as
        ``pjcsync steady --out PATH [--save-rho]``, read by ``pjcsync.load`` and ``pjcsync show``.

        For the Tavis-Cummings model it holds the model's configuration and observables; for a
        general problem the solver record carries ``N`` and ``dims``.

        Parameters
        ----------
        path : str or pathlib.Path
            The file to write; it appears complete or not at all.
        rho : bool
            Store rho itself (the dataset ``rho``), not only the statistics and observables.
        """
        from .model import Model
        from .results import write_steady
        is_tc = isinstance(self.problem, Model)
        point = {"config": self.problem.to_config() if is_tc else {},
                 "solver": {**self.stats, "N": self.N, "dims": self.dims}, "checks": dict(self.checks),
                 "warnings": [], "observables": self.observables() if is_tc else {}}
        write_steady(path, point, np.array(self.rows()) if rho else None, self.layout)

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
        :class:`pjcsync.model.Model`) that brings its Hamiltonian and collapse operators; a model
        with ``levels = "auto"`` is solved with growing n_c (:mod:`pjcsync.truncation`).
    c_ops : list of Qobj, sparse matrices or arrays, optional
        Collapse operators ``L_k`` with their rates (``sqrt(gamma) a``).  At least one is
        needed for a unique steady state.
    method : {"auto", "direct", "krylov", "sylvester"}
        ``direct``: sparse LU (MUMPS) of L with one equation replaced by the trace;
        ``krylov``: a Krylov method (:func:`pjcsync.choices.krylov_settings`: flexible
        BiCGStab unless chosen) on the bordered system, right-preconditioned by ``-L0^-1``;
        ``sylvester``: the fixed point ``L0 rho_{m+1} = L1 rho_m`` (eq. 14), when it converges;
        ``auto``: ``direct`` for small N, ``krylov`` otherwise.  (``rate``/``rate*``: the
        Tavis-Cummings model only.)
    initial : array_like, Qobj, SteadyStateResult or PETSc Vec, optional
        Warm start of the iterative methods: a density matrix or ket, anything
        :func:`pjcsync.states.initial_rows` takes (normalized to unit trace); with
        ``levels = "auto"`` a state of any number of cavity levels (the first n_c tried is then
        its own).
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
    if opts.initial_guess == "rate" and isinstance(problem, Lindbladian):
        raise InputError("initial_guess = 'rate' is the Tavis-Cummings rate series: it needs a "
                         "pjcsync.TavisCummings model")
    auto_levels = getattr(problem, "auto_levels", None) is not None
    if initial is None:         # a results file named by initial_guess (of any n_c with levels = "auto")
        from .results import initial_guess
        initial = initial_guess(opts.to_dict(), None if auto_levels else problem.N)
    if auto_levels:             # levels = "auto": n_c chosen here
        from .truncation import adaptive_steady_state
        rows, start = _auto_initial(initial, problem, _comm(comm))
        state = adaptive_steady_state(problem, opts.to_dict(), problem.auto_levels.to_cavity(), _comm(comm),
                                      initial=rows, initial_model=start)
        return SteadyStateResult(state, state.model)
    layout = RowLayout.create(problem.N, _comm(comm))
    x0 = initial
    if isinstance(problem, Lindbladian):
        state = steady_state(problem, opts.to_dict(), layout, initial=x0)
    else:       # the Tavis-Cummings model: as pjcsync steady (coarse start of the iterative methods)
        from .truncation import coarse_started_steady_state
        state = coarse_started_steady_state(problem, opts.to_dict(), layout, initial=x0)
    return SteadyStateResult(state, problem)


def _auto_initial(initial, model, comm):
    """A warm start of the adaptive truncation: ``(this rank's rows, its model)`` of a state with
    any number of levels (a previous Tavis-Cummings result, or a full density matrix / ket of
    dimension ``n 2^M``), or ``(None, None)``."""
    if initial is None:
        return None, None
    from .model import Model
    from .truncation import levels_start
    if isinstance(initial, SteadyStateResult):
        if not isinstance(initial.problem, Model) or initial.problem.M != model.M:
            raise InputError(f"initial: a result of a Tavis-Cummings model with {model.M} qubit(s) is needed "
                             f"for a levels = 'auto' warm start")
        return np.array(initial.rows()), initial.problem
    from .states import GivenState, full_matrix
    if isinstance(initial, GivenState):
        return levels_start(initial.rho, model, comm, f"initial_guess {initial.source!r}")
    return levels_start(full_matrix(initial, "initial"), model, comm)


# --- time evolution ---------------------------------------------------------------------------

class EvolutionResult:
    """The result of :func:`mesolve`: ``times``, ``expect`` (one array per ``e_ops`` entry, as
    QuTiP), ``states`` (gathered N x N arrays at every time when requested) and ``stats``.

    ``final_state()`` gives the last rho as ``Qobj``-ready array (collective, gathered)."""

    def __init__(self, times, expect, states, stats, final_rows, layout, dims):
        self.times = np.asarray(times)
        self.expect = expect
        self.states = states
        self.stats = stats
        self.layout = layout
        self.dims = dims
        self._final = final_rows

    def final_state(self) -> np.ndarray:
        """The full N x N rho at the last time (collective)."""
        return np.concatenate(self.layout.comm.allgather(self._final), axis=0)

    def __repr__(self) -> str:
        return f"<EvolutionResult {len(self.times)} times, {len(self.expect)} e_ops, {self.stats['steps']} steps>"


def mesolve(H, rho0, tlist, c_ops=None, e_ops=None, *, options: dict | None = None,
            store_states: bool | None = None, dims=None, comm=None, **kwargs) -> EvolutionResult:
    """Integrate the Lindblad equation (eq. 9) from ``rho0`` over ``tlist`` (QuTiP's ``mesolve``
    arguments).  Collective under MPI.

    Parameters
    ----------
    H : Qobj, scipy sparse matrix, array_like or Model
        Time-independent Hamiltonian (hbar = 1), or a model (its RWA Hamiltonian, eq. 3).
    rho0 : Qobj, array_like
        Initial density matrix (Hermitian, unit trace, positive) or ket.
    tlist : array_like
        Increasing output times; the first is the initial time.
    c_ops : list, optional
        Collapse operators with their rates.
    e_ops : list, optional
        Operators whose expectation values are recorded at every time.
    store_states : bool, optional
        Keep the gathered rho at every time (default: when there are no ``e_ops``, as QuTiP).
    options : dict, optional
        As QuTiP's ``options``: ``{"rtol": ..., "atol": ...}`` (same as keywords).
    **kwargs
        ``rtol`` (1e-8), ``atol`` (1e-10) of the adaptive Runge-Kutta steps (``[evolve]``
        defaults); PETSc ``-ts_*`` options apply too.  Any other name is a ConfigError.

    Returns
    -------
    EvolutionResult
        ``times``, ``expect`` (list of arrays; real for Hermitian operators), ``states``, ``stats``.

    Raises
    ------
    pjcsync.config.ConfigError
        An unknown or invalid option (lists the known ones).
    pjcsync.parallel.InputError
        Malformed operators, ``rho0`` not a density matrix of H's size (checked by
        :func:`pjcsync.validate.density_matrix_checks`), or ``tlist`` not increasing.
    pjcsync.parallel.PjcsyncError
        The time integration failed in PETSc.
    """
    from .evolve import Generator, advance_to, dormand_prince
    from .options import validate_section
    problem = as_problem(H, c_ops, dims)
    options = {**(options or {}), **kwargs}
    unknown = set(options) - {"rtol", "atol"}
    if unknown:
        from .options import unknown_option_error
        raise unknown_option_error(sorted(unknown)[0], ["rtol", "atol"], "pjcsync.mesolve")
    ev = validate_section("evolve", options, "pjcsync.mesolve")
    times = np.asarray(tlist, dtype=float).ravel()
    if times.size < 1 or not np.all(np.isfinite(times)) or np.any(np.diff(times) <= 0):
        raise InputError("tlist must be a non-empty list of increasing finite times")
    e_list = list(e_ops or [])
    mats = [operator_matrix(o, f"e_ops[{k}]")[0] for k, o in enumerate(e_list)]
    for k, m in enumerate(mats):
        if m.shape[0] != problem.N:
            raise InputError(f"e_ops[{k}] is {m.shape[0]} x {m.shape[0]} but H is {problem.N} x {problem.N}")
    store = (not e_list) if store_states is None else bool(store_states)
    layout = RowLayout.create(problem.N, _comm(comm))
    from .states import initial_rows
    rows = initial_rows(rho0, problem, layout, what="rho0", trace="check")[0]
    gen = Generator(problem, layout, "rotating")
    # expectation values as linear functionals Tr(O rho) = vec(O^T) . vec(rho)
    W = sp.vstack([sp.csr_matrix(m.T)[layout.i0:layout.i1].reshape(1, layout.local_size) for m in mats]
                  + [sp.csr_matrix((1, layout.local_size))], format="csr")
    herm = [not (abs(m - m.conj().T) > 1e-12 * max(abs(m).max(), 1e-300)).nnz for m in mats]
    u = gen.half[0][0].createVecRight()
    u.setArray(rows.ravel())
    scale = abs(problem.hamiltonian()).max() + sum(abs(c).max() ** 2 for c in problem.collapse_operators())
    dt = 0.05 / max(scale, 1e-300)
    if times.size > 1:
        dt = min(dt, times[1] - times[0])
    ts = dormand_prince(gen, u, ev["rtol"], ev["atol"], times[0], dt)
    values, states = [], []

    def record():
        arr = u.getArray(readonly=True)
        values.append(np.asarray(allreduce_sum(np.asarray(W @ arr, dtype=complex), layout.comm)))
        if store:
            r = arr.reshape(layout.rows, layout.N).copy()
            states.append(np.concatenate(layout.comm.allgather(r), axis=0))

    import time as _time
    t_wall = _time.perf_counter()
    record()
    for t_out in times[1:]:
        dt = advance_to(ts, u, t_out, dt)
        record()
    vals = np.array(values)[:, :len(mats)] if mats else np.zeros((times.size, 0))
    expect = [vals[:, k].real.copy() if herm[k] else vals[:, k].copy() for k in range(len(mats))]
    stats = {"ts_type": ts.getType(), "rk_type": ts.getRKType() if ts.getType() == "rk" else None,
             "steps": int(ts.getStepNumber()), "rejected_steps": int(ts.getStepRejections()),
             "rhs_evaluations": gen.evaluations, "seconds": _time.perf_counter() - t_wall,
             "ranks": layout.comm.Get_size(), "rtol": ev["rtol"], "atol": ev["atol"]}
    final = u.getArray(readonly=True).reshape(layout.rows, layout.N).copy()
    ts.destroy()
    gen.destroy()
    u.destroy()
    return EvolutionResult(times, expect, states, stats, final, layout, list(problem.dims))


# --- the Liouvillian gap ------------------------------------------------------------------------

class GapResult:
    """Eigenvalues of L nearest 0 (the steady state's 0 excluded): ``eigenvalues`` (complex,
    by increasing modulus), ``residuals``, ``gap`` (``|lambda_1|``), ``relaxation_rate``
    (``min -Re lambda``) and ``stats`` (the record of ``pjcsync gap --json``)."""

    def __init__(self, out: dict):
        self.stats = out
        self.eigenvalues = np.array([complex(re, im) for re, im in out["eigenvalues"]])
        self.residuals = np.array(out["residuals"])
        self.gap = float(out["gap_modulus"])
        self.relaxation_rate = float(out["relaxation_rate"])

    def __repr__(self) -> str:
        return f"<GapResult gap={self.gap:.6g} relaxation_rate={self.relaxation_rate:.6g} n={len(self.eigenvalues)}>"


def liouvillian_gap(H, c_ops=None, n: int = 4, *, target: float | None = None, dims=None, comm=None,
                    **options) -> GapResult:
    """The ``n`` nonzero eigenvalues of the Lindbladian (eq. 9) nearest 0 (SLEPc
    shift-and-invert).  Collective under MPI.

    Parameters
    ----------
    H, c_ops : as :func:`steadystate`
    n : int
        How many eigenvalues (``[gap] nev``).
    target : float, optional
        Shift-and-invert target (nonzero; default ``-0.01 x`` the smallest decay rate).
    **options
        Other ``[gap]`` options: ``tol``, ``max_iterations``, ``deflate``, ``solver``.

    Returns
    -------
    GapResult
        The eigenvalues, their residuals, the gap and the relaxation rate.

    Raises
    ------
    pjcsync.config.ConfigError
        An unknown or invalid option (lists the known ones).
    pjcsync.parallel.InputError
        Malformed operators.
    pjcsync.parallel.PjcsyncError
        The eigensolver converged to no eigenvalue, or ``n`` / ``target`` do not fit L.
    """
    from .gap import liouvillian_gap as _gap
    from .options import GapOptions
    problem = as_problem(H, c_ops, dims)
    opts = GapOptions.from_dict(options, what="pjcsync.liouvillian_gap", nev=n, target=target).to_dict()
    if opts["target"] is None and isinstance(problem, Lindbladian):
        rates = problem.decay_rates()
        opts["target"] = -0.01 * min(rates) if rates else -1e-3
    layout = RowLayout.create(problem.N, _comm(comm))
    return GapResult(_gap(problem, opts, layout))
