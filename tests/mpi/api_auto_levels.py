"""``pjcsync.steadystate`` of a ``levels = "auto"`` Tavis-Cummings model at any number of ranks:
rank 0 writes the chosen n_c and observables to OUT (JSON)."""
import json
import sys

from mpi4py import MPI

sys.path.insert(0, __file__.rsplit("/", 2)[0])
from test_api_model import AUTO_POINT  # noqa: E402
import pjcsync  # noqa: E402

res = pjcsync.steadystate(pjcsync.TavisCummings(levels="auto", **AUTO_POINT))
obs = res.observables()
if MPI.COMM_WORLD.Get_rank() == 0:
    with open(sys.argv[1], "w") as f:
        json.dump({"levels": res.problem.levels, "ranks": res.stats["ranks"],
                   "sx": float(obs["sigma"][0][0]), **{k: float(obs[k]) for k in ("n", "edge_population")}}, f)
