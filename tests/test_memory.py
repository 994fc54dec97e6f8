"""The Krylov part of the memory estimate follows the run-time restart policy: the basis takes
at most 30 % of a rank's available memory, the restart stays within [20, 100], and FGMRES (the
single-precision preconditioner) keeps two vectors per step."""
import pytest

from pjcsync.memory import gmres_restart, krylov_vectors

N2 = 1_000_000                       # 16 MB per complex vector on one rank


@pytest.mark.parametrize("available,ranks,flexible,restart", [
    (100e9, 1, False, 100),          # plenty of memory: the default restart
    (4e9, 1, False, 75),             # 0.3 * 4e9 / 16e6
    (4e9, 1, True, 37),              # two vectors of 16 MB per step
    (4e9, 2, False, 100),            # half a vector per rank: 150 -> capped at 100
    (1e9, 1, False, 20),             # 18.75 -> the floor of 20
])
def test_restart_policy(available, ranks, flexible, restart):
    per_step = 2 if flexible else 1
    assert gmres_restart(N2, ranks, available, per_step) == restart
    assert krylov_vectors(N2, ranks, available, flexible) == per_step * restart + 6
