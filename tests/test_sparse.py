"""Sparse products in row bands on several threads give SciPy's one-thread answers; the
counting-sort grouping gives NumPy's stable argsort."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.models import sparse
from movierec.models.sparse import grouping_order


@pytest.fixture
def matrix():
    rng = np.random.default_rng(3)
    dense = rng.standard_normal((300, 80)).astype(np.float32) * (rng.random((300, 80)) < 0.1)
    dense[5] = 0  # an empty row among rows of every length
    return sp.csr_matrix(dense)


@pytest.mark.parametrize("min_split", [1_000_000, 50, 1])  # one band; a few; as many as threads
def test_banded_products_match_scipy(matrix, min_split, monkeypatch):
    monkeypatch.setattr(sparse, "MIN_SPLIT", min_split)
    monkeypatch.setattr(sparse, "_threads", lambda: 3)
    rng = np.random.default_rng(4)
    right, left = rng.standard_normal((80, 7), dtype=np.float32), rng.standard_normal((300, 7), dtype=np.float32)
    assert len(sparse._bands(matrix)) == (1 if min_split > matrix.nnz else 3)
    np.testing.assert_allclose(sparse.product(matrix, right), matrix @ right, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(sparse.transposed_product(matrix, left), matrix.T @ left, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(sparse.gram(matrix), (matrix.T @ matrix).toarray(), rtol=1e-5, atol=1e-5)


def test_bands_cover_the_rows_once_with_equal_shares(matrix, monkeypatch):
    monkeypatch.setattr(sparse, "MIN_SPLIT", 1)
    monkeypatch.setattr(sparse, "_threads", lambda: 4)
    bands = sparse._bands(matrix)
    assert bands[0][0] == 0 and bands[-1][1] == matrix.shape[0]
    assert all(a[1] == b[0] for a, b in zip(bands[:-1], bands[1:]))
    shares = [matrix.indptr[stop] - matrix.indptr[start] for start, stop in bands]
    assert max(shares) - min(shares) <= 2 * np.diff(matrix.indptr).max()


def test_an_empty_matrix_multiplies_to_zeros():
    empty = sp.csr_matrix((0, 4), dtype=np.float32)
    assert sparse.product(empty, np.ones((4, 2), np.float32)).shape == (0, 2)
    assert not sparse.transposed_product(empty, np.ones((0, 2), np.float32)).any()
    assert sparse.gram(empty).shape == (4, 4)


@pytest.mark.parametrize("n_keys", [1, 7, 1000])
def test_grouping_order_is_the_stable_argsort(n_keys):
    keys = np.random.default_rng(n_keys).integers(0, n_keys, 5000).astype(np.int32)
    np.testing.assert_array_equal(grouping_order(keys, n_keys), np.argsort(keys, kind="stable"))
    assert grouping_order(keys[:0], n_keys).size == 0
