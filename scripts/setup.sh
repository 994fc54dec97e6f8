#!/usr/bin/env bash
# Set up pjcsync on a Debian 12/13 machine: Debian's complex-scalar PETSc/SLEPc, mpi4py and
# OpenMPI (apt, as root), a virtual environment that sees them, and pjcsync with its test and
# plot extras in it (pytest, QuTiP, matplotlib for `make figures`).  Idempotent: a second run
# checks and returns in about a second; a venv made by an older version of this script (its
# stamp is the hash of pyproject.toml and this file) is upgraded in place.
#
#   bash scripts/setup.sh            # uses ./.venv
#   VENV=/path/to/venv bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
STAMP="$VENV/.pjcsync-ready"
PKGS="python3-petsc4py-complex python3-slepc4py-complex python3-mpi4py python3-h5py-mpi
      python3-scipy python3-numpy python3-venv python3-pip openmpi-bin libopenmpi-dev"

want_stamp() { sha1sum pyproject.toml scripts/setup.sh | sha1sum | cut -c1-40; }

check_env() {
    "$VENV/bin/python" - <<'PY' 2>/dev/null
import numpy, petsc4py, slepc4py, mpi4py, pjcsync, pytest, qutip, matplotlib
from petsc4py import PETSc
from slepc4py import SLEPc
assert PETSc.ScalarType().dtype.kind == "c", "PETSc is not built with complex scalars"
PY
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(want_stamp)" ] && check_env; then
    echo "setup: $VENV is ready (nothing to do)"
    exit 0
fi

# --- 1. Debian packages --------------------------------------------------------------------
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if ! command -v apt-get >/dev/null; then
        echo "setup: error: no apt-get; this script is for Debian. See README.md for building PETSc from PyPI." >&2
        exit 1
    fi
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "setup: installing Debian packages:$missing"
    t0=$(date +%s)
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
    echo "setup: apt took $(( $(date +%s) - t0 )) s"
fi

# --- 2. discover the complex-scalar builds (never hard-code versions) --------------------------
find_complex() {  # $1 = petsc4py | slepc4py
    dpkg -L "python3-$1-complex" $(dpkg-query -W -f='${Depends}' "python3-$1-complex" | tr ',' '\n' \
        | sed -n "s/^ *\(python3-$1-complex[0-9.]*\).*/\1/p") 2>/dev/null \
        | grep "/$1/__init__.py$" | head -n1 | xargs -r dirname | xargs -r dirname
}
PETSC_PY=$(find_complex petsc4py)
SLEPC_PY=$(find_complex slepc4py)
if [ -z "$PETSC_PY" ] || [ -z "$SLEPC_PY" ]; then
    echo "setup: error: could not find the complex petsc4py/slepc4py of the Debian packages" >&2
    exit 1
fi
SYSPY=$(command -v /usr/bin/python3 || true)
[ -n "$SYSPY" ] || { echo "setup: error: Debian's /usr/bin/python3 is missing" >&2; exit 1; }

# --- 3. the virtual environment --------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ] || [ "$("$VENV/bin/python" -c 'import sys; print(sys.base_prefix)')" != "$("$SYSPY" -c 'import sys; print(sys.base_prefix)')" ]; then
    rm -rf "$VENV"
    "$SYSPY" -m venv --system-site-packages "$VENV"
fi
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# put the complex builds on the path ahead of anything else the system provides
printf '%s\n%s\n' "$PETSC_PY" "$SLEPC_PY" > "$SITE/00-pjcsync-petsc-complex.pth"

# pin numpy/scipy to Debian's: petsc4py is compiled against that numpy
CONSTRAINTS=$(mktemp)
"$VENV/bin/python" - > "$CONSTRAINTS" <<'PY'
import numpy, scipy
print(f"numpy=={numpy.__version__}\nscipy=={scipy.__version__}")
PY
t0=$(date +%s)
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -c "$CONSTRAINTS" -e ".[test,plot]"
rm -f "$CONSTRAINTS"
echo "setup: pip took $(( $(date +%s) - t0 )) s"

if ! check_env; then
    echo "setup: error: the environment does not import (run: $VENV/bin/python -c 'from petsc4py import PETSc')" >&2
    exit 1
fi
"$VENV/bin/python" -c "from petsc4py import PETSc; from slepc4py import SLEPc; import mpi4py; \
print('setup: PETSc', '.'.join(map(str, PETSc.Sys.getVersion())), 'complex, SLEPc', \
'.'.join(map(str, SLEPc.Sys.getVersion())), ', mpi4py', mpi4py.__version__, ', MUMPS', PETSc.Sys.hasExternalPackage('mumps'))"
want_stamp > "$STAMP"
echo "setup: done ($VENV)"
