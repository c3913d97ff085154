"""tensorflow-datasets builder that stores the ListOps TSV files as array_record.

The files are read by `tasks.listops.reader` (parentheses dropped, `]` kept, fixed sorted
vocabulary, truncation to max_length). Training reads the result through
`builder.as_data_source(split)`. `tasks.cache.prepare_splits` picks the folder under the cache
directory, so the same files and max_length are prepared only once.
"""

import tensorflow_datasets as tfds

from tasks.cache import TaskBuilder
from tasks.listops import reader


class ListOpsBuilder(TaskBuilder, skip_registration=True):
    """ListOps as tfds: features {"inputs": int32 (None,), "label": int32 in 0..9}."""

    name = "tnn_lra_listops"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Parentheses dropped, `]` kept, ids 0 pad, 1 unknown, 2..16 sorted tokens."}

    def _read_split(self, path, *, max_length, stats):
        return reader.read_examples(path, max_length=max_length, stats=stats)
