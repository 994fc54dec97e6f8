"""Memory estimates made before anything large is allocated.

The numbers are calibrated on measurements (see docs/performance.md): the assembled
Liouvillian costs ``BYTES_PER_NONZERO`` per stored entry in PETSc plus the scipy temporaries
of its construction (``ASSEMBLY_OVERHEAD`` times that while it is built); a Krylov solve keeps
``KRYLOV_VECTORS`` vectors of N^2/P entries; MUMPS stores ``direct_fill`` times the nonzeros of
L in its factors (measured fill grows with N, see :func:`direct_fill`).
"""
from __future__ import annotations

import numpy as np
from mpi4py import MPI

from .model import Model
from .parallel import InputError, available_memory_bytes, ranks_on_this_node

BYTES_PER_ENTRY = 16              # complex128
BYTES_PER_NONZERO = 16 + 4        # value + 32-bit column index
ASSEMBLY_OVERHEAD = 2.0           # blocks kept while PETSc fills its copy (measured 47 B/nonzero at M = 4, n_c = 100)
GMRES_RESTART_MAX = 100           # default GMRES restart, lowered when its basis would not fit
KRYLOV_VECTORS = 106              # GMRES(100) basis + work vectors (see krylov_vectors)
SYLVESTER_VECTORS = 8             # work vectors of the paper's fixed point (no Krylov basis)
DENSE_FACTORS = 8                 # replicated N x N arrays of the Sylvester inverse: G, V, V^-1 (or
                                  # T, Q) and GEMM/transposition temporaries (sylvester.py)
BASELINE_BYTES = 150 * 2 ** 20    # Python, numpy, PETSc, MPI libraries per rank
DIRECT_BYTES_PER_FACTOR_ENTRY = 32   # measured peak: 11.2 GB for 327 million factor entries


def liouvillian_nonzeros(model: Model) -> int:
    """Upper bound of the stored entries of L: ``nnz(A) N + N nnz(A) + sum_k nnz(L_k)^2``."""
    from .superoperator import drift_operator, _clean
    H, c_ops = model.hamiltonian(), model.collapse_operators()
    A = drift_operator(H, c_ops)
    return int(2 * A.nnz * model.N + sum(_clean(c).nnz ** 2 for c in c_ops))


def direct_fill(model: Model) -> float:
    """Estimated ratio of MUMPS factor entries to nonzeros of L (default ordering).

    Measured (PETSc 3.18 / MUMPS, 1 rank): fill 39, 57, 82 for M = 2 and n_c = 20, 40, 80;
    158 for M = 3, n_c = 30; 173, 265, 353 for M = 4 and n_c = 8, 12, 16.  Roughly
    proportional to N with a slope that doubles per qubit: ``0.1 * 2**M * N`` bounds them all."""
    return float(max(10.0, 0.1 * 2 ** model.M * model.N))


def gmres_restart(n2: int, ranks: int, available_per_rank: float, vectors_per_step: int = 1) -> int:
    """The GMRES restart: ``GMRES_RESTART_MAX``, lowered (not below 20) so that the basis takes at
    most 30 % of the memory available to a rank; FGMRES keeps two vectors per step."""
    per_step = vectors_per_step * n2 * BYTES_PER_ENTRY / ranks
    return int(max(20, min(GMRES_RESTART_MAX, 0.3 * available_per_rank / per_step)))


def krylov_vectors(n2: int, ranks: int, available_per_rank: float, flexible: bool = False) -> int:
    """Vectors of N^2 entries a (F)GMRES solve keeps: its basis plus the work vectors."""
    per_step = 2 if flexible else 1
    return per_step * gmres_restart(n2, ranks, available_per_rank, per_step) + KRYLOV_VECTORS - GMRES_RESTART_MAX


def resolve_method(model: Model, solver_cfg: dict) -> str:
    method = solver_cfg.get("method", "auto")
    if method == "auto":
        from .steady import auto_method
        return auto_method(model, solver_cfg)
    return method


def estimate(model: Model, solver_cfg: dict, comm: MPI.Comm | None = None) -> dict:
    """Sizes and memory per rank for a steady-state solve with ``solver_cfg``."""
    comm = comm or MPI.COMM_WORLD
    P = comm.Get_size()
    method = resolve_method(model, solver_cfg)
    n2 = model.N ** 2
    nnz = liouvillian_nonzeros(model)
    matrix_free = solver_cfg.get("operator", "auto") in ("matrix-free", "auto") and method != "direct"
    on_node = ranks_on_this_node(comm)
    available = comm.allreduce(available_memory_bytes(), op=MPI.MIN)
    single = solver_cfg.get("preconditioner_precision", "double") == "single"
    # the paper's fixed point keeps a few work vectors, the Krylov methods their basis too
    vectors = SYLVESTER_VECTORS if method == "sylvester" else \
        krylov_vectors(n2, P, available / max(on_node, 1), flexible=single)
    per_rank = BASELINE_BYTES + vectors * n2 * BYTES_PER_ENTRY / P
    if not matrix_free:
        per_rank += ASSEMBLY_OVERHEAD * nnz * BYTES_PER_NONZERO / P
    if method == "direct":
        per_rank += DIRECT_BYTES_PER_FACTOR_ENTRY * direct_fill(model) * nnz / P
    if method in ("krylov", "sylvester"):   # replicated N x N factors of G, complex64 in single
        per_rank += DENSE_FACTORS * model.N ** 2 * BYTES_PER_ENTRY / (2 if single else 1)
    return {"method": method, "nonzeros": nnz, "ranks": P, "ranks_on_node": on_node,
            "bytes_per_rank": float(per_rank), "bytes_node": float(per_rank * on_node),
            "available_bytes": float(available), "matrix_free": matrix_free}


def check_fits(est: dict, force: bool) -> None:
    """Refuse (exit 2) a problem whose estimate exceeds this node's available memory."""
    if est["bytes_node"] > est["available_bytes"] and not force:
        gb = 2.0 ** 30
        raise InputError(
            f"problem too large for this node: needs about {est['bytes_node'] / gb:.1f} GB "
            f"({est['bytes_per_rank'] / gb:.1f} GB on each of {est['ranks_on_node']} ranks, "
            f"method {est['method']}, {est['nonzeros']:,} nonzeros) but {est['available_bytes'] / gb:.1f} GB "
            f"are available; use more nodes, a lighter method, or --force")
