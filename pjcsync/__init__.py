"""pjcsync: distributed Lindblad solver for a driven cavity coupled to dissipative qubits.

The physics is that of Chepelianskii & Shepelyansky, Entropy 26, 415 (2024); equation numbers
in docstrings are the paper's.  Importing pjcsync does not initialize PETSc: the command line
initializes it with its PETSc options first; in Python, ``import petsc4py; petsc4py.init(args)``
before importing the solver modules if you need options.
"""
__version__ = "0.1.0"
