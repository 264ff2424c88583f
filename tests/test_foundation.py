import numpy as np
import pytest

from movierec import UnknownIdError, Vocabulary, random_holdout, user_holdout


def test_vocabulary_round_trip():
    vocab, idx = Vocabulary.from_values(np.array([30, 10, 30, 20]), "movie")
    assert vocab.ids.tolist() == [10, 20, 30]
    assert idx.dtype == np.int32 and idx.tolist() == [2, 0, 2, 1]
    assert vocab.id(vocab.index([20, 30])).tolist() == [20, 30]
    assert vocab.index([99, 10], missing="negative").tolist() == [-1, 0]
    assert 20 in vocab and 99 not in vocab
    with pytest.raises(UnknownIdError, match="unknown movie 99"):
        vocab.index([99])


def test_dataset_shapes_and_catalog(tiny):
    assert (tiny.n_users, tiny.n_movies, tiny.n_ratings, len(tiny.catalog)) == (6, 4, 12, 5)
    assert tiny.users.dtype == np.int32 and tiny.ratings.dtype == np.float32
    assert tiny.catalog.movie(1) == {"movie_id": 20, "title": "Beta, The (1995)", "year": 1995, "genres": ["Comedy"]}
    assert tiny.catalog.movie(3)["year"] is None
    m = tiny.matrix()
    assert m.shape == (6, 4) and m[0, 0] == 5.0
    assert len(tiny.fingerprint) == 16


@pytest.mark.parametrize("split", [random_holdout, user_holdout])
def test_splits_partition(tiny, split):
    train, test = split(tiny, 0.5, seed=1)
    assert train.n_ratings + test.n_ratings == tiny.n_ratings
    pairs = lambda d: set(zip(d.users.tolist(), d.movies.tolist()))
    assert pairs(train) | pairs(test) == pairs(tiny) and not pairs(train) & pairs(test)


def test_public_names_are_pinned():
    """The package's public face changes only on purpose (as httpx pins its own)."""
    import movierec

    assert sorted(movierec.__all__) == sorted(
        ["Catalog", "DataError", "DataWarning", "Dataset", "DownloadError", "ModelError", "MovierecError",
         "Recommendation", "Recommender", "SimilarMovie", "Split", "UnknownIdError", "Vocabulary", "evaluate",
         "fetch", "kfold", "last_n", "load", "random_holdout", "temporal", "user_holdout"]
    )
    assert all(hasattr(movierec, name) for name in movierec.__all__)
