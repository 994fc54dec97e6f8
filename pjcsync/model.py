"""The driven Tavis-Cummings model: parameters and sparse N x N operators.

Conventions (DESIGN section 0), hbar = 1 and energies in units of lambda:

* Tensor order: cavity first, then qubit 1, 2, ..., M; Hilbert dimension ``N = n_c * 2**M``.
* Qubit basis index 0 is up, 1 is down (as in QuTiP): ``sigmaz = diag(1, -1)``,
  ``sigmap = |up><down|``; the qubit ground state is down.
* Rotating frame, eq. (3): ``H = wr a^+a + sum_l lambda_l (a s_l^+ + a^+ s_l^-)
  + sum_l (Omega_rl / 2) s_z,l + F (a + a^+)`` with ``wr = omega_0 - omega`` and
  ``Omega_rl = Delta_l + wr``.
* Lab frame, eq. (1): ``H(t) = omega_0 a^+a + sum_l lambda_l s_x,l (a + a^+)
  + sum_l (Omega_l / 2) s_z,l + 2F (a + a^+) cos(omega t)``.
* Collapse operators, eq. (5): ``sqrt(gamma) a`` and ``sqrt(gamma_s,l) s_l^-``.

All operators are ``scipy.sparse`` CSR matrices of complex128.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from .config import ConfigError

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


@dataclass(frozen=True)
class Model:
    """Parameters of the driven dissipative cavity with M qubits (units of lambda)."""

    levels: int                       # n_c
    gamma: float                      # cavity decay
    detunings: tuple[float, ...]      # Delta_l = Omega_l - omega_0
    couplings: tuple[float, ...]      # lambda_l
    gamma_s: tuple[float, ...]        # qubit decay rates
    amplitude: float                  # F
    drive_detuning: float             # omega - omega_0
    omega0: float | None = None       # cavity frequency (lab frame only)

    @classmethod
    def from_config(cls, cfg: dict) -> "Model":
        """The model of a validated configuration.  With ``[cavity] levels = "auto"`` the model
        has ``levels_start`` levels: the adaptive steady state (:mod:`pjcsync.truncation`) grows it."""
        q = cfg["qubits"]
        levels = cfg["cavity"]["levels"]
        if levels == "auto":
            levels = cfg["cavity"]["levels_start"]
        return cls(levels=levels, gamma=cfg["cavity"]["decay"],
                   detunings=tuple(q["detuning"]), couplings=tuple(q["coupling"]),
                   gamma_s=tuple(q["decay"]), amplitude=cfg["drive"]["amplitude"],
                   drive_detuning=cfg["drive"]["detuning"], omega0=cfg["cavity"]["frequency"])

    # --- sizes -----------------------------------------------------------------------------
    @property
    def M(self) -> int:
        return len(self.detunings)

    @property
    def N(self) -> int:
        """Hilbert-space dimension n_c * 2**M."""
        return self.levels * 2 ** self.M

    @property
    def dims(self) -> list[int]:
        return [self.levels] + [2] * self.M

    @property
    def omega_r(self) -> float:
        """omega_0 - omega, the cavity frequency in the rotating frame."""
        return -self.drive_detuning

    # --- embedded operators ----------------------------------------------------------------
    def embed(self, op: sp.spmatrix, site: int) -> sp.csr_matrix:
        """Place a local operator on ``site`` (0 = cavity, l = qubit l, 1-based)."""
        mats = [sp.identity(d, dtype=DTYPE, format="csr") for d in self.dims]
        mats[site] = sp.csr_matrix(op, dtype=DTYPE)
        out = mats[0]
        for m in mats[1:]:
            out = sp.kron(out, m, format="csr")
        return out

    @cached_property
    def a(self) -> sp.csr_matrix:
        return self.embed(destroy(self.levels), 0)

    @cached_property
    def n(self) -> sp.csr_matrix:
        return (self.a.conj().T @ self.a).tocsr()

    def qubit(self, op: sp.spmatrix, l: int) -> sp.csr_matrix:
        """``op`` acting on qubit ``l`` (0-based index into the qubit list)."""
        return self.embed(op, l + 1)

    @cached_property
    def sm(self) -> list[sp.csr_matrix]:
        return [self.qubit(sigmam(), l) for l in range(self.M)]

    @cached_property
    def sz(self) -> list[sp.csr_matrix]:
        return [self.qubit(sigmaz(), l) for l in range(self.M)]

    @cached_property
    def identity(self) -> sp.csr_matrix:
        return sp.identity(self.N, dtype=DTYPE, format="csr")

    # --- Hamiltonians ----------------------------------------------------------------------
    def hamiltonian(self) -> sp.csr_matrix:
        """RWA Hamiltonian in the frame rotating at the drive frequency, eq. (3)."""
        a, ad = self.a, self.a.conj().T
        wr = self.omega_r
        h = wr * self.n + self.amplitude * (a + ad)
        for l in range(self.M):
            sm, sp_ = self.sm[l], self.sm[l].conj().T
            h = h + self.couplings[l] * (a @ sp_ + ad @ sm) + 0.5 * (self.detunings[l] + wr) * self.sz[l]
        return sp.csr_matrix(h, dtype=DTYPE)

    def lab_hamiltonian_static(self) -> sp.csr_matrix:
        """Time-independent part of the lab-frame Hamiltonian, eq. (1) (needs omega_0)."""
        w0 = self._require_omega0()
        a, ad = self.a, self.a.conj().T
        h = w0 * self.n
        for l in range(self.M):
            sx = self.sm[l] + self.sm[l].conj().T
            h = h + self.couplings[l] * sx @ (a + ad) + 0.5 * (self.detunings[l] + w0) * self.sz[l]
        return sp.csr_matrix(h, dtype=DTYPE)

    def lab_drive_operator(self) -> sp.csr_matrix:
        """Operator multiplying cos(omega t) in eq. (1): ``2F (a + a^+)``."""
        return sp.csr_matrix(2.0 * self.amplitude * (self.a + self.a.conj().T), dtype=DTYPE)

    @property
    def omega(self) -> float:
        """Drive frequency omega = omega_0 + (omega - omega_0) (lab frame only)."""
        return self._require_omega0() + self.drive_detuning

    def _require_omega0(self) -> float:
        if self.omega0 is None:
            raise ConfigError("the lab frame needs [cavity] frequency (omega_0)")
        return self.omega0

    # --- dissipation -----------------------------------------------------------------------
    def collapse_operators(self) -> list[sp.csr_matrix]:
        """``sqrt(gamma) a`` and ``sqrt(gamma_s,l) sigma_l^-`` (eq. 5), zero rates omitted."""
        ops = []
        if self.gamma > 0:
            ops.append(np.sqrt(self.gamma) * self.a)
        for l in range(self.M):
            if self.gamma_s[l] > 0:
                ops.append(np.sqrt(self.gamma_s[l]) * self.sm[l])
        return [sp.csr_matrix(c, dtype=DTYPE) for c in ops]

    def ground_state_index(self) -> int:
        """Index of |n=0, down, ..., down> (qubit basis: 0 = up, 1 = down)."""
        return 2 ** self.M - 1
