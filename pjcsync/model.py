"""The driven Tavis-Cummings model: parameters and sparse N x N operators.

Conventions (docs/conventions.md), hbar = 1 and energies in units of lambda:

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

import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from .config import ConfigError
from .operators import DTYPE, destroy, sigmam, sigmap, sigmax, sigmay, sigmaz  # noqa: F401  (re-exported)


@dataclass(frozen=True)
class AutoLevels:
    """``[cavity] levels = "auto"``: how the steady state chooses n_c (:mod:`pjcsync.truncation`).

    n_c starts at ``start`` and grows until the population of the top Fock levels (the edge,
    :func:`pjcsync.observables.edge_levels`) is at most ``tolerance``, up to ``max`` levels.
    Defaults: the ``[cavity]`` keys ``levels_tolerance``, ``levels_start``, ``levels_max`` of
    :data:`pjcsync.config.SCHEMA`."""

    tolerance: float
    start: int
    max: int

    @classmethod
    def from_cavity(cls, cavity: dict) -> "AutoLevels":
        """From a validated ``[cavity]`` section."""
        return cls(tolerance=cavity["levels_tolerance"], start=cavity["levels_start"], max=cavity["levels_max"])

    def to_cavity(self) -> dict:
        """The ``[cavity]`` keys (``levels = "auto"`` and its three settings)."""
        return {"levels": "auto", "levels_tolerance": self.tolerance, "levels_start": self.start,
                "levels_max": self.max}


@dataclass(frozen=True)
class Model:
    """Parameters of the driven dissipative cavity with M qubits (units of lambda).

    ``auto_levels`` (None for a fixed n_c) marks a model whose n_c the steady state chooses
    (``levels = "auto"``); its operators are those of ``levels`` = the first n_c tried."""

    levels: int                       # n_c
    gamma: float                      # cavity decay
    detunings: tuple[float, ...]      # Delta_l = Omega_l - omega_0
    couplings: tuple[float, ...]      # lambda_l
    gamma_s: tuple[float, ...]        # qubit decay rates
    amplitude: float                  # F
    drive_detuning: float             # omega - omega_0
    omega0: float | None = None       # cavity frequency (lab frame only)
    auto_levels: AutoLevels | None = None   # levels = "auto": n_c chosen by the steady state

    @classmethod
    def from_config(cls, cfg: dict) -> "Model":
        """The model of a validated configuration.  With ``[cavity] levels = "auto"`` the model
        has ``levels_start`` levels: the adaptive steady state (:mod:`pjcsync.truncation`) grows it."""
        q = cfg["qubits"]
        levels, auto = cfg["cavity"]["levels"], None
        if levels == "auto":
            auto = AutoLevels.from_cavity(cfg["cavity"])
            levels = auto.start
        return cls(levels=levels, gamma=cfg["cavity"]["decay"],
                   detunings=tuple(q["detuning"]), couplings=tuple(q["coupling"]),
                   gamma_s=tuple(q["decay"]), amplitude=cfg["drive"]["amplitude"],
                   drive_detuning=cfg["drive"]["detuning"], omega0=cfg["cavity"]["frequency"],
                   auto_levels=auto)

    @classmethod
    def from_toml(cls, path, overrides: list[str] | None = None) -> "Model":
        """The model of a TOML configuration file (``[cavity]``, ``[qubits]``, ``[drive]``;
        other sections are validated and ignored), with ``--set``-style ``overrides``."""
        from .config import load_config
        return cls.from_config(load_config(path, overrides))

    def to_config(self) -> dict:
        """The model's sections of a configuration (``[cavity]``, ``[qubits]``, ``[drive]``)."""
        levels = self.auto_levels.to_cavity() if self.auto_levels else {"levels": self.levels}
        return {"cavity": {**levels, "decay": self.gamma, "frequency": self.omega0},
                "qubits": {"detuning": list(self.detunings), "coupling": list(self.couplings),
                           "decay": list(self.gamma_s)},
                "drive": {"amplitude": self.amplitude, "detuning": self.drive_detuning}}

    def to_toml(self) -> str:
        """The model as TOML text: ``Model.from_toml`` of it gives this model back exactly."""
        from .config import dumps_toml
        return dumps_toml(self.to_config())

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

    @property
    def H(self) -> sp.csr_matrix:
        """The rotating-frame (RWA) Hamiltonian of eq. (3); see :meth:`hamiltonian`."""
        return self.hamiltonian()

    @property
    def c_ops(self) -> list[sp.csr_matrix]:
        """The collapse operators of eq. (5); see :meth:`collapse_operators`."""
        return self.collapse_operators()

    def lab_frame(self) -> tuple[sp.csr_matrix, sp.csr_matrix, float]:
        """``(H0, H1, omega)`` with the lab-frame Hamiltonian of eq. (1)
        ``H(t) = H0 + cos(omega t) H1`` (needs ``frequency``); the collapse operators are
        :attr:`c_ops` in both frames.  In QuTiP: ``[H0, [H1, lambda t: cos(omega * t)]]``."""
        return self.lab_hamiltonian_static(), self.lab_drive_operator(), self.omega

    def observables(self, rho, layout=None) -> dict:
        """The named observables of the paper's figures for any state (names of
        ``pjcsync steady --json``; docs/conventions.md).

        ``rho``: the full N x N density matrix (array or ``Qobj``) or a result with distributed
        rows (collective), or this rank's rows with ``layout``."""
        from .observables import all_observables
        from .parallel import RowLayout
        if layout is None:
            if hasattr(rho, "rows") and hasattr(rho, "layout"):
                rho, layout = rho.rows(), rho.layout
            else:
                if hasattr(rho, "full"):
                    rho = rho.full()
                from mpi4py import MPI
                layout = RowLayout.create(self.N, MPI.COMM_SELF)
        rows = np.asarray(rho, dtype=DTYPE).reshape(layout.rows, layout.N)
        return all_observables(self, rows, layout)

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


def TavisCummings(*, levels=None, cavity_decay=None, drive=None, detunings=None, couplings=None,
                  qubit_decay=None, drive_detuning=None, frequency=None, levels_tolerance=None,
                  levels_start=None, levels_max=None) -> Model:
    """The driven dissipative Tavis-Cummings model of eqs. (1), (3), (5) (units of lambda).

    Validated by the schema of the TOML configuration (:data:`pjcsync.config.SCHEMA`) with its
    defaults: a keyword left out (None) takes the value the same key takes when absent from a
    TOML file, and a bad value raises :class:`~pjcsync.config.ConfigError` naming the key.

    Parameters
    ----------
    levels : int or "auto"
        Fock levels n_c of the truncated cavity (``[cavity] levels``, required).  ``"auto"``:
        :func:`pjcsync.steadystate` chooses n_c, growing it from ``levels_start`` until the
        population of the top levels is at most ``levels_tolerance`` (the result's ``model`` and
        ``levels`` are those of the chosen n_c); the model's own operators are those of
        ``levels_start`` levels.
    cavity_decay : float
        Cavity decay rate gamma (``[cavity] decay``, required).
    drive : float
        Drive amplitude F (``[drive] amplitude``, required).
    detunings : list of float
        ``Delta_l = Omega_l - omega_0``, one per qubit; M = its length (default: no qubit).
    couplings : float or list of float
        ``lambda_l`` (default 1).
    qubit_decay : float or list of float
        ``gamma_s,l`` (default 0).
    drive_detuning : float
        ``omega - omega_0`` (default 0).
    frequency : float, optional
        Cavity frequency omega_0 (lab frame only).
    levels_tolerance, levels_start, levels_max : float, int, int
        ``levels = "auto"`` only: largest edge population accepted (default 1e-9), first n_c
        (16) and largest n_c (400) tried.

    Returns
    -------
    Model
        With ``H`` and ``c_ops`` (rotating frame), ``lab_frame()``, ``observables(rho)``,
        ``to_toml()``; ``pjcsync.steadystate(model)`` solves it.

    Raises
    ------
    pjcsync.config.ConfigError
        A keyword missing, of the wrong type or out of range (the message names the keyword
        and its TOML key), or ``levels_*`` given with a fixed number of levels.
    """
    from .config import ConfigError, validate
    adaptive = {"levels_tolerance": levels_tolerance, "levels_start": levels_start, "levels_max": levels_max}
    if levels != "auto" and any(v is not None for v in adaptive.values()):
        given = ", ".join(k for k, v in adaptive.items() if v is not None)
        raise ConfigError(f"TavisCummings {given} only apply with levels = 'auto' (got levels = {levels!r})")
    data = {"cavity": {"levels": levels, "decay": cavity_decay, "frequency": frequency, **adaptive},
            "qubits": {"detuning": None if detunings is None else list(np.atleast_1d(detunings).tolist()),
                       "coupling": _listify(couplings), "decay": _listify(qubit_decay)},
            "drive": {"amplitude": drive, "detuning": drive_detuning}}
    try:
        return Model.from_config(validate(data))
    except ConfigError as exc:
        msg = str(exc)
        for (section, key), kw in _BUILDER_KEYS.items():
            msg = re.sub(rf"\[{section}\] {key}\b", f"TavisCummings {kw} ([{section}] {key})", msg)
        raise ConfigError(msg) from None


_BUILDER_KEYS = {("cavity", "levels"): "levels", ("cavity", "decay"): "cavity_decay",
                 ("cavity", "frequency"): "frequency", ("cavity", "levels_tolerance"): "levels_tolerance",
                 ("cavity", "levels_start"): "levels_start", ("cavity", "levels_max"): "levels_max",
                 ("qubits", "detuning"): "detunings",
                 ("qubits", "coupling"): "couplings", ("qubits", "decay"): "qubit_decay",
                 ("drive", "amplitude"): "drive", ("drive", "detuning"): "drive_detuning"}


def _listify(x):
    if x is None or isinstance(x, (int, float)) and not isinstance(x, bool):
        return x
    if isinstance(x, np.ndarray) or isinstance(x, (list, tuple)):
        return [float(v) if isinstance(v, (np.floating, np.integer)) else v for v in np.asarray(x).tolist()]
    return x
