"""scripts/fig_evolve.py's Fig. 8 data at a tiny size through scripts/_points.py:
``fig_evolve_points.py CACHE OUT``; rank 0 writes the data dict to OUT."""
import json
import sys
from argparse import Namespace
from pathlib import Path

import petsc4py

petsc4py.init(sys.argv[:1])
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import fig_evolve as fe  # noqa: E402

fe.CACHE = Path(sys.argv[1])
d = fe.data_fig8(Namespace(paper=False, points8=3, levels8=6, omega0s8=[30.0]))
if d is not None:
    Path(sys.argv[2]).write_text(json.dumps(d))
