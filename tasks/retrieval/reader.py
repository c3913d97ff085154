"""Reader of the AAN document-pair TSV files of the Long Range Arena Retrieval task.

Radev et al., "The ACL Anthology Network Corpus", 2013, as paired by Tay et al., "Long Range
Arena", ICLR 2021 (`tsv_data/new_aan_pairs.{train,eval,test}.tsv`). A file has no header and
one pair per line with 5 tab-separated columns: label, id1, id2, text1, text2. The label is 1
when the two papers are linked by a citation and 0 otherwise. The released files write it as
an integer or a float such as `1.0`. The texts contain quotes, so a line is split on tabs
only, without quote handling.

Tokens are the bytes of each text as stored (UTF-8) plus 1, so ids are 1..256 and 0 is
padding. Each document keeps its first max_length bytes. An example stores both documents
padded to the longer one, with their true lengths in "length".

Deliberate differences from released code:
- A line without exactly 5 columns or with another label raises MalformedDataError with the
  file and line, instead of being dropped or read as a shifted row.
"""

import math
from collections.abc import Iterator

import numpy as np
from absl import logging

from tasks.errors import MalformedDataError
from tasks.shared import byte_ids
from tasks.spec import SplitStats

NUM_CLASSES = 2
NUM_COLUMNS = 5
# Split name -> file name of the LRA release. The "eval" file is the validation split.
FILE_NAMES = {
    "train": "new_aan_pairs.train.tsv",
    "val": "new_aan_pairs.eval.tsv",
    "test": "new_aan_pairs.test.tsv",
}


def parse_label(text: str) -> int | None:
    """Return 0 or 1 for a label column such as `1` or `0.0`, or None for anything else."""
    try:
        value = float(text)
    except ValueError:
        return None
    if math.isfinite(value) and value in (0.0, 1.0):
        return int(value)
    return None


def iter_rows(path: str) -> Iterator[tuple[int, int, bytes, bytes]]:
    """Yield (line_number, label, text1, text2) for each line of an AAN TSV file.

    Texts are the raw bytes between the tabs. An empty line is skipped. Raises
    MalformedDataError naming the file and 1-based line for a line without exactly 5
    tab-separated columns or with a label other than 0 or 1.
    """
    with open(path, "rb") as tsv_file:
        for line_number, line in enumerate(tsv_file, start=1):
            line = line.rstrip(b"\r\n")
            if not line:
                continue
            columns = line.split(b"\t")
            if len(columns) != NUM_COLUMNS:
                raise MalformedDataError(
                    path, line_number,
                    f"expected {NUM_COLUMNS} tab-separated columns (label, id1, id2, text1, text2), "
                    f"found {len(columns)}",
                )
            label = parse_label(columns[0].decode("ascii", errors="replace"))
            if label is None:
                raise MalformedDataError(path, line_number, f"label {columns[0][:20]!r} is not 0 or 1")
            yield line_number, label, columns[3], columns[4]


def read_examples(path: str, *, max_length: int, stats: SplitStats) -> Iterator[dict[str, np.ndarray]]:
    """Yield {"inputs": int32 (2, L), "length": int32 (2,), "label": int32} per line.

    L is the length of the longer document after truncation to max_length, and the shorter
    one is padded with 0. stats counts one example per pair. A pair counts as truncated when
    either document is, and max_source_length is the longest document.
    """
    for _, label, text1, text2 in iter_rows(path):
        documents = [byte_ids(text1), byte_ids(text2)]
        stats.add(max(len(document) for document in documents), max_length)
        documents = [document[:max_length] for document in documents]
        lengths = np.array([len(document) for document in documents], np.int32)
        inputs = np.zeros((2, int(lengths.max())), np.int32)
        for row, document in enumerate(documents):
            inputs[row, : len(document)] = document
        yield {"inputs": inputs, "length": lengths, "label": np.int32(label)}
    logging.info(
        "Read %d AAN pairs from %s; %d truncated to max_length %d per document (longest %d bytes)",
        stats.num_examples, path, stats.num_truncated, max_length, stats.max_source_length,
    )
