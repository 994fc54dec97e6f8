"""Observables of a row-distributed density matrix (DESIGN section 7).

Each rank holds rows ``[i0, i1)`` of rho (``RowLayout``); every observable is a local partial
sum followed by one reduction.  Conventions: Pauli expectations ``<sigma_x,y,z>`` per qubit,
totals ``S = sum_l sigma_l / 2``, ``<a> = alpha_x + i alpha_y``, ``<n> = <a^+ a>``.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .model import Model, sigmax, sigmay, sigmaz
from .parallel import RowLayout, allreduce_sum


def local_block(vec, layout: RowLayout) -> np.ndarray:
    """This rank's rows of rho as a ``(rows, N)`` array view of a PETSc vector."""
    return vec.getArray(readonly=True).reshape(layout.rows, layout.N)


def expect(op: sp.spmatrix, rho_rows: np.ndarray, layout: RowLayout) -> complex:
    """``Tr(op rho) = sum_ij op_ji rho_ij``: local rows, then one reduction."""
    op_t = sp.csr_matrix(op).T.tocsr()[layout.i0:layout.i1]
    return complex(allreduce_sum(op_t.multiply(rho_rows).sum(), layout.comm))


def diagonal(rho_rows: np.ndarray, layout: RowLayout) -> np.ndarray:
    """The full diagonal of rho (real parts), gathered on every rank."""
    i = np.arange(layout.i0, layout.i1)
    local = np.zeros(layout.N)
    local[i] = rho_rows[i - layout.i0, i].real
    return allreduce_sum(local, layout.comm)


def cavity_populations(model: Model, rho_rows: np.ndarray, layout: RowLayout) -> np.ndarray:
    """P(n) = sum over qubit states of <n, q| rho |n, q>, n = 0 .. n_c - 1."""
    return diagonal(rho_rows, layout).reshape(model.levels, 2 ** model.M).sum(axis=1)


def edge_levels(model: Model) -> int:
    """How many top Fock levels count as the truncation edge: 5, or fewer for small n_c."""
    return max(1, min(5, model.levels // 4))


EDGE_WARNING = 1e-3   # edge population above which the cavity is called truncated too early


def basic_observables(model: Model, rho_rows: np.ndarray, layout: RowLayout) -> dict:
    """The observables that need no entanglement machinery (foundation issue, item 5).

    Keys: ``n``, ``a`` ([re, im]), ``sigma`` (per qubit [x, y, z]), ``Sx``, ``Sy``, ``Sz``,
    ``edge_population`` (population of the top ``edge_levels`` Fock levels), ``trace``,
    ``cavity_populations``."""
    pops = cavity_populations(model, rho_rows, layout)
    a = expect(model.a, rho_rows, layout)
    sigma = []
    for l in range(model.M):
        sigma.append([expect(model.qubit(s(), l), rho_rows, layout).real for s in (sigmax, sigmay, sigmaz)])
    sig = np.array(sigma).reshape(model.M, 3)
    k = edge_levels(model)
    return {
        "n": expect(model.n, rho_rows, layout).real,
        "a": [a.real, a.imag],
        "sigma": sig.tolist(),
        "Sx": float(sig[:, 0].sum() / 2),
        "Sy": float(sig[:, 1].sum() / 2),
        "Sz": float(sig[:, 2].sum() / 2),
        "edge_population": float(pops[-k:].sum()),
        "edge_levels": k,
        "trace": float(pops.sum()),
        "cavity_populations": pops.tolist(),
    }
