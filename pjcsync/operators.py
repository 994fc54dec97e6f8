"""Single-site operators of the model: the cavity's annihilation operator and the Pauli matrices.

Conventions (docs/conventions.md): qubit basis index 0 is up, 1 is down (as in QuTiP), so
``sigmaz = diag(1, -1)`` and ``sigmap = |up><down|``.  Sparse CSR matrices of ``DTYPE``.  The
model (:mod:`pjcsync.model`) embeds them in the tensor product; the observables
(:mod:`pjcsync.observables`) and the evolution probes use them directly.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

DTYPE = np.complex128


def destroy(n: int) -> sp.csr_matrix:
    """Cavity annihilation operator on ``n`` Fock levels."""
    return sp.diags(np.sqrt(np.arange(1, n, dtype=float)), 1, shape=(n, n), format="csr", dtype=DTYPE)


def sigmam() -> sp.csr_matrix:
    """Qubit lowering operator |down><up| (basis: 0 = up, 1 = down)."""
    return sp.csr_matrix(np.array([[0, 0], [1, 0]], dtype=DTYPE))


def sigmap() -> sp.csr_matrix:
    return sp.csr_matrix(np.array([[0, 1], [0, 0]], dtype=DTYPE))


def sigmax() -> sp.csr_matrix:
    return sp.csr_matrix(np.array([[0, 1], [1, 0]], dtype=DTYPE))


def sigmay() -> sp.csr_matrix:
    return sp.csr_matrix(np.array([[0, -1j], [1j, 0]], dtype=DTYPE))


def sigmaz() -> sp.csr_matrix:
    return sp.csr_matrix(np.array([[1, 0], [0, -1]], dtype=DTYPE))
