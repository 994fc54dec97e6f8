#!/usr/bin/env bash
# mpirun with what a container or a laptop needs: allowed as root, more ranks than cores
# allowed (OpenMPI 4 and 5), and one thread per rank for the sparse work unless set.
# Usage: scripts/mpirun.sh -n 2 .venv/bin/pjcsync steady examples/fig8.toml
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1              # OpenMPI 4
export PRTE_MCA_rmaps_default_mapping_policy=:oversubscribe   # OpenMPI 5
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
exec mpirun "$@"
