"""At any number of ranks: the assembled L equals the dense reference; prints the error."""
import sys

import numpy as np
import petsc4py
petsc4py.init()
from mpi4py import MPI

sys.path.insert(0, __file__.rsplit("/", 2)[0])
from reference import collapse, dense_liouvillian, rwa_hamiltonian  # noqa: E402
from pjcsync.config import load_config  # noqa: E402
from pjcsync.model import Model  # noqa: E402
from pjcsync.parallel import RowLayout  # noqa: E402
from pjcsync import superoperator as so  # noqa: E402

comm = MPI.COMM_WORLD
cases = [dict(levels=4, detuning=[2.0], decay=[0.3], gamma=0.3, F=1.0, dd=0.7),
         dict(levels=3, detuning=[1.0, -1.0], decay=[3e-3, 0.2], gamma=0.3, F=0.25, dd=0.0),
         dict(levels=3, detuning=[1.0, 1.5, 2.0], decay=[0.2, 0.0, 0.1], gamma=0.0, F=0.77, dd=-0.3)]
worst = 0.0
for c in cases:
    cfg = load_config(data={"cavity": {"levels": c["levels"], "decay": c["gamma"]},
                            "qubits": {"detuning": c["detuning"], "decay": c["decay"],
                                       "coupling": [1.0 + 0.1 * l for l in range(len(c["detuning"]))]},
                            "drive": {"amplitude": c["F"], "detuning": c["dd"]}})
    model = Model.from_config(cfg)
    layout = RowLayout.create(model.N, comm)
    L = so.liouvillian(model, layout)
    r0, r1 = L.getOwnershipRange()
    assert (r0, r1) == (layout.i0 * model.N, layout.i1 * model.N)
    ref = dense_liouvillian(rwa_hamiltonian(c["levels"], c["detuning"], cfg["qubits"]["coupling"], c["F"], c["dd"]),
                            collapse(c["levels"], len(c["detuning"]), c["gamma"], c["decay"]))
    cols = np.arange(model.N ** 2, dtype=np.int32)
    local = L.getValues(np.arange(r0, r1, dtype=np.int32), cols)
    err = np.abs(local - ref[r0:r1]).max() / np.abs(ref).max()
    worst = max(worst, comm.allreduce(err, op=MPI.MAX))
if comm.rank == 0:
    print(f"max relative error {worst:.3e}")
sys.exit(0 if worst < 1e-13 else 1)
