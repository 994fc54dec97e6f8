#!/usr/bin/env python
"""Redraw the paper's lab-frame figures (Figs. 1, 2, A1, A3 and the lab-frame curves of Fig. 8).

The data are computed with pjcsync's Python API (the lab frame's long-time limit is the periodic
steady state of :mod:`pjcsync.floquet`, period-averaged, instead of 2 x 10^4 integrated periods;
Figs. A1 and A3 are time integrations with :mod:`pjcsync.evolve`), written to
``<out>/data/lab_<name>.json`` and plotted from those files to ``<out>/fig<fig>_lab.png``, where
``<out>`` is ``docs/figures/`` with ``--paper``, else ``results/figures/small/``
(scripts/_plotting.py's ``output_dir``; ``--out``: another folder).

Every figure is a list of independent points (one steady state, periodic steady state or time
integration each), computed by scripts/_points.py: with ``--ranks R`` (or under ``mpirun -n R``)
each rank computes whole points alone (its PETSc objects on COMM_SELF), each finished point is
written at once to ``results/figures/lab/<name>_<paper|small>/`` and a rerun computes only the
missing ones (resume; ``--fresh`` starts over, e.g. after a change to pjcsync).

    .venv/bin/python scripts/fig_evolve.py                 # all, small grids (a few minutes)
    .venv/bin/python scripts/fig_evolve.py --figs 2,A1     # some
    .venv/bin/python scripts/fig_evolve.py --paper --ranks 2   # the paper's resolution (100 levels, ...)
    FIG_MPIRUN=srun .venv/bin/python scripts/fig_evolve.py --paper --ranks 64   # a cluster
    .venv/bin/python scripts/fig_evolve.py --plot-only     # redraw from the data files
    .venv/bin/python scripts/fig_evolve.py --plot-only --paper   # ... those of docs/figures/

Units of lambda (the paper's captions).  Fig. 1/2: Delta = 2, F = 1, gamma = 0.3, gamma_s = 0;
Fig. A1: the same at omega_0 = 50 and 100 (the caption's gamma = 0.03 is a misprint for Fig. 2's
0.3: docs/paper-comparison.md); Fig. A3: Delta = 1, omega - omega_0 = -0.3, F = 1, gamma = 1/3,
omega_0 = 10; Fig. 8: Delta = +-1, F = 0.25, gamma = 0.3, gamma_s = 3e-3.

Every PNG has its data file ``<out>/data/<png stem>.json`` (scripts/_plotting.py: n_c and
cavity edge population per point; points above 1e-6 are marked); the raw data the plots are drawn
from stay in ``<out>/data/lab_<name>.json``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from _plotting import (EDGE_TOL, TRUNC_LABEL, curve as data_curve, mark_truncated, output_dir,  # noqa: E402
                       paper_hint, pyplot, require_matplotlib, resolution_note, save, shown, write_data)
CACHE = ROOT / "results" / "figures" / "lab"      # one JSON per computed point


def setup_petsc():
    import petsc4py
    petsc4py.init(sys.argv[:1])


def make_cfg(levels, omega0, detunings, F, gamma, gamma_s, dw, harmonics=0, evolve=None):
    from pjcsync.config import load_config
    data = {"cavity": {"levels": levels, "decay": gamma, "frequency": omega0},
            "qubits": {"detuning": list(detunings), "coupling": 1.0, "decay": gamma_s},
            "drive": {"amplitude": F, "detuning": dw},
            "solver": {"method": "direct"}, "floquet": {"harmonics": harmonics}}
    if evolve:
        data["evolve"] = dict(evolve, progress=0.0)
    return load_config(data=data)


def point_layout(model):
    """The row layout of one point: its own rank only (COMM_SELF), one point per rank
    (scripts/_points.py)."""
    from mpi4py import MPI
    from pjcsync.parallel import RowLayout
    return RowLayout.create(model.N, MPI.COMM_SELF)


def steady_obs(cfg) -> dict:
    """Observables of the RWA steady state (harmonics = 0) or of the period average (>= 1)."""
    from pjcsync.model import Model
    from pjcsync.observables import basic_observables, entanglement_observables
    model = Model.from_config(cfg)
    layout = point_layout(model)
    if cfg["floquet"]["harmonics"]:
        from pjcsync.floquet import periodic_steady_state
        st = periodic_steady_state(model, cfg, layout)
    else:
        from pjcsync.steady import steady_state
        st = steady_state(model, cfg["solver"], layout)
    obs = basic_observables(model, st.rows(), layout)
    obs.update(entanglement_observables(model, st.rows(), layout, sigma=obs["sigma"]))
    return obs


def run_evolve(cfg) -> list:
    from pjcsync.model import Model
    from pjcsync.evolve import evolve
    model = Model.from_config(cfg)
    return evolve(model, cfg, point_layout(model)).records


def harmonics_for(omega0: float, paper: bool = False) -> int:
    """Harmonics K enough for the truncation check at these parameters (more at small omega_0)."""
    return (5 if omega0 <= 10 else 3 if omega0 <= 30 else 2) + (1 if paper else 0)


def is_root() -> bool:
    from mpi4py import MPI
    return MPI.COMM_WORLD.Get_rank() == 0


def log(msg):
    if is_root():
        print(msg, flush=True)


# --- points (scripts/_points.py): one JSON-able parameter dict per independent computation -----

def steady_point(keep, levels, omega0, detunings, F, gamma, gamma_s, dw, harmonics=0) -> dict:
    """The observables ``keep`` of one RWA steady state (harmonics 0) or period average."""
    return {"kind": "steady", "keep": list(keep), "cfg": dict(levels=levels, omega0=omega0, detunings=list(detunings),
            F=F, gamma=gamma, gamma_s=gamma_s, dw=dw, harmonics=harmonics)}


def compute_point(p: dict):
    """One point of :func:`steady_point`, :func:`data_figA1` or :func:`data_figA3` (one rank)."""
    if p["kind"] == "steady":
        o = steady_obs(make_cfg(**p["cfg"]))
        return {k: o[k] for k in p["keep"]}
    if p["kind"] == "A1":
        return figA1_run(**p["args"])
    if p["kind"] == "A3":
        return figA3_evolve(**p["args"])
    raise KeyError(p["kind"])


def point_cost(p: dict) -> float:
    """A rough relative cost of a point, to deal the points to the ranks (scripts/_points.py):
    the unknowns N^2 (2K + 1) of a (periodic) steady state, N^2 per integrated period."""
    g = p.get("cfg") or p["args"]
    n2 = (g["levels"] * 2 ** len(g.get("detunings", [1.0]))) ** 2
    return n2 * (g["periods"] if "periods" in g else 2 * g["harmonics"] + 1)


def points(name: str, a, pts: list) -> list:
    """Values of ``pts`` on rank 0 (None on the others), cached in results/figures/lab/<name>_<res>/."""
    from _points import run_points
    cache = CACHE / f"{name}_{'paper' if a.paper else 'small'}"
    return run_points(pts, compute_point, cache, prog="fig_evolve.py", log=log, cost=point_cost)


# --- data (rank 0 gets the dict, the other ranks None) ----------------------------------------

FIG12_KEEP = ("n", "Sx", "Sy", "Sz", "P_plus", "P_minus", "edge_population")


def data_fig12(a) -> dict | None:
    det = np.linspace(-3, 3, a.points).tolist()
    pts = []
    for dw in det:
        pts.append(steady_point(FIG12_KEEP, a.levels, a.omega0s[0], [2.0], 1.0, 0.3, 0.0, dw))
        pts += [steady_point(FIG12_KEEP, a.levels, w0, [2.0], 1.0, 0.3, 0.0, dw, harmonics_for(w0, a.paper))
                for w0 in a.omega0s]
    vals = points("fig12", a, pts)
    if vals is None:
        return None
    per = 1 + len(a.omega0s)
    return {"detuning": det, "levels": a.levels, "omega0": a.omega0s,
            "rwa": vals[0::per], "lab": {str(w): vals[1 + j::per] for j, w in enumerate(a.omega0s)}}


def figA1_run(levels, omega0, dw, periods, harmonics) -> dict:
    """One Fig. A1 curve: the time integration's period averages of <n>, its periodic steady
    state and its RWA steady state."""
    ev = {"frame": "lab", "periods": periods, "output_every_periods": max(1.0, periods / 400)}
    cfg = make_cfg(levels, omega0, [2.0], 1.0, 0.3, 0.0, dw, harmonics=harmonics, evolve=ev)
    recs = run_evolve(cfg)
    per = steady_obs(cfg)
    rwa = steady_obs(make_cfg(levels, omega0, [2.0], 1.0, 0.3, 0.0, dw))
    return {"omega0": omega0, "detuning": dw, "periods": [r["periods"] for r in recs[1:]],
            "n_avg": [r["average"]["n"] for r in recs[1:]], "n_periodic": per["n"], "n_rwa": rwa["n"],
            "edge": max([r["edge_population"] for r in recs] + [per["edge_population"], rwa["edge_population"]])}


def data_figA1(a) -> dict | None:
    out = {"omega0": a.a1_omega0s, "periods": a.a1_periods, "levels": a.a1_levels,
           "detunings": [-0.5, 0.5, 1.0], "runs": {}}
    runs = [(w0, dw) for w0 in a.a1_omega0s for dw in out["detunings"]]
    vals = points("figA1", a, [{"kind": "A1", "args": dict(levels=a.a1_levels, omega0=w0, dw=dw,
                                periods=a.a1_periods, harmonics=harmonics_for(w0, a.paper))} for w0, dw in runs])
    if vals is None:
        return None
    out["runs"] = {f"{w0:g}/{dw:g}": v for (w0, dw), v in zip(runs, vals)}
    return out


A3_PARAMS = dict(omega0=10.0, detunings=[1.0], F=1.0, gamma=1.0 / 3.0, gamma_s=0.0, dw=-0.3)


def figA3_evolve(levels, periods, harmonics) -> dict:
    """Fig. A3's time integration from the RWA steady state: the rotating-frame spin and the
    lab-frame phase over the last 5 periods, and the spin's mean over every period."""
    ev = {"frame": "lab", "periods": periods, "output_every_periods": 1.0 / 32, "initial": "steady"}
    recs = run_evolve(make_cfg(levels, **A3_PARAMS, harmonics=harmonics, evolve=ev))
    last = [r for r in recs if r["periods"] >= periods - 5 - 1e-9]
    S = np.array([[r["Sx_rot"], r["Sy_rot"], r["Sz_rot"]] for r in last])
    # exact interval averages between outputs (evolve's "average"), grouped by drive period
    body = recs[1:]
    k = np.ceil(np.array([r["periods"] for r in body]) - 1e-6).astype(int)
    avg = np.array([[r["average"][c] for c in ("Sx_rot", "Sy_rot", "Sz_rot")] for r in body])
    means = [avg[k == j].mean(axis=0).tolist() for j in range(1, int(k.max()) + 1)]
    return {"periods": [r["periods"] for r in last], "S_rot": S.tolist(),
            "S_mean_last5": avg[k > k.max() - 5].mean(axis=0).tolist(), "period_means": means,
            "theta_lab": [r["theta"][0] for r in last], "edge": max(r["edge_population"] for r in recs)}


def data_figA3(a) -> dict | None:
    """Fig. A3 from the RWA steady state: the rotating-frame spin over the last 5 periods, its
    mean over every period (is the oscillation centred, and on what), the lab-frame phase, and
    the two candidate centres: the RWA steady state and the period average of the periodic
    steady state (the state after infinitely many periods).  Three points: the integration,
    the RWA steady state, the periodic steady state."""
    K = harmonics_for(10.0, a.paper)
    keep = ("Sx", "Sy", "Sz", "edge_population")
    pts = [{"kind": "A3", "args": dict(levels=a.a3_levels, periods=a.a3_periods, harmonics=K)},
           steady_point(keep, a.a3_levels, **A3_PARAMS),
           steady_point(keep, a.a3_levels, **A3_PARAMS, harmonics=K)]   # period average (rotating frame)
    vals = points("figA3", a, pts)
    if vals is None:
        return None
    ev, rwa, per = vals
    return {"periods": ev["periods"], "S_rot": ev["S_rot"], "S_mean_last5": ev["S_mean_last5"],
            "period_means": ev["period_means"], "theta_lab": ev["theta_lab"], "levels": a.a3_levels,
            "rwa": [rwa["Sx"], rwa["Sy"], rwa["Sz"]], "periodic": [per["Sx"], per["Sy"], per["Sz"]],
            "total_periods": a.a3_periods,
            "edge": max(ev["edge"], per["edge_population"], rwa["edge_population"])}


def data_fig8(a) -> dict | None:
    # coarse over the resonance, fine around the narrow singlet dip (and its non-RWA shift)
    det = np.union1d(np.linspace(-1.5, 1.5, a.points8), np.linspace(-0.3, 0.5, a.points8)).round(12).tolist()
    keep = ("S2", "edge_population")
    pts = []
    for dw in det:
        pts.append(steady_point(keep, a.levels8, a.omega0s8[0], [1.0, -1.0], 0.25, 0.3, 3e-3, dw))
        pts += [steady_point(keep, a.levels8, w0, [1.0, -1.0], 0.25, 0.3, 3e-3, dw, harmonics_for(w0, a.paper))
                for w0 in a.omega0s8]
    vals = points("fig8", a, pts)
    if vals is None:
        return None
    per = 1 + len(a.omega0s8)
    lab = {str(w): vals[1 + j::per] for j, w in enumerate(a.omega0s8)}
    return {"detuning": det, "omega0": a.omega0s8, "levels": a.levels8,
            "rwa": [v["S2"] for v in vals[0::per]], "rwa_edge": [v["edge_population"] for v in vals[0::per]],
            "lab": {w: [v["S2"] for v in vs] for w, vs in lab.items()},
            "lab_edge": {w: [v["edge_population"] for v in vs] for w, vs in lab.items()}}


# --- plots and the per-PNG data files (scripts/_plotting.py) -----------------------------------

XL = r"$(\omega-\omega_0)/\lambda$"


def plot_fig1(d, plt):
    from matplotlib.colors import LogNorm
    det = np.array(d["detuning"])
    w0 = str(d["omega0"][0])
    fig, axs = plt.subplots(2, 2, figsize=(11, 8), sharex=True, sharey=True)
    for row, (label, pts) in enumerate([(rf"lab frame, $\omega_0/\lambda={float(w0):g}$", d["lab"][w0]),
                                         ("RWA", d["rwa"])]):
        for col, key in enumerate(("P_minus", "P_plus")):
            img = np.abs(np.array([p[key] for p in pts]).T)
            ax = axs[row, col]
            m = ax.imshow(np.maximum(img, 1e-10), origin="lower", aspect="auto", norm=LogNorm(1e-8, 1.0),
                          extent=[det[0], det[-1], -0.5, img.shape[0] - 0.5], cmap="viridis")
            s = r"\downarrow" if key == "P_minus" else r"\uparrow"
            ax.set_title(f"{label}: spin ${s}$")
            fig.colorbar(m, ax=ax, label=rf"$|\rho(n,{s};n,{s})|$ (log, floor $10^{{-8}}$)")
            bad = np.array([p["edge_population"] for p in pts]) > EDGE_TOL
            if bad.any():
                ax.plot(det[bad], np.full(bad.sum(), img.shape[0] - 1.5), "v", mfc="none", mec="tab:red", ms=8,
                        mew=1.5, label=TRUNC_LABEL)
                ax.legend(loc="upper right", fontsize=8)
    for ax in axs[1]:
        ax.set_xlabel(XL)
    for ax in axs[:, 0]:
        ax.set_ylabel("$n$")
    fig.suptitle(rf"Fig. 1: $\Delta=2$, $F=1$, $\gamma=0.3$, $\gamma_s=0$, $n_c={d['levels']}$; lab frame: period "
                 "average of the periodic steady state\n" + resolution_note(d["paper_resolution"],
                                                                            f"{len(det)} detunings"))
    return fig


def plot_fig2(d, plt):
    det = np.array(d["detuning"])
    fig, axs = plt.subplots(2, 2, figsize=(11, 8), sharex=True)
    for ax, key in zip(axs.ravel(), ("Sx", "Sy", "Sz", "n")):
        y = [p[key] for p in d["rwa"]]
        ax.plot(det, y, "k-", lw=2, label="RWA")
        mark_truncated(ax, det, y, [p["edge_population"] for p in d["rwa"]])
        for w0 in d["omega0"]:
            pts = d["lab"][str(w0)]
            y = [p[key] for p in pts]
            ax.plot(det, y, ".-", ms=5, label=rf"$\omega_0/\lambda={w0:g}$")
            mark_truncated(ax, det, y, [p["edge_population"] for p in pts])
        ax.set_ylabel(rf"$\langle {key if key == 'n' else 'S_' + key[1]}\rangle$")
    for ax in axs[1]:
        ax.set_xlabel(XL)
    axs[0, 0].legend()
    fig.suptitle(f"Fig. 2: lab frame (periodic steady state, period average) vs RWA; $n_c={d['levels']}$\n"
                 + resolution_note(d["paper_resolution"], f"{len(det)} detunings"))
    return fig


def plot_figA1(d, plt):
    fig, axs = plt.subplots(1, len(d["omega0"]), figsize=(6.5 * len(d["omega0"]), 4.8), squeeze=False)
    for ax, w0 in zip(axs[0], d["omega0"]):
        for run in (r for r in d["runs"].values() if r["omega0"] == w0):
            line, = ax.plot(run["periods"], run["n_avg"], label=rf"$\delta\omega={run['detuning']:+g}$")
            ax.axhline(run["n_periodic"], color=line.get_color(), ls="--", lw=1)
            ax.axhline(run["n_rwa"], color=line.get_color(), ls=":", lw=1.2)
            if run["edge"] > EDGE_TOL:
                ax.plot(run["periods"][-1], run["n_avg"][-1], "o", mfc="none", mec="tab:red", ms=7,
                        label=TRUNC_LABEL if TRUNC_LABEL not in ax.get_legend_handles_labels()[1] else None)
        ax.plot([], [], "k--", lw=1, label="periodic steady state")
        ax.plot([], [], "k:", lw=1.2, label="RWA")
        ax.set_xlabel(r"$\omega t/2\pi$")
        ax.set_ylabel(r"$\langle n\rangle$ (period average)")
        ax.set_title(rf"$\omega_0/\lambda={w0:g}$")
        ax.legend()
    fig.suptitle(rf"Fig. A1: $\Delta=2$, $F=1$, $\gamma=0.3$, $\gamma_s=0$, $n_c={d['levels']}$" + "\n"
                 + resolution_note(d["paper_resolution"], f"{d['periods']:g} periods (paper: $2\\times10^4$)"))
    return fig


def plot_figA3(d, plt):
    p = np.array(d["periods"])
    S = np.array(d["S_rot"])
    fig, axs = plt.subplots(1, 3, figsize=(17, 5))
    names = "xyz"
    for i, name in enumerate(names):
        line, = axs[0].plot(p, S[:, i], label=rf"$\langle S_{name}\rangle$ (rotating frame)")
        axs[0].axhline(d["rwa"][i], color=line.get_color(), ls=":", lw=1.2)
        axs[0].axhline(d["periodic"][i], color=line.get_color(), ls="--", lw=1)
    axs[0].plot([], [], "k:", lw=1.2, label="RWA steady state")
    axs[0].plot([], [], "k--", lw=1, label="period average, periodic steady state")
    if d["edge"] > EDGE_TOL:
        axs[0].plot(p[-1], S[-1, 0], "o", mfc="none", mec="tab:red", ms=7, label=TRUNC_LABEL)
    axs[0].set_xlabel(r"$\omega t/2\pi$")
    axs[0].set_ylabel(r"$\langle S_{x,y,z}\rangle$, $S=\sigma/2$")
    axs[0].legend(fontsize=8)
    axs[0].set_title("spin projections, last 5 periods")
    if d.get("period_means"):
        M = np.array(d["period_means"])
        k = np.arange(1, len(M) + 1)
        for i, name in enumerate(names):
            line, = axs[1].plot(k, M[:, i], label=rf"$\langle S_{name}\rangle$, mean over one period")
            axs[1].axhline(d["rwa"][i], color=line.get_color(), ls=":", lw=1.2)
            axs[1].axhline(d["periodic"][i], color=line.get_color(), ls="--", lw=1)
        axs[1].set_xlabel(r"period $k$ ($\omega t/2\pi\in[k-1,k]$)")
        axs[1].set_ylabel(r"period mean of $\langle S_{x,y,z}\rangle$")
        axs[1].set_title("centre of the oscillation, period by period")
        axs[1].legend(fontsize=8)
    phase = np.mod(2 * np.pi * p, 2 * np.pi)
    theta = np.mod(np.array(d["theta_lab"]), 2 * np.pi)
    axs[2].plot(phase, theta, ".", ms=3)
    axs[2].set_xlabel(r"drive phase $\omega t$ mod $2\pi$")
    axs[2].set_ylabel(r"$\theta=\arg\langle S_x+iS_y\rangle$ (lab) mod $2\pi$")
    axs[2].set_title("phase locking of the qubit to the drive (last 5 periods)")
    fig.suptitle(rf"Fig. A3: $\Delta=1$, $\delta\omega=-0.3$, $F=1$, $\gamma=1/3$, $\gamma_s=0$, $\omega_0=10$, "
                 rf"$n_c={d['levels']}$, {d['total_periods']:g} periods from the RWA steady state" + "\n"
                 + resolution_note(d["paper_resolution"]))
    return fig


def plot_fig8(d, plt):
    det = np.array(d["detuning"])
    fig, ax = plt.subplots(figsize=(7.5, 5))
    ax.plot(det, d["rwa"], "k-", lw=2, label="RWA")
    mark_truncated(ax, det, d["rwa"], d["rwa_edge"])
    for w0 in d["omega0"]:
        ax.plot(det, d["lab"][str(w0)], "o-", ms=3, label=rf"lab frame, $\omega_0/\lambda={w0:g}$")
        mark_truncated(ax, det, d["lab"][str(w0)], d["lab_edge"][str(w0)])
    ax.set_xlabel(XL)
    ax.set_ylabel(r"$\langle S^2\rangle$")
    ax.set_title(r"Fig. 8: $\Delta_{1,2}=\pm1$, $F=0.25$, $\gamma=0.3$, $\gamma_s=3\cdot10^{-3}$, "
                 f"$n_c={d['levels']}$\nlab frame: period average of the periodic steady state; "
                 + resolution_note(d["paper_resolution"]), fontsize=10)
    ax.legend()
    return fig


def curves_of(f: str, d: dict) -> list:
    """The common data file's curves (scripts/_plotting.py) of figure ``f`` from its raw data."""
    if f in ("1", "2"):
        det, lev = d["detuning"], d["levels"]
        keys = ("n", "Sx", "Sy", "Sz") + (("P_plus", "P_minus") if f == "1" else ())
        out = [data_curve("RWA", "rwa", det, {k: [p[k] for p in d["rwa"]] for k in keys}, lev,
                          [p["edge_population"] for p in d["rwa"]])]
        for w0 in d["omega0"]:
            pts = d["lab"][str(w0)]
            out.append(data_curve(f"lab omega0 = {w0:g}", "lab", det, {k: [p[k] for p in pts] for k in keys}, lev,
                                  [p["edge_population"] for p in pts], {"omega0": w0}))
        return out
    if f == "8":
        out = [data_curve("RWA", "rwa", d["detuning"], {"S2": d["rwa"]}, d["levels"], d["rwa_edge"])]
        for w0 in d["omega0"]:
            out.append(data_curve(f"lab omega0 = {w0:g}", "lab", d["detuning"], {"S2": d["lab"][str(w0)]},
                                  d["levels"], d["lab_edge"][str(w0)], {"omega0": w0}))
        return out
    if f == "A1":
        return [data_curve(f"omega0 = {r['omega0']:g}, detuning {r['detuning']:+g}", "evolve", r["periods"],
                           {"n_avg": r["n_avg"], "n_periodic": [r["n_periodic"]] * len(r["periods"]),
                            "n_rwa": [r["n_rwa"]] * len(r["periods"])}, d["levels"],
                           [r["edge"]] * len(r["periods"]), {"omega0": r["omega0"], "detuning": r["detuning"]})
                for r in d["runs"].values()]
    if f == "A3":
        S = np.array(d["S_rot"])
        par = {"rwa": d["rwa"], "periodic_average": d["periodic"], "mean_last5": d["S_mean_last5"],
               "total_periods": d["total_periods"]}
        out = [data_curve("rotating-frame spin, last 5 periods", "evolve", d["periods"],
                          {"Sx": S[:, 0], "Sy": S[:, 1], "Sz": S[:, 2], "theta_lab": d["theta_lab"]}, d["levels"],
                          [d["edge"]] * len(d["periods"]), par)]
        if d.get("period_means"):
            M = np.array(d["period_means"])
            out.append(data_curve("period means", "evolve", list(range(1, len(M) + 1)),
                                  {"Sx": M[:, 0], "Sy": M[:, 1], "Sz": M[:, 2]}, d["levels"], [d["edge"]] * len(M), par))
        return out
    raise KeyError(f)


FIGS = {"1": ("fig12", plot_fig1), "2": ("fig12", plot_fig2), "A1": ("figA1", plot_figA1),
        "A3": ("figA3", plot_figA3), "8": ("fig8", plot_fig8)}
DATA_FUN = {"fig12": data_fig12, "figA1": data_figA1, "figA3": data_figA3, "fig8": data_fig8}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--figs", default="1,2,A1,A3,8")
    ap.add_argument("--paper", action="store_true", help="the paper's resolution (slow)")
    ap.add_argument("--plot-only", action="store_true", help="redraw from the raw data files of the output folder")
    ap.add_argument("--out", help="output folder (default: docs/figures with --paper, else results/figures/small)")
    ap.add_argument("--ranks", type=int, default=1, help="MPI ranks, one point per rank at a time "
                    "(re-runs this script under FIG_MPIRUN or scripts/mpirun.sh)")
    ap.add_argument("--fresh", action="store_true", help="delete the cached points of these figures first")
    a = ap.parse_args()
    require_matplotlib("fig_evolve.py")
    paper = a.paper
    a.levels = 100 if paper else 50
    a.points = 61 if paper else 17
    a.omega0s = [10.0, 30.0, 50.0, 100.0]
    a.a1_omega0s = [50.0, 100.0]
    a.a1_levels = 100 if paper else 40
    a.a1_periods = 20000.0 if paper else 400.0
    a.a3_levels = 60 if paper else 45        # <n> = 16: edge population 2e-2 at n_c = 30, 2e-7 at 45
    a.a3_periods = 1000.0 if paper else 200.0
    a.points8 = 61 if paper else 13
    a.levels8 = 30 if paper else 20
    a.omega0s8 = [10.0, 20.0, 30.0]
    figs = [f.strip() for f in a.figs.split(",") if f.strip()]
    for f in figs:
        if f not in FIGS:
            print(f"fig_evolve.py: error: unknown figure {f!r} (have {', '.join(FIGS)})", file=sys.stderr)
            return 2
    if a.ranks < 1:
        print(f"fig_evolve.py: error: --ranks must be >= 1, not {a.ranks}", file=sys.stderr)
        return 2
    if a.ranks > 1 and not a.plot_only:
        from _points import relaunch
        return relaunch(Path(__file__), a.ranks, sys.argv[1:])
    names = list(dict.fromkeys(FIGS[f][0] for f in figs))
    out = output_dir(paper, a.out)
    data_dir = out / "data"
    if not a.plot_only:
        setup_petsc()
        root = is_root()
        if a.fresh and root:
            for name in names:
                shutil.rmtree(CACHE / f"{name}_{'paper' if paper else 'small'}", ignore_errors=True)
        for name in names:
            t0 = time.perf_counter()
            log(f"{name}: computing")
            d = DATA_FUN[name](a)                   # collective; None on ranks > 0
            if root:
                d["paper_resolution"] = paper
                data_dir.mkdir(parents=True, exist_ok=True)
                (data_dir / f"lab_{name}.json").write_text(json.dumps(d))
                log(f"{name}: {time.perf_counter() - t0:.0f} s -> {shown(data_dir / f'lab_{name}.json')}")
        if not root:
            return 0
    plt, _ = pyplot()
    for f in figs:
        name, plot = FIGS[f]
        path = data_dir / f"lab_{name}.json"
        if not path.exists():
            print(f"fig_evolve.py: error: {shown(path)} missing: run without --plot-only first"
                  + paper_hint(paper, a.out, "--plot-only --paper"), file=sys.stderr)
            return 2
        d = json.loads(path.read_text())
        png = out / f"fig{f}_lab.png"
        save(plot(d, plt), png)
        written = write_data(png, f, "fig_evolve.py", d["paper_resolution"], {"raw": path.name}, curves_of(f, d))
        log(f"wrote {shown(png)}, {shown(written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
