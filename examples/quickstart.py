"""From ``import pjcsync`` to Fig. 8 of the paper: <S^2> of two qubits against the drive detuning.

Usage: python examples/quickstart.py [OUTDIR]   (or PJCSYNC_OUT=OUTDIR); writes quickstart_fig8.png.
Small cavity (n_c = 10) and 15 points: a few seconds."""
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import pjcsync  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PJCSYNC_OUT", ".")
if not os.path.isdir(out):                               # e.g. --help: said before computing
    print(f"usage: python examples/quickstart.py [OUTDIR]: {out!r} is not a folder", file=sys.stderr)
    sys.exit(2)
detunings = np.linspace(-1.5, 1.5, 15)                   # omega - omega_0, units of lambda
S2 = []
for dw in detunings:
    model = pjcsync.TavisCummings(levels=10, cavity_decay=0.3, detunings=[1.0, -1.0],
                                  qubit_decay=3e-3, drive=0.25, drive_detuning=dw)
    S2.append(pjcsync.steadystate(model).observables()["S2"])

plt.plot(detunings, S2, "o-")
plt.xlabel(r"$(\omega - \omega_0) / \lambda$")
plt.ylabel(r"$\langle S^2 \rangle$")
plt.savefig(os.path.join(out, "quickstart_fig8.png"), dpi=100)
print(f"min <S^2> = {min(S2):.4f} at omega - omega_0 = {detunings[int(np.argmin(S2))]:+.2f}")
