"""tensorflow-datasets builder that stores the IMDb reviews of the Text task as array_record.

Both tfds splits ("train" and "test") are read from the same source, `aclImdb_v1.tar.gz` or
the unpacked `aclImdb` folder, by `tasks.text.reader`. The validation split is carved out of
"train" later, by `tasks.text.load`, so it never changes the prepared files.
"""

import tensorflow_datasets as tfds

from tasks.cache import TaskBuilder
from tasks.shared import ArchiveSplit
from tasks.text import reader


class TextBuilder(TaskBuilder, skip_registration=True):
    """IMDb as tfds: features {"inputs": int32 (None,) byte ids 1..256, "label": int32 0/1}."""

    name = "tnn_lra_text"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "UTF-8 bytes + 1, ordered by review id then neg/pos."}

    def _generate_examples(self, split, path):
        # TaskBuilder passes only the path to _read_split, but one source contains both splits.
        return super()._generate_examples(split, ArchiveSplit(path, split))

    def _read_split(self, path, *, max_length, stats):
        return reader.read_examples(path, max_length=max_length, stats=stats)
