"""Tests of the grain pipelines: padding and masks, resumable training order, exact evaluation."""

import json

import grain
import numpy as np
import pytest
from etils import epath

from tasks import cache, pipeline, registry
from tasks.spec import TaskSpec

SPEC = TaskSpec(name="toy", vocab_size=300, max_length=12, num_classes=10)
PAIR_SPEC = TaskSpec(name="toy_pair", vocab_size=300, max_length=6, num_classes=2, num_inputs=2)


def make_source(num_examples, max_length=12):
    """Examples whose tokens all equal 100 + index, with lengths 1..max_length including token 0."""
    source = []
    for index in range(num_examples):
        length = 1 + index % max_length
        inputs = np.full(length, 100 + index, np.int32)
        inputs[0] = 0  # A real token 0 must still count as valid.
        source.append({"inputs": inputs, "label": np.int32(index % 10)})
    return source


def example_ids(batch):
    """Recover each row's example index from its token at position 1; -1 for rows of length 1."""
    ids = []
    for inputs, mask in zip(batch["inputs"], batch["mask"]):
        ids.append(int(inputs[1]) - 100 if mask.sum() > 1 else -1)
    return ids


def test_pad_example_mask_follows_true_length():
    source = make_source(12)
    for example in source:
        padded = pipeline.pad_example(example, SPEC)
        length = len(example["inputs"])
        assert padded["inputs"].shape == (12,)
        assert padded["inputs"].dtype == np.int32
        assert padded["mask"].dtype == bool
        assert padded["mask"].tolist() == [True] * length + [False] * (12 - length)
        np.testing.assert_array_equal(padded["inputs"][:length], example["inputs"])
        assert not padded["inputs"][length:].any()
        assert padded["label"] == example["label"]


def test_pad_example_two_inputs_with_lengths():
    example = {
        "inputs": np.array([[5, 0, 7, 9], [0, 0, 3, 3]], np.int32),
        "length": np.array([3, 1], np.int32),
        "label": np.int32(1),
    }
    padded = pipeline.pad_example(example, PAIR_SPEC)
    assert padded["inputs"].tolist() == [[5, 0, 7, 0, 0, 0], [0, 0, 0, 0, 0, 0]]
    assert padded["mask"].tolist() == [[True, True, True, False, False, False], [True] + [False] * 5]


@pytest.mark.parametrize(
    "example, message",
    [
        ({"inputs": np.ones(13, np.int32), "label": 1}, "13 tokens but spec.max_length is 12"),
        ({"inputs": np.ones((2, 3), np.int32), "label": 1}, r"inputs must have shape \(L,\)"),
        ({"inputs": np.ones(3, np.int32), "label": 10}, r"label 10 is outside 0..9"),
        ({"inputs": np.ones(3, np.int32), "length": 4, "label": 1}, r"length \[4\] is outside 0..3"),
    ],
)
def test_pad_example_rejects_bad_examples(example, message):
    with pytest.raises(ValueError, match=message):
        pipeline.pad_example(example, SPEC)


def test_train_batches_are_padded_and_masked():
    source = make_source(20)
    batch = next(pipeline.train_iterator(source, SPEC, batch_size=4, seed=0))
    assert batch["inputs"].shape == (4, 12)
    assert batch["mask"].shape == (4, 12)
    assert batch["label"].shape == (4,)
    for row, index in enumerate(example_ids(batch)):
        if index >= 0:
            assert batch["mask"][row].sum() == len(source[index]["inputs"])
            assert batch["label"][row] == source[index]["label"]


def test_train_epochs_are_fresh_permutations():
    source = make_source(26, max_length=12)
    for index, example in enumerate(source):
        example["inputs"] = np.full(2, 100 + index, np.int32)  # Every example readable by id.
    iterator = pipeline.train_iterator(source, SPEC, batch_size=5, seed=3)
    # 26 examples give 5 full batches per epoch; the last example of each permutation is left out.
    epochs = [[index for _ in range(5) for index in example_ids(next(iterator))] for _ in range(3)]
    for epoch in epochs:
        assert len(set(epoch)) == 25
    assert epochs[0] != epochs[1]
    again = pipeline.train_iterator(source, SPEC, batch_size=5, seed=3)
    assert [index for _ in range(5) for index in example_ids(next(again))] == epochs[0]
    other_seed = pipeline.train_iterator(source, SPEC, batch_size=5, seed=4)
    assert [index for _ in range(5) for index in example_ids(next(other_seed))] != epochs[0]


def test_train_iterator_resumes_exactly():
    source = make_source(23)
    iterator = pipeline.train_iterator(source, SPEC, batch_size=4, seed=7)
    for _ in range(7):  # 5 batches per epoch, so the saved position is inside the second epoch.
        next(iterator)
    state = json.loads(json.dumps(iterator.get_state()))
    expected = [next(iterator) for _ in range(9)]

    resumed = pipeline.train_iterator(source, SPEC, batch_size=4, seed=7)
    resumed.set_state(state)
    for expected_batch in expected:
        actual_batch = next(resumed)
        for key in ("inputs", "mask", "label"):
            np.testing.assert_array_equal(actual_batch[key], expected_batch[key])


def test_train_iterator_grain_checkpoint_handler(tmp_path):
    source = make_source(23)
    iterator = pipeline.train_iterator(source, SPEC, batch_size=4, seed=2)
    for _ in range(3):
        next(iterator)
    handler = grain.checkpoint.CheckpointHandler()
    handler.save(epath.Path(tmp_path), args=grain.checkpoint.CheckpointSave(iterator))
    expected = next(iterator)

    resumed = pipeline.train_iterator(source, SPEC, batch_size=4, seed=2)
    handler.restore(epath.Path(tmp_path), args=grain.checkpoint.CheckpointRestore(resumed))
    np.testing.assert_array_equal(next(resumed)["inputs"], expected["inputs"])


def test_train_iterator_rejects_state_of_other_pipeline():
    source = make_source(23)
    state = pipeline.train_iterator(source, SPEC, batch_size=4, seed=7).get_state()
    other = pipeline.train_iterator(source, SPEC, batch_size=5, seed=7)
    with pytest.raises(ValueError, match="resume with the same data, batch size, seed and sharding"):
        other.set_state(state)


def test_train_shards_split_each_epoch():
    source = make_source(40)
    for index, example in enumerate(source):
        example["inputs"] = np.full(2, 100 + index, np.int32)
    shard_ids = []
    for shard_index in range(3):
        iterator = pipeline.train_iterator(source, SPEC, batch_size=4, seed=1, shard_index=shard_index, shard_count=3)
        shard_ids.append([index for _ in range(3) for index in example_ids(next(iterator))])
    everything = [index for ids in shard_ids for index in ids]
    assert len(everything) == 36
    assert len(set(everything)) == 36


def test_train_iterator_rejects_too_few_examples():
    with pytest.raises(ValueError, match="fewer than batch_size 8; lower the batch size"):
        pipeline.train_iterator(make_source(15), SPEC, batch_size=8, seed=0, shard_count=2)
    with pytest.raises(ValueError, match="shard_index must be in 0..shard_count - 1"):
        pipeline.train_iterator(make_source(15), SPEC, batch_size=2, seed=0, shard_index=2, shard_count=2)


@pytest.mark.parametrize("num_examples, batch_size, shard_count", [(23, 5, 1), (23, 4, 3), (2, 4, 3), (0, 4, 2)])
def test_eval_batches_count_each_example_once(num_examples, batch_size, shard_count):
    source = make_source(num_examples)
    for index, example in enumerate(source):
        example["inputs"] = np.full(2 + index % 10, 100 + index, np.int32)
    seen = []
    batch_counts = []
    for shard_index in range(shard_count):
        batches = list(pipeline.eval_batches(source, SPEC, batch_size=batch_size, shard_index=shard_index,
                                             shard_count=shard_count))
        batch_counts.append(len(batches))
        for batch in batches:
            assert batch["inputs"].shape == (batch_size, 12)
            assert batch["mask"].shape == (batch_size, 12)
            assert batch["valid"].dtype == bool
            for row, index in enumerate(example_ids(batch)):
                if batch["valid"][row]:
                    seen.append(index)
                    assert batch["label"][row] == source[index]["label"]
                    assert batch["mask"][row].sum() == len(source[index]["inputs"])
                else:
                    assert not batch["mask"][row].any()
    assert sorted(seen) == list(range(num_examples))
    assert len(set(batch_counts)) == 1
    expected_batches = -(-(-(-num_examples // shard_count)) // batch_size)
    assert batch_counts[0] == expected_batches


def test_labels_returns_all_labels():
    source = make_source(2500)
    np.testing.assert_array_equal(pipeline.labels(source), [index % 10 for index in range(2500)])
    assert pipeline.labels(source).dtype == np.int32


def test_pipeline_on_prepared_listops(tmp_path, monkeypatch):
    monkeypatch.delenv(cache.DATA_DIR_ENV, raising=False)
    options = {"num_train": 20, "num_val": 5, "num_test": 5, "min_length": 10, "max_length_bound": 60,
               "max_length": 64}
    task = registry.load_task("listops", data_dir=None, cache_dir=str(tmp_path), seed=0, options=options)
    batch = next(pipeline.train_iterator(task.splits["train"], task.spec, batch_size=8, seed=0))
    assert batch["inputs"].shape == (8, 64)
    assert batch["inputs"].dtype == np.int32
    lengths = batch["mask"].sum(axis=1)
    assert (lengths > 10).all()
    # ListOps ids inside an example are never 0, so a 0 at the last valid position would mean a bad mask.
    for row, length in enumerate(lengths):
        assert batch["inputs"][row, length - 1] != 0
        assert not batch["inputs"][row, length:].any()
    val_labels = pipeline.labels(task.splits["val"])
    assert len(val_labels) == 5
    batches = list(pipeline.eval_batches(task.splits["val"], task.spec, batch_size=4))
    assert sum(batch["valid"].sum() for batch in batches) == 5
    np.testing.assert_array_equal(np.concatenate([batch["label"][batch["valid"]] for batch in batches]), val_labels)
