"""Model directories: a faithful round trip, and a clear ModelError for anything else."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from movierec.data.synthetic import generate
from movierec.errors import ModelError
from movierec.models import make_model, model_class
from movierec.recommend.artifact import (
    ARRAYS_FILE,
    FORMAT_VERSION,
    META_FILE,
    Artifact,
    load,
    read_meta,
    save,
)


@pytest.fixture(scope="module")
def data():
    return generate(n_users=80, n_movies=200, n_ratings=2_000, seed=11).dataset


@pytest.fixture(scope="module")
def artifact(data):
    rating = make_model("biases").fit(data)
    ranking = make_model("popularity").fit(data)
    return Artifact.from_dataset(
        data, rating=rating, ranking=ranking, metrics={"rating": {"rmse": 0.9, "empty": float("nan")}}
    )


@pytest.fixture
def saved(artifact, tmp_path):
    return save(artifact, tmp_path / "model")


def test_round_trip_keeps_everything(artifact, saved, data):
    back = load(saved)
    assert back.user_vocab == artifact.user_vocab and back.movie_vocab == artifact.movie_vocab
    cat, orig = back.catalog, artifact.catalog
    np.testing.assert_array_equal(cat.movie_ids, orig.movie_ids)
    np.testing.assert_array_equal(cat.titles, orig.titles)
    np.testing.assert_array_equal(cat.years, orig.years)
    np.testing.assert_array_equal(cat.genres, orig.genres)
    assert cat.genre_names == orig.genre_names
    assert (back.seen != artifact.seen).nnz == 0 and back.seen.dtype == np.float32
    np.testing.assert_array_equal(back.movie_counts, data.movie_counts())
    np.testing.assert_array_equal(back.movie_means, artifact.movie_means)
    assert (back.dataset, back.fingerprint, back.rating_scale) == (data.name, data.fingerprint, data.rating_scale)
    assert back.metrics == {"rating": {"rmse": 0.9, "empty": None}}  # NaN is stored as null
    assert {"movierec", "numpy", "torch"} <= set(back.versions) and back.created
    rows = np.arange(data.n_users, dtype=np.int32)
    np.testing.assert_array_equal(back.rating.score_users(rows), artifact.rating.score_users(rows))
    np.testing.assert_array_equal(back.ranking.score_users(rows), artifact.ranking.score_users(rows))
    assert back.rating.get_params() == artifact.rating.get_params()


def test_directory_is_json_and_safetensors_only(saved):
    assert sorted(p.name for p in saved.iterdir()) == sorted([META_FILE, ARRAYS_FILE])
    meta = json.loads((saved / META_FILE).read_text())
    assert meta["format_version"] == FORMAT_VERSION and meta["models"]["rating"]["name"] == "biases"
    assert len(meta["catalog"]["titles"]) == meta["dataset"]["catalog"]
    arrays = load_file(str(saved / ARRAYS_FILE))
    assert {"users.ids", "movies.ids", "seen.indptr", "catalog.genres", "rating.movie_bias"} <= set(arrays)


def test_saving_over_a_model_replaces_it(artifact, saved, data):
    only_rating = Artifact.from_dataset(data, rating=artifact.rating)
    save(only_rating, saved)
    assert load(saved).ranking is None


def test_refuses_to_save_into_a_foreign_folder(artifact, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ModelError, match="holds other files"):
        save(artifact, tmp_path)


def test_an_artifact_needs_a_model(data, tmp_path):
    with pytest.raises(ModelError, match="neither"):
        save(Artifact.from_dataset(data), tmp_path / "m")


def test_models_must_match_the_vocabularies(artifact, data, tmp_path):
    other = make_model("biases").fit(generate(n_users=30, n_movies=100, n_ratings=400, seed=2).dataset)
    with pytest.raises(ModelError, match="fitted on 30 users"):
        save(Artifact.from_dataset(data, rating=other), tmp_path / "m")


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: None, "no model at"),
        (lambda p: p.write_text("not a folder"), "is a file"),
        (lambda p: p.mkdir(), "empty folder"),
        (lambda p: (p.mkdir(), (p / "weights.bin").write_bytes(b"x")), "expected model.json"),
    ],
    ids=["missing", "file", "empty", "foreign-folder"],
)
def test_not_a_model_directory(tmp_path, damage, message):
    path = tmp_path / "m"
    damage(path)
    with pytest.raises(ModelError, match=message):
        load(path)


def _edit_meta(path, change):
    meta = json.loads((path / META_FILE).read_text())
    change(meta)
    (path / META_FILE).write_text(json.dumps(meta))


def test_foreign_json(saved):
    _edit_meta(saved, lambda m: m.update(format="someone-else"))
    with pytest.raises(ModelError, match="expected format 'movierec-model', found 'someone-else'"):
        load(saved)


def test_newer_format_version(saved):
    _edit_meta(saved, lambda m: m.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(ModelError, match="newer movierec"):
        read_meta(saved)


def test_invalid_json(saved):
    (saved / META_FILE).write_text('{"format": "movierec-model", ')
    with pytest.raises(ModelError, match="not valid JSON"):
        load(saved)


def test_metadata_missing_a_field(saved):
    _edit_meta(saved, lambda m: m.pop("catalog"))
    with pytest.raises(ModelError, match="corrupt or inconsistent"):
        load(saved)


def test_unknown_model_name(saved):
    _edit_meta(saved, lambda m: m["models"]["rating"].update(name="deep-magic"))
    with pytest.raises(ModelError, match="'deep-magic', which this movierec does not have"):
        load(saved)


def test_missing_arrays(saved):
    (saved / ARRAYS_FILE).unlink()
    with pytest.raises(ModelError, match="incomplete"):
        load(saved)


def test_truncated_arrays(saved):
    blob = (saved / ARRAYS_FILE).read_bytes()
    (saved / ARRAYS_FILE).write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ModelError, match="checksum"):
        load(saved)


def test_flipped_byte_in_arrays(saved):
    blob = bytearray((saved / ARRAYS_FILE).read_bytes())
    blob[-5] ^= 0xFF
    (saved / ARRAYS_FILE).write_bytes(bytes(blob))
    with pytest.raises(ModelError, match="corrupt"):
        load(saved)


def test_garbage_arrays_with_matching_checksum(saved):
    """A file that is not safetensors at all fails as corrupt even if its checksum was updated."""
    import hashlib

    (saved / ARRAYS_FILE).write_bytes(b"\x00" * 64)
    _edit_meta(saved, lambda m: m.update(arrays_sha256=hashlib.sha256(b"\x00" * 64).hexdigest()))
    with pytest.raises(ModelError, match="corrupt"):
        load(saved)


def test_parameter_this_version_does_not_know(saved):
    _edit_meta(saved, lambda m: m["models"]["rating"]["params"].update(renamed_since=1))
    with pytest.raises(ModelError, match="does not fit this movierec .*retrain it"):
        load(saved)


def test_arrays_are_copy_on_write_maps_of_the_file(saved):
    """Loading maps the arrays file (server workers share its pages); writes stay private."""
    first = load(saved)
    bias = first.rating.movie_bias
    assert _is_file_map(bias) and np.array_equal(bias, load_file(str(saved / ARRAYS_FILE))["rating.movie_bias"])
    before = (saved / ARRAYS_FILE).read_bytes()
    bias[:] = 123.0
    assert (saved / ARRAYS_FILE).read_bytes() == before
    assert not np.any(load(saved).rating.movie_bias == 123.0)


def _is_file_map(array: np.ndarray) -> bool:
    while array is not None and not isinstance(array, np.memmap):
        array = array.base
    return array is not None


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"dtype": "F32", "shape": [10**6], "data_offsets": [0, 4 * 10**6]}, "does not fit bytes"),
        ({"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}, "does not fit bytes"),
        ({"dtype": "Q9", "shape": [1], "data_offsets": [0, 1]}, "corrupt"),
    ],
)
def test_array_header_that_does_not_fit_the_file(saved, entry, message):
    import hashlib

    header = json.dumps({"x": entry}).encode()
    blob = len(header).to_bytes(8, "little") + header + b"\x00" * 16
    (saved / ARRAYS_FILE).write_bytes(blob)
    _edit_meta(saved, lambda m: m.update(arrays_sha256=hashlib.sha256(blob).hexdigest()))
    with pytest.raises(ModelError, match=message):
        load(saved)


def test_models_saved_with_a_retired_seed_parameter_still_load():
    """Older versions saved a ``seed`` for deterministic models (knn, ease, the baselines)."""
    data = generate(n_users=60, n_movies=120, n_ratings=1200, seed=2).dataset
    for name in ("biases", "popularity", "knn", "ease"):
        model = make_model(name).fit(data)
        loaded = model_class(name).from_state({**model.get_params(), "seed": 0}, model.get_state())
        np.testing.assert_array_equal(loaded.score_users(np.arange(5)), model.score_users(np.arange(5)))
