"""tensorflow-datasets builder that stores a Pathfinder difficulty folder as array_record.

All listed images go into one tfds split, "images", in metadata order, and
`tasks.pathfinder.load` cuts it into train, val and test. Pixels are stored as zlib-compressed
uint8 (Path-X images are 16,384 pixels, mostly black) and returned as int32 by `tasks.cache`.
Skipped images are counted under "skipped_images" in the dataset's metadata.json, beside the
split statistics.
"""

import math

import numpy as np
import tensorflow_datasets as tfds

from tasks.cache import TaskBuilder
from tasks.pathfinder import reader
from tasks.shared import info_with_features

SPLIT = "images"
SKIPPED_KEY = "skipped_images"


class PathfinderBuilder(TaskBuilder, skip_registration=True):
    """Pathfinder as tfds: {"inputs": uint8 (R * R,) gray levels, "label": int32 0/1}."""

    name = "tnn_lra_pathfinder"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Row-major gray levels, metadata order, empty or undecodable PNGs skipped."}

    def _info(self) -> tfds.core.DatasetInfo:
        num_pixels = self.builder_config.max_length
        return info_with_features(self, super()._info(), {
            "inputs": tfds.features.Tensor(
                shape=(num_pixels,), dtype=np.uint8, encoding=tfds.features.Encoding.ZLIB
            ),
            "label": tfds.features.Tensor(shape=(), dtype=np.int32),
        })

    def _read_split(self, path, *, max_length, stats):
        resolution = math.isqrt(max_length)
        if resolution * resolution != max_length:
            raise ValueError(f"Pathfinder max_length must be R * R for an R x R image, got {max_length}")
        skipped = reader.SkipCounts()
        yield from reader.read_examples(path, resolution=resolution, stats=stats, skipped=skipped)
        # Written to metadata.json with the dataset, so a reused copy still reports the skips.
        self.info.metadata[SKIPPED_KEY] = skipped.as_dict()
