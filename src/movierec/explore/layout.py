"""The 2-D map of clustered movies: t-SNE of their normalized embeddings, which keeps
neighbourhoods (clusters show as regions, not PCA's one overlapping mass), cached per embedding."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

LAYOUT_FIT_MAX = 3000  # t-SNE fits at most this many movies (the most rated); see map_coords
LAYOUT_SEED = 0  # one map per embedding, whatever the KMeans seed, so it can be cached
_TSNE_MIN = 20  # fewer movies than this: PCA (t-SNE needs perplexity < n)
_LAYOUT_CACHE_SIZE = 8
_layouts: OrderedDict[bytes, tuple[str, np.ndarray]] = OrderedDict()
_layouts_lock = threading.Lock()


def map_coords(x: np.ndarray) -> tuple[str, np.ndarray]:
    """("tsne" or "pca", float32 [n, 2] map positions) of the unit rows ``x``, most-rated first.

    t-SNE (scikit-learn, Barnes-Hut, 500 iterations, perplexity 30) keeps each movie near its
    neighbours in the embedding, so clusters show as regions. It takes seconds and does not
    depend on k, so the last few maps are cached by the content of ``x``: the server asking for
    k=10 and then k=20 computes it once. Above ``LAYOUT_FIT_MAX`` movies t-SNE fits the first
    (most-rated) ones and each other movie goes to the distance-weighted mean position of its 5
    nearest fitted movies, which keeps large catalogs to the same seconds.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    key = hashlib.sha256(x.tobytes() + repr(x.shape).encode()).digest()
    with _layouts_lock:
        if key in _layouts:
            _layouts.move_to_end(key)
            return _layouts[key]
    found = _layout(x)  # outside the lock: slow, and two threads at worst compute it twice
    found[1].flags.writeable = False
    with _layouts_lock:
        _layouts[key] = found
        while len(_layouts) > _LAYOUT_CACHE_SIZE:
            _layouts.popitem(last=False)
    return found


def _layout(x: np.ndarray) -> tuple[str, np.ndarray]:
    n = x.shape[0]
    if n < _TSNE_MIN:
        return "pca", PCA(n_components=2, random_state=LAYOUT_SEED).fit_transform(x).astype(np.float32)
    fit = min(n, LAYOUT_FIT_MAX)
    tsne = TSNE(
        n_components=2, perplexity=min(30.0, (fit - 1) / 3), init="pca", max_iter=500, angle=0.8,
        random_state=LAYOUT_SEED,
    )
    coords = np.empty((n, 2), dtype=np.float32)
    # One OpenMP thread: on a busy machine (a server, or CI) t-SNE's threads spin-wait for each
    # other every iteration; two threads on two shared cores ran 10-20x slower than one.
    with threadpool_limits(1, user_api="openmp"):
        coords[:fit] = tsne.fit_transform(x[:fit])
    if fit < n:
        distance, nearest = NearestNeighbors(n_neighbors=5).fit(x[:fit]).kneighbors(x[fit:])
        w = 1.0 / (distance + 1e-6)
        coords[fit:] = (coords[nearest] * w[..., None]).sum(axis=1) / w.sum(axis=1, keepdims=True)
    return "tsne", coords


