"""MPI discipline: the row layout of rho, rank-0 output, and ending the whole job on any error.

Layout (docs/conventions.md): the density matrix rho (N x N) is stored as a PETSc vector in
row-major order, ``r = i*N + j``, and each rank owns whole rows of rho: rows ``i0 <= i < i1``,
i.e. vector entries ``[i0*N, i1*N)``.  Every distributed object of pjcsync (the Liouvillian,
the Sylvester preconditioner, observables) follows this layout.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import numpy as np
from mpi4py import MPI

from .errors import InputError, PjcsyncError  # noqa: F401  (their historical home)


@dataclass(frozen=True)
class RowLayout:
    """Rows ``[i0, i1)`` of the N x N density matrix owned by this rank."""

    N: int
    i0: int
    i1: int
    comm: MPI.Comm

    @classmethod
    def create(cls, N: int, comm: MPI.Comm | None = None) -> "RowLayout":
        comm = comm or MPI.COMM_WORLD
        size, rank = comm.Get_size(), comm.Get_rank()
        if size > N:      # the same on every rank: a bad input, reported once
            raise InputError(f"{size} ranks for a density matrix of only {N} rows: "
                             f"use at most {N} ranks")
        bounds = [(r * N) // size for r in range(size + 1)]
        return cls(N=N, i0=bounds[rank], i1=bounds[rank + 1], comm=comm)

    @property
    def rows(self) -> int:
        return self.i1 - self.i0

    @property
    def local_size(self) -> int:
        """Entries of vec(rho) owned here (whole rows)."""
        return self.rows * self.N

    @property
    def global_size(self) -> int:
        return self.N * self.N

    def all_bounds(self) -> list[int]:
        """Row boundaries of every rank: rank r owns rows [b[r], b[r+1])."""
        size = self.comm.Get_size()
        return [(r * self.N) // size for r in range(size + 1)]


def rank0_print(*args, comm: MPI.Comm | None = None, **kwargs) -> None:
    comm = comm or MPI.COMM_WORLD
    if comm.Get_rank() == 0:
        print(*args, **kwargs, flush=True)


def abort_on_error(exc: BaseException, comm: MPI.Comm | None = None) -> None:
    """Report an error raised on one rank and end every rank of the job.

    Used for failures that may not be collective: the other ranks could be waiting in a
    collective call, so the only safe end is MPI_Abort.  Prints one line (the rank is named
    when the job has more than one)."""
    comm = comm or MPI.COMM_WORLD
    where = f" (rank {comm.Get_rank()} of {comm.Get_size()})" if comm.Get_size() > 1 else ""
    sys.stderr.write(f"pjcsync: error{where}: {exc}\n")
    sys.stderr.flush()
    if comm.Get_size() > 1:
        MPI.COMM_WORLD.Abort(1)
    sys.exit(1)


def release_petsc_garbage(comm: MPI.Comm | None = None) -> None:
    """Destroy the PETSc objects whose Python references are gone, collectively on ``comm``
    (None: PETSC_COMM_WORLD, then PETSC_COMM_SELF).
    petsc4py (3.18 on) defers their destruction; a PC still referenced from Python keeps its
    MUMPS factors, so without this every solve of a sweep or a script's loop keeps them
    (~130 MB each at N = 120; about 3 GB per lab-frame point of Fig. 2 at omega_0 = 10)."""
    from petsc4py import PETSc
    if hasattr(PETSc, "garbage_cleanup"):
        PETSc.garbage_cleanup(comm)


def return_freed_memory() -> None:
    """Give the memory this process has freed back to the system (glibc's ``malloc_trim``; a
    no-op elsewhere).  Destroyed MUMPS factors otherwise stay in the process's heap: after a
    direct solve of Fig. A4's three-qubit model at n_c = 50 (N = 400) the process kept 6.9 GB of
    resident memory with every PETSc object destroyed, and the trim returned all of it.  The
    memory checks before a solve read the node's free memory, which would not count it."""
    global _malloc_trim
    if _malloc_trim is None:
        import ctypes
        import ctypes.util
        try:
            _malloc_trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):      # not glibc
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None


def available_memory_bytes() -> int:
    """Memory this node can still give (MemAvailable, or a cgroup limit if smaller), after this
    process has returned what it freed (:func:`return_freed_memory`)."""
    return_freed_memory()
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
    except OSError:
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = open(path).read().strip()
            if text.isdigit() and int(text) < (avail or 1 << 62):
                avail = int(text)
        except OSError:
            pass
    return avail if avail is not None else 1 << 62


def ranks_on_this_node(comm: MPI.Comm | None = None) -> int:
    comm = comm or MPI.COMM_WORLD
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    n = node.Get_size()
    node.Free()
    return n


LOCAL_SIZE_VARIABLES = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS")   # Open MPI, MPICH (Hydra)


def job_ranks_on_node() -> int:
    """Ranks of the whole MPI job on this node, without communicating (so that one group of a
    sweep can ask while the others compute): the launcher's variable (Open MPI, MPICH/Hydra),
    else every rank of ``COMM_WORLD`` (exact on one node, too many on several)."""
    for name in LOCAL_SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return MPI.COMM_WORLD.Get_size()


def peak_memory_bytes() -> int:
    """Peak resident memory of this process (VmHWM)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def gather_peak_memory(comm: MPI.Comm | None = None) -> dict:
    comm = comm or MPI.COMM_WORLD
    peaks = comm.allgather(peak_memory_bytes())
    return {"max_rank_bytes": int(max(peaks)), "total_bytes": int(sum(peaks))}


def debug_enabled() -> bool:
    return os.environ.get("PJCSYNC_DEBUG", "") not in ("", "0")


def local_rows_of(mat, layout: RowLayout):
    """Rows [i0, i1) of a scipy sparse matrix as CSR."""
    return mat.tocsr()[layout.i0:layout.i1]


def allreduce_sum(value, comm: MPI.Comm):
    """Sum a scalar or numpy array over ranks."""
    arr = np.asarray(value)
    out = np.empty_like(arr)
    comm.Allreduce(arr, out, op=MPI.SUM)
    return out if out.shape else out.item()


_MPI_TYPES = {np.complex128: MPI.C_DOUBLE_COMPLEX, np.complex64: MPI.C_FLOAT_COMPLEX,
              np.float64: MPI.DOUBLE, np.float32: MPI.FLOAT}


def transpose_rows(rows: np.ndarray, layout: RowLayout) -> np.ndarray:
    """This rank's rows of X^T, given this rank's rows of X (one all-to-all exchange).

    Rank r sends block ``X[rows of r, rows of s]`` to rank s, which transposes what it
    receives.  Same layout in and out; the "transpose between ranks" of docs/conventions.md."""
    comm = layout.comm
    size = comm.Get_size()
    if size == 1:
        return np.ascontiguousarray(rows.T)
    b = layout.all_bounds()
    widths = np.diff(b)
    send = np.concatenate([np.ascontiguousarray(rows[:, b[s]:b[s + 1]]).ravel() for s in range(size)])
    send_counts = layout.rows * widths
    recv_counts = widths * layout.rows
    recv = np.empty(int(recv_counts.sum()), dtype=rows.dtype)
    mpi_type = _MPI_TYPES[rows.dtype.type]
    comm.Alltoallv([send, (send_counts, None), mpi_type], [recv, (recv_counts, None), mpi_type])
    out = np.empty((layout.rows, layout.N), dtype=rows.dtype)
    offset = 0
    for s in range(size):
        n = int(recv_counts[s])
        # received block is X[rows of s, my rows], shape (widths[s], layout.rows)
        out[:, b[s]:b[s + 1]] = recv[offset:offset + n].reshape(widths[s], layout.rows).T
        offset += n
    return out
