"""``pjcsync.steadystate`` at any number of ranks on the non-Tavis-Cummings cases of
tests/lindblad_cases.py with every method: rank 0 writes the gathered states and statistics to
OUT (npz), checking on the way that every rank got the same result object and its own rows."""
import json
import sys

import numpy as np
from mpi4py import MPI

sys.path.insert(0, __file__.rsplit("/", 2)[0])
from lindblad_cases import CASES, MPI_CASES  # noqa: E402
import pjcsync  # noqa: E402

out = sys.argv[1]
comm = MPI.COMM_WORLD
arrays, stats = {}, {}
for name in MPI_CASES:
    H, c_ops = CASES[name]()
    for method in ("direct", "krylov", "sylvester"):
        res = pjcsync.steadystate(H, c_ops, method=method)
        lay = res.layout
        assert res.rows().shape == (lay.i1 - lay.i0, res.N)
        full = res.full(root=0)
        every = res.full()
        assert np.array_equal(res.rows(), every[lay.i0:lay.i1])
        n_op = H.dag() * H                      # any operator: <H^2> (Hermitian -> float)
        value = res.expect(n_op)
        assert isinstance(value, float)
        dims = res.to_qutip().dims               # collective
        if comm.Get_rank() == 0:
            arrays[f"{name}/{method}"] = full
            stats[f"{name}/{method}"] = {"expect_H2": value, "method": res.method,
                                         "ranks": res.stats["ranks"], "iterations": res.iterations,
                                         "dims": dims}
        else:
            assert full is None
if comm.Get_rank() == 0:
    np.savez(out, **arrays)
    with open(out + ".json", "w") as f:
        json.dump(stats, f)
