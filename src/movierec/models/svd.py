"""Truncated SVD of a sparse matrix by randomized range finding (Halko, Martinsson & Tropp 2011).

Here rather than scikit-learn's so that training does not pay its 1.5 s import: a Gaussian
sketch of the column space, ``n_iter`` power iterations (re-orthonormalized each time, as the
singular values of rating matrices decay slowly), then an exact SVD of the small projection.
On ml-32m's shape the products and the QRs cost about the same: the products go through
SciPy's kernels in row bands on every core (:mod:`.sparse`; the transpose's too, reading the
matrix's rows in order, no transposed copy), the QRs through torch (float32 LAPACK, 4x
NumPy's, which computes in float64).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .sparse import product, transposed_product

OVERSAMPLE = 10  # extra sketch columns: the top-k estimates barely move beyond this


def _orthonormal(x: np.ndarray) -> np.ndarray:
    """An orthonormal basis (float32) of the columns of a tall ``x``."""
    import torch

    return torch.linalg.qr(torch.from_numpy(np.ascontiguousarray(x, np.float32)))[0].numpy()


def randomized_svd(matrix: sp.spmatrix, k: int, seed: int = 0, n_iter: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``u`` [rows, k], ``s`` [k], ``vt`` [k, columns] (float32) with ``matrix ≈ u · diag(s) · vt``;
    ``k`` at most ``min(matrix.shape)``."""
    a = sp.csr_matrix(matrix, dtype=np.float32)
    k = min(k, *a.shape)
    width = min(k + OVERSAMPLE, *a.shape)
    q = _orthonormal(product(a, np.random.default_rng(seed).standard_normal((a.shape[1], width), dtype=np.float32)))
    for _ in range(n_iter):
        q = _orthonormal(product(a, _orthonormal(transposed_product(a, q))))
    ub, s, vt = np.linalg.svd(transposed_product(a, q).T, full_matrices=False)
    return (q @ ub[:, :k]).astype(np.float32), s[:k].astype(np.float32), vt[:k].astype(np.float32)


def svd_factors(residuals: sp.spmatrix, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """U·√S and V·√S of a rank-``k`` randomized SVD (zero-padded when the matrix is thinner):
    a factorization started here skips the sweeps a random start spends leaving the origin."""
    u, s, vt = randomized_svd(residuals, k, seed)
    rank, root = s.size, np.sqrt(s)
    users, movies = np.zeros((residuals.shape[0], k), np.float32), np.zeros((residuals.shape[1], k), np.float32)
    users[:, :rank], movies[:, :rank] = u * root, vt.T * root
    return users, movies
