"""An exception on rank 1 only, while rank 0 waits in a collective: the job must end."""
import sys

import petsc4py
petsc4py.init()
from mpi4py import MPI

from pjcsync import cli


def failing_info(args, cfg):
    if MPI.COMM_WORLD.Get_rank() == 1:
        raise ValueError("disk on fire (rank 1 only)")
    MPI.COMM_WORLD.Barrier()      # rank 0 would wait here forever without the abort
    return {}


cli.COMMANDS["info"] = failing_info
sys.exit(cli.main(["info", sys.argv[1]]))
