#!/usr/bin/env python
"""Benchmark of time evolution at a Fig. 2 point (issue 5): omega_0/lambda = 100, 100 cavity levels,
one qubit (Delta = 2, F = 1, gamma = 0.3, gamma_s = 0), drive detuning 0.5.

Measures the wall time per drive period of

* ``rwa``          pjcsync evolve, frame = "rotating" (eq. 6, constant L)
* ``lab-rotating`` pjcsync evolve, frame = "lab" in the frame rotating at omega (exact)
* ``lab-direct``   pjcsync evolve, frame = "lab", formulation = "direct" (eq. 1 as written)
* ``qutip-lab``    qutip.mesolve of eq. (1) at the same tolerances (shorter horizon)
* ``qutip-rot``    qutip.mesolve of the exact rotating-frame Hamiltonian (shorter horizon)

and the time of the periodic steady state (``pjcsync steady`` with ``[floquet] harmonics``),
then extrapolates each to 2 x 10^4 periods.  The machine may be shared: each time is the best
of ``--repeat`` runs, and the load average is recorded.

    .venv/bin/python scripts/bench_evolve.py [--periods 20] [--ranks 1] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable


def config(args) -> str:
    return f"""
[cavity]
levels = {args.levels}
decay = 0.3
frequency = {args.omega0}
[qubits]
detuning = [2.0]
coupling = 1.0
decay = 0.0
[drive]
amplitude = 1.0
detuning = {args.detuning}
[solver]
method = "direct"
[evolve]
frame = "lab"
output_every_periods = 1
initial = "{args.initial}"
rtol = {args.rtol}
atol = {args.atol}
progress = 0
"""


def run(cmd: list[str], ranks: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if ranks > 1:
        cmd = [str(ROOT / "scripts" / "mpirun.sh"), "-n", str(ranks)] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr[-2000:]}")
    return json.loads(p.stdout)


def evolve(cfg: Path, ranks: int, periods: float, sets: list[str]) -> dict:
    out = run([PY, "-m", "pjcsync", "evolve", str(cfg), "--json", "--set", f"evolve.periods={periods}",
               *sum((["--set", s] for s in sets), [])], ranks)
    return out


def qutip_time(args, frame: str, periods: float) -> dict:
    import qutip as qt
    n_c, w0, w = args.levels, args.omega0, args.omega0 + args.detuning
    a = qt.tensor(qt.destroy(n_c), qt.qeye(2))
    sm = qt.tensor(qt.qeye(n_c), qt.sigmam())
    sx, sz = qt.tensor(qt.qeye(n_c), qt.sigmax()), qt.tensor(qt.qeye(n_c), qt.sigmaz())
    Omega = 2.0 + w0
    if frame == "lab":
        H = [w0 * a.dag() * a + sx * (a + a.dag()) + 0.5 * Omega * sz,
             [2.0 * (a + a.dag()), lambda t: np.cos(w * t)]]
    else:
        V = sm * a + a
        H = [(w0 - w) * a.dag() * a + (a * sm.dag() + a.dag() * sm) + 0.5 * (Omega - w) * sz + (a + a.dag()),
             [V, lambda t: np.exp(-2j * w * t)], [V.dag(), lambda t: np.exp(2j * w * t)]]
    if args.initial == "steady":       # QuTiP's own RWA steady state, as pjcsync's initial = "steady"
        H_rwa = ((w0 - w) * a.dag() * a + (a * sm.dag() + a.dag() * sm) + 0.5 * (Omega - w) * sz
                 + (a + a.dag()))
        rho0 = qt.steadystate(H_rwa, [np.sqrt(0.3) * a])
    else:
        rho0 = qt.ket2dm(qt.tensor(qt.basis(n_c, 0), qt.basis(2, 1)))
    T = 2 * np.pi / w
    t0 = time.perf_counter()
    res = qt.mesolve(H, rho0, [0, periods * T], [np.sqrt(0.3) * a], e_ops=[a.dag() * a],
                     options={"atol": args.atol, "rtol": args.rtol, "nsteps": 10 ** 8, "method": args.qutip_method})
    sec = time.perf_counter() - t0
    return {"seconds": sec, "periods": periods, "seconds_per_period": sec / periods,
            "n_final": float(np.real(res.expect[0][-1])), "method": args.qutip_method}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--levels", type=int, default=100)
    ap.add_argument("--omega0", type=float, default=100.0)
    ap.add_argument("--detuning", type=float, default=0.5)
    ap.add_argument("--periods", type=float, default=20, help="periods timed for rwa and lab-rotating")
    ap.add_argument("--direct-periods", type=float, default=2, help="periods timed for lab-direct")
    ap.add_argument("--qutip-periods", type=float, default=1, help="periods timed for qutip (0 = skip)")
    ap.add_argument("--qutip-method", default="adams")
    ap.add_argument("--harmonics", type=int, default=2)
    ap.add_argument("--initial", default="steady",
                    help="'steady' (the RWA steady state: the regime of most of a long run) or 'ground' "
                         "(from the vacuum the first periods are not yet stiff and flatter the lab frame)")
    ap.add_argument("--rtol", type=float, default=1e-8)
    ap.add_argument("--atol", type=float, default=1e-10)
    ap.add_argument("--ranks", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", help="write the results to this file")
    args = ap.parse_args()
    target = 2e4
    res = {"parameters": vars(args), "load_average_start": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "fig2.toml"
        cfg.write_text(config(args))
        cases = [("rwa", args.periods, ['evolve.frame="rotating"']),
                 ("lab-rotating", args.periods, []),
                 ("lab-direct", args.direct_periods, ['evolve.formulation="direct"'])]
        for name, periods, sets in cases:
            best = None
            for _ in range(args.repeat):
                st = evolve(cfg, args.ranks, periods, sets)["statistics"]
                if best is None or st["seconds"] < best["seconds"]:
                    best = st
            spp = best["seconds"] / periods
            res[name] = {"seconds_per_period": spp, "steps_per_period": best["steps"] / periods,
                         "rhs_per_period": best["rhs_evaluations"] / periods, "periods": periods,
                         "extrapolated_2e4_periods_minutes": spp * target / 60}
            print(f"{name:13s} {spp:8.4f} s/period  {best['steps'] / periods:8.1f} steps/period  "
                  f"-> 2e4 periods: {spp * target / 60:7.1f} min", flush=True)
        res["speedup_rotating_vs_direct"] = (res["lab-direct"]["seconds_per_period"]
                                             / res["lab-rotating"]["seconds_per_period"])
        print(f"lab frame: rotating formulation {res['speedup_rotating_vs_direct']:.1f}x faster than direct")
        if args.qutip_periods > 0:
            for frame in ("rot", "lab"):
                q = qutip_time(args, frame, args.qutip_periods)
                res[f"qutip-{frame}"] = q
                print(f"qutip-{frame:8s} {q['seconds_per_period']:8.4f} s/period ({q['method']}, "
                      f"{args.qutip_periods:g} periods)", flush=True)
        t0 = time.perf_counter()
        out = run([PY, "-m", "pjcsync", "steady", str(cfg), "--json", "--set",
                   f"floquet.harmonics={args.harmonics}"], args.ranks)
        wall = time.perf_counter() - t0
        res["periodic_steady_state"] = {"wall_seconds": wall, "solve_seconds": out["solver"]["seconds"],
                                        "method": out["solver"]["method"], "iterations": out["solver"]["iterations"],
                                        "harmonic_norms": out["solver"]["harmonic_norms"],
                                        "n": out["observables"]["n"], "Sx": out["observables"]["Sx"]}
        print(f"periodic steady state (K = {args.harmonics}): {wall:.1f} s wall "
              f"({out['solver']['seconds']:.1f} s solve, {out['solver']['iterations']} iterations), "
              f"<n> = {out['observables']['n']:.8g}")
    res["load_average_end"] = os.getloadavg()
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
