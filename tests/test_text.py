"""Tests of the IMDb reader, the held-out validation split and `load_task("text")`."""

import os

import numpy as np
import pytest

import lra_fixtures
from tasks import cache, pipeline, registry
from tasks.errors import DataFilesNotFoundError
from tasks.shared import CorruptFileError

NON_ASCII_REVIEW = "Café crème 😀 was great<br /><br />Loved it"


@pytest.fixture(autouse=True)
def no_data_dir_env(monkeypatch):
    monkeypatch.delenv(cache.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv(cache.CACHE_DIR_ENV, raising=False)


def load(data_dir, tmp_path, seed=0, **options):
    options.setdefault("max_length", 200)
    options.setdefault("val_size", 4)
    return registry.load_task("text", data_dir=str(data_dir) if data_dir else None,
                              cache_dir=str(tmp_path / "cache"), seed=seed, options=options)


def decoded(example):
    ids = np.asarray(example["inputs"])
    return (ids - 1).astype(np.uint8).tobytes().decode("utf-8")


def texts_of(source):
    return [decoded(source[index]) for index in range(len(source))]


def reviews_with_special(num_per_label=6):
    reviews = lra_fixtures.imdb_reviews(num_per_label)
    reviews[("test", "pos")][0] = NON_ASCII_REVIEW
    return reviews


def test_archive_and_folder_give_same_examples(tmp_path):
    reviews = reviews_with_special()
    lra_fixtures.write_imdb_archive(tmp_path / "packed", reviews)
    lra_fixtures.write_imdb_folder(tmp_path / "unpacked", reviews)
    from_archive = load(tmp_path / "packed", tmp_path)
    from_folder = load(tmp_path / "unpacked", tmp_path)
    assert from_archive.info["source"].endswith("aclImdb_v1.tar.gz")
    assert from_folder.info["source"].endswith("aclImdb")
    for split in ("train", "val", "test"):
        assert texts_of(from_archive.splits[split]) == texts_of(from_folder.splits[split])
    # The unlabelled reviews under train/unsup are not read.
    assert from_archive.info["prepared_num_examples"] == {"train": 12, "test": 12}


def test_reviews_ordered_by_id_then_label(tmp_path):
    reviews = lra_fixtures.imdb_reviews(3)
    lra_fixtures.write_imdb_archive(tmp_path / "data", reviews)
    loaded = load(tmp_path / "data", tmp_path)
    expected = [reviews[("test", label)][index] for index in range(3) for label in ("neg", "pos")]
    assert texts_of(loaded.splits["test"]) == expected
    labels = [int(loaded.splits["test"][index]["label"]) for index in range(6)]
    assert labels == [0, 1, 0, 1, 0, 1]


def test_non_ascii_review_is_utf8_bytes(tmp_path):
    lra_fixtures.write_imdb_folder(tmp_path / "data", reviews_with_special())
    loaded = load(tmp_path / "data", tmp_path)
    test_texts = texts_of(loaded.splits["test"])
    example = loaded.splits["test"][test_texts.index(NON_ASCII_REVIEW)]
    expected = np.frombuffer(NON_ASCII_REVIEW.encode("utf-8"), np.uint8).astype(np.int32) + 1
    np.testing.assert_array_equal(example["inputs"], expected)
    assert example["inputs"].dtype == np.int32
    assert int(example["label"]) == 1
    # é and è take 2 bytes each and the emoji 4: every non-ASCII character is 2+ tokens.
    num_non_ascii = sum(not character.isascii() for character in NON_ASCII_REVIEW)
    assert len(example["inputs"]) >= len(NON_ASCII_REVIEW) + num_non_ascii
    assert len(example["inputs"]) == len(NON_ASCII_REVIEW) + 1 + 1 + 3
    assert example["inputs"].min() >= 1
    # The raw text keeps its <br /> tags.
    assert "<br /><br />" in decoded(example)


def test_spec_is_byte_level(tmp_path):
    lra_fixtures.write_imdb_archive(tmp_path / "data", lra_fixtures.imdb_reviews(4))
    loaded = load(tmp_path / "data", tmp_path, max_length=64)
    assert loaded.spec.vocab_size == 257
    assert loaded.spec.max_length == 64
    assert loaded.spec.num_classes == 2
    assert loaded.spec.image_shape is None
    batch = next(iter(pipeline.eval_batches(loaded.splits["test"], loaded.spec, batch_size=8)))
    lengths = [min(len(loaded.splits["test"][index]["inputs"]), 64) for index in range(8)]
    assert batch["mask"].sum(axis=1).tolist() == lengths
    assert (batch["inputs"][~batch["mask"]] == 0).all()


def test_long_reviews_truncated_and_counted(tmp_path):
    reviews = lra_fixtures.imdb_reviews(4)
    reviews[("train", "neg")][1] = "x" * 500
    lra_fixtures.write_imdb_folder(tmp_path / "data", reviews)
    loaded = load(tmp_path / "data", tmp_path, max_length=100)
    stats = loaded.info["split_stats"]["train"]
    assert stats["num_truncated"] >= 1
    assert stats["max_source_length"] == 500
    lengths = [len(split[index]["inputs"]) for split in (loaded.splits["train"], loaded.splits["val"])
               for index in range(len(split))]
    assert max(lengths) == 100


def test_val_split_seeded_and_disjoint(tmp_path):
    lra_fixtures.write_imdb_archive(tmp_path / "data", lra_fixtures.imdb_reviews(10))
    first = load(tmp_path / "data", tmp_path, seed=3, val_size=5)
    again = load(tmp_path / "data", tmp_path, seed=3, val_size=5)
    other = load(tmp_path / "data", tmp_path, seed=4, val_size=5)
    train_indices = first.splits["train"].indices.tolist()
    val_indices = first.splits["val"].indices.tolist()
    assert len(val_indices) == 5
    assert not set(train_indices) & set(val_indices)
    assert sorted(train_indices + val_indices) == list(range(20))
    assert again.splits["val"].indices.tolist() == val_indices
    assert other.splits["val"].indices.tolist() != val_indices
    assert not set(texts_of(first.splits["train"])) & set(texts_of(first.splits["val"]))
    assert first.info["val_source"] == "held out from train (5 examples, seed 3)"
    assert again.info["reused"]


def test_max_examples_limits_each_split(tmp_path):
    lra_fixtures.write_imdb_archive(tmp_path / "data", lra_fixtures.imdb_reviews(10))
    loaded = load(tmp_path / "data", tmp_path, val_size=6, max_examples=4)
    assert loaded.info["num_examples"] == {"train": 4, "val": 4, "test": 4}
    labels = [int(loaded.splits["test"][index]["label"]) for index in range(4)]
    assert sorted(labels) == [0, 0, 1, 1]


@pytest.mark.parametrize("options, match", [
    ({"val_size": 0}, "val_size"),
    ({"val_size": 12}, "val_size"),
    ({"max_length": 0}, "max_length"),
    ({"max_examples": -1}, "max_examples"),
    ({"vocab": "bytes"}, "unknown option"),
])
def test_invalid_options_raise(tmp_path, options, match):
    lra_fixtures.write_imdb_archive(tmp_path / "data", lra_fixtures.imdb_reviews(6))
    with pytest.raises(ValueError, match=match):
        load(tmp_path / "data", tmp_path, **options)


def test_truncated_archive_names_file(tmp_path):
    path = lra_fixtures.write_imdb_archive(tmp_path / "data", lra_fixtures.imdb_reviews(200))
    lra_fixtures.truncate_file(path, 0.5)
    with pytest.raises(CorruptFileError) as raised:
        load(tmp_path / "data", tmp_path)
    assert raised.value.path == path
    assert path in str(raised.value)
    assert "truncated" in str(raised.value)
    assert raised.value.__cause__ is not None


def test_missing_files_list_accepted_layouts(tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(DataFilesNotFoundError) as raised:
        load(tmp_path / "data", tmp_path)
    message = str(raised.value)
    assert os.path.join(str(tmp_path / "data"), "aclImdb_v1.tar.gz") in message
    assert os.path.join(str(tmp_path / "data"), "aclImdb") + "/{train,test}/{pos,neg}" in message


def test_data_dir_from_environment(tmp_path, monkeypatch):
    lra_fixtures.write_imdb_archive(tmp_path / "data", lra_fixtures.imdb_reviews(6))
    monkeypatch.setenv(cache.DATA_DIR_ENV, str(tmp_path / "data"))
    loaded = load(None, tmp_path)
    assert loaded.info["source"] == str(tmp_path / "data" / "aclImdb_v1.tar.gz")


def test_no_data_dir_raises(tmp_path):
    with pytest.raises(DataFilesNotFoundError, match="TNN_LRA_DATA"):
        load(None, tmp_path)


def test_incomplete_folder_names_missing_label(tmp_path):
    reviews = lra_fixtures.imdb_reviews(3)
    reviews[("test", "neg")] = []
    lra_fixtures.write_imdb_folder(tmp_path / "data", reviews)
    os.makedirs(tmp_path / "data" / "aclImdb" / "test" / "neg", exist_ok=True)
    with pytest.raises(DataFilesNotFoundError, match="test/neg"):
        load(tmp_path / "data", tmp_path)
