"""Tests of the CIFAR-10 reader, the grayscale conversion and `load_task("image")`."""

import os
import pickle

import numpy as np
import pytest

import lra_fixtures
from tasks import cache, pipeline, registry
from tasks.errors import DataFilesNotFoundError
from tasks.image import reader
from tasks.shared import CorruptFileError

# (R, G, B) -> expected gray level: rint(0.2989 R + 0.5870 G + 0.1140 B).
KNOWN_PIXELS = [
    ((0, 0, 0), 0),
    ((255, 255, 255), 255),  # 254.9745
    ((255, 0, 0), 76),  # 76.2195
    ((0, 255, 0), 150),  # 149.685
    ((0, 0, 255), 29),  # 29.07
    ((100, 150, 200), 141),  # 140.74
    ((10, 20, 30), 18),  # 17.153
    ((1, 1, 1), 1),  # 0.9999
]


@pytest.fixture(autouse=True)
def no_data_dir_env(monkeypatch):
    monkeypatch.delenv(cache.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv(cache.CACHE_DIR_ENV, raising=False)


def load(data_dir, tmp_path, **options):
    options.setdefault("val_size", 3)
    return registry.load_task("image", data_dir=str(data_dir), cache_dir=str(tmp_path / "cache"),
                              seed=0, options=options)


def known_pixel_batches():
    """Return CIFAR batches whose first test image has KNOWN_PIXELS in its first row."""
    batches = lra_fixtures.cifar_batches(4, 5)
    images, labels = batches["test_batch"]
    for column, (rgb, _) in enumerate(KNOWN_PIXELS):
        images[0, :, 0, column] = rgb
    return batches


def test_to_gray_known_pixels():
    images = np.zeros((1, 3, 1, len(KNOWN_PIXELS)), np.uint8)
    for column, (rgb, _) in enumerate(KNOWN_PIXELS):
        images[0, :, 0, column] = rgb
    gray = reader.to_gray(images)
    assert gray.dtype == np.uint8
    assert gray[0, 0].tolist() == [level for _, level in KNOWN_PIXELS]


@pytest.mark.parametrize("kind", ["binary", "python"])
@pytest.mark.parametrize("packed", [True, False], ids=["archive", "folder"])
def test_formats_load_known_pixels(tmp_path, kind, packed):
    batches = known_pixel_batches()
    write = lra_fixtures.write_cifar_archive if packed else lra_fixtures.write_cifar_folder
    write(tmp_path / "data", batches, kind)
    loaded = load(tmp_path / "data", tmp_path)
    first = loaded.splits["test"][0]
    assert first["inputs"].dtype == np.int32
    assert first["inputs"].shape == (1024,)
    assert first["inputs"][: len(KNOWN_PIXELS)].tolist() == [level for _, level in KNOWN_PIXELS]
    images, labels = batches["test_batch"]
    for index in range(5):
        example = loaded.splits["test"][index]
        expected = reader.to_gray(images[index : index + 1]).reshape(-1)
        np.testing.assert_array_equal(example["inputs"], expected)
        assert int(example["label"]) == labels[index]


def test_val_split_is_last_training_images(tmp_path):
    batches = lra_fixtures.cifar_batches(4, 5)
    lra_fixtures.write_cifar_folder(tmp_path / "data", batches, "binary")
    loaded = load(tmp_path / "data", tmp_path, val_size=6)
    assert loaded.info["num_examples"] == {"train": 14, "val": 6, "test": 5}
    train_images = np.concatenate([batches[f"data_batch_{index}"][0] for index in range(1, 6)])
    train_labels = np.concatenate([batches[f"data_batch_{index}"][1] for index in range(1, 6)])
    for split, offset in (("train", 0), ("val", 14)):
        for index in range(len(loaded.splits[split])):
            example = loaded.splits[split][index]
            expected = reader.to_gray(train_images[offset + index : offset + index + 1]).reshape(-1)
            np.testing.assert_array_equal(example["inputs"], expected)
            assert int(example["label"]) == train_labels[offset + index]
    assert loaded.info["val_source"] == "the last 6 training images in file order"


def test_spec_is_2d_without_padding_token(tmp_path):
    batches = lra_fixtures.cifar_batches(4, 5)
    batches["test_batch"][0][0] = 0  # An all-black image: every token is 0.
    lra_fixtures.write_cifar_folder(tmp_path / "data", batches, "python")
    loaded = load(tmp_path / "data", tmp_path)
    assert loaded.spec.vocab_size == 256
    assert loaded.spec.image_shape == (32, 32)
    assert loaded.spec.max_length == 1024
    assert loaded.spec.num_classes == 10
    batch = next(iter(pipeline.eval_batches(loaded.splits["test"], loaded.spec, batch_size=5)))
    assert (batch["inputs"][0] == 0).all()
    assert batch["mask"].all()


def test_truncated_archive_names_file(tmp_path):
    path = lra_fixtures.write_cifar_archive(tmp_path / "data", lra_fixtures.cifar_batches(200, 200), "binary")
    lra_fixtures.truncate_file(path, 0.6)
    with pytest.raises(CorruptFileError) as raised:
        load(tmp_path / "data", tmp_path)
    assert raised.value.path == path
    assert "truncated" in str(raised.value)
    assert raised.value.__cause__ is not None


def test_truncated_batch_file_names_file(tmp_path):
    folder = lra_fixtures.write_cifar_folder(tmp_path / "data", lra_fixtures.cifar_batches(4, 5), "binary")
    batch_path = os.path.join(folder, "data_batch_3.bin")
    lra_fixtures.truncate_file(batch_path, 0.6)
    with pytest.raises(CorruptFileError, match="data_batch_3.bin"):
        load(tmp_path / "data", tmp_path)


def test_pickle_with_foreign_global_rejected(tmp_path):
    folder = lra_fixtures.write_cifar_folder(tmp_path / "data", lra_fixtures.cifar_batches(4, 5), "python")
    with open(os.path.join(folder, "test_batch"), "wb") as batch_file:
        pickle.dump({b"data": os.getcwd, b"labels": [0]}, batch_file, protocol=2)
    with pytest.raises(CorruptFileError, match="not allowed"):
        load(tmp_path / "data", tmp_path)


def test_decode_python_rejects_wrong_shape():
    data = pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, protocol=2)
    with pytest.raises(CorruptFileError, match="shape"):
        reader.decode_python(data, "batch")
    valid = pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [3]}, protocol=2)
    images, labels = reader.decode_python(valid, "batch")
    assert images.shape == (1, 3, 32, 32)
    assert labels.tolist() == [3]


def test_missing_files_list_layouts(tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(DataFilesNotFoundError) as raised:
        load(tmp_path / "data", tmp_path)
    message = str(raised.value)
    for name in ("cifar-10-batches-bin", "cifar-10-batches-py", "cifar-10-binary.tar.gz", "cifar-10-python.tar.gz"):
        assert os.path.join(str(tmp_path / "data"), name) in message


@pytest.mark.parametrize("options, match", [
    ({"max_length": 1000}, "max_length"),
    ({"val_size": 0}, "val_size"),
    ({"val_size": 20}, "val_size"),
    ({"grayscale": False}, "unknown option"),
])
def test_invalid_options_raise(tmp_path, options, match):
    lra_fixtures.write_cifar_folder(tmp_path / "data", lra_fixtures.cifar_batches(4, 5), "binary")
    with pytest.raises(ValueError, match=match):
        load(tmp_path / "data", tmp_path, **options)
