#!/usr/bin/env python
"""Redraw the paper's lab-frame figures (Figs. 1, 2, A1, A3 and the lab-frame curves of Fig. 8).

The data are computed with pjcsync's Python API (one process; the lab frame's long-time limit
is the periodic steady state of :mod:`pjcsync.floquet`, period-averaged, instead of 2 x 10^4
integrated periods; Figs. A1 and A3 are time integrations with :mod:`pjcsync.evolve`), written
to ``docs/figures/data/<fig>.json`` and plotted from those files to ``docs/figures/<fig>.png``.

    .venv/bin/python scripts/fig_evolve.py                 # all, small grids (a few minutes)
    .venv/bin/python scripts/fig_evolve.py --figs 2,A1     # some
    .venv/bin/python scripts/fig_evolve.py --paper         # the paper's resolution (100 levels, ...)
    .venv/bin/python scripts/fig_evolve.py --plot-only     # redraw from the data files

Units of lambda.  Fig. 1/2: Delta = 2, F = 1, gamma = 0.3, gamma_s = 0; Fig. A3: Delta = 1,
omega - omega_0 = -0.3, F = 1, gamma = 1/3, omega_0 = 10; Fig. 8: Delta = +-1, F = 0.25,
gamma = 0.3, gamma_s = 3e-3 (DESIGN section 8).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from _plotting import require_matplotlib  # noqa: E402  (scripts/_plotting.py)
OUT = ROOT / "docs" / "figures"
DATA = OUT / "data"


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


def steady_obs(cfg) -> dict:
    """Observables of the RWA steady state (harmonics = 0) or of the period average (>= 1)."""
    from pjcsync.model import Model
    from pjcsync.parallel import RowLayout
    from pjcsync.observables import basic_observables, entanglement_observables
    model = Model.from_config(cfg)
    layout = RowLayout.create(model.N)
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
    from pjcsync.parallel import RowLayout
    from pjcsync.evolve import evolve
    model = Model.from_config(cfg)
    return evolve(model, cfg, RowLayout.create(model.N)).records


def harmonics_for(omega0: float, paper: bool = False) -> int:
    """Harmonics K enough for the truncation check at these parameters (more at small omega_0)."""
    return (5 if omega0 <= 10 else 3 if omega0 <= 30 else 2) + (1 if paper else 0)


def log(msg):
    print(msg, flush=True)


# --- data -------------------------------------------------------------------------------------

def data_fig12(a) -> dict:
    det = np.linspace(-3, 3, a.points).tolist()
    out = {"detuning": det, "levels": a.levels, "omega0": a.omega0s,
           "rwa": [], "lab": {str(w): [] for w in a.omega0s}}
    keep = ("n", "Sx", "Sy", "Sz", "P_plus", "P_minus", "edge_population")
    for dw in det:
        o = steady_obs(make_cfg(a.levels, a.omega0s[0], [2.0], 1.0, 0.3, 0.0, dw))
        out["rwa"].append({k: o[k] for k in keep})
        for w0 in a.omega0s:
            o = steady_obs(make_cfg(a.levels, w0, [2.0], 1.0, 0.3, 0.0, dw, harmonics=harmonics_for(w0, a.paper)))
            out["lab"][str(w0)].append({k: o[k] for k in keep})
        log(f"  fig1/2: detuning {dw:+.3f} done")
    return out


def data_figA1(a) -> dict:
    out = {"omega0": a.a1_omega0, "periods": a.a1_periods, "detunings": [-0.5, 0.5, 1.0], "runs": {}}
    for dw in out["detunings"]:
        ev = {"frame": "lab", "periods": a.a1_periods, "output_every_periods": max(1.0, a.a1_periods / 400)}
        cfg = make_cfg(a.a1_levels, a.a1_omega0, [2.0], 1.0, 0.3, 0.0, dw,
                       harmonics=harmonics_for(a.a1_omega0, a.paper), evolve=ev)
        recs = run_evolve(cfg)
        out["runs"][str(dw)] = {"periods": [r["periods"] for r in recs[1:]],
                                "n_avg": [r["average"]["n"] for r in recs[1:]],
                                "n_periodic": steady_obs(cfg)["n"],
                                "n_rwa": steady_obs(make_cfg(a.a1_levels, a.a1_omega0, [2.0], 1.0, 0.3, 0.0, dw))["n"]}
        log(f"  figA1: detuning {dw:+.2f} done")
    return out


def data_figA3(a) -> dict:
    ev = {"frame": "lab", "periods": a.a3_periods, "output_every_periods": 1.0 / 32, "initial": "steady"}
    cfg = make_cfg(a.a3_levels, 10.0, [1.0], 1.0, 1.0 / 3.0, 0.0, -0.3, evolve=ev)
    recs = run_evolve(cfg)
    last = [r for r in recs if r["periods"] >= a.a3_periods - 5 - 1e-9]
    rwa = steady_obs(make_cfg(a.a3_levels, 10.0, [1.0], 1.0, 1.0 / 3.0, 0.0, -0.3))
    return {"periods": [r["periods"] for r in last],
            "S_rot": [[r["Sx_rot"], r["Sy_rot"], r["Sz_rot"]] for r in last],
            "theta_lab": [r["theta"][0] for r in last],
            "rwa": [rwa["Sx"], rwa["Sy"], rwa["Sz"]], "total_periods": a.a3_periods}


def data_fig8(a) -> dict:
    # coarse over the resonance, fine around the narrow singlet dip (and its non-RWA shift)
    det = np.union1d(np.linspace(-1.5, 1.5, a.points8), np.linspace(-0.3, 0.5, a.points8)).round(12).tolist()
    out = {"detuning": det, "omega0": a.omega0s8, "rwa": [], "lab": {str(w): [] for w in a.omega0s8}}
    for dw in det:
        out["rwa"].append(steady_obs(make_cfg(12, a.omega0s8[0], [1.0, -1.0], 0.25, 0.3, 3e-3, dw))["S2"])
        for w0 in a.omega0s8:
            cfg = make_cfg(12, w0, [1.0, -1.0], 0.25, 0.3, 3e-3, dw, harmonics=harmonics_for(w0, a.paper))
            out["lab"][str(w0)].append(steady_obs(cfg)["S2"])
    log("  fig8 done")
    return out


# --- plots ------------------------------------------------------------------------------------

def plot_fig1(d, plt):
    det = np.array(d["detuning"])
    w0 = str(d["omega0"][0])
    fig, axs = plt.subplots(2, 2, figsize=(9, 6.5), sharex=True, sharey=True)
    for row, (label, pts) in enumerate([(f"lab frame, $\\omega_0/\\lambda$ = {float(w0):g} (period average)",
                                         d["lab"][w0]), ("RWA", d["rwa"])]):
        for col, key in enumerate(("P_minus", "P_plus")):
            img = np.array([p[key] for p in pts]).T
            ax = axs[row, col]
            m = ax.imshow(np.abs(img), origin="lower", aspect="auto",
                          extent=[det[0], det[-1], -0.5, img.shape[0] - 0.5], cmap="viridis")
            ax.set_title(f"{label}: $P_{{{'-' if key == 'P_minus' else '+'}}}(n)$", fontsize=9)
            fig.colorbar(m, ax=ax)
    for ax in axs[1]:
        ax.set_xlabel("$(\\omega - \\omega_0)/\\lambda$")
    for ax in axs[:, 0]:
        ax.set_ylabel("$n$")
    fig.suptitle(f"Fig. 1: $\\Delta = 2$, $F = 1$, $\\gamma = 0.3$, $\\gamma_s = 0$, {d['levels']} levels", fontsize=10)
    fig.tight_layout()
    return fig


def plot_fig2(d, plt):
    det = np.array(d["detuning"])
    fig, axs = plt.subplots(2, 2, figsize=(9, 6.5), sharex=True)
    for ax, key, lab in zip(axs.ravel(), ("Sx", "Sy", "Sz", "n"),
                            ("$\\langle S_x\\rangle$", "$\\langle S_y\\rangle$", "$\\langle S_z\\rangle$",
                             "$\\langle n\\rangle$")):
        ax.plot(det, [p[key] for p in d["rwa"]], "k-", lw=2, label="RWA")
        for w0 in d["omega0"]:
            ax.plot(det, [p[key] for p in d["lab"][str(w0)]], ".-", ms=4, label=f"$\\omega_0/\\lambda$ = {w0:g}")
        ax.set_ylabel(lab)
    for ax in axs[1]:
        ax.set_xlabel("$(\\omega - \\omega_0)/\\lambda$")
    axs[0, 0].legend(fontsize=8)
    fig.suptitle("Fig. 2: lab frame (periodic steady state, period average) vs RWA; "
                 f"{d['levels']} levels", fontsize=10)
    fig.tight_layout()
    return fig


def plot_figA1(d, plt):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for dw, run in d["runs"].items():
        line, = ax.plot(run["periods"], run["n_avg"], label=f"$\\delta\\omega$ = {float(dw):+g}")
        ax.axhline(run["n_periodic"], color=line.get_color(), ls="--", lw=1)
        ax.axhline(run["n_rwa"], color=line.get_color(), ls=":", lw=1)
    ax.set_xlabel("$\\omega t / 2\\pi$")
    ax.set_ylabel("$\\langle n\\rangle$ (period average)")
    ax.set_title(f"Fig. A1: $\\omega_0/\\lambda$ = {d['omega0']:g}; dashed: periodic steady state, "
                 "dotted: RWA", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_figA3(d, plt):
    p = np.array(d["periods"])
    S = np.array(d["S_rot"])
    fig, axs = plt.subplots(1, 2, figsize=(10, 4))
    for i, name in enumerate("xyz"):
        line, = axs[0].plot(p, S[:, i], label=f"$\\langle S_{name}\\rangle$ (rotating frame)")
        axs[0].axhline(d["rwa"][i], color=line.get_color(), ls="--", lw=1)
    axs[0].set_xlabel("$\\omega t / 2\\pi$")
    axs[0].legend(fontsize=8)
    axs[0].set_title("spin projections; dashed: RWA steady state", fontsize=9)
    phase = np.mod(2 * np.pi * p, 2 * np.pi)
    theta = np.mod(np.array(d["theta_lab"]), 2 * np.pi)
    axs[1].plot(phase, theta, ".", ms=3)
    axs[1].set_xlabel("drive phase $\\omega t$ mod $2\\pi$")
    axs[1].set_ylabel("$\\theta = \\arg\\langle S_x + iS_y\\rangle$ (lab) mod $2\\pi$")
    axs[1].set_title("phase locking of the qubit to the drive", fontsize=9)
    fig.suptitle(f"Fig. A3: $\\Delta = 1$, $\\delta\\omega = -0.3$, $F = 1$, $\\gamma = 1/3$, "
                 f"$\\omega_0 = 10$, after {d['total_periods']:g} periods", fontsize=10)
    fig.tight_layout()
    return fig


def plot_fig8(d, plt):
    det = np.array(d["detuning"])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(det, d["rwa"], "k-", lw=2, label="RWA")
    for w0 in d["omega0"]:
        ax.plot(det, d["lab"][str(w0)], "o-", ms=3, label=f"lab frame, $\\omega_0/\\lambda$ = {w0:g}")
    ax.set_xlabel("$(\\omega - \\omega_0)/\\lambda$")
    ax.set_ylabel("$\\langle S^2\\rangle$")
    ax.set_title("Fig. 8: $\\Delta_{1,2} = \\pm 1$, $F = 0.25$, $\\gamma = 0.3$, $\\gamma_s = 3\\cdot 10^{-3}$ "
                 "(lab frame: period-averaged periodic steady state)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


FIGS = {"1": ("fig12", plot_fig1), "2": ("fig12", plot_fig2), "A1": ("figA1", plot_figA1),
        "A3": ("figA3", plot_figA3), "8": ("fig8", plot_fig8)}
DATA_FUN = {"fig12": data_fig12, "figA1": data_figA1, "figA3": data_figA3, "fig8": data_fig8}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--figs", default="1,2,A1,A3,8")
    ap.add_argument("--paper", action="store_true", help="the paper's resolution (slow)")
    ap.add_argument("--plot-only", action="store_true")
    a = ap.parse_args()
    require_matplotlib("fig_evolve.py")
    paper = a.paper
    a.levels = 100 if paper else 50
    a.points = 61 if paper else 17
    a.omega0s = [10.0, 30.0, 50.0, 100.0] if paper else [10.0, 30.0, 100.0]
    a.a1_omega0 = 50.0 if paper else 10.0
    a.a1_levels = 100 if paper else 40
    a.a1_periods = 20000.0 if paper else 300.0
    a.a3_levels = 60 if paper else 30
    a.a3_periods = 200.0 if paper else 60.0
    a.points8 = 61 if paper else 13
    a.omega0s8 = [10.0, 20.0, 30.0]
    figs = [f.strip() for f in a.figs.split(",") if f.strip()]
    for f in figs:
        if f not in FIGS:
            raise SystemExit(f"unknown figure {f!r} (have {', '.join(FIGS)})")
    DATA.mkdir(parents=True, exist_ok=True)
    if not a.plot_only:
        setup_petsc()
        for name in dict.fromkeys(FIGS[f][0] for f in figs):
            t0 = time.perf_counter()
            log(f"{name}: computing")
            d = DATA_FUN[name](a)
            d["paper_resolution"] = paper
            (DATA / f"{name}.json").write_text(json.dumps(d))
            log(f"{name}: {time.perf_counter() - t0:.0f} s -> {DATA / (name + '.json')}")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    for f in figs:
        name, plot = FIGS[f]
        path = DATA / f"{name}.json"
        if not path.exists():
            raise SystemExit(f"{path} missing: run without --plot-only first")
        fig = plot(json.loads(path.read_text()), plt)
        png = OUT / f"fig{f}_lab.png"
        fig.savefig(png, dpi=110)
        plt.close(fig)
        log(f"wrote {png}")


if __name__ == "__main__":
    main()
