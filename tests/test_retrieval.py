"""Tests of the AAN TSV reader, `load_task("retrieval")` and the independence of the two towers."""

import os

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import lra_fixtures
import tnn
from tasks import cache, pipeline, registry
from tasks.errors import DataFilesNotFoundError, MalformedDataError
from tasks.retrieval import reader


@pytest.fixture(autouse=True)
def no_data_dir_env(monkeypatch):
    monkeypatch.delenv(cache.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv(cache.CACHE_DIR_ENV, raising=False)


def write_release(folder, *, label_format="{}"):
    rows = {"train": lra_fixtures.aan_rows(12), "eval": lra_fixtures.aan_rows(5, seed=1),
            "test": lra_fixtures.aan_rows(7, seed=2)}
    lra_fixtures.write_aan_tsvs(folder, rows, label_format=label_format)
    return rows


def load(data_dir, tmp_path, **options):
    options.setdefault("max_length", 48)
    return registry.load_task("retrieval", data_dir=str(data_dir), cache_dir=str(tmp_path / "cache"),
                              seed=0, options=options)


def byte_tokens(text, max_length):
    return (np.frombuffer(text.encode("utf-8"), np.uint8).astype(np.int32) + 1)[:max_length]


@pytest.mark.parametrize("layout", ["tsv_data", os.path.join("lra_release", "lra_release", "tsv_data"), ""])
def test_reads_release_layouts(tmp_path, layout):
    rows = write_release(tmp_path / "data" / layout)
    loaded = load(tmp_path / "data", tmp_path)
    assert {split: len(source) for split, source in loaded.splits.items()} == {"train": 12, "val": 5, "test": 7}
    assert loaded.info["split_files"]["val"].endswith("new_aan_pairs.eval.tsv")
    for split, file_split in (("train", "train"), ("val", "eval"), ("test", "test")):
        for index, (label, _, _, text1, text2) in enumerate(rows[file_split]):
            example = loaded.splits[split][index]
            assert int(example["label"]) == label
            for row, text in enumerate((text1, text2)):
                expected = byte_tokens(text, 48)
                assert int(example["length"][row]) == len(expected)
                np.testing.assert_array_equal(example["inputs"][row, : len(expected)], expected)
                assert (example["inputs"][row, len(expected):] == 0).all()


def test_spec_has_two_inputs(tmp_path):
    write_release(tmp_path / "data")
    loaded = load(tmp_path / "data", tmp_path)
    assert loaded.spec.num_inputs == 2
    assert loaded.spec.input_shape == (2, 48)
    assert loaded.spec.vocab_size == 257


def test_pipeline_masks_each_document_alone(tmp_path):
    write_release(tmp_path / "data")
    loaded = load(tmp_path / "data", tmp_path)
    batch = next(iter(pipeline.eval_batches(loaded.splits["train"], loaded.spec, batch_size=12)))
    assert batch["inputs"].shape == (12, 2, 48)
    for index in range(12):
        lengths = loaded.splits["train"][index]["length"]
        assert batch["mask"][index].sum(axis=1).tolist() == lengths.tolist()
    assert (batch["inputs"][~batch["mask"]] == 0).all()
    assert batch["inputs"][batch["mask"]].min() >= 1


def test_quotes_kept_and_float_labels_read(tmp_path):
    rows = write_release(tmp_path / "data", label_format="{}.0")
    loaded = load(tmp_path / "data", tmp_path, max_length=200)
    first = loaded.splits["train"][0]
    text = (first["inputs"][0, : first["length"][0]] - 1).astype(np.uint8).tobytes().decode()
    assert text == rows["train"][0][3]
    assert '"' in text
    assert [int(loaded.splits["train"][i]["label"]) for i in range(12)] == [row[0] for row in rows["train"]]


def test_long_documents_truncated_and_counted(tmp_path):
    rows = {"train": [(1, "a", "b", "x" * 300, "short")], "eval": lra_fixtures.aan_rows(2),
            "test": lra_fixtures.aan_rows(2)}
    lra_fixtures.write_aan_tsvs(tmp_path / "data", rows)
    loaded = load(tmp_path / "data", tmp_path, max_length=100)
    example = loaded.splits["train"][0]
    assert example["inputs"].shape == (2, 100)
    assert example["length"].tolist() == [100, 5]
    assert loaded.info["split_stats"]["train"] == {
        "num_examples": 1, "num_truncated": 1, "max_source_length": 300, "num_unknown_tokens": 0,
    }


def test_wrong_column_count_names_file_and_line(tmp_path):
    paths = lra_fixtures.write_aan_tsvs(tmp_path / "data", {
        "train": lra_fixtures.aan_rows(3), "eval": lra_fixtures.aan_rows(2), "test": lra_fixtures.aan_rows(2),
    })
    with open(paths["train"], "a", encoding="utf-8") as tsv_file:
        tsv_file.write("1\tP1\tP2\tonly one text\n")
    with pytest.raises(MalformedDataError) as raised:
        load(tmp_path / "data", tmp_path)
    assert raised.value.path == paths["train"]
    assert raised.value.line_number == 4
    assert f"{paths['train']}:4:" in str(raised.value)
    assert "found 4" in str(raised.value)


def test_bad_label_names_file_and_line(tmp_path):
    paths = lra_fixtures.write_aan_tsvs(tmp_path / "data", {
        "train": lra_fixtures.aan_rows(2), "eval": lra_fixtures.aan_rows(2), "test": lra_fixtures.aan_rows(2),
    })
    with open(paths["test"], "a", encoding="utf-8") as tsv_file:
        tsv_file.write("2\tP1\tP2\tone\ttwo\n")
    with pytest.raises(MalformedDataError, match=r"new_aan_pairs\.test\.tsv:3: label"):
        load(tmp_path / "data", tmp_path)


def test_parse_label():
    assert reader.parse_label("1") == 1
    assert reader.parse_label("0.0") == 0
    assert reader.parse_label("1.0") == 1
    assert reader.parse_label("0.5") is None
    assert reader.parse_label("nan") is None
    assert reader.parse_label("yes") is None


def test_missing_files_list_layouts(tmp_path):
    lra_fixtures.write_aan_tsvs(tmp_path / "data" / "tsv_data", {"train": lra_fixtures.aan_rows(2)})
    with pytest.raises(DataFilesNotFoundError) as raised:
        load(tmp_path / "data", tmp_path)
    message = str(raised.value)
    assert os.path.join("tsv_data", "new_aan_pairs.eval.tsv") + "  (missing)" in message
    assert os.path.join("tsv_data", "new_aan_pairs.train.tsv") + "  (found)" in message
    assert os.path.join("lra_release", "lra_release", "tsv_data", "new_aan_pairs.test.tsv") in message


def test_max_examples_limits_each_split(tmp_path):
    write_release(tmp_path / "data")
    loaded = load(tmp_path / "data", tmp_path, max_examples=3)
    assert loaded.info["num_examples"] == {"train": 3, "val": 3, "test": 3}


def test_document_b_does_not_change_embedding_of_a(tmp_path):
    write_release(tmp_path / "data")
    loaded = load(tmp_path / "data", tmp_path)
    cfg = tnn.ModelConfig(vocab_size=loaded.spec.vocab_size, num_classes=2, max_length=48,
                          num_layers=2, width=16, num_inputs=2, input_dropout=0.0,
                          mixer=tnn.MixerConfig(rpe_dim=8, rpe_layers=1))
    model = tnn.Classifier(cfg, rngs=nnx.Rngs(0))
    model.eval()
    batch = next(iter(pipeline.eval_batches(loaded.splits["train"], loaded.spec, batch_size=4)))
    tokens, mask = jnp.asarray(batch["inputs"]), jnp.asarray(batch["mask"])
    pooled = np.asarray(model.encode(tokens, mask))
    assert pooled.shape == (4, 2, 16)

    rng = np.random.default_rng(0)
    changed_b = np.asarray(batch["inputs"]).copy()
    changed_b[:, 1] = np.where(batch["mask"][:, 1], rng.integers(1, 257, size=changed_b[:, 1].shape), 0)
    changed_mask = np.asarray(batch["mask"]).copy()
    changed_mask[:, 1, 30:] = False
    changed_b[:, 1, 30:] = 0
    pooled_b = np.asarray(model.encode(jnp.asarray(changed_b), jnp.asarray(changed_mask)))
    np.testing.assert_array_equal(pooled_b[:, 0], pooled[:, 0])
    assert not np.array_equal(pooled_b[:, 1], pooled[:, 1])

    changed_a = np.asarray(batch["inputs"]).copy()
    changed_a[:, 0] = np.where(batch["mask"][:, 0], rng.integers(1, 257, size=changed_a[:, 0].shape), 0)
    pooled_a = np.asarray(model.encode(jnp.asarray(changed_a), mask))
    np.testing.assert_array_equal(pooled_a[:, 1], pooled[:, 1])
    assert not np.array_equal(pooled_a[:, 0], pooled[:, 0])
