"""What the figure scripts (scripts/fig_*.py) share: where they write, one plot style, the
truncation marker, and the data file written next to every PNG.

Output folder (:func:`output_dir`, the one place that chooses it): a run at the paper's
resolution (``--paper``; fig_rate.py ``--full``) writes its PNGs, caches (.npz, raw JSON) and
data files to ``docs/figures/`` (data files in ``docs/figures/data/``), the figures in git that
tests/test_figures.py reads; a reduced run writes them to ``results/figures/small/`` (and its
``data/``), so it never replaces a paper figure; ``--out DIR`` writes to ``DIR`` (and
``DIR/data/``) at either resolution.  A script that reads earlier outputs (``--replot``,
fig_semiclassical.py's RWA curves from fig_steady.py's data files) reads them from the same
folder (fig_semiclassical.py: else from docs/figures/data/, and says so).

Style: matplotlib on the Agg backend (files only), mathtext labels in Computer Modern, fonts
readable on a slide (11-12 pt), PNGs at 200 dpi.  Spins are S = sigma/2 in every figure
(<S_x> in [-1/2, 1/2] per qubit; <S^2> = S(S+1) in {0, 2} for a pair), as in the paper.

Truncation: a point whose cavity edge population (the population of the top ``edge_levels``
Fock levels, :func:`pjcsync.observables.edge_levels`: the top 5, fewer for n_c < 20) exceeds
``EDGE_TOL`` = 1e-6 is not converged in n_c; every figure draws such points with the same open
red circle, labelled in its legend.

Data files: ``<output folder>/data/<png stem>.json``, written by :func:`write_data`, one per PNG:

    {"figure": "7", "png": "fig7_steady.png", "script": "fig_steady.py",
     "resolution": "small" | "paper", "edge_tol": 1e-6, "parameters": {...},
     "curves": [{"label": ..., "kind": "rwa" | "lab" | "series" | "semiclassical" | "evolve",
                 "parameters": {...}, "x": [...], "levels": [n_c per point] | null,
                 "edge": [edge population per point] | null, "marked": [bool per point],
                 "values": {"observable": [...], ...}}, ...]}

``levels``/``edge`` are null only for curves without a cavity truncation (semiclassical
coherent-state ansatz).  ``tests/test_figures.py`` reads every data file: a point with
``edge > edge_tol`` must be ``marked``, and every PNG in docs/figures/ must have its file.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "figures"                   # the paper's resolution (in git, read by the tests)
DATA = OUT / "data"
SMALL = ROOT / "results" / "figures" / "small"    # reduced runs (not in git: results/ is ignored)

DPI = 200
EDGE_TOL = 1e-6
XLABEL = r"$(\omega-\omega_0)/\lambda$"
OBS_LABEL = {"Sx": r"$\langle S_x\rangle$", "Sy": r"$\langle S_y\rangle$", "Sz": r"$\langle S_z\rangle$",
             "S1x": r"$\langle S_{1x}\rangle$", "S2x": r"$\langle S_{2x}\rangle$", "S2": r"$\langle S^2\rangle$",
             "n": r"$\langle n\rangle$", "singlet": r"singlet probability $P_s$",
             "chsh": r"CHSH maximum $B_{\max}$", "negativity": r"negativity $\mathcal{N}$"}
TRUNC_LABEL = r"not converged: edge population $>10^{-6}$"
STYLE = {"font.size": 11, "axes.labelsize": 12, "axes.titlesize": 11, "legend.fontsize": 9,
         "xtick.labelsize": 10, "ytick.labelsize": 10, "mathtext.fontset": "cm", "font.family": "serif",
         "font.serif": ["DejaVu Serif"], "lines.linewidth": 1.6, "axes.grid": True, "grid.alpha": 0.3,
         "savefig.dpi": DPI, "figure.dpi": 100, "legend.framealpha": 0.85}


def output_dir(paper: bool, out: str | Path | None = None) -> Path:
    """The folder a figure script writes its PNGs, caches and data files (in ``data/``) to, and
    reads its own and other figures' earlier outputs from: ``out`` (``--out``) when given, else
    ``docs/figures/`` for a run at the paper's resolution and ``results/figures/small/`` for a
    reduced one, which so never replaces the paper's figures in docs/figures/."""
    if out is not None:
        return Path(out)
    return OUT if paper else SMALL


def paper_hint(paper: bool, out: str | Path | None, flags: str) -> str:
    """What to add to a "cache missing" error of a reduced run in the default folder: where the
    paper's outputs are and the ``flags`` that read them (empty when ``paper`` or ``--out``)."""
    return "" if paper or out else f" (the paper's in docs/figures/: {flags})"


def shown(path: str | Path) -> str:
    """``path`` for a progress line: relative to the checkout when inside it, else as given."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def require_matplotlib(script: str) -> None:
    """Exit 2 with one line if matplotlib (the ``plot`` extra) is missing: called by every figure
    script before it computes anything, so a run never ends in a traceback after its work."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print(f"{script}: error: matplotlib is not installed (the plot extra): run `make setup` "
              f"or `pip install -e \".[plot]\"`", file=sys.stderr)
        sys.exit(2)


def pyplot():
    """``(matplotlib.pyplot, colors)``: pyplot on the Agg backend with the shared style, and the
    colours of the default property cycle.  matplotlib is imported only here."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update(STYLE)
    return plt, plt.rcParams["axes.prop_cycle"].by_key()["color"]


def mark_truncated(ax, x, y, edge, labelled: bool = True) -> int:
    """Draw the points with ``edge > EDGE_TOL`` as open red circles (legend entry once per axes
    unless ``labelled`` is false); returns how many were marked."""
    import numpy as np
    x, y = np.asarray(x, float), np.asarray(y, float)
    bad = np.asarray(edge, float) > EDGE_TOL
    if bad.any():
        have = TRUNC_LABEL in ax.get_legend_handles_labels()[1]
        ax.plot(x[bad], y[bad], "o", mfc="none", mec="tab:red", ms=6, mew=1.2,
                label=TRUNC_LABEL if labelled and not have else None, zorder=5)
    return int(bad.sum())


def marked(edge) -> list[bool]:
    """Per point: is it drawn with the truncation marker (edge population > EDGE_TOL)."""
    return [bool(e is not None and e == e and e > EDGE_TOL) for e in edge]


def resolution_note(paper: bool, text: str = "") -> str:
    """The line a PNG carries about the resolution it was drawn at."""
    return ("paper resolution" if paper else "reduced resolution") + (f": {text}" if text else "")


def _plain(v):
    import numpy as np
    if isinstance(v, dict):
        return {str(k): _plain(w) for k, w in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(w) for w in v]
    if isinstance(v, np.ndarray):
        return _plain(v.tolist())
    if isinstance(v, (np.floating, float)):
        return None if v != v else float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def curve(label: str, kind: str, x, values: dict, levels=None, edge=None, parameters=None) -> dict:
    """One curve of a data file (see the module docstring); ``marked`` follows from ``edge``."""
    n = len(x)
    if levels is not None and not hasattr(levels, "__len__"):
        levels = [levels] * n
    return {"label": label, "kind": kind, "parameters": parameters or {}, "x": list(x),
            "levels": None if levels is None else list(levels), "edge": None if edge is None else list(edge),
            "marked": [False] * n if edge is None else marked(edge), "values": values}


def write_data(png: str | Path, figure: str, script: str, paper: bool, parameters: dict, curves: list) -> Path:
    """Write ``<png's folder>/data/<png stem>.json`` (module docstring) and return its path."""
    png = Path(png)
    folder = png.parent / "data"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{png.stem}.json"
    doc = {"figure": figure, "png": png.name, "script": script, "resolution": "paper" if paper else "small",
           "edge_tol": EDGE_TOL, "parameters": parameters, "curves": curves}
    path.write_text(json.dumps(_plain(doc), indent=None, separators=(",", ":")))
    return path


def save(fig, path, dpi: int = DPI) -> None:
    """Lay ``fig`` out, write it to ``path`` (200 dpi) and free it."""
    import matplotlib.pyplot as plt
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
