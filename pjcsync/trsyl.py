"""Small triangular Sylvester solves ``A Y + Y B^+ = F`` (A, B upper triangular) without LAPACK.

The diagonal blocks of the recursive triangular solve in :mod:`pjcsync.sylvester` were solved
by LAPACK's ``ztrsyl``/``ctrsyl``.  Those call the BLAS-1 ``zdotc``/``zdotu``, and the
AVX-512 (SkylakeX) complex dot kernel of OpenBLAS 0.3.21 -- the one Debian 12 ships -- crashes
with a segmentation fault depending on the memory layout of the process (seen here: about one
run in two of a two-step adaptive truncation, inside ``ztrsyl_ -> zdotc_k_SKYLAKEX``; the same
input never crashes with ``OPENBLAS_CORETYPE=HASWELL``, which however makes ZGEMM 1.5x slower).
So the small blocks are solved by the plain C column sweep of ``trsyl.c``, compiled once per
machine with the system C compiler into a cache directory (``$PJCSYNC_CACHE``, else
``$XDG_CACHE_HOME/pjcsync``, else ``~/.cache/pjcsync``) and loaded with ctypes.  Where no
compiler is available a numpy column sweep does the same work, slower (one warning).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import scipy.linalg as sla

SOURCE = Path(__file__).with_name("trsyl.c")
_LIB = None          # the loaded library, False if it cannot be built
_WARNED = False


def _cache_dir() -> Path:
    base = os.environ.get("PJCSYNC_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "pjcsync")
    return Path(base)


def _build() -> ctypes.CDLL | None:
    """Compile trsyl.c (once per source, compiler and machine) and load it; None on failure."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None or not SOURCE.is_file():
        return None
    src = SOURCE.read_bytes()
    key = hashlib.sha1(src + cc.encode() + platform.machine().encode() + platform.node().encode()).hexdigest()[:16]
    lib = _cache_dir() / f"trsyl-{key}.so"
    if not lib.is_file():
        tmp = None
        try:
            lib.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".so", dir=lib.parent)
            os.close(fd)
            subprocess.run([cc, "-O3", "-std=c99", "-fPIC", "-shared", "-o", tmp, str(SOURCE)],
                           check=True, capture_output=True, timeout=120)
            os.replace(tmp, lib)        # atomic: concurrent ranks each build, one file wins
        except (OSError, subprocess.SubprocessError):
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            return None
    try:
        dll = ctypes.CDLL(str(lib))
    except OSError:
        return None
    for name in ("pjcsync_ztrsyl", "pjcsync_ctrsyl"):
        f = getattr(dll, name)
        f.restype = ctypes.c_int
        f.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                      ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_double]
    return dll


def _library():
    global _LIB
    if _LIB is None:
        _LIB = _build() or False
    return _LIB or None


def _row_major(X: np.ndarray, dtype) -> np.ndarray:
    """X itself if it is row-major with unit column stride in ``dtype``, else a copy that is."""
    if X.dtype == dtype and X.ndim == 2 and (X.strides[1] == X.itemsize or X.shape[1] <= 1) \
            and X.strides[0] % X.itemsize == 0:
        return X
    return np.ascontiguousarray(X, dtype=dtype)


def _ld(X: np.ndarray) -> int:
    return max(X.strides[0] // X.itemsize, X.shape[1], 1)


def solve_small(A: np.ndarray, B: np.ndarray, F: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """``A Y + Y B^+ = F`` for upper-triangular A (m x m), B (n x n); F (m x n) is overwritten by
    Y and returned.  complex128 or complex64 (F's dtype).  ``floor > 0``: components of Y below it
    are set to zero as they are solved (single precision: no subnormal products)."""
    from .parallel import PjcsyncError
    dtype = F.dtype
    if dtype not in (np.complex128, np.complex64):
        raise TypeError(f"solve_small: complex F expected, got {dtype}")
    m, n = F.shape
    lib = _library()
    if lib is None:
        return _solve_numpy(A, B, F, floor)
    A = _row_major(A, dtype)
    B = _row_major(B, dtype)
    W = _row_major(F, dtype)
    fn = lib.pjcsync_ztrsyl if dtype == np.complex128 else lib.pjcsync_ctrsyl
    info = fn(m, n, A.ctypes.data, _ld(A), B.ctypes.data, _ld(B), W.ctypes.data, _ld(W), float(floor))
    if info != 0:
        raise PjcsyncError("triangular Sylvester solve: " + ("out of memory" if info < 0 else
                           f"A + conj(B) has a zero diagonal entry (row {info - 1}): L0 is singular"))
    if W is not F:
        F[...] = W
    return F


def _solve_numpy(A, B, F, floor=0.0):
    """The column sweep of trsyl.c in numpy (no compiler): one triangular solve per column."""
    global _WARNED
    if not _WARNED:
        _WARNED = True
        print("pjcsync: warning: no C compiler for the triangular Sylvester kernel (pjcsync/trsyl.c): "
              "using a slower numpy sweep", file=sys.stderr, flush=True)
    m, n = F.shape
    eye = np.eye(m, dtype=F.dtype)
    for j in range(n - 1, -1, -1):
        y = sla.solve_triangular(A + np.conj(B[j, j]) * eye, F[:, j], lower=False, check_finite=False)
        if floor:
            y.real[np.abs(y.real) < floor] = 0.0
            y.imag[np.abs(y.imag) < floor] = 0.0
        F[:, j] = y
        if j:
            F[:, :j] -= np.outer(y, np.conj(B[:j, j]))
    return F
