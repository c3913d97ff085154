"""tensorflow-datasets builder that stores the AAN pairs of the Retrieval task as array_record.

Inputs are two documents of up to 4000 byte ids each. They are stored as zlib-compressed
uint16 (ids are at most 256) with the true length of each document, and `tasks.cache` returns
them as int32.
"""

import numpy as np
import tensorflow_datasets as tfds

from tasks.cache import TaskBuilder
from tasks.retrieval import reader
from tasks.shared import info_with_features


class RetrievalBuilder(TaskBuilder, skip_registration=True):
    """AAN as tfds: {"inputs": (2, None) byte ids, "length": (2,), "label": 0/1}."""

    name = "tnn_lra_retrieval"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "UTF-8 bytes + 1 per document, padded to the longer one, with lengths."}
    INPUTS_SHAPE = (2, None)

    def _info(self) -> tfds.core.DatasetInfo:
        return info_with_features(self, super()._info(), {
            "inputs": tfds.features.Tensor(
                shape=self.INPUTS_SHAPE, dtype=np.uint16, encoding=tfds.features.Encoding.ZLIB
            ),
            "length": tfds.features.Tensor(shape=(2,), dtype=np.int32),
            "label": tfds.features.Tensor(shape=(), dtype=np.int32),
        })

    def _read_split(self, path, *, max_length, stats):
        for example in reader.read_examples(path, max_length=max_length, stats=stats):
            yield dict(example, inputs=example["inputs"].astype(np.uint16))
