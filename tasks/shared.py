"""Pieces that the Text, Retrieval, Image and Pathfinder tasks share.

- `SubsetSource`: a random-access view of chosen examples of a prepared split, used for
  validation splits carved out of a training split and for Pathfinder's three splits of one
  folder.
- `held_out_split`: a seeded split of 0..n-1 into two disjoint sorted index arrays, and
  `first_examples`, which shortens a split for smoke runs.
- `byte_ids`: the byte-level tokens of Text and Retrieval (UTF-8 byte + 1, 0 is padding).
- `ArchiveSplit`: the split for a tfds builder to read from a source that contains several
  (an archive or an unpacked folder), because `TaskBuilder._read_split` receives only a path.
- `info_with_features`: the DatasetInfo of a TaskBuilder with other features, e.g. uint8
  pixels or compressed inputs.
- `CorruptFileError` (defined in tasks.errors, re-exported here): a source file that exists but
  cannot be read.
"""

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import tensorflow_datasets as tfds

from tasks.errors import CorruptFileError  # noqa: F401  (re-exported for the task modules)

# Token ids of the byte-level tasks: 0 is padding, byte b has id b + 1.
BYTE_PAD_ID = 0
BYTE_VOCAB_SIZE = 257


class ArchiveSplit(NamedTuple):
    """A split (`split`) to read from a source that contains several splits (`path`)."""

    path: str
    split: str


def byte_ids(data: bytes) -> np.ndarray:
    """Return the int32 token ids of raw bytes: each byte value plus 1, in 1..256."""
    return np.frombuffer(data, np.uint8).astype(np.int32) + 1


def held_out_split(num_examples: int, num_held_out: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices 0..num_examples-1 into (kept, held_out) by a seeded permutation.

    held_out has num_held_out indices drawn without replacement by
    `numpy.random.default_rng(seed).permutation`, and both arrays are sorted. Raises
    ValueError unless 1 <= num_held_out < num_examples.
    """
    if not 1 <= num_held_out < num_examples:
        raise ValueError(
            f"cannot hold out {num_held_out} of {num_examples} examples. Choose a size from 1 "
            f"to {num_examples - 1}."
        )
    permutation = np.random.default_rng(seed).permutation(num_examples)
    return np.sort(permutation[num_held_out:]), np.sort(permutation[:num_held_out])


class SubsetSource:
    """Random-access view of the examples of `source` at `indices`, in that order.

    `len(view)` is len(indices) and `view[i]` is `source[indices[i]]`. Batched reads go
    through the source's `__getitems__` when it has one.
    """

    def __init__(self, source, indices: Sequence[int] | np.ndarray):
        indices = np.asarray(indices, dtype=np.int64)
        if indices.ndim != 1:
            raise ValueError(f"SubsetSource: indices must be 1-D, got shape {indices.shape}")
        if indices.size and (indices.min() < 0 or indices.max() >= len(source)):
            raise ValueError(
                f"SubsetSource: indices must lie in 0..{len(source) - 1}, got "
                f"{indices.min()}..{indices.max()}"
            )
        self._source = source
        self._indices = indices

    @property
    def indices(self) -> np.ndarray:
        return self._indices

    def __len__(self) -> int:
        return len(self._indices)

    def __getitem__(self, index: int):
        return self._source[int(self._indices[index])]

    def __getitems__(self, indices: Sequence[int]) -> list:
        chosen = [int(self._indices[index]) for index in indices]
        get_many = getattr(self._source, "__getitems__", None)
        if get_many is not None:
            return list(get_many(chosen))
        return [self._source[index] for index in chosen]

    def __repr__(self) -> str:
        return f"SubsetSource({len(self)} of {self._source!r})"


def first_examples(source, max_examples: int):
    """Return source, or a view of its first max_examples examples when 0 < max_examples < len."""
    if max_examples < 0:
        raise ValueError(f"max_examples must be >= 0 (0 keeps every example), got {max_examples}")
    if max_examples == 0 or max_examples >= len(source):
        return source
    if isinstance(source, SubsetSource):
        return SubsetSource(source._source, source.indices[:max_examples])
    return SubsetSource(source, np.arange(max_examples))


def info_with_features(
    builder: tfds.core.GeneratorBasedBuilder, base_info: tfds.core.DatasetInfo, features: dict
) -> tfds.core.DatasetInfo:
    """Return base_info (from `TaskBuilder._info`) with its features replaced by `features`."""
    return tfds.core.DatasetInfo(
        builder=builder,
        description=base_info.description,
        features=tfds.features.FeaturesDict(features),
        disable_shuffling=True,
        metadata=base_info.metadata,
    )
