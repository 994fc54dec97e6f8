# Two commands do everything on a fresh Debian machine:
#   make demo   # set up (apt + venv, once) and run the Fig. 8 steady state on 2 MPI ranks
#   make test   # set up (once) and run the test suite (serial and MPI parts)
VENV   ?= .venv
PY      = $(VENV)/bin/python
MPIRUN  = scripts/mpirun.sh

.PHONY: setup demo test test-slow bench figures

setup:
	@bash scripts/setup.sh

demo: setup
	$(MPIRUN) -n 2 $(VENV)/bin/pjcsync steady examples/fig8.toml

test: setup
	$(PY) -m pytest -q

test-slow: setup
	$(PY) -m pytest -q -m slow

bench: setup
	$(PY) scripts/bench_steady.py

# The paper's figures as PNGs with their data files (in data/): reduced grids into
# results/figures/small/; PAPER=1: the paper's grids and cavity sizes into docs/figures/ (the
# figures in git, read by the tests).  Resumable: computed points in results/figures/.
# RANKS=n: MPI ranks for the sweeps (one point per rank).  Wall times: docs/guide.md.
RANKS ?= 2
figures: setup
	@$(PY) -c "import sys; sys.path.insert(0, 'scripts'); from _plotting import require_matplotlib; require_matplotlib('make figures')"
	$(PY) scripts/fig_steady.py --ranks $(RANKS) $(if $(PAPER),--paper)
	$(PY) scripts/fig_rate.py --ranks $(RANKS) $(if $(PAPER),--full)
	$(PY) scripts/fig_semiclassical.py $(if $(PAPER),--paper)
	$(PY) scripts/fig_evolve.py --ranks $(RANKS) $(if $(PAPER),--paper)
