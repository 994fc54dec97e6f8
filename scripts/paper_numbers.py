"""The single-point computations behind docs/paper-comparison.md, written to
``docs/figures/data/paper_numbers.json`` (one entry per case, merged into the existing file, so
cases can be run one at a time: the expensive ones are separate).

    .venv/bin/python scripts/paper_numbers.py fig8-gamma-s        # seconds
    .venv/bin/python scripts/paper_numbers.py fig7 --levels 100 140 180   # minutes to hours
    .venv/bin/python scripts/paper_numbers.py fig7 --levels 180 --delta -2   # only Delta = (2, -2)
    .venv/bin/python scripts/paper_numbers.py fig7-semiclassical  # seconds
    .venv/bin/python scripts/paper_numbers.py fig8-lab-minimum    # minutes
    .venv/bin/python scripts/paper_numbers.py --list

Cases (units of lambda, the paper's parameters):

* ``fig8-gamma-s``: Figs. 8/9 at resonance with gamma_s = 3e-3 (section 6's text) and 3e-4 (the
  caption's 10^-3 gamma): <S^2>, singlet probability, negativity, CHSH, <n>, at n_c = 20 and 30.
* ``fig7``: Fig. 7 at resonance (omega = omega_0), Delta = (2, 3) and (2, -2), at the given n_c
  (the solver's defaults: method auto, here krylov with BiCGStab, the single-precision
  preconditioner and the coarse start): <S^2>, <n>, edge population, iterations, wall time.
* ``fig7-semiclassical``: the same points in the semiclassical (coherent-state) theory, the
  large-<n> limit the exact values approach as n_c grows.
* ``figA2``: the largest CHSH value near resonance for each drive of Fig. A2 (<n> = 1, 3, 10).
* ``fig8-lab-minimum``: the position and value of the <S^2> minimum of Fig. 8 in the lab frame
  (period-averaged periodic steady state) for omega_0 = 10, 20, 30, by a bounded scalar
  minimization over omega - omega_0, against the RWA (n_c = 20).
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
OUTFILE = ROOT / "docs" / "figures" / "data" / "paper_numbers.json"
KEYS = ("S2", "singlet", "negativity", "chsh", "n", "edge_population", "Sx")


def _cfg(levels, deltas, F, gamma, gamma_s, dw, omega0=10.0, harmonics=0, solver=None):
    from pjcsync.config import load_config
    return load_config(data={"cavity": {"levels": levels, "decay": gamma, "frequency": omega0},
                             "qubits": {"detuning": list(deltas), "coupling": 1.0, "decay": gamma_s},
                             "drive": {"amplitude": F, "detuning": dw},
                             "solver": solver or {"method": "direct"}, "floquet": {"harmonics": harmonics}})


def _observe(cfg) -> dict:
    from pjcsync.model import Model
    from pjcsync.observables import basic_observables, entanglement_observables
    from pjcsync.parallel import RowLayout
    model = Model.from_config(cfg)
    layout = RowLayout.create(model.N)
    import os
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    if cfg["floquet"]["harmonics"]:
        from pjcsync.floquet import periodic_steady_state
        st = periodic_steady_state(model, cfg, layout)
    else:                         # as pjcsync steady: the coarse start of an iterative solve
        from pjcsync.truncation import coarse_started_steady_state
        st = coarse_started_steady_state(model, cfg["solver"], layout)
    seconds = time.perf_counter() - t0
    obs = basic_observables(model, st.rows(), layout)
    if model.M >= 2:
        obs.update(entanglement_observables(model, st.rows(), layout, sigma=obs["sigma"]))
    out = {k: float(obs[k]) for k in KEYS if k in obs}
    out.update(levels=model.levels, N=model.N, seconds=round(seconds, 1),
               load_average=[round(load0, 2), round(os.getloadavg()[0], 2)])   # 1-min, before and after
    s = st.solver
    out.update({k: s[k] for k in ("method", "iterations", "ksp_type") if s.get(k) is not None})
    if s.get("coarse_start"):
        out["coarse_start"] = [{k: c.get(k) for k in ("levels", "iterations", "seconds", "edge_population")}
                               for c in s["coarse_start"]]
    return out


def fig8_gamma_s(a) -> dict:
    out = {}
    for gs in (3e-3, 3e-4):
        for nc in (20, 30):
            out[f"gamma_s={gs:g}, n_c={nc}"] = _observe(_cfg(nc, [1.0, -1.0], 0.25, 0.3, gs, 0.0))
    return out


def fig7(a) -> dict:
    out = {}
    solver = {"max_iterations": 3000}     # the library's defaults otherwise (method auto: krylov here)
    for deltas in ([2.0, 3.0], [2.0, -2.0]):
        if a.delta and deltas[1] != a.delta:
            continue
        for nc in a.levels:
            key = f"Delta=({deltas[0]:g}, {deltas[1]:g}), n_c={nc}"
            out[key] = _observe(_cfg(nc, deltas, 1.5, 0.2, 0.2, 0.0, solver=solver))
            print(f"  {key}: {out[key]}", flush=True)
    return out


def fig7_semiclassical(a) -> dict:
    from pjcsync import semiclassical as sc
    from pjcsync.model import Model
    out = {}
    for deltas in ([2.0, 3.0], [2.0, -2.0]):
        model = Model(levels=2, gamma=0.2, detunings=tuple(deltas), couplings=(1.0, 1.0), gamma_s=(0.2, 0.2),
                      amplitude=1.5, drive_detuning=0.0)
        r = sc.sweep(model, np.array([0.0]), {"starts": 8, "functional": "absolute"})[0]
        for i, m in enumerate(r.minima[:2]):
            b = np.asarray(m.b)
            out[f"Delta=({deltas[0]:g}, {deltas[1]:g}), minimum {i}"] = {
                "S2": 1.5 + 0.5 * float(b[0] @ b[1]), "n": abs(m.alpha) ** 2, "epsilon": float(m.epsilon),
                "bloch": b.tolist()}
    return out


def fig8_lab_minimum(a) -> dict:
    from scipy.optimize import minimize_scalar
    out = {}
    for w0 in (None, 10.0, 20.0, 30.0):
        K = 0 if w0 is None else (5 if w0 <= 10 else 3)

        def s2(dw):
            return _observe(_cfg(20, [1.0, -1.0], 0.25, 0.3, 3e-3, float(dw), omega0=w0 or 10.0, harmonics=K))["S2"]
        r = minimize_scalar(s2, bounds=(-0.2, 0.5), method="bounded", options={"xatol": 2e-3})
        at = _observe(_cfg(20, [1.0, -1.0], 0.25, 0.3, 3e-3, float(r.x), omega0=w0 or 10.0, harmonics=K))
        out["RWA" if w0 is None else f"omega0={w0:g}"] = {"argmin": float(r.x), "S2_min": float(r.fun),
                                                          "n_at_min": at["n"], "singlet_at_min": at.get("singlet"),
                                                          "harmonics": K, "evaluations": int(r.nfev)}
        print(f"  {w0}: {out['RWA' if w0 is None else f'omega0={w0:g}']}", flush=True)
    return out


def figA2(a) -> dict:
    """Fig. A2: the largest CHSH value near resonance for <n> = 4F^2/gamma^2 = 1, 3, 10
    (Delta = +-0.5, gamma = 0.025, gamma_s = 5e-4), maximized over omega - omega_0 in
    [-0.02, 0.02], at n_c = 30 and 40."""
    from scipy.optimize import minimize_scalar
    out = {}
    for n in (1, 3, 10):
        F = 0.025 * np.sqrt(n) / 2
        for nc in (30, 40):
            def neg(dw):
                return -_observe(_cfg(nc, [0.5, -0.5], F, 0.025, 5e-4, float(dw)))["chsh"]
            r = minimize_scalar(neg, bounds=(-0.02, 0.02), method="bounded", options={"xatol": 2e-4})
            at = _observe(_cfg(nc, [0.5, -0.5], F, 0.025, 5e-4, float(r.x)))
            at0 = _observe(_cfg(nc, [0.5, -0.5], F, 0.025, 5e-4, 0.0))
            out[f"<n>={n}, n_c={nc}"] = {"argmax": float(r.x), "chsh_max": at["chsh"], "edge_population": at["edge_population"],
                                         "n_at_max": at["n"], "chsh_at_resonance": at0["chsh"], "S2_at_resonance": at0["S2"],
                                         "evaluations": int(r.nfev)}
            print(f"  <n> = {n}, n_c = {nc}: {out[f'<n>={n}, n_c={nc}']}", flush=True)
    return out


CASES = {"fig8-gamma-s": fig8_gamma_s, "figA2": figA2, "fig7": fig7, "fig7-semiclassical": fig7_semiclassical,
         "fig8-lab-minimum": fig8_lab_minimum}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("case", nargs="?", choices=list(CASES))
    ap.add_argument("--levels", type=int, nargs="+", default=[100, 140, 180], help="n_c values (fig7)")
    ap.add_argument("--delta", type=float, choices=[3.0, -2.0], help="fig7: only Delta = (2, DELTA)")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    if a.list or not a.case:
        print("\n".join(CASES))
        return 0
    import petsc4py
    petsc4py.init(sys.argv[:1])
    t0 = time.perf_counter()
    res = CASES[a.case](a)
    doc = json.loads(OUTFILE.read_text()) if OUTFILE.is_file() else {}
    doc.setdefault(a.case, {}).update(res)
    OUTFILE.parent.mkdir(parents=True, exist_ok=True)
    OUTFILE.write_text(json.dumps(doc, indent=1))
    print(f"{a.case}: {time.perf_counter() - t0:.0f} s -> {OUTFILE.relative_to(ROOT)}")
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
