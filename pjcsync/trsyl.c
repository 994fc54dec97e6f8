/* Small triangular Sylvester solves for pjcsync.sylvester (see pjcsync/trsyl.py).
 *
 *   A Y + Y B^H = F,   A (m x m) and B (n x n) upper triangular, F (m x n) overwritten by Y,
 *
 * all row-major (numpy C order) with leading dimensions lda, ldb, ldf.  Columns of Y are
 * solved from the last to the first: (A + conj(B_jj)) y_j = f_j - sum_{k>j} conj(B_jk) y_k, each
 * by back substitution; components of y below `floor` in magnitude are set to 0 (0: none; single
 * precision: products of tiny numbers underflow to subnormals, which make the sweep several
 * times slower).  Returns 0, or 1 + the row of a zero pivot A_ii + conj(B_jj).
 * Written in plain C (no BLAS) because LAPACK's ?trsyl calls ?dotc/?dotu, which crash in the
 * OpenBLAS 0.3.21 of Debian 12 on AVX-512 machines depending on the memory layout. */
#include <complex.h>
#include <math.h>
#include <stdlib.h>

#define DEFINE_TRSYL(NAME, T)                                                                   \
int NAME(int m, int n, const T *A, int lda, const T *B, int ldb, T *F, int ldf, double floor)  \
{                                                                                               \
    T *y = malloc(sizeof(T) * (size_t)(m > 0 ? m : 1));                                         \
    T *bc = malloc(sizeof(T) * (size_t)(n > 0 ? n : 1));                                        \
    if (!y || !bc) { free(y); free(bc); return -1; }                                            \
    for (int j = n - 1; j >= 0; --j) {                                                          \
        const T c = conj(B[(size_t)j * ldb + j]);                                               \
        for (int i = m - 1; i >= 0; --i) {                                                      \
            const T *a = A + (size_t)i * lda;                                                   \
            T s = F[(size_t)i * ldf + j];                                                       \
            for (int l = i + 1; l < m; ++l) s -= a[l] * y[l];                                   \
            const T d = a[i] + c;                                                               \
            if (d == 0) { free(y); free(bc); return 1 + i; }                                    \
            T q = s / d;                                                                        \
            if (floor > 0) {                                                                    \
                double re = creal(q), im = cimag(q);                                            \
                if (fabs(re) < floor) re = 0.0;                                                 \
                if (fabs(im) < floor) im = 0.0;                                                 \
                q = (T)(re + im * I);                                                           \
            }                                                                                   \
            y[i] = q;                                                                           \
        }                                                                                       \
        for (int k = 0; k < j; ++k) bc[k] = conj(B[(size_t)k * ldb + j]);                       \
        for (int i = 0; i < m; ++i) {                                                           \
            T *f = F + (size_t)i * ldf;                                                         \
            const T yi = y[i];                                                                  \
            f[j] = yi;                                                                          \
            for (int k = 0; k < j; ++k) f[k] -= yi * bc[k];                                     \
        }                                                                                       \
    }                                                                                           \
    free(y); free(bc);                                                                          \
    return 0;                                                                                   \
}

DEFINE_TRSYL(pjcsync_ztrsyl, double complex)
DEFINE_TRSYL(pjcsync_ctrsyl, float complex)
