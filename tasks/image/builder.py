"""tensorflow-datasets builder that stores grayscale CIFAR-10 of the Image task as array_record.

Both tfds splits ("train" and "test") are read from the same source, an archive or unpacked
folder, by `tasks.image.reader`. Pixels are stored as uint8 and returned as int32 by
`tasks.cache`. The validation split is cut from "train" later, by `tasks.image.load`.
"""

import numpy as np
import tensorflow_datasets as tfds

from tasks.cache import TaskBuilder
from tasks.image import reader
from tasks.shared import ArchiveSplit, info_with_features


class ImageBuilder(TaskBuilder, skip_registration=True):
    """CIFAR-10 as tfds: {"inputs": uint8 (1024,) gray levels, "label": int32 0..9}."""

    name = "tnn_lra_image"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Gray levels rint(0.2989 R + 0.5870 G + 0.1140 B), row-major, file order."}

    def _info(self) -> tfds.core.DatasetInfo:
        return info_with_features(self, super()._info(), {
            "inputs": tfds.features.Tensor(shape=(reader.NUM_PIXELS,), dtype=np.uint8),
            "label": tfds.features.Tensor(shape=(), dtype=np.int32),
        })

    def _generate_examples(self, split, path):
        # TaskBuilder passes only the path to _read_split, but one source contains both splits.
        return super()._generate_examples(split, ArchiveSplit(path, split))

    def _read_split(self, path, *, max_length, stats):
        return reader.read_examples(path, max_length=max_length, stats=stats)
