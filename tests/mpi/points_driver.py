"""scripts/_points.py under test: ``points_driver.py CACHE OUT [FAIL_X]``.

Points x = 0..6 with compute(x) = {"x": x, "sq": x^2, "rank": computing rank}; every call is
logged to CACHE/../calls-<rank>.txt.  FAIL_X makes that point raise (after 1 s).  Rank 0 writes the values
in order to OUT."""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from mpi4py import MPI  # noqa: E402

from _points import run_points  # noqa: E402

cache, out = Path(sys.argv[1]), Path(sys.argv[2])
fail = int(sys.argv[3]) if len(sys.argv) > 3 else None
rank = MPI.COMM_WORLD.Get_rank()


def compute(p):
    with open(cache.parent / f"calls-{rank}.txt", "a") as f:
        f.write(f"{p['x']}\n")
    if p["x"] == fail:
        time.sleep(1.0)             # rank 0 has written its first point by then (the test checks it)
        raise ValueError(f"point x = {p['x']} on fire\nsecond line")
    return {"x": p["x"], "sq": p["x"] ** 2, "rank": rank}


values = run_points([{"x": x, "grid": "g1"} for x in range(7)], compute, cache, prog="points_driver.py",
                    log=lambda m: print(m, file=sys.stderr))
if rank == 0:
    out.write_text(json.dumps(values))
