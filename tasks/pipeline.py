"""grain input pipelines shared by every task: padded, masked batches for training and evaluation.

A source is any random-access collection (`len(source)`, `source[i]`) of examples
{"inputs": int32 (L,) or (2, L), "label": int32}. An example may also carry "length", a scalar
or one value per input, when its inputs are stored with padding. Otherwise the true length is
the size of the last axis of "inputs". Batches are
{"inputs": int32 (B, N) or (B, 2, N), "mask": bool of the same shape, True at valid positions,
 "label": int32 (B,)}, with N = spec.max_length. The mask comes from the true length, never
from token values, because 0 is a real token in the pixel tasks.
"""

import functools
from collections.abc import Iterator, Mapping
from typing import Any

import grain
import numpy as np

from tasks.spec import TaskSpec

# Buffered elements are whole batches, so this bounds host memory at that many batches.
DEFAULT_READ_OPTIONS = grain.ReadOptions(num_threads=8, prefetch_buffer_size=16)
_LABEL_CHUNK = 1024


def pad_example(example: Mapping[str, Any], spec: TaskSpec) -> dict[str, np.ndarray]:
    """Pad one example to spec.max_length and build its mask from the true length.

    Raises ValueError when the inputs have the wrong number of axes, are longer than
    spec.max_length, or the label is outside 0..spec.num_classes - 1.
    """
    inputs = np.asarray(example["inputs"], dtype=np.int32)
    if spec.num_inputs == 1:
        shape_ok = inputs.ndim == 1
    else:
        shape_ok = inputs.ndim == 2 and inputs.shape[0] == spec.num_inputs
    if not shape_ok:
        expected = "(L,)" if spec.num_inputs == 1 else f"({spec.num_inputs}, L)"
        raise ValueError(f"task {spec.name!r}: inputs must have shape {expected}, got {inputs.shape}")
    stored_length = inputs.shape[-1]
    if stored_length > spec.max_length:
        raise ValueError(
            f"task {spec.name!r}: an example has {stored_length} tokens but spec.max_length is "
            f"{spec.max_length}; prepare the data with the same max_length as the spec"
        )

    if "length" in example:
        lengths = np.asarray(example["length"], dtype=np.int32).reshape(spec.num_inputs)
    else:
        lengths = np.full(spec.num_inputs, stored_length, np.int32)
    if np.any(lengths < 0) or np.any(lengths > stored_length):
        raise ValueError(
            f"task {spec.name!r}: example length {lengths.tolist()} is outside 0..{stored_length}"
        )
    label = np.int32(example["label"])
    if not 0 <= label < spec.num_classes:
        raise ValueError(f"task {spec.name!r}: label {label} is outside 0..{spec.num_classes - 1}")

    positions_N = np.arange(spec.max_length)
    if spec.num_inputs == 1:
        mask = positions_N < lengths[0]
    else:
        mask = positions_N[None, :] < lengths[:, None]
    padded = np.zeros(spec.input_shape, np.int32)
    padded[..., :stored_length] = inputs
    return {"inputs": np.where(mask, padded, 0), "mask": mask, "label": label}


def _check_shard(shard_index: int, shard_count: int, batch_size: int) -> None:
    if shard_count < 1 or not 0 <= shard_index < shard_count:
        raise ValueError(f"shard_index must be in 0..shard_count - 1, got {shard_index} of {shard_count}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")


class TrainIterator(grain.DatasetIterator):
    """Endless iterator over training batches whose position can be saved and restored.

    `get_state()` returns a JSON-serialisable dict: the grain iterator state plus the pipeline
    settings, which `set_state` checks so that a state is never applied to a different pipeline.
    Being a grain DatasetIterator, it also works with grain's Orbax checkpoint handler.
    """

    _MUTATES_ELEMENT_SPEC = False

    def __init__(self, parent: grain.DatasetIterator, settings: dict[str, int]):
        super().__init__(parent)
        self._settings = settings

    def __next__(self) -> dict[str, np.ndarray]:
        return next(self._parent)

    def get_state(self) -> dict[str, Any]:
        return {"grain": self._parent.get_state(), "pipeline": dict(self._settings)}

    def set_state(self, state: Mapping[str, Any]) -> None:
        saved = state.get("pipeline")
        if saved != self._settings:
            raise ValueError(
                f"saved data position belongs to a pipeline with settings {saved}, but this "
                f"pipeline has {self._settings}; resume with the same data, batch size, seed and "
                "sharding, or start without restoring the data position"
            )
        self._parent.set_state(state["grain"])


def train_iterator(
    source,
    spec: TaskSpec,
    *,
    batch_size: int,
    seed: int,
    shard_index: int = 0,
    shard_count: int = 1,
    read_options: grain.ReadOptions | None = None,
) -> TrainIterator:
    """Return an endless iterator over shuffled, padded training batches of this shard.

    Each epoch is a new permutation of the whole split drawn from `seed` and the epoch number.
    Every shard takes the same number of examples from it (len // shard_count), and each shard
    drops its last partial batch. Across shards, a batch step therefore covers
    shard_count * batch_size distinct examples of the same epoch, provided that every shard
    passes the same seed.
    """
    _check_shard(shard_index, shard_count, batch_size)
    per_shard = len(source) // shard_count
    if per_shard < batch_size:
        raise ValueError(
            f"task {spec.name!r}: {len(source)} training examples over {shard_count} shard(s) give "
            f"{per_shard} per shard, fewer than batch_size {batch_size}; lower the batch size"
        )
    dataset = grain.MapDataset.source(source).shuffle(seed=seed)
    # Sharding after the shuffle gives each shard an equal share of a fresh permutation every
    # epoch, so the examples left out by the equal split change from epoch to epoch.
    dataset = dataset[shard_index : per_shard * shard_count : shard_count]
    dataset = dataset.map(functools.partial(pad_example, spec=spec))
    dataset = dataset.batch(batch_size, drop_remainder=True).repeat(None)
    settings = {
        "num_examples": len(source),
        "max_length": spec.max_length,
        "batch_size": batch_size,
        "seed": seed,
        "shard_index": shard_index,
        "shard_count": shard_count,
    }
    parent = dataset.to_iter_dataset(read_options or DEFAULT_READ_OPTIONS).__iter__()
    return TrainIterator(parent, settings)


def _empty_rows(spec: TaskSpec, num_rows: int) -> dict[str, np.ndarray]:
    return {
        "inputs": np.zeros((num_rows, *spec.input_shape), np.int32),
        "mask": np.zeros((num_rows, *spec.input_shape), bool),
        "label": np.zeros((num_rows,), np.int32),
        "valid": np.zeros((num_rows,), bool),
    }


def eval_batches(
    source,
    spec: TaskSpec,
    *,
    batch_size: int,
    shard_index: int = 0,
    shard_count: int = 1,
    read_options: grain.ReadOptions | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """Yield padded batches covering this shard's examples once, in order, with a "valid" flag.

    Shard i reads examples i, i + shard_count, ... Rows past the end of the data carry
    valid=False, and every shard yields the same number of batches (that of the largest
    shard), so multi-host evaluation stays in step and each example is counted exactly once.
    """
    _check_shard(shard_index, shard_count, batch_size)
    num_examples = len(source)
    largest_shard = -(-num_examples // shard_count)
    num_batches = -(-largest_shard // batch_size)

    num_yielded = 0
    if shard_index < num_examples:
        dataset = grain.MapDataset.source(source)[shard_index::shard_count]
        dataset = dataset.map(functools.partial(pad_example, spec=spec))
        dataset = dataset.batch(batch_size, drop_remainder=False)
        for batch in dataset.to_iter_dataset(read_options or DEFAULT_READ_OPTIONS):
            num_rows = batch["label"].shape[0]
            batch = dict(batch, valid=np.ones((num_rows,), bool))
            if num_rows < batch_size:
                filler = _empty_rows(spec, batch_size - num_rows)
                batch = {key: np.concatenate([batch[key], filler[key]]) for key in filler}
            num_yielded += 1
            yield batch
    for _ in range(num_batches - num_yielded):
        yield _empty_rows(spec, batch_size)


def labels(source) -> np.ndarray:
    """Return the int32 labels of every example of a source, in order."""
    num_examples = len(source)
    result = np.empty(num_examples, np.int32)
    get_many = getattr(source, "__getitems__", None)
    for start in range(0, num_examples, _LABEL_CHUNK):
        indices = range(start, min(start + _LABEL_CHUNK, num_examples))
        examples = get_many(indices) if get_many else [source[index] for index in indices]
        result[start : start + len(examples)] = [example["label"] for example in examples]
    return result
