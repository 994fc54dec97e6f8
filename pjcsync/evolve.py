"""Time evolution of the Lindblad equation with PETSc TS (paper section 2.1, eqs. 1-6).

Three generators ``d vec(rho)/dt = L(t) vec(rho)`` (row-major vec, rows of rho distributed as in
:class:`~pjcsync.parallel.RowLayout`), all in units of 1/lambda:

* ``frame = "rotating"``: the RWA, eq. (6): ``L`` constant (the Liouvillian of eq. 3).
* ``frame = "lab"``, ``formulation = "rotating"`` (default): the full model of eq. (1), exactly,
  written for ``rho_R = U rho U^+`` with ``U = exp(i omega (a^+a + sum_l s_l^+ s_l^-) t)``:

      H_R(t) = H_RWA + e^{-2i omega t} V + e^{2i omega t} V^+,   V = sum_l lambda_l s_l^- a + F a,

  so ``L(t) = L_RWA + e^{-2i omega t} L_- + e^{2i omega t} L_+`` with ``L_-(rho) = -i[V, rho]``,
  ``L_+(rho) = -i[V^+, rho]`` (the dissipators of eq. 5 are invariant under U).  No
  approximation: the counter-rotating terms oscillate at 2 omega instead of the lab frame's
  spread omega_0 n_c, so an explicit integrator takes far fewer steps.
* ``frame = "lab"``, ``formulation = "direct"``: eq. (1) itself, ``L(t) = L_s + cos(omega t) L_F``
  (kept to verify the rotating formulation).

Observables (names of ``pjcsync steady --json``): the plain names are lab-frame values, the
suffix ``_rot`` marks rotating-frame values.  ``U`` is diagonal in the Fock x qubit basis, so
``<a>_lab = e^{-i omega t} <a>_rot``, ``<s^->_lab = e^{-i omega t} <s^->_rot`` and ``<n>``,
``<s_z>`` and all populations are the same in both frames.  For the RWA (frame "rotating") both
sets hold the rotating-frame values, as ``pjcsync steady`` reports them.  Every output also
carries the averages of the observables over the preceding output interval (one drive period
with ``output_every_periods = 1``), integrated with the Runge-Kutta stages themselves (a PETSc
quadrature TS), so they are as accurate as the integration.

Checkpoints: ``<checkpoint>.json`` (time, step, step size, outputs so far, the quadrature) and
``<checkpoint>.<k>.npy`` (rho as one N x N array; every rank writes its rows into it, so a run
may resume on a different number of ranks).  The JSON is replaced atomically after the array is
complete: a checkpoint is complete or absent.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from petsc4py import PETSc

from .config import ConfigError
from .model import DTYPE, Model, sigmam, sigmaz
from .parallel import InputError, PjcsyncError, RowLayout, allreduce_sum, transpose_rows
from . import states
from . import superoperator as so
from .petsc_options import set_from_options

CHECKPOINT_VERSION = 1
EXPLICIT_TS_TYPES = ("euler", "rk", "ssp")
QUADRATURE_TS_TYPES = ("rk", "theta", "cn", "beuler")


# --- the generators ---------------------------------------------------------------------------

def counter_rotating_operator(model: Model) -> sp.csr_matrix:
    """``V = sum_l lambda_l s_l^- a + F a``: the coefficient of ``e^{-2i omega t}`` in H_R(t)."""
    V = model.amplitude * model.a
    for l in range(model.M):
        V = V + model.couplings[l] * (model.sm[l] @ model.a)
    return sp.csr_matrix(V, dtype=DTYPE)


def commutator_rows(V: sp.spmatrix, layout: RowLayout) -> sp.csr_matrix:
    """This rank's rows of ``rho -> -i[V, rho]`` for any (also non-Hermitian) V.

    Row-major vec: ``vec(V rho) = (V (x) I) vec(rho)``, ``vec(rho V) = (I (x) V^T) vec(rho)``."""
    V = sp.csr_matrix(V, dtype=DTYPE)
    N = layout.N
    eye = sp.identity(N, dtype=DTYPE, format="csr")
    out = (-1j * sp.kron(V[layout.i0:layout.i1], eye, format="csr")
           + 1j * sp.kron(eye[layout.i0:layout.i1], V.T.tocsr(), format="csr"))
    out = sp.csr_matrix(out)
    out.sum_duplicates()
    out.eliminate_zeros()
    out.sort_indices()
    return out


def left_rows(X: sp.spmatrix, layout: RowLayout) -> sp.csr_matrix:
    """This rank's rows of ``rho -> X rho`` (``X (x) I`` in row-major vec)."""
    X = sp.csr_matrix(X, dtype=DTYPE)
    out = sp.kron(X[layout.i0:layout.i1], sp.identity(layout.N, dtype=DTYPE, format="csr"), format="csr")
    out.eliminate_zeros()
    out.sort_indices()
    return out


def half_rows(A: sp.spmatrix, c_ops: list[sp.spmatrix], layout: RowLayout) -> sp.csr_matrix:
    """Rows of ``rho -> A rho + 1/2 sum_k c_k rho c_k^+``: half of a Lindbladian whose drift is A.

    For Hermitian rho, ``L(rho) = Z + Z^+`` with ``Z = A rho + 1/2 sum_k c_k rho c_k^+`` and
    ``A = -iH - K/2``: about half the nonzeros of the full ``L``."""
    out = left_rows(A, layout)
    for c in c_ops:
        c = sp.csr_matrix(c, dtype=DTYPE)
        out = out + 0.5 * sp.kron(c[layout.i0:layout.i1], c.conj(), format="csr")
    out = sp.csr_matrix(out)
    out.sum_duplicates()
    out.eliminate_zeros()
    out.sort_indices()
    return out


class Generator:
    """``L(t) = sum_k c_k(t) L_k``, applied through its Hermitian half (see :func:`half_rows`).

    ``apply`` computes ``Z = sum_k c_k(t) Z_k rho`` with the half matrices (left multiplications
    and half the jump terms), then ``f = Z + Z^+`` (one transpose between ranks): exact for the
    Hermitian states and stages of an explicit Runge-Kutta method, with about half the
    mat-vec work of the full ``L``.  The full matrices are assembled only for implicit TS types
    (their Jacobian), lazily."""

    def __init__(self, model: Model, layout: RowLayout, frame: str, formulation: str = "rotating"):
        self.model, self.layout = model, layout
        self.frame, self.formulation = frame, formulation
        c_ops = model.collapse_operators()
        if frame == "rotating":
            self.kind = "rwa"
            H0, parts = model.hamiltonian(), []
        elif frame == "lab" and formulation == "rotating":
            self.kind = "lab-rotating"
            w = model.omega
            V = counter_rotating_operator(model)
            H0 = model.hamiltonian()
            parts = [(V, lambda t: np.exp(-2j * w * t)), (V.conj().T.tocsr(), lambda t: np.exp(2j * w * t))]
        elif frame == "lab" and formulation == "direct":
            self.kind = "lab-direct"
            w = model.omega
            H0 = model.lab_hamiltonian_static()
            parts = [(model.lab_drive_operator(), lambda t: math.cos(w * t))]
        else:
            raise ConfigError(f"unknown frame/formulation {frame!r}/{formulation!r}")
        self._H0, self._c_ops, self._parts = H0, c_ops, parts
        self.half = [(so.petsc_matrix(half_rows(so.drift_operator(H0, c_ops), c_ops, layout), layout), None)]
        self.half += [(so.petsc_matrix(left_rows(-1j * X, layout), layout), coef) for X, coef in parts]
        self._Z = self.half[0][0].createVecLeft()
        self._tmp = self._Z.duplicate()
        self.evaluations = 0
        self._full = None
        self._J = None
        self.use_full = False

    @property
    def rho_frame(self) -> str:
        """The frame of the integrated rho: "rotating" or "lab"."""
        return "lab" if self.kind == "lab-direct" else "rotating"

    def apply(self, t: float, x: PETSc.Vec, f: PETSc.Vec) -> None:
        self.evaluations += 1
        if self.use_full:                 # implicit TS types: stages need not be exactly Hermitian
            (L0, _), rest = self.full_terms()[0], self.full_terms()[1:]
            L0.mult(x, f)
            for mat, coef in rest:
                mat.mult(x, self._tmp)
                f.axpy(coef(t), self._tmp)
            return
        (Z0, _), rest = self.half[0], self.half[1:]
        Z = self._Z
        Z0.mult(x, Z)
        for mat, coef in rest:
            mat.mult(x, self._tmp)
            Z.axpy(coef(t), self._tmp)
        lay = self.layout
        z = Z.getArray(readonly=True).reshape(lay.rows, lay.N)
        f.setArray((z + transpose_rows(z, lay).conj()).ravel())

    # --- the full generator, for implicit TS types and checks ---
    def full_terms(self) -> list:
        if self._full is None:
            lay = self.layout
            self._full = [(so.petsc_matrix(so.local_rows(self._H0, self._c_ops, lay), lay), None)]
            self._full += [(so.petsc_matrix(commutator_rows(X, lay), lay), coef) for X, coef in self._parts]
        return self._full

    def jacobian_matrix(self) -> PETSc.Mat:
        """A matrix with the union pattern of all terms (for implicit TS types)."""
        if self._J is None:
            terms = self.full_terms()
            J = terms[0][0].duplicate(copy=True)
            for mat, _ in terms[1:]:
                J.axpy(1.0, mat, structure=PETSc.Mat.Structure.DIFFERENT_NONZERO_PATTERN)
            self._J = J
        return self._J

    def fill_jacobian(self, t: float, J: PETSc.Mat) -> None:
        J.zeroEntries()
        for mat, coef in self.full_terms():
            J.axpy(1.0 if coef is None else coef(t), mat,
                   structure=PETSc.Mat.Structure.SUBSET_NONZERO_PATTERN)
        J.assemble()

    def destroy(self) -> None:
        for mat, _ in self.half + (self._full or []):
            mat.destroy()
        if self._J is not None:
            self._J.destroy()
        self._Z.destroy()
        self._tmp.destroy()


# --- observables as linear functionals ---------------------------------------------------------

class Probe:
    """The observables of an output, as linear functionals ``Tr(O rho) = vec(O^T) . vec(rho)``.

    ``raw(x)`` gives, with one reduction, ``q = [<a>, <s_l^->..., <n>, <s_z,l>..., Tr rho,
    edge population]`` in the frame of the integrated rho; ``both(t, q)`` returns that vector
    in the rotating and the lab frame stacked, whose time integral gives the period averages."""

    def __init__(self, model: Model, layout: RowLayout, rho_frame: str, omega: float | None):
        self.model, self.layout, self.rho_frame, self.omega = model, layout, rho_frame, omega
        from .observables import edge_levels
        M = model.M
        self.edge_k = edge_levels(model)
        edge = np.zeros(model.N)
        edge[-self.edge_k * 2 ** M:] = 1.0
        ops = ([model.a] + [model.qubit(sigmam(), l) for l in range(M)] + [model.n]
               + [model.qubit(sigmaz(), l) for l in range(M)]
               + [model.identity, sp.diags(edge, format="csr")])
        # row q of W: this rank's part of vec(O_q^T)
        rows = [sp.csr_matrix(op, dtype=DTYPE).T.tocsr()[layout.i0:layout.i1].reshape(1, layout.local_size)
                for op in ops]
        self.W = sp.vstack(rows, format="csr")
        self.size = len(ops)
        # phase of each entry under rotating -> lab: e^{-i omega t} for a and s^-, 1 otherwise
        self.charge = np.array([1] * (1 + M) + [0] * (M + 3), dtype=float)

    def raw_local(self, x: PETSc.Vec) -> np.ndarray:
        """This rank's partial sums of ``q`` (no communication)."""
        return np.asarray(self.W @ x.getArray(readonly=True), dtype=complex)

    def raw(self, x: PETSc.Vec) -> np.ndarray:
        return np.asarray(allreduce_sum(self.raw_local(x), self.layout.comm), dtype=complex)

    def both(self, t: float, q: np.ndarray) -> np.ndarray:
        """``[q_rot, q_lab]`` (length 2 * size)."""
        if self.omega is None or self.rho_frame == "rwa":
            return np.concatenate([q, q])
        phase = np.exp(-1j * self.omega * t * self.charge)
        if self.rho_frame == "rotating":
            return np.concatenate([q, q * phase])
        return np.concatenate([q / phase, q])

    def named(self, qq: np.ndarray) -> dict:
        """Named observables from ``[q_rot, q_lab]``: lab values plain, rotating values ``_rot``."""
        M = self.model.M
        out = {}
        for suffix, q in (("", qq[self.size:]), ("_rot", qq[:self.size])):
            a, sm = q[0], q[1:1 + M]
            n, sz = q[1 + M].real, q[2 + M:2 + 2 * M].real
            trace, edge = q[2 + 2 * M].real, q[3 + 2 * M].real
            sx, sy = 2 * sm.real, -2 * sm.imag
            sigma = np.stack([sx, sy, sz], axis=1) if M else np.zeros((0, 3))
            out["n" + suffix] = float(n)
            out["a" + suffix] = [float(a.real), float(a.imag)]
            out["sigma" + suffix] = sigma.tolist()
            out["Sx" + suffix] = float(sx.sum() / 2)
            out["Sy" + suffix] = float(sy.sum() / 2)
            out["Sz" + suffix] = float(sz.sum() / 2)
            out["theta" + suffix] = [float(v) for v in np.arctan2(sy, sx)]
            out["trace" + suffix] = float(trace)
            out["edge_population" + suffix] = float(edge)
        return out


# --- configuration ------------------------------------------------------------------------------

@dataclass
class Plan:
    """Times of a run (units of 1/lambda) derived from ``[evolve]``."""

    t_end: float
    output_times: list[float]
    period: float | None

    @classmethod
    def from_config(cls, model: Model, ev: dict) -> "Plan":
        omega = None
        if ev["frame"] == "lab" or ev.get("periods") is not None or ev.get("output_every_periods") is not None:
            if model.omega0 is None:
                what = "the lab frame" if ev["frame"] == "lab" else "times in drive periods"
                raise ConfigError(f"{what} needs [cavity] frequency (omega_0)")
            omega = model.omega
            if omega <= 0:
                raise ConfigError(f"the drive frequency omega = omega_0 + detuning = {omega:g} must be positive")
        period = 2 * math.pi / omega if omega else None
        if (ev.get("t_end") is None) == (ev.get("periods") is None):
            raise ConfigError("[evolve] needs exactly one of t_end (units of 1/lambda) or periods (drive periods)")
        t_end = ev["t_end"] if ev.get("t_end") is not None else ev["periods"] * period
        if not t_end > 0:
            raise ConfigError("[evolve] t_end / periods must be positive")
        if ev.get("output_every") is not None and ev.get("output_every_periods") is not None:
            raise ConfigError("[evolve] give output_every or output_every_periods, not both")
        if ev.get("output_every") is not None:
            dt = ev["output_every"]
        elif ev.get("output_every_periods") is not None:
            dt = ev["output_every_periods"] * period
        else:
            dt = t_end / 100
        if not dt > 0:
            raise ConfigError("[evolve] output interval must be positive")
        K = max(1, int(math.ceil(t_end / dt - 1e-9)))
        if K > 10_000_000:
            raise ConfigError(f"[evolve] {K} outputs: choose a larger output interval")
        times = [min(k * dt, t_end) for k in range(1, K + 1)]
        times[-1] = t_end
        return cls(t_end=t_end, output_times=times, period=period)


def initial_rows(model: Model, layout: RowLayout, initial: str, solver_cfg: dict | None = None,
                 guess=None) -> np.ndarray:
    """This rank's rows of ``[evolve] initial``: "ground", "steady" (the RWA steady state,
    started from ``guess``: see :func:`pjcsync.steady.steady_state`) or an ``.npy`` file holding
    rho (N x N), taken as given (:func:`pjcsync.states.initial_rows`)."""
    if initial == "steady":
        from .steady import steady_state
        st = steady_state(model, solver_cfg or {"method": "auto"}, layout, initial=guess)
        return st.rows().copy()
    if initial != "ground" and not initial.endswith(".npy"):
        raise InputError(f"[evolve] initial must be 'ground', 'steady' or an .npy file, got {initial!r}")
    return states.initial_rows(initial, model, layout, what="[evolve] initial")[0]


def dormand_prince(gen: Generator, u: PETSc.Vec, rtol: float, atol: float, t0: float, dt: float,
                   step0: int = 0) -> PETSc.TS:
    """The PETSc TS that integrates ``d rho/dt = gen(t) rho`` from ``u``: adaptive Dormand-Prince
    5(4) with tolerances ``rtol``/``atol``, first step ``dt``, stepping exactly onto requested
    times; the options database may change the type (an implicit type gets the Jacobian)."""
    ts = PETSc.TS().create(comm=u.getComm())
    ts.setProblemType(PETSc.TS.ProblemType.LINEAR)
    ts.setType(PETSc.TS.Type.RK)
    ts.setRKType("5dp")
    ts.setRHSFunction(lambda ts_, t, x, f: gen.apply(t, x, f), u.duplicate())
    ts.setTolerances(rtol=rtol, atol=atol)
    ts.setExactFinalTime(PETSc.TS.ExactFinalTime.MATCHSTEP)
    ts.setMaxSteps(2 ** 31 - 2)
    ts.setTime(t0)
    ts.setStepNumber(step0)
    ts.setTimeStep(dt)
    set_from_options(ts, "the time integration")
    if ts.getType() not in EXPLICIT_TS_TYPES:
        gen.use_full = True
        J = gen.jacobian_matrix()
        ts.setRHSJacobian(lambda ts_, t, x, A, P: gen.fill_jacobian(t, A), J, J)
    return ts


def advance_to(ts: PETSc.TS, u: PETSc.Vec, t_out: float, dt: float) -> float:
    """Integrate ``ts`` from its current time to exactly ``t_out``, starting with the step
    ``dt``; returns the step size the TS would take next.  A PETSc error, or a TS that stops
    before ``t_out``, is a failed computation (collective :class:`PjcsyncError`, one line)."""
    ts.setMaxTime(t_out)
    ts.setTimeStep(dt)
    try:
        ts.solve(u)
    except PETSc.Error as exc:
        raise PjcsyncError(f"time integration failed in PETSc (error {exc.ierr}) at t = {ts.getTime():.6g}",
                           collective=True) from None
    reason = ts.getConvergedReason()
    if reason < 0 or abs(ts.getTime() - t_out) > 1e-9 * max(1.0, abs(t_out)):
        raise PjcsyncError(f"time integration stopped at t = {ts.getTime():.6g} before {t_out:.6g} "
                           f"(TS reason {reason})", collective=True)
    return ts.getTimeStep()


# --- checkpoints ----------------------------------------------------------------------------------

def _fingerprint(cfg: dict) -> dict:
    ev = cfg["evolve"]
    return {"cavity": cfg["cavity"], "qubits": cfg["qubits"], "drive": cfg["drive"],
            "evolve": {k: ev[k] for k in ("frame", "formulation", "rtol", "atol", "initial")}}


def write_checkpoint_array(path: str, layout: RowLayout, rows: np.ndarray) -> None:
    """Collective: rho (N x N) into one ``.npy`` file, each rank writing its own rows; the file
    appears complete (rename) or not at all."""
    comm, rank = layout.comm, layout.comm.Get_rank()
    tmp = comm.bcast(f"{path}.tmp-{os.getpid()}.npy" if rank == 0 else None, root=0)
    if rank == 0:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=DTYPE, shape=(layout.N, layout.N))
        del mm
    comm.Barrier()
    mm = np.load(tmp, mmap_mode="r+")
    mm[layout.i0:layout.i1] = rows
    mm.flush()
    del mm
    comm.Barrier()
    if rank == 0:
        os.replace(tmp, path)
    comm.Barrier()


def write_checkpoint(prefix: str, layout: RowLayout, rows: np.ndarray, meta: dict) -> None:
    """Collective: rho into ``prefix.<k>.npy``, then rank 0 commits ``prefix.json`` (atomic)."""
    comm, rank = layout.comm, layout.comm.Get_rank()
    npy = f"{prefix}.{meta['outputs_done']}.npy"
    write_checkpoint_array(npy, layout, rows)
    if rank == 0:
        old = None
        if os.path.isfile(prefix + ".json"):
            try:
                old = json.load(open(prefix + ".json")).get("state")
            except (OSError, ValueError):
                old = None
        meta = dict(meta, state=os.path.basename(npy))
        with open(prefix + ".json.tmp", "w") as f:
            json.dump(meta, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(prefix + ".json.tmp", prefix + ".json")
        if old and old != os.path.basename(npy):
            try:
                os.remove(os.path.join(os.path.dirname(os.path.abspath(prefix)), old))
            except OSError:
                pass
    comm.Barrier()


def read_checkpoint(prefix: str, layout: RowLayout) -> tuple[dict, np.ndarray] | None:
    """The last complete checkpoint (meta, this rank's rows), or None if there is none."""
    path = prefix + ".json"
    if not os.path.isfile(path):
        return None
    try:
        meta = json.load(open(path))
        arr = np.load(os.path.join(os.path.dirname(os.path.abspath(prefix)), meta["state"]), mmap_mode="r")
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"checkpoint {path!r} is unreadable: {exc}") from None
    if arr.shape != (layout.N, layout.N):
        raise InputError(f"checkpoint {path!r} holds rho of shape {arr.shape}, this model has N = {layout.N}")
    return meta, np.array(arr[layout.i0:layout.i1], dtype=DTYPE)


# --- the driver ---------------------------------------------------------------------------------------

@dataclass
class Evolution:
    """Result of :func:`evolve`: the records, statistics and the final rho (integrated frame)."""

    model: Model
    layout: RowLayout
    rho: PETSc.Vec
    rho_frame: str
    records: list = field(default_factory=list)
    statistics: dict = field(default_factory=dict)

    def rows(self) -> np.ndarray:
        return self.rho.getArray(readonly=True).reshape(self.layout.rows, self.layout.N)

    def rows_in(self, frame: str, t: float | None = None) -> np.ndarray:
        """This rank's rows of rho in ``frame`` ("rotating" or "lab") at time t (default: the end)."""
        rows = self.rows()
        if frame == self.rho_frame or self.rho_frame == "rwa":
            return rows.copy()
        t = self.statistics["t"] if t is None else t
        e = excitations(self.model)
        w = self.model.omega
        sign = 1.0 if frame == "rotating" else -1.0      # rho_R = U rho U^+
        ph_i = np.exp(sign * 1j * w * t * e[self.layout.i0:self.layout.i1])
        ph_j = np.exp(-sign * 1j * w * t * e)
        return rows * ph_i[:, None] * ph_j[None, :]


def excitations(model: Model) -> np.ndarray:
    """Eigenvalues of ``a^+a + sum_l s_l^+ s_l^-`` on the basis (diagonal): n + number of up qubits."""
    n = np.repeat(np.arange(model.levels), 2 ** model.M)
    q = np.arange(2 ** model.M)
    ups = np.array([model.M - bin(s).count("1") for s in q])     # bit 1 = down
    return (n + np.tile(ups, model.levels)).astype(float)


def evolve(model: Model, cfg: dict, layout: RowLayout | None = None, rows0: np.ndarray | None = None,
           resume: bool = False, on_output=None, log=None, guess=None) -> Evolution:
    """Integrate from ``[evolve] initial`` (or ``rows0``) to ``t_end``; see the module docstring.

    ``guess``: the starting point of the steady state of ``initial = "steady"`` (the results file
    of ``[solver] initial_guess`` as read by :func:`pjcsync.results.initial_guess`).

    ``on_output(record)`` is called on every rank for each output; ``log(text)`` receives
    progress lines (rank 0 prints them).  Raises PjcsyncError (collective) if TS fails."""
    ev = cfg["evolve"]
    layout = layout or RowLayout.create(model.N)
    plan = Plan.from_config(model, ev)
    gen = Generator(model, layout, ev["frame"], ev["formulation"])
    omega = model.omega if model.omega0 is not None else None
    probe = Probe(model, layout, "rwa" if gen.kind == "rwa" else gen.rho_frame, omega)
    prefix = ev.get("checkpoint") or ""
    every = ev.get("checkpoint_every", 10)

    u = gen.half[0][0].createVecRight()
    records, k0, t0, step0, dt, rej0, rhs0 = [], 0, 0.0, 0, None, 0, 0
    Q0 = np.zeros(2 * probe.size, dtype=complex)
    wall_before = 0.0
    ck = read_checkpoint(prefix, layout) if (resume and prefix) else None
    if ck is not None:
        meta, rows = ck
        if meta.get("version") != CHECKPOINT_VERSION or meta.get("fingerprint") != json.loads(json.dumps(_fingerprint(cfg))):
            raise InputError(f"checkpoint {prefix + '.json'!r} was written for a different configuration")
        if abs(meta["output_interval"] - (plan.output_times[0])) > 1e-12 * max(1.0, plan.t_end):
            raise InputError("checkpoint was written with a different output interval")
        records, k0, t0, step0, dt = meta["records"], meta["outputs_done"], meta["t"], meta["step"], meta["dt"]
        rej0, rhs0, wall_before = meta["rejected"], meta["rhs_evaluations"], meta["seconds"]
        Q0 = np.array(meta["quadrature"][0]) + 1j * np.array(meta["quadrature"][1])
        u.setArray(rows.ravel())
        if log:
            log(f"evolve: resumed from {prefix}.json at t = {t0:.6g} ({k0} outputs done)")
    else:
        if resume and prefix and log:
            log(f"evolve: no checkpoint {prefix}.json yet, starting from t = 0")
        rows = rows0 if rows0 is not None else initial_rows(model, layout, ev["initial"], cfg.get("solver"), guess)
        rows = np.ascontiguousarray(rows, dtype=DTYPE)
        rows = 0.5 * (rows + transpose_rows(rows, layout).conj())     # exactly Hermitian (see Generator)
        u.setArray(np.ascontiguousarray(rows, dtype=DTYPE).ravel())
        q = probe.both(0.0, probe.raw(u))
        records.append({"t": 0.0, **_periods(0.0, plan), **probe.named(q)})

    if dt is None:
        fast = (omega or 1.0) * (model.levels if gen.kind == "lab-direct" else 2.0) + 1.0
        dt = min(plan.output_times[0], 0.05 / fast)
    ts = dormand_prince(gen, u, ev["rtol"], ev["atol"], t0, dt, step0)
    # period averages: integrate [q_rot, q_lab] with the Runge-Kutta stages (quadrature TS)
    # (PETSc implements it for the Runge-Kutta and theta families; other types report no averages)
    # Each rank integrates its own partial sums (both() is linear in q): no reduction per stage,
    # one at each output.  A resumed run puts the saved total on rank 0.
    qv = PETSc.Vec().createSeq(2 * probe.size, comm=PETSc.COMM_SELF)
    qv.setArray(Q0.copy() if layout.comm.Get_rank() == 0 else np.zeros_like(Q0))
    averages = ts.getType() in QUADRATURE_TS_TYPES
    if averages:
        quad = ts.createQuadratureTS(forward=True)
        idx = np.arange(2 * probe.size, dtype=PETSc.IntType)

        def integrand(qts, t, x, out):
            out.setValues(idx, probe.both(t, probe.raw_local(x)))
            out.assemble()
        quad.setRHSFunction(integrand, qv.duplicate())
        quad.setSolution(qv)

    last = [time.perf_counter()]
    progress = ev.get("progress", 10.0)
    wall0 = time.perf_counter()

    def monitor(ts_, step, t, x):
        now = time.perf_counter()
        if log and progress > 0 and now - last[0] >= progress:
            last[0] = now
            el = now - wall0
            frac = (t - t0) / max(plan.t_end - t0, 1e-300)
            eta = el * (1 - frac) / frac if frac > 0 else float("nan")
            per = f", {t / plan.period:.1f} periods" if plan.period else ""
            log(f"evolve: t = {t:.6g} of {plan.t_end:.6g}{per}, {step} steps, "
                f"{el:.0f} s elapsed, ETA {eta:.0f} s")
    ts.setMonitor(monitor)

    Q_prev = Q0.copy()
    t_prev = t0
    for k in range(k0, len(plan.output_times)):
        t_out = plan.output_times[k]
        dt = advance_to(ts, u, t_out, dt)
        Q = (np.asarray(allreduce_sum(ts.getCostIntegral().getArray().copy(), layout.comm), dtype=complex)
             if averages else Q_prev)
        q = probe.both(t_out, probe.raw(u))
        rec = {"t": t_out, **_periods(t_out, plan), **probe.named(q)}
        if averages:
            rec["average"] = probe.named((Q - Q_prev) / (t_out - t_prev))
        records.append(rec)
        if not np.isfinite(q).all() or abs(q[probe.size - 2] - 1) > 1e-3:
            raise PjcsyncError(f"time integration went wrong: Tr rho = {q[probe.size - 2]:.6g} at t = {t_out:.6g}",
                               collective=True)
        Q_prev, t_prev = Q, t_out
        if on_output:
            on_output(rec)
        done = k + 1
        if prefix and (done % every == 0 or done == len(plan.output_times)):
            meta = {"version": CHECKPOINT_VERSION, "fingerprint": _fingerprint(cfg), "t": t_out,
                    "step": ts.getStepNumber(), "dt": dt, "outputs_done": done,
                    "output_interval": plan.output_times[0],
                    "rejected": rej0 + ts.getStepRejections(), "rhs_evaluations": rhs0 + gen.evaluations,
                    "seconds": wall_before + time.perf_counter() - wall0,
                    "quadrature": [Q.real.tolist(), Q.imag.tolist()], "records": records,
                    "ranks": layout.comm.Get_size()}
            write_checkpoint(prefix, layout, u.getArray(readonly=True).reshape(layout.rows, layout.N), meta)
    seconds = time.perf_counter() - wall0
    steps_here = ts.getStepNumber() - step0
    stats = {"ts_type": ts.getType(), "rk_type": ts.getRKType() if ts.getType() == "rk" else None,
             "frame": ev["frame"], "formulation": gen.kind, "t": plan.t_end,
             "steps": ts.getStepNumber(), "rejected_steps": rej0 + ts.getStepRejections(),
             "rhs_evaluations": rhs0 + gen.evaluations, "seconds": seconds + wall_before,
             "seconds_this_run": seconds, "resumed_from_t": t0 if ck is not None else None,
             "ranks": layout.comm.Get_size(), "rtol": ev["rtol"], "atol": ev["atol"]}
    if plan.period:
        stats["periods"] = plan.t_end / plan.period
        span = (plan.t_end - t0) / plan.period
        stats["seconds_per_period"] = seconds / span if span > 0 else None
    ts.destroy()
    qv.destroy()
    gen.destroy()
    return Evolution(model=model, layout=layout, rho=u, rho_frame=probe.rho_frame, records=records,
                     statistics=stats)


def _periods(t: float, plan: Plan) -> dict:
    return {"periods": t / plan.period} if plan.period else {}


def stderr_log(layout: RowLayout):
    def log(text: str) -> None:
        if layout.comm.Get_rank() == 0:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()
    return log
