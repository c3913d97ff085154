"""Reader of the IMDb reviews for the byte-level Text task of Long Range Arena.

Maas et al., "Learning Word Vectors for Sentiment Analysis", ACL 2011 (`aclImdb_v1.tar.gz`),
used at byte level by Tay et al., "Long Range Arena", ICLR 2021. A review is one file
`aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`, where neg is label 0 and pos label 1.
The unlabelled `train/unsup` reviews are not read.

Tokens are the file's bytes as stored (UTF-8 text) plus 1, so ids are 1..256 and 0 is
padding. The raw text keeps its `<br />` tags. Reviews longer than max_length bytes keep their
first max_length bytes.

Reviews are read in a fixed order, independent of the archive or folder listing: by review
id, then neg before pos. The ids of neg and pos reviews both run from 0, so any prefix of a
split contains both labels in about equal numbers.

Deliberate differences from released code:
- The order above replaces the order of the archive (the LRA input pipeline reads the
  `imdb_reviews` tfds dataset, whose order is a hash shuffle).
"""

import os
import re
import tarfile
import zlib
from collections.abc import Iterator

import numpy as np
from absl import logging

from tasks.errors import DataFilesNotFoundError
from tasks.shared import ArchiveSplit, CorruptFileError, byte_ids
from tasks.spec import SplitStats

SPLITS = ("train", "test")
LABELS = {"neg": 0, "pos": 1}
NUM_CLASSES = 2
ARCHIVE_NAME = "aclImdb_v1.tar.gz"
FOLDER_NAME = "aclImdb"
_MEMBER_PATTERN = re.compile(r"^(?:\./)?aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
_FILE_PATTERN = re.compile(r"^(\d+)_(\d+)\.txt$")


def is_review_folder(folder: str) -> bool:
    """Return whether folder has the `{train,test}/{pos,neg}` sub-folders of aclImdb."""
    return all(os.path.isdir(os.path.join(folder, split, label)) for split in SPLITS for label in LABELS)


def _iter_folder(folder: str, split: str) -> Iterator[tuple[tuple[int, int], bytes]]:
    for label_name, label in LABELS.items():
        label_dir = os.path.join(folder, split, label_name)
        for name in os.listdir(label_dir):
            match = _FILE_PATTERN.match(name)
            if match is None:
                continue
            with open(os.path.join(label_dir, name), "rb") as review_file:
                yield (int(match.group(1)), label), review_file.read()


def _iter_archive(path: str, split: str) -> Iterator[tuple[tuple[int, int], bytes]]:
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                match = _MEMBER_PATTERN.match(member.name)
                if match is None or match.group(1) != split or not member.isfile():
                    continue
                review_file = archive.extractfile(member)
                yield (int(match.group(3)), LABELS[match.group(2)]), review_file.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise CorruptFileError(
            path,
            f"cannot be read as a gzip-compressed tar archive ({type(error).__name__}: {error}). "
            "The file may be truncated. Download it again, or unpack it and point the data "
            f"directory at the folder that contains {FOLDER_NAME}/",
        ) from error


def read_reviews(source: str, split: str) -> list[tuple[bytes, int]]:
    """Return [(review bytes, label)] of one split in the fixed order of the module docstring.

    source is `aclImdb_v1.tar.gz` or the unpacked `aclImdb` folder. Raises CorruptFileError
    for an unreadable archive and DataFilesNotFoundError when a label has no reviews.
    """
    if split not in SPLITS:
        raise ValueError(f"IMDb split must be one of {SPLITS}, got {split!r}")
    if os.path.isdir(source):
        reviews = list(_iter_folder(source, split))
    else:
        reviews = list(_iter_archive(source, split))
    reviews.sort(key=lambda review: review[0])
    for label_name, label in LABELS.items():
        if not any(key[1] == label for key, _ in reviews):
            raise DataFilesNotFoundError(
                f"{source}: no reviews found for {FOLDER_NAME}/{split}/{label_name}/<id>_<rating>.txt. "
                "The archive or folder is incomplete."
            )
    return [(data, key[1]) for key, data in reviews]


def read_examples(source: ArchiveSplit, *, max_length: int, stats: SplitStats) -> Iterator[dict]:
    """Yield {"inputs": int32 (L,), "label": int32} per review of one split, L <= max_length."""
    for data, label in read_reviews(source.path, source.split):
        ids = byte_ids(data)
        stats.add(len(ids), max_length)
        yield {"inputs": ids[:max_length], "label": np.int32(label)}
    logging.info(
        "Read %d IMDb %s reviews from %s; %d truncated to max_length %d (longest %d bytes)",
        stats.num_examples, source.split, source.path, stats.num_truncated, max_length,
        stats.max_source_length,
    )
