"""Lindblad problems that are not the Tavis-Cummings model, for the API tests (QuTiP-built).

``random_case(N, n_ops, seed)``: a random sparse Hermitian H and random sparse collapse
operators; ``kerr(levels)``: a driven Kerr oscillator with one- and two-photon loss;
``spin_chain(n)``: a transverse-field XXZ chain with local decay and dephasing.  Each returns
``(H, c_ops)`` as QuTiP ``Qobj``; :data:`CASES` names them for parametrized tests."""
import numpy as np
import scipy.sparse as sp


def random_case(N: int, n_ops: int, seed: int, density: float = 0.2):
    import qutip
    rng = np.random.default_rng(seed)

    def rand(scale):
        m = sp.random(N, N, density=density, random_state=rng, format="csr") \
            + 1j * sp.random(N, N, density=density, random_state=rng, format="csr")
        return scale * (m - (0.5 + 0.5j) * (m != 0))

    h = rand(1.0)
    H = (h + h.conj().T) / 2
    c_ops = [rand(0.5) for _ in range(n_ops)]
    return qutip.Qobj(H.toarray()), [qutip.Qobj(c.toarray()) for c in c_ops]


def kerr(levels: int = 25, detuning: float = -0.5, kerr_: float = 0.2, drive: float = 0.7,
         kappa1: float = 0.3, kappa2: float = 0.1):
    """``H = Delta a^+a + K a^+a^+aa + F (a + a^+)``, ``c_ops = sqrt(k1) a, sqrt(k2) a^2``."""
    import qutip
    a = qutip.destroy(levels)
    H = detuning * a.dag() * a + kerr_ * a.dag() * a.dag() * a * a + drive * (a + a.dag())
    return H, [np.sqrt(kappa1) * a, np.sqrt(kappa2) * a * a]


def spin_chain(n: int = 4, J: float = 1.0, Jz: float = 0.6, h: float = 0.8, gamma: float = 0.2,
               dephasing: float = 0.05):
    """``H = sum_i J (sx sx + sy sy) + Jz sz sz (neighbours) + h sum_i sx_i``; decay
    ``sqrt(gamma) s-_i`` on every site, dephasing ``sqrt(g_phi) sz`` on the first."""
    import qutip

    def site(op, i):
        ops = [qutip.qeye(2)] * n
        ops[i] = op
        return qutip.tensor(ops)
    sx, sy, sz, sm = qutip.sigmax(), qutip.sigmay(), qutip.sigmaz(), qutip.sigmam()
    H = 0
    for i in range(n - 1):
        H += J * (site(sx, i) * site(sx, i + 1) + site(sy, i) * site(sy, i + 1)) \
            + Jz * site(sz, i) * site(sz, i + 1)
    for i in range(n):
        H += h * site(sx, i)
    c_ops = [np.sqrt(gamma) * site(sm, i) for i in range(n)] + [np.sqrt(dephasing) * site(sz, 0)]
    return H, c_ops


CASES = {
    "random6": lambda: random_case(6, 2, 1),
    "random17": lambda: random_case(17, 3, 2),
    "random40": lambda: random_case(40, 4, 3),
    "kerr": lambda: kerr(25),
    "spin_chain": lambda: spin_chain(4),
}

MPI_CASES = ("random40", "kerr", "spin_chain")      # the 2-rank test (the others: in-process)


def reference(name: str) -> np.ndarray:
    """``qutip.steadystate`` of case ``name`` as an N x N array."""
    import qutip
    H, c_ops = CASES[name]()
    return qutip.steadystate(H, c_ops).full()
