"""Independent parameter points over MPI ranks, each cached in its own JSON file (resumable).

A figure script lists its points (JSON-able parameter dicts) and a function computing one;
:func:`run_points` gives every MPI rank a share of the points not yet in the cache, each rank
computes its points one at a time (its PETSc objects on ``MPI.COMM_SELF``: the caller's job) and
writes each finished point at once to ``<cache>/<slug>-<hash>.json`` (``{"key": ..., "value":
...}``, written to a temporary file and renamed: atomic), and rank 0 returns every point's value
in the order of the list once all ranks are done.  A rerun skips the points whose file exists
(resume); the file name and its stored key come from the point's parameters
(:func:`point_key`, canonical JSON), so a changed grid never reuses a point computed with other
parameters.

    from _points import run_points
    values = run_points(points, compute, cache_dir, prog="fig_evolve.py")   # None on ranks > 0

Works in one process without ``mpirun`` (a singleton COMM_WORLD) and under
``scripts/mpirun.sh -n R``.  An exception in ``compute`` on any rank prints one line naming
the point and ends the whole job with exit status 1 (``MPI_Abort`` when R > 1: the other ranks
may be computing or waiting in the final gather, so no rank can hang).  The points already
written stay in the cache for the rerun.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np


def point_key(params: Any) -> str:
    """The stable key of a point: its parameters as canonical JSON (sorted keys, no spaces)."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=_plain)


def point_file(cache: Path, key: str) -> Path:
    """``<cache>/<readable slug of the key, <= 60 chars>-<12 hex digits of sha1(key)>.json``."""
    slug = re.sub(r"[^A-Za-z0-9.+-]+", "_", key).strip("_")[:60]
    return Path(cache) / f"{slug}-{hashlib.sha1(key.encode()).hexdigest()[:12]}.json"


def _plain(x):
    """numpy scalars and arrays as plain Python numbers and lists (json ``default``)."""
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serializable: {type(x).__name__}")


def load_point(cache: Path, key: str):
    """(True, value) if the point's file exists and holds this key, else (False, None)."""
    try:
        doc = json.loads(point_file(cache, key).read_text())
    except (OSError, ValueError):
        return False, None
    return (True, doc["value"]) if isinstance(doc, dict) and doc.get("key") == key else (False, None)


def store_point(cache: Path, key: str, value) -> None:
    """Write the point's file atomically (temporary file in the same folder, then rename)."""
    path = point_file(cache, key)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps({"key": key, "value": value}, default=_plain))
    os.replace(tmp, path)


def deal(weights: list, size: int) -> list[list[int]]:
    """Indices of ``weights`` dealt to ``size`` ranks: heaviest first, each to the rank with the
    least weight so far (lowest rank on ties; equal weights: round robin), each rank's indices in
    their original order."""
    load, out = [0.0] * size, [[] for _ in range(size)]
    for j in sorted(range(len(weights)), key=lambda j: -weights[j]):
        r = min(range(size), key=lambda r: (load[r], r))
        out[r].append(j)
        load[r] += weights[j]
    return [sorted(o) for o in out]


def run_points(points: list, compute: Callable[[Any], Any], cache: str | Path, prog: str = "points",
               log: Callable[[str], None] | None = None, cost: Callable[[Any], float] | None = None) -> list | None:
    """Compute (or load from ``cache``) ``compute(p)`` for every ``p`` in ``points``; collective.

    ``compute`` must return a JSON-able value (numpy scalars/arrays are converted) and must not
    use COMM_WORLD collectives (each rank computes its points alone).  Returns the list of values
    in the order of ``points`` on rank 0 and None on the other ranks.  ``log`` (rank 0 only)
    receives progress lines.  ``cost(p)``, if given, is a relative cost estimate of a point: the
    points to compute are dealt to the ranks by :func:`deal` (else round robin).  Duplicate
    points are computed once."""
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    cache = Path(cache)
    keys = [point_key(p) for p in points]
    first = {}                                  # key -> index of its first point
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    share = None
    if rank == 0:
        cache.mkdir(parents=True, exist_ok=True)
        todo = [i for k, i in first.items() if not load_point(cache, k)[0]]
        share = [[todo[j] for j in js] for js in deal([cost(points[i]) if cost else 1.0 for i in todo], size)]
        if log:
            log(f"  {len(first) - len(todo)} of {len(first)} point(s) cached in {cache}, "
                f"{len(todo)} to compute on {size} rank(s)")
    share = comm.bcast(share, root=0)
    mine = {}
    for j, i in enumerate(share[rank]):
        t0 = time.perf_counter()
        try:
            value = json.loads(json.dumps(compute(points[i]), default=_plain))
            store_point(cache, keys[i], value)
        except Exception as exc:        # one line, then the whole job ends (no rank left waiting)
            where = f" (rank {rank} of {size})" if size > 1 else ""
            msg = " ".join(str(exc).split()) or type(exc).__name__
            sys.stderr.write(f"{prog}: error{where}: point {keys[i]}: {msg}\n")
            sys.stderr.flush()
            if size > 1:
                comm.Abort(1)
            sys.exit(1)
        mine[i] = value
        if log and rank == 0:
            log(f"  point {i + 1}/{len(keys)} done in {time.perf_counter() - t0:.1f} s "
                f"(rank 0: {j + 1} of {len(share[0])})")
    done = comm.Ibarrier()          # a rank with no points left sleeps instead of spinning in MPI
    while not done.Test():
        time.sleep(0.2)
    gathered = comm.gather(mine, root=0)
    if rank != 0:
        return None
    new = {i: v for part in gathered for i, v in part.items()}
    values = {}
    for k, i in first.items():
        ok, values[k] = (True, new[i]) if i in new else load_point(cache, k)
        if not ok:
            raise RuntimeError(f"point {k} missing from {cache} after the run")
    return [values[k] for k in keys]


def relaunch(script: Path, ranks: int, argv: list[str]) -> int:
    """Run ``script`` again under ``ranks`` MPI ranks with ``argv`` (FIG_MPIRUN, e.g. "srun"
    inside a SLURM allocation, else scripts/mpirun.sh), one BLAS thread per rank; the child gets
    ``--ranks 1`` appended (argparse: the last wins).  Returns its exit code."""
    root = Path(__file__).resolve().parents[1]
    launcher = shlex.split(os.environ.get("FIG_MPIRUN", str(root / "scripts" / "mpirun.sh")))
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    cmd = [*launcher, "-n", str(ranks), sys.executable, str(Path(script).resolve()), *argv, "--ranks", "1"]
    return subprocess.run(cmd, env=env).returncode
