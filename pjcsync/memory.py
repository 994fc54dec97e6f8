"""Memory estimates made before anything large is allocated (issue 14, docs/performance.md).

The estimate is arithmetic on the sizes only: it builds no operator and no array, so it answers
at once for any input (``levels = 10**23`` included).  Sizes, with ``N = n_c 2**M``:

* nonzeros of the small N x N operators in closed form (:func:`operator_nonzeros`): the drift
  ``A = -iH - K/2`` has the N diagonal entries, ``2 (n_c - 1) 2**M`` for the drive ``F (a + a^+)``
  and ``(n_c - 1) 2**M`` per coupled qubit; the collapse operators ``sqrt(gamma) a`` and
  ``sqrt(gamma_s) s_l^-`` have ``(n_c - 1) 2**M`` and ``N/2``.  The Liouvillian
  ``A (x) I + I (x) conj(A) + sum_k c_k (x) conj(c_k)`` (row-major vec) then has
  ``2 nnz(A) N - N^2 + sum_k nnz(c_k)^2`` stored entries (the two drift terms share the N^2
  diagonal positions; the jump terms share none).  These are the counts of the assembled
  matrix, zero coefficients (``F = 0``, ``gamma = 0`` ...) dropped as :class:`~pjcsync.model.Model` drops them.

What is counted, in bytes per rank, on the busiest rank (rank 0), ``P`` ranks, ``v = 16 N^2 / P``
one vector of rho's entries, ``D = 16 N^2`` one dense N x N complex matrix held whole:

* ``BASELINE_BYTES``: the interpreter with numpy, scipy, mpi4py, petsc4py (and slepc4py, h5py)
  loaded, measured 75-115 MB resident at 1-2 ranks; counted as 130 MB.
* assembled L (direct, ``operator = "assembled"``, gap, evolve's matrices): ``BYTES_PER_NONZERO``
  per stored entry in PETSc, times ``ASSEMBLY_PEAK`` while the rows are built as scipy blocks,
  stacked and copied into PETSc.
* MUMPS (direct, gap, floquet direct/gmres): ``DIRECT_BYTES_PER_FACTOR_ENTRY`` per factor entry,
  ``direct_fill`` times nnz(L) entries, its copy of the matrix (``MUMPS_INPUT_BYTES`` per
  entry) and ``MUMPS_INSTANCE_BYTES`` per factorization (floquet gmres: one per harmonic block,
  plus PCFIELDSPLIT's copies of the blocks).
* Krylov (krylov, floquet gmres/sylvester, gap with the Sylvester solver): GMRES(r) keeps r + 1
  basis vectors (two per step for FGMRES) and a few work vectors (``KRYLOV_WORK``); the restart r
  follows :func:`pjcsync.choices.gmres_restart`, the policy the solver uses.  PETSc allocates
  the basis 10 vectors at a time as the iterations need them: the estimate counts the whole
  basis (a solve that converges in fewer iterations uses less).
* The Sylvester inverse L0^-1 (krylov, sylvester, floquet sylvester, gap sylvester): replicated
  dense N x N factors, ``DENSE_EIGEN`` (eigen route: V, V^-1 and their conjugate transposes)
  or ``DENSE_SCHUR`` (Schur route: Q and conj(Q) on every rank; T and the gathered triangular
  problem on rank 0) matrices of D, half that in single precision, and the set-up on rank 0
  (LAPACK's copy and workspace of dense G: ``DENSE_SETUP`` D, in double).
* The post-solve check gathers rho on rank 0 for its eigenvalues when ``N <=
  POSITIVITY_CHECK_MAX_N`` (``POSITIVITY_DENSE`` D).
* Evolve: the Hermitian half of L and the drive terms assembled, ``TS_VECTORS`` vectors (the
  7 stages and their right-hand sides of RK 5(4) Dormand-Prince, the solution, the generator's
  work vectors) and, with a checkpoint, one more (the memory-mapped file is resident).
* Floquet (``[floquet] harmonics = K``): everything of size (2K+1) N^2: the block matrix of
  :mod:`pjcsync.floquet` (built twice by the direct method), GMRES basis vectors of the
  block size, and MUMPS factors of the whole system (direct) or of each of the 2K+1 diagonal
  blocks (gmres).
* Gap: L assembled, the shift-and-invert solver (MUMPS factors of L - tau, or GMRES with the
  Sylvester inverse) and SLEPc's ``ncv = max(2 nev, nev + 15)`` basis vectors.
* Rate series: ``(number of collapse operators + 9)`` dense N x N matrices on rank 0
  (:func:`pjcsync.rate.dense_bytes`).

The coefficients were calibrated against measured peaks (resident set, the largest rank) on a
ladder of sizes by ``scripts/memory_ladder.py``; the table is in docs/performance.md, and
``tests/test_memory.py`` checks ``measured <= estimate <= 2 x measured`` on a subset.
"""
from __future__ import annotations

import math

from mpi4py import MPI

from .choices import (BYTES_PER_ENTRY, GMRES_RESTART_MAX, SWITCH_MEMORY_FRACTION, auto_operator,
                      floquet_method, gmres_restart, krylov_settings, resolve_method)
from .model import Model
from .parallel import (InputError, PjcsyncError, available_memory_bytes, job_ranks_on_node,
                       ranks_on_this_node)
from .validate import POSITIVITY_CHECK_MAX_N

BYTES_PER_NONZERO = 16 + 4        # value + 32-bit column index
ASSEMBLY_PEAK = 3.0               # scipy blocks, their stacked copy and PETSc's copy while L is built
GMRES_EXTRA = 4                   # PETSc's GMRES keeps restart + 1 basis vectors and its own work vectors
KRYLOV_WORK = 14                  # vectors besides the GMRES basis: x, b, e, PETSc's work vectors,
                                  # the matrix-free halo and products, L0^-1's row temporaries
KRYLOV_VECTORS = GMRES_RESTART_MAX + 6   # kept for callers of the old model (bench scripts)
SYLVESTER_VECTORS = 10            # work vectors of the paper's fixed point (no Krylov basis)
DENSE_EIGEN = 4                   # V, V^-1, V^+, V^-+ on every rank
DENSE_SCHUR = 2                   # Q, conj(Q) on every rank ...
DENSE_SCHUR_RANK0 = 4             # ... and on rank 0 T, the gathered F, its transpose and Y
DENSE_SETUP = 4                   # rank 0 while decomposing G: dense G, LAPACK's copy, factors, workspace
POSITIVITY_DENSE = 3              # rho gathered on rank 0, its concatenation and eigvalsh's copy
BASELINE_BYTES = 130 * 2 ** 20    # Python, numpy, scipy, PETSc, MPI libraries per rank
DIRECT_BYTES_PER_FACTOR_ENTRY = 20   # complex entry + MUMPS's integer structure and workspace
                                     # (its analysis: 14-17 B per entry of direct_fill)
MUMPS_INPUT_BYTES = 24            # MUMPS's own copy of the matrix, per entry (value and indices)
MUMPS_INSTANCE_BYTES = 16 * 2 ** 20   # fixed workspace of one MUMPS instance (floquet gmres has 2K+1)
FILL_A, FILL_B, FILL_C, FILL_D = 6.5, 0.72, 0.18, 0.2   # MUMPS fill law (direct_fill) ...
FILL_SMALL, FILL_SMALL_N2 = 1.3, 5000                    # ... times 1.3 up to N^2 = 5000 unknowns
FLOQUET_FILL = 0.5                # the harmonic block system's fill per entry: 2K+1 times this times L's
                                  # (measured peaks, K = 1, 2, n_c = 6-16: estimate 1.3-1.6x; session 7)
TS_VECTORS = 26                   # RK 5(4) stages and stage derivatives, solution, work vectors
GIB = 2.0 ** 30


# --- sizes --------------------------------------------------------------------------------------

def operator_nonzeros(model: Model) -> dict:
    """Stored entries of the N x N operators and of the Liouvillian, in closed form (see the
    module docstring).  Python integers: exact for any size."""
    n_c, M = int(model.levels), int(model.M)
    N = n_c * 2 ** M
    ladder = (n_c - 1) * 2 ** M                      # entries of a (x) I, and of a^+ (x) I
    off = (2 * ladder if model.amplitude != 0 else 0) + sum(ladder for g in model.couplings if g != 0)
    nnz_A = N + off
    c = ([ladder] if model.gamma > 0 else []) + [N // 2 for g in model.gamma_s if g > 0]
    nnz_L = 2 * nnz_A * N - N * N + sum(k * k for k in c)
    # V = F a + sum_l lambda_l s_l^- a (floquet, lab-frame evolve): -i[V, .] has 2 nnz(V) N entries
    nnz_V = (ladder if model.amplitude != 0 else 0) + sum(ladder // 2 for g in model.couplings if g != 0)
    return {"N": N, "A": nnz_A, "c_ops": c, "L": nnz_L, "V": nnz_V, "commutator_V": 2 * nnz_V * N,
            "half": nnz_A * N + sum(k * k for k in c)}


def liouvillian_nonzeros(model: Model) -> int:
    """Stored entries of the assembled L (closed form, nothing built)."""
    return operator_nonzeros(model)["L"]


def direct_fill(model: Model) -> float:
    """Estimated ratio of MUMPS factor entries to nonzeros of L (default ordering, 1 rank):
    ``FILL_A * FILL_B**M * N**(FILL_C + FILL_D M)``.

    Fitted in session 7 (docs/performance.md) to MUMPS's own count (INFOG(29)) for M = 1 (N =
    100-800), M = 2 (N = 100-560), M = 3 (N = 80-320) and M = 4 (N = 64-320) at Fig. 7's
    resonance: fills 23-51, 43-119, 69-182 and 97-434; the law lies 1.02-1.2 times above
    every one of them (1.4 at M = 4, N = 64).  The fill grows like N^0.4 for one qubit and
    nearly like N for four (2D nested dissection of the (n, n') Fock grid, fronts of 4^M qubit
    states); the earlier
    bound ``0.09 * 2**M * N`` was 1.6-2.8x high for M <= 2 at N >= 400, so the estimate
    refused MUMPS runs that fit (Fig. 7 at n_c = 180: 26.5 GB estimated, 12.7 GB measured).
    Up to ``FILL_SMALL_N2`` unknowns MUMPS's automatic ordering fills up to 1.25 times more than
    the law (M = 2, N = 32-64; M = 3, N = 48-64): ``FILL_SMALL`` times it there."""
    M, N = model.M, model.N
    small = FILL_SMALL if N * N <= FILL_SMALL_N2 else 1.0
    return float(max(10.0, small * FILL_A * FILL_B ** M * N ** (FILL_C + FILL_D * M)))


def direct_fits(model: Model, comm: MPI.Comm) -> tuple[bool, str]:
    """Whether a MUMPS solve of ``model`` on ``comm`` fits in ``SWITCH_MEMORY_FRACTION`` of the
    memory the node has available, with every rank of the job on this node
    (:func:`~pjcsync.parallel.job_ranks_on_node`: sweep groups included) needing as much:
    ``(fits, "x GB of y GB")``.  Collective on ``comm``."""
    available = comm.allreduce(available_memory_bytes(), op=MPI.MIN)
    est = estimate_sizes(model, {"solver": {"method": "direct"}}, comm.Get_size(), available, "steady")
    need = est["bytes_per_rank"] * max(job_ranks_on_node(), 1)
    return need <= SWITCH_MEMORY_FRACTION * available, f"{_gb(need)} of {_gb(available)} available"


def krylov_vectors(n2: int, ranks: int, available_per_rank: float, flexible: bool = False) -> int:
    """Vectors of N^2 entries a (F)GMRES solve keeps: its basis plus the work vectors."""
    per_step = 2 if flexible else 1
    return per_step * gmres_restart(n2, ranks, available_per_rank, per_step) + KRYLOV_VECTORS - GMRES_RESTART_MAX


# --- the estimate -------------------------------------------------------------------------------

def _full_config(cfg: dict) -> dict:
    """Accept the whole configuration or (older callers) its ``[solver]`` section."""
    return cfg if "solver" in cfg else {"solver": cfg}


def estimate(model: Model, cfg: dict, comm: MPI.Comm | None = None, command: str = "steady") -> dict:
    """Sizes and peak memory per rank of ``command`` ("steady", "evolve", "gap", "rate",
    "sweep", "semiclassical") for the configuration ``cfg`` on the ranks of ``comm``.

    ``cfg`` is the whole configuration (``[solver]``, ``[floquet]``, ``[evolve]``, ``[gap]``);
    a bare ``[solver]`` section is accepted (steady state, no harmonics).  Pure arithmetic on
    the sizes plus two queries of the node (available memory, ranks on it).  Returns
    ``bytes_per_rank`` (rank 0, the busiest), ``bytes_node`` (times the ranks on this node),
    ``available_bytes``, ``parts`` (label -> bytes per rank of the phase that makes the peak),
    ``method``, ``nonzeros`` and ``matrix_free``."""
    comm = comm or MPI.COMM_WORLD
    cfg = _full_config(cfg)
    P = comm.Get_size()
    on_node = ranks_on_this_node(comm)
    available = comm.allreduce(available_memory_bytes(), op=MPI.MIN)
    return estimate_sizes(model, cfg, P, available / max(on_node, 1), command, on_node, available)


def estimate_sizes(model: Model, cfg: dict, ranks: int, available_per_rank: float,
                   command: str = "steady", ranks_on_node: int = 1,
                   available: float | None = None) -> dict:
    """:func:`estimate` without MPI: ``ranks`` ranks, ``available_per_rank`` bytes for each."""
    cfg = _full_config(cfg)
    solver_cfg = cfg.get("solver", {})
    nz = operator_nonzeros(model)
    N, P = nz["N"], ranks
    n2 = N * N
    sweep_extra = 2.0 if command == "sweep" else 0.0
    if command == "sweep":
        command = "steady"
    if command == "steady" and cfg.get("floquet", {}).get("harmonics", 0) > 0:
        command = "floquet"
    est = _Parts(model, nz, P, available_per_rank, solver_cfg)
    if command == "steady":
        method = resolve_method(model, solver_cfg)
        est.steady(method)
        if sweep_extra:
            est.add("sweep: warm start and previous point", sweep_extra * est.v)
    elif command == "floquet":
        method = est.floquet(cfg.get("floquet", {}))
    elif command == "evolve":
        method = est.evolve(cfg.get("evolve", {}), cfg)
    elif command == "gap":
        method = est.gap(cfg.get("gap", {}))
    elif command == "rate":
        method = "rate"
        est.steady("rate")
    elif command == "semiclassical":
        method = "direct"
        est.steady("direct")
    else:
        raise ValueError(f"no memory estimate for command {command!r}")
    per_rank = float(BASELINE_BYTES + est.peak())
    return {"command": command, "method": method, "nonzeros": int(nz["L"]), "ranks": P,
            "ranks_on_node": ranks_on_node, "bytes_per_rank": per_rank,
            "bytes_node": per_rank * ranks_on_node,
            "available_bytes": float(available if available is not None else available_per_rank * ranks_on_node),
            "matrix_free": est.matrix_free, "parts": {"baseline": float(BASELINE_BYTES), **est.parts()}}


class _Parts:
    """Bytes per rank of each phase of a command; the peak is the largest phase."""

    def __init__(self, model, nz, P, avail, solver_cfg):
        self.model, self.nz, self.P, self.avail, self.solver_cfg = model, nz, P, avail, solver_cfg
        self.N = nz["N"]
        self.n2 = self.N * self.N
        self.v = float(self.n2) * BYTES_PER_ENTRY / P          # one vector share of rho
        self.D = float(self.n2) * BYTES_PER_ENTRY              # one whole dense N x N
        self.phases: dict[str, dict[str, float]] = {}
        self.always: dict[str, float] = {}
        self.matrix_free = False
        # the small N x N sparse operators and their copies (H, c_ops, A, conj(A), slices)
        self.always["N x N sparse operators"] = 8.0 * BYTES_PER_NONZERO * (nz["A"] + sum(nz["c_ops"]))

    # -- bookkeeping --
    def add(self, label: str, nbytes: float, phase: str | None = None) -> None:
        if phase is None:
            self.always[label] = self.always.get(label, 0.0) + float(nbytes)
        else:
            self.phases.setdefault(phase, {})[label] = float(nbytes)

    def _worst(self) -> tuple[str | None, dict]:
        if not self.phases:
            return None, {}
        name = max(self.phases, key=lambda k: sum(self.phases[k].values()))
        return name, self.phases[name]

    def peak(self) -> float:
        return sum(self.always.values()) + sum(self._worst()[1].values())

    def parts(self) -> dict:
        name, worst = self._worst()
        out = dict(self.always)
        out.update({f"{name}: {k}": v for k, v in worst.items()})
        return out

    # -- building blocks --
    def assembled(self, nnz: float, phase: str, label: str = "assembled L", building: bool = True) -> None:
        b = float(nnz) * BYTES_PER_NONZERO / self.P
        self.add(label + (" (while built)" if building else ""), b * (ASSEMBLY_PEAK if building else 1.0), phase)

    def mumps(self, nnz: float, fill: float, phase: str, label: str = "MUMPS factors", count: int = 1) -> None:
        """``count`` MUMPS factorizations of matrices with ``nnz`` entries: the factors, MUMPS's
        copy of the matrix and its fixed workspace per instance."""
        per = DIRECT_BYTES_PER_FACTOR_ENTRY * fill * float(nnz) / self.P + MUMPS_INPUT_BYTES * float(nnz) / self.P
        self.add(label, count * (per + MUMPS_INSTANCE_BYTES), phase)

    def sylvester_factors(self, phase: str, precision: str = "double", kind: str | None = None) -> str:
        from .sylvester import AUTO_EIGEN_MAX_N
        kind = kind or self.solver_cfg.get("preconditioner", "auto")
        if kind == "auto":
            kind = "schur" if self.N > AUTO_EIGEN_MAX_N else "eigen"    # eigen when it is kept
        scale = 0.5 if precision == "single" else 1.0
        n = DENSE_EIGEN if kind == "eigen" else DENSE_SCHUR + DENSE_SCHUR_RANK0
        self.add(f"L0^-1 factors ({kind}, {precision})", n * scale * self.D, phase)
        self.add("L0^-1 set-up (rank 0)", DENSE_SETUP * self.D, "L0^-1 set-up")
        self.add(f"L0^-1 factors ({kind}, {precision})", n * scale * self.D, "L0^-1 set-up")
        return kind

    def krylov_basis(self, phase: str, size: float, flexible: bool = False, label: str = "GMRES basis",
                     options: bool = True, ksp_type: str | None = None) -> None:
        """The basis of the KSP ``ksp_type`` (default (F)GMRES; ``-ksp_gmres_restart`` read from
        PETSc's options if ``options``) for vectors of ``size`` bytes."""
        restart = _ksp_options()[1] if options else None
        if ksp_type in SHORT_RECURRENCE_KSPS:
            self.add(f"{ksp_type} work vectors", SHORT_RECURRENCE_VECTORS * size, phase)
            return
        per_step = 2 if flexible or (ksp_type or "").startswith(("f", "pipef")) or ksp_type == "gcr" else 1
        n2 = size * self.P / BYTES_PER_ENTRY
        r = restart or gmres_restart(int(n2), self.P, self.avail, per_step)
        self.add(f"{label} ({ksp_type or ('fgmres' if per_step == 2 else 'gmres')}({r}))",
                 (per_step * r + GMRES_EXTRA) * size, phase)

    def check(self, assembled_nnz: float | None) -> None:
        ph = "post-solve check"
        self.add("rho, residual and transposes", 4 * self.v, ph)
        if assembled_nnz is not None:
            self.assembled(assembled_nnz, ph)
        if self.N <= POSITIVITY_CHECK_MAX_N:
            self.add("rho gathered for its eigenvalues (rank 0)", POSITIVITY_DENSE * self.D, ph)

    # -- commands --
    def steady(self, method: str) -> None:
        L = self.nz["L"]
        if method in ("rate", "rate*"):
            n_ops = len(self.nz["c_ops"])
            self.add("rate series: dense N x N matrices (rank 0)", (n_ops + 9) * self.D, "solve")
            self.add("rho", 2 * self.v, "solve")
            self.check(None)
            return
        operator, _ = auto_operator(self.model, self.solver_cfg, method)
        self.matrix_free = operator == "matrix-free"
        if method == "direct":
            self.assembled(L + self.N, "assembly")
            self.assembled(L, "factorization", building=False)
            self.mumps(L, direct_fill(self.model), "factorization")
            self.check(L)
            return
        ksp_type = None
        if method == "sylvester":
            precision = "double"
        else:
            settings = krylov_settings(self.model, self.solver_cfg)
            precision, ksp_type = settings["precision"], settings["ksp_type"]
        self.sylvester_factors("solve", precision)
        mat = None if self.matrix_free else L
        if mat is not None:
            self.assembled(L, "operator assembly")
            self.sylvester_factors("operator assembly", precision)
            self.assembled(L, "solve", building=False)
        if method == "sylvester":
            self.add("fixed-point work vectors", SYLVESTER_VECTORS * self.v, "solve")
            if self.solver_cfg.get("acceleration", "anderson") == "anderson":    # steady._Anderson: dX, dR
                self.add("Anderson history", 2 * self.solver_cfg.get("acceleration_history", 10) * self.v,
                         "solve")
        else:
            self.krylov_basis("solve", self.v, flexible=precision != "double", ksp_type=ksp_type)
            self.add("Krylov work vectors", KRYLOV_WORK * self.v, "solve")
        self.check(mat)

    def floquet(self, fl: dict) -> str:
        K = int(fl.get("harmonics", 1))
        nb = 2 * K + 1
        nnz = nb * self.nz["L"] + 2 * K * 2 * self.nz["commutator_V"]
        method = fl.get("method", "auto")
        method = floquet_method(method, nb * self.n2)
        u = nb * self.v                                             # one block vector per rank
        coo = float(nnz) * (8 + 8 + 16 + BYTES_PER_NONZERO) / self.P   # COO triplets and CSR of the rows
        self.add("block rows (COO and CSR)", coo, "block assembly")
        self.assembled(nnz, "block assembly", "block matrix", building=False)
        if method == "direct":
            self.add("first copy of the block rows", float(nnz) * BYTES_PER_NONZERO / self.P, "block assembly")
            self.assembled(nnz, "factorization", "block matrix", building=False)
            self.add("first copy of the block rows", float(nnz) * BYTES_PER_NONZERO / self.P, "factorization")
            self.mumps(nnz, direct_fill(self.model) * nb * FLOQUET_FILL, "factorization",
                       "MUMPS factors of the block system")
        elif method == "gmres":
            self.assembled(nnz, "solve", "block matrix", building=False)
            self.mumps(self.nz["L"], direct_fill(self.model), "solve",
                       f"MUMPS factors of the {nb} diagonal blocks", count=nb)
            self.add("diagonal blocks extracted by PCFIELDSPLIT",
                     nb * float(self.nz["L"]) * BYTES_PER_NONZERO / self.P, "solve")
            self.add(f"GMRES(100) basis of block vectors", 101 * u, "solve")
            self.add("block work vectors", 6 * u, "solve")
        else:
            self.assembled(nnz, "solve", "block matrix", building=False)
            self.sylvester_factors("solve")
            self.add(f"GMRES(100) basis of block vectors", 101 * u, "solve")
            self.add("block work vectors", 6 * u, "solve")
        ph = "post-solve check"
        self.assembled(nnz, ph, "block matrix")
        self.add("solution and harmonics", 3 * u, ph)
        self.check(None)
        return f"floquet-{method}"

    def evolve(self, ev: dict, cfg: dict) -> str:
        frame, form = ev.get("frame", "rotating"), ev.get("formulation", "rotating")
        nz = self.nz
        half = nz["half"]
        if frame == "lab" and form == "rotating":
            half += 2 * nz["V"] * self.N
        elif frame == "lab":
            half += 2 * (self.model.levels - 1) * 2 ** self.model.M * self.N
        ph = "integration"
        self.assembled(half, "assembly", "half generator")
        self.assembled(half, ph, "half generator", building=False)
        self.add("TS vectors (RK 5(4): stages, derivatives, solution, work)", TS_VECTORS * self.v, ph)
        if ev.get("checkpoint"):
            self.add("checkpoint file mapped", self.v, ph)
        if ev.get("initial") == "steady":
            method = resolve_method(self.model, cfg.get("solver", {}))
            sub = _Parts(self.model, nz, self.P, self.avail, cfg.get("solver", {}))
            sub.steady(method)
            name, worst = sub._worst()
            self.phases[f"initial steady state, {name}"] = dict(worst)
        return f"evolve-{frame}"

    def gap(self, g: dict) -> str:
        nev = int(g.get("nev", 4))
        ncv = max(2 * nev, nev + 15)
        L = self.nz["L"]
        self.assembled(L, "assembly")
        ph = "eigensolver"
        self.assembled(L, ph, building=False)
        self.add(f"SLEPc basis ({ncv} vectors) and work", (ncv + 6) * self.v, ph)
        if g.get("solver", "direct") == "sylvester":
            self.sylvester_factors(ph)
            self.krylov_basis(ph, self.v, options=False)
            return "gap-sylvester"
        self.mumps(L, direct_fill(self.model), ph, "MUMPS factors of L - tau")
        return "gap-direct"


SHORT_RECURRENCE_KSPS = ("bcgs", "fbcgs", "fbcgsr", "bcgsl", "ibcgs", "tfqmr", "tcqmr", "cgs", "cg",
                         "fcg", "cr", "qcg", "minres", "symmlq", "lsqr", "chebyshev", "richardson",
                         "bicg", "pipebcgs", "pipecg", "pipecr", "groppcg", "preonly")
SHORT_RECURRENCE_VECTORS = 12     # BiCGStab and its kind: a fixed handful of work vectors


def _ksp_options() -> tuple[str | None, int | None]:
    """``-ksp_type`` and ``-ksp_gmres_restart`` from PETSc's options database, if PETSc is up."""
    import sys
    if "petsc4py.PETSc" not in sys.modules:
        return None, None
    from petsc4py import PETSc
    from .petsc_options import get_int
    opts = PETSc.Options()
    restart = get_int("ksp_gmres_restart", 0)
    ksp_type = opts.getString("ksp_type", "") if opts.hasName("ksp_type") else ""
    return (ksp_type or None, restart or None)


def check_fits(est: dict, force: bool) -> None:
    """Refuse (exit 2) a problem whose estimate exceeds this node's available memory."""
    global LAST_ESTIMATE
    LAST_ESTIMATE = est
    if est["bytes_node"] > est["available_bytes"] and not force:
        raise InputError(
            f"problem too large for this node: {est.get('command', 'steady')} needs about "
            f"{_gb(est['bytes_node'])} ({_gb(est['bytes_per_rank'])} on each of {est['ranks_on_node']} ranks, "
            f"method {est['method']}, {est['nonzeros']:.4g} nonzeros in L) but {_gb(est['available_bytes'])} "
            f"are available; use more nodes, a lighter method, or --force")


def fmt_bytes(n: float) -> str:
    """A byte count for people: ``512 B``, ``1.5 KB`` ... ``2.3 TB`` (binary units)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            if unit == "B":
                return f"{int(n)} B"
            return f"{n:.1f} {unit}" if abs(n) < 1e5 else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def _gb(n: float) -> str:
    return f"{n / GIB:.3g} GB" if n < 1e6 * GIB else f"{n / GIB:.2e} GB"


# --- allocation failures past the estimate (--force) ---------------------------------------------

LAST_ESTIMATE: dict | None = None     # the estimate check_fits last saw (quoted when memory runs out)


class OutOfMemory(PjcsyncError):
    """An allocation failed on this rank: one line naming what and how much; not collective
    (the other ranks may be waiting in a collective call), so the job is aborted."""


def allocation_failure(exc: BaseException) -> str | None:
    """One line for an allocation failure -- a ``MemoryError`` (numpy says what and how much) or
    a PETSc out-of-memory error (``PETSC_ERR_MEM``, or a failed ``PetscMalloc``) -- found in
    ``exc`` or the exceptions it was raised from; None for any other error."""
    seen = 0
    while exc is not None and seen < 8:
        seen += 1
        if isinstance(exc, MemoryError):
            what = str(exc).strip() or "an allocation failed"
            return f"out of memory{_where(exc)}: {what[0].lower() + what[1:]}{_estimate_note()}"
        if _is_petsc_memory_error(exc):
            return (f"out of memory in PETSc ({_petsc_allocation(exc)}, PETSc error {exc.ierr})"
                    f"{_where(exc)}{_estimate_note()}")
        exc = exc.__cause__ or exc.__context__
    return None


class allocation_failures:
    """Context manager: an allocation failure inside becomes :class:`OutOfMemory` (one line,
    exit status 1, the whole job ended); other exceptions pass unchanged."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or isinstance(exc, (OutOfMemory, KeyboardInterrupt, SystemExit)):
            return False
        msg = allocation_failure(exc)
        if msg is None:
            return False
        raise OutOfMemory(msg) from None


PETSC_ERR_MEM = 55


def _is_petsc_memory_error(exc: BaseException) -> bool:
    ierr = getattr(exc, "ierr", None)
    if ierr is None or type(exc).__name__ != "Error":
        return False
    return ierr == PETSC_ERR_MEM or "PetscMalloc" in str(exc)


def _petsc_allocation(exc: BaseException) -> str:
    """The PETSc function that asked for the memory, from the error's call stack."""
    calls = [ln.split("]", 1)[-1].strip().split("(")[0] for ln in str(exc).splitlines() if "() at " in ln]
    callers = [c for c in calls if not c.startswith("PetscMalloc") and not c.startswith("PetscTrMalloc")]
    return f"allocating in {callers[-1]}" if callers else "an allocation failed"


def _where(exc: BaseException) -> str:
    """`` in module.function`` of the innermost pjcsync frame of the traceback."""
    tb, where = exc.__traceback__, ""
    while tb is not None:
        code = tb.tb_frame.f_code
        mod = tb.tb_frame.f_globals.get("__name__", "")
        if mod.startswith("pjcsync") and mod != __name__:
            where = f" in {mod.split('.', 1)[-1]}.{code.co_name}"
        tb = tb.tb_next
    return where


def _estimate_note() -> str:
    est = LAST_ESTIMATE
    if not est:
        return ""
    return (f" (estimated {_gb(est['bytes_per_rank'])} per rank, {_gb(est['bytes_node'])} on this node of "
            f"{_gb(est['available_bytes'])} available)")


MUMPS_MEMORY_ERRORS = {-8: "integer workspace too small", -9: "real workspace too small",
                       -13: "an allocation failed", -14: "integer workspace too small",
                       -15: "integer workspace too small", -17: "send buffer too small",
                       -19: "ICNTL(23) memory limit too small", -20: "receive buffer too small"}


def mumps_failure(pc) -> str | None:
    """A MUMPS factorization that ran out of memory, in one line (collective: INFOG is global);
    None if the factorization is not MUMPS or failed otherwise."""
    try:
        if pc.getType() != "lu" or pc.getFactorSolverType() != "mumps":
            return None
        F = pc.getFactorMatrix()
        code, size = F.getMumpsInfog(1), F.getMumpsInfog(2)
        estimated_mb = F.getMumpsInfog(17)          # analysis estimate, all ranks, MB
    except Exception:
        return None
    if code not in MUMPS_MEMORY_ERRORS:
        return f"MUMPS error INFOG(1) = {code}" if code < 0 else None
    if code == -13:
        entries = -size * 10 ** 6 if size < 0 else size
        what = f"out of memory in the MUMPS factorization: an allocation of {entries:,} entries failed"
    else:
        what = f"out of memory in the MUMPS factorization: {MUMPS_MEMORY_ERRORS[code]} (INFOG(2) = {size})"
    note = f"; MUMPS's analysis estimated {estimated_mb:,} MB in all" if estimated_mb > 0 else ""
    if code in (-8, -9, -14, -15, -17, -20):
        note += "; more workspace: -mat_mumps_icntl_14 100"
    return f"{what} (MUMPS error {code}){note}{_estimate_note()}"
