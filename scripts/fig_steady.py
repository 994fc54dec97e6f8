"""The paper's steady-state (RWA) figures redrawn from ``pjcsync sweep`` result files.

    .venv/bin/python scripts/fig_steady.py                  # all, small grids (minutes here)
    .venv/bin/python scripts/fig_steady.py --fig 7 --fig 8  # some of them
    .venv/bin/python scripts/fig_steady.py --paper          # the paper's resolution (hours)
    .venv/bin/python scripts/fig_steady.py --replot         # redraw from the existing files
    .venv/bin/python scripts/fig_steady.py --ranks 4        # mpirun -n 4 ... --groups 4

Figures 3, 5, 6, 7, 8, 9, 11, A2 and A4 (DESIGN.md section 8 for the parameters; units of
lambda).  Every curve is one sweep: a TOML file with a ``[sweep.drive]`` table is written to
``results/figures/`` and run with ``scripts/mpirun.sh -n RANKS pjcsync sweep CONFIG --groups
RANKS --resume`` (one rank per group: many small direct solves), so an interrupted run
continues where it stopped and a finished curve is not recomputed.  Figs. 8 and 9 share their
sweep.  The PNGs go to ``docs/figures/figN_steady.png``; a line per figure reports the wall time
of its sweeps and the features the paper describes (``--check`` makes a missing feature an
error): the dip of <S^2> at resonance for antisymmetric detunings and not for (2, 3) (Fig. 7),
the multiphoton oscillations of <S_x> between 0 and Delta (Fig. 3), the two synchronization
peaks growing with the number of qubits (Fig. 11).

Methods: MUMPS (direct) for one and two qubits, whose factors stay small; GMRES with the
Sylvester preconditioner (krylov, warm-started along the sweep) for three and four qubits,
where the direct factorization fills in badly (M = 4, n_c = 12: 51 s direct against 1.1 s
krylov per point, measured here), and for N > 250 at the paper's resolution.

Default grids use fewer cavity levels than the paper: near resonance some curves are then
truncated (``pjcsync`` warns, and the figure marks those points with a cross).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from _plotting import require_matplotlib  # noqa: E402  (scripts/_plotting.py)

WORK = ROOT / "results" / "figures"
OUT = ROOT / "docs" / "figures"

F8 = dict(deltas=[1.0, -1.0], F=0.25, gamma=0.3, gamma_s=3e-3)
GA4 = 2.0                                    # Fig. A4: lambda = gamma / 2, so gamma = 2 lambda

# name -> title, x range (lambda), default/paper levels and points, curves, observables
FIGS = {
    "3": dict(title="Fig. 3: one qubit, Delta = 2, F = 1, gamma = gamma_s = 0.3", x=(-2.0, 4.0),
              levels=40, paper_levels=100, points=61, paper_points=301, obs=["Sx", "Sz"],
              curves=[dict(label="RWA", deltas=[2.0], F=1.0, gamma=0.3, gamma_s=0.3)]),
    "5": dict(title="Fig. 5: Delta = (2, -1), gamma = gamma_s = 2", x=(-4.0, 4.0),
              levels=20, paper_levels=100, points=41, paper_points=201, obs=["S1x", "S2x"],
              curves=[dict(label="F = 1", deltas=[2.0, -1.0], F=1.0, gamma=2.0, gamma_s=2.0),
                      dict(label="F = 5", deltas=[2.0, -1.0], F=5.0, gamma=2.0, gamma_s=2.0, levels=45)]),
    "6": dict(title="Fig. 6: one qubit, Delta = 2, F = 1", x=(-2.0, 4.0),
              levels=40, paper_levels=100, points=61, paper_points=301, obs=["Sx"],
              curves=[dict(label="gamma = 0.3, gamma_s = 0", deltas=[2.0], F=1.0, gamma=0.3, gamma_s=0.0),
                      dict(label="gamma = gamma_s = 0.3", deltas=[2.0], F=1.0, gamma=0.3, gamma_s=0.3),
                      dict(label="gamma = gamma_s = 2", deltas=[2.0], F=1.0, gamma=2.0, gamma_s=2.0)]),
    "7": dict(title="Fig. 7: two qubits, F = 1.5, gamma = gamma_s = 0.2", x=(-3.0, 3.0),
              levels=30, paper_levels=100, points=41, paper_points=241, obs=["S2"],
              curves=[dict(label="Delta = (2, 3)", deltas=[2.0, 3.0], F=1.5, gamma=0.2, gamma_s=0.2),
                      dict(label="Delta = (2, -2)", deltas=[2.0, -2.0], F=1.5, gamma=0.2, gamma_s=0.2)]),
    "8": dict(title="Fig. 8: Delta = +-1, F = 0.25, gamma = 0.3, gamma_s = 3e-3", x=(-2.0, 2.0),
              levels=16, paper_levels=30, points=81, paper_points=401, obs=["S2", "singlet"],
              curves=[dict(label="RWA", **F8)]),
    "9": dict(title="Fig. 9: Bell (CHSH) and negativity, Fig. 8's parameters", x=(-2.0, 2.0),
              levels=16, paper_levels=30, points=81, paper_points=401, obs=["chsh", "negativity"],
              curves=[dict(label="RWA", **F8)], same_as="8"),
    "11": dict(title="Fig. 11: Delta_l = 1, 1.5, 2, 2.5, F = 0.77, gamma = gamma_s = 0.2", x=(-2.0, 4.0),
               levels=20, paper_levels=100, points=31, paper_points=241, obs=["Sx"],
               curves=[dict(label=f"M = {m}", deltas=[1.0, 1.5, 2.0, 2.5][:m], F=0.77, gamma=0.2, gamma_s=0.2,
                            levels=(20, 20, 16, 12)[m - 1]) for m in (1, 2, 3, 4)]),
    "A2": dict(title="Fig. A2: Delta = +-0.5, gamma = 0.025, gamma_s = 5e-4 (<n> = 4F^2/gamma^2)",
               x=(-0.1, 0.1), levels=20, paper_levels=40, points=41, paper_points=201, obs=["chsh"],
               curves=[dict(label="<n> = 1, 3, 10", deltas=[0.5, -0.5], gamma=0.025, gamma_s=5e-4,
                            F=0.025 * np.sqrt(1.0) / 2, amplitudes=[0.025 * np.sqrt(n) / 2 for n in (1, 3, 10)])]),
    "A4": dict(title="Fig. A4: lambda = gamma/2, Delta_l = (10, 15, 12.5, 17.5) gamma, F = 2.2 gamma",
               x=(-5.0 * GA4, 25.0 * GA4), levels=30, paper_levels=100, points=61, paper_points=301, obs=["Sx"],
               xscale=GA4, xlabel=r"$(\omega-\omega_0)/\gamma$",
               curves=[dict(label=f"M = {m}", deltas=[d * GA4 for d in (10.0, 15.0, 12.5, 17.5)][:m],
                            F=2.2 * GA4, gamma=GA4, gamma_s=GA4, levels=(30, 30, 20, 14)[m - 1])
                       for m in (1, 2, 3, 4)]),
}

LABEL = {"Sx": r"$\langle S_x\rangle$", "Sz": r"$\langle S_z\rangle$", "S2": r"$\langle S^2\rangle$",
         "S1x": r"$\langle S_{1x}\rangle$", "S2x": r"$\langle S_{2x}\rangle$", "singlet": "singlet probability",
         "chsh": "CHSH maximum", "negativity": "negativity"}


def config_text(curve: dict, levels: int, x: tuple, points: int) -> str:
    lines = ["[cavity]", f"levels = {levels}", f"decay = {curve['gamma']!r}",
             "[qubits]", f"detuning = {list(map(float, curve['deltas']))!r}", f"decay = {curve['gamma_s']!r}",
             "[drive]", f"amplitude = {float(curve['F'])!r}",
             "[solver]", f'method = "{"direct" if len(curve["deltas"]) <= 2 else "krylov"}"',
             "[sweep.drive]"]
    if "amplitudes" in curve:          # a grid: amplitude x detuning (Fig. A2)
        lines.append(f"amplitude = {[float(a) for a in curve['amplitudes']]!r}")
    lines.append(f"detuning = {{start = {x[0]!r}, stop = {x[1]!r}, num = {points}}}")
    return "\n".join(lines) + "\n"


def run_curve(name: str, k: int, curve: dict, spec: dict, paper: bool, ranks: int, replot: bool) -> tuple[Path, float]:
    levels = spec["paper_levels"] if paper else curve.get("levels", spec["levels"])
    points = spec["paper_points"] if paper else spec["points"]
    tag = f"fig{spec.get('same_as', name)}_{k}_{'paper' if paper else 'small'}"
    WORK.mkdir(parents=True, exist_ok=True)
    cfg = WORK / f"{tag}.toml"
    out = WORK / f"{tag}.h5"
    text = config_text(curve, levels, spec["x"], points)
    if paper and levels * 2 ** len(curve["deltas"]) > 250:      # large N: the Krylov method
        text = text.replace('method = "direct"', 'method = "krylov"')
    if not cfg.exists() or cfg.read_text() != text:
        cfg.write_text(text)
        for stale in (out, Path(f"{out}.parts")):               # a changed curve starts over
            if stale.is_dir():
                import shutil
                shutil.rmtree(stale)
            elif stale.exists():
                stale.unlink()
    t0 = time.perf_counter()
    if not (replot and out.exists()):
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        cmd = [sys.executable, "-m", "pjcsync", "sweep", str(cfg), "--out", str(out), "--resume"]
        if ranks > 1:
            cmd = [str(ROOT / "scripts" / "mpirun.sh"), "-n", str(ranks), *cmd, "--groups", str(ranks)]
        p = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            sys.exit(f"fig {name}: sweep failed:\n{p.stderr[-2000:]}")
        summary = [l for l in p.stderr.splitlines() if l.startswith("sweep:") and "computed" in l]
        print(f"  {summary[-1] if summary else ''}", flush=True)
    return out, time.perf_counter() - t0


def series(path: Path, obs: str) -> tuple:
    import pjcsync
    pts = pjcsync.load(path, rho=False)["points"]
    x = np.array([p["parameters"]["drive.detuning"] for p in pts])
    amp = np.array([p["parameters"].get("drive.amplitude", np.nan) for p in pts])
    o = [p["observables"] for p in pts]
    if obs in ("S1x", "S2x"):
        y = np.array([0.5 * q["sigma"][int(obs[1]) - 1][0] for q in o])
    else:
        y = np.array([q[obs] for q in o])
    truncated = np.array([bool(p["warnings"]) for p in pts])
    return x, y, truncated, amp


def features(name: str, files: list) -> list[tuple[str, bool]]:
    """The paper's qualitative features, measured on the curves: (text, present)."""
    out = []
    if name == "3":
        x, y, _, _ = series(files[0], "Sx")
        inside = (x > 0.05) & (x < 1.95)
        yi = y[inside]
        extrema = int(np.sum(np.diff(np.sign(np.diff(yi))) != 0))
        out.append((f"<S_x> has {extrema} local extrema between 0 and Delta = 2 (multiphoton "
                    f"oscillations; >= 2 expected)", extrema >= 2))
    if name == "7":
        x, y23, _, _ = series(files[0], "S2")
        _, yas, _, _ = series(files[1], "S2")
        near = abs(x) <= 1.0                  # the cavity resonance, broadened by the coupling
        left = x < -2.0                       # far below it, away from the qubits' own resonances
        a, b = yas[near].min(), y23[near].min()
        out.append((f"<S^2> near resonance (|omega - omega_0| <= 1): min {a:.3f} at {x[near][yas[near].argmin()]:+.2f} "
                    f"for (2, -2) against {b:.3f} for (2, 3); below resonance {yas[left].mean():.3f} and "
                    f"{y23[left].mean():.3f} (a dip for the antisymmetric pair)",
                    a < b - 0.15 and a < yas[left].mean() - 0.2 and y23[left].mean() > 1.95))
    if name == "8":
        x, y, _, _ = series(files[0], "S2")
        out.append((f"<S^2> minimum {y.min():.3f} at omega - omega_0 = {x[y.argmin()]:+.3f} (paper: about 0.5 "
                    f"at resonance)", abs(x[y.argmin()]) < 0.15 and y.min() < 0.8))
    if name == "11":
        res, side = [], []
        for f in files:
            x, y, _, _ = series(f, "Sx")
            near = abs(x) <= 0.5
            res.append(abs(y[near]).max())           # the sign of <S_x> is the phase convention's
            hi = (x > 1.0) & (x < 3.8)
            side.append((y[hi].max(), x[hi][y[hi].argmax()]))
        txt = ", ".join(f"M={m + 1}: {r:.2f} / {s:.2f} at {xs:.2f}" for m, (r, (s, xs)) in enumerate(zip(res, side)))
        out.append((f"|<S_x>| at resonance / second peak and its position: {txt} (both grow with M, the "
                    f"second moving from 2 towards 3)",
                    all(np.diff(res) > 0) and all(np.diff([s for s, _ in side]) > 0)
                    and all(np.diff([xs for _, xs in side]) >= 0)))
    return out


def plot(name: str, spec: dict, files: list, paper: bool) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    obs = spec["obs"]
    fig, axes = plt.subplots(len(obs), 1, figsize=(6.4, 2.6 * len(obs) + 0.6), sharex=True, squeeze=False)
    scale = spec.get("xscale", 1.0)
    for ax, o in zip(axes[:, 0], obs):
        for curve, f in zip(spec["curves"], files):
            x, y, trunc, amp = series(f, o)
            if "amplitudes" in curve:
                for a, n in zip(curve["amplitudes"], (1, 3, 10)):
                    m = np.isclose(amp, a)
                    ax.plot(x[m] / scale, y[m], label=f"<n> = {n}")
            else:
                ax.plot(x / scale, y, label=curve["label"])
                if trunc.any():
                    ax.plot(x[trunc] / scale, y[trunc], "x", color="0.5", ms=3)
        ax.set_ylabel(LABEL.get(o, o))
        if o == "chsh":
            ax.axhline(2.0, color="0.6", lw=0.8, ls="--")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    axes[-1, 0].set_xlabel(spec.get("xlabel", r"$(\omega-\omega_0)/\lambda$"))
    fig.suptitle(spec["title"] + ("" if paper else "  [small grid]"), fontsize=9)
    fig.tight_layout()
    OUT.mkdir(parents=True, exist_ok=True)
    png = OUT / f"fig{name}_steady.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fig", action="append", choices=list(FIGS), help="only these figures (repeatable)")
    ap.add_argument("--paper", action="store_true", help="the paper's resolution (levels and points)")
    ap.add_argument("--ranks", type=int, default=2, help="MPI ranks (one group per rank)")
    ap.add_argument("--replot", action="store_true", help="do not run sweeps whose file exists")
    ap.add_argument("--check", action="store_true", help="exit 1 if a feature of the paper is missing")
    args = ap.parse_args()
    require_matplotlib("fig_steady.py")
    missing = []
    report = {}
    for name in args.fig or list(FIGS):
        spec = FIGS[name]
        print(f"fig {name}: {spec['title']}", flush=True)
        files, seconds = [], 0.0
        for k, curve in enumerate(spec["curves"]):
            f, s = run_curve(name, k, curve, spec, args.paper, args.ranks, args.replot)
            files.append(f)
            seconds += s
        png = plot(name, spec, files, args.paper)
        feats = features(name, files)
        report[name] = {"png": str(png.relative_to(ROOT)), "sweep_seconds": round(seconds, 1),
                        "features": [{"text": t, "present": bool(ok)} for t, ok in feats]}
        print(f"  -> {png.relative_to(ROOT)}; sweeps {seconds:.1f} s", flush=True)
        for text, ok in feats:
            print(f"  feature {'OK     ' if ok else 'MISSING'} {text}", flush=True)
            if not ok:
                missing.append(f"fig {name}: {text}")
    (WORK / f"report_{'paper' if args.paper else 'small'}.json").write_text(json.dumps(report, indent=1))
    if missing and args.check:
        print("missing features:\n  " + "\n  ".join(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
