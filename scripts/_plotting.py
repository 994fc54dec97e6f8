"""Plotting pieces shared by scripts/fig_rate.py and scripts/fig_semiclassical.py: matplotlib
without a display, the axis labels of the paper's figures, and the final layout-save-close."""
from __future__ import annotations

import sys

XLABEL = r"$(\omega-\omega_0)/\lambda$"
OBS_LABEL = {"Sx": r"$\langle S_x\rangle$", "S1x": r"$\langle S_{1x}\rangle$", "S2": r"$\langle S^2\rangle$"}


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
    """``(matplotlib.pyplot, colors)``: pyplot on the Agg backend (files only, no display) and
    the colours of the default property cycle.  matplotlib is imported only here."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt, plt.rcParams["axes.prop_cycle"].by_key()["color"]


def save(fig, path, dpi: int) -> None:
    """Lay ``fig`` out, write it to ``path`` and free it."""
    import matplotlib.pyplot as plt
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
