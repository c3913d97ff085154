"""Text (Long Range Arena): IMDb sentiment at byte level, 2 classes, 4096 bytes by default.

`load` reads `aclImdb_v1.tar.gz` or its unpacked `aclImdb` folder from the data directory and
stores both splits as array_record through TextBuilder. IMDb has no validation split, and
selecting a checkpoint on the test split would select on test, so `val_size` reviews are held
out of the 25,000 training reviews by a permutation seeded with the run seed. The summary's
task_info records this as "val_source". There is no generator: without a data directory
`load` raises DataFilesNotFoundError.
"""

import os

from absl import logging

from tasks import cache, shared
from tasks.errors import DataFilesNotFoundError
from tasks.registry import LoadedTask
from tasks.spec import TaskSpec
from tasks.text import reader
from tasks.text.builder import TextBuilder

NAME = "text"
DEFAULT_OPTIONS = {
    "max_length": 4096,  # Padded length N in bytes. Longer reviews keep their first N bytes.
    "val_size": 2_500,  # Training reviews held out for validation (10% of 25,000).
    "max_examples": 0,  # At most this many examples per split, for smoke runs. 0 keeps all.
}


def make_spec(max_length: int) -> TaskSpec:
    return TaskSpec(
        name=NAME,
        vocab_size=shared.BYTE_VOCAB_SIZE,
        max_length=max_length,
        num_classes=reader.NUM_CLASSES,
        pool="mean",
    )


def find_source(root: str, data_dir_argument: str | None) -> str:
    """Return the first of root/aclImdb, root (as the aclImdb folder) and the archive that exists.

    Raises DataFilesNotFoundError listing every accepted layout when none exists.
    """
    folders = [os.path.join(root, reader.FOLDER_NAME), root]
    for folder in folders:
        if reader.is_review_folder(folder):
            return folder
    archive = os.path.join(root, reader.ARCHIVE_NAME)
    if os.path.isfile(archive):
        return archive
    origin = "the data_dir argument" if data_dir_argument else f"${cache.DATA_DIR_ENV}"
    listing = "\n".join(
        [f"  {folder}/{{train,test}}/{{pos,neg}}/<id>_<rating>.txt  (missing)" for folder in folders]
        + [f"  {archive}  (missing)"]
    )
    raise DataFilesNotFoundError(
        f"{NAME}: no IMDb reviews under {root}. Accepted layouts, tried in order:\n{listing}\n"
        f"The data directory comes from {origin}. Download {reader.ARCHIVE_NAME} (Maas et al. "
        "2011) into it, unpacked or not."
    )


def _check_options(options: dict) -> None:
    if options["max_length"] < 1:
        raise ValueError(f"option 'max_length' of task {NAME!r} must be >= 1, got {options['max_length']}")
    if options["val_size"] < 1:
        raise ValueError(
            f"option 'val_size' of task {NAME!r} must be >= 1, got {options['val_size']}: IMDb has no "
            "validation split, and selecting checkpoints on test would select on test"
        )
    if options["max_examples"] < 0:
        raise ValueError(
            f"option 'max_examples' of task {NAME!r} must be >= 0 (0 keeps all), "
            f"got {options['max_examples']}"
        )


def load(*, data_dir: str | None, cache_dir: str | None, seed: int, options: dict) -> LoadedTask:
    """Load Text. `options` contains every key of DEFAULT_OPTIONS, merged by the registry."""
    _check_options(options)
    max_length = options["max_length"]
    root = cache.resolve_data_dir(data_dir)
    if root is None:
        raise DataFilesNotFoundError(
            f"{NAME}: no data directory is set and IMDb cannot be generated. Set the data_dir "
            f"argument (--config.task.data_dir) or ${cache.DATA_DIR_ENV} to a folder with "
            f"{reader.ARCHIVE_NAME} or its unpacked {reader.FOLDER_NAME}/ folder."
        )
    source = find_source(root, data_dir)
    cache_root = cache.resolve_cache_dir(cache_dir)
    # NOTE: for an unpacked folder the cache key covers the folder's own size and modification
    # time, not the files inside it, so editing a review needs a fresh cache_dir.
    sources, prepared = cache.prepare_splits(
        TextBuilder, split_files={split: source for split in reader.SPLITS},
        max_length=max_length, cache_dir=cache_root,
    )

    train_all = sources["train"]
    val_size = options["val_size"]
    if val_size >= len(train_all):
        raise ValueError(
            f"option 'val_size' of task {NAME!r} is {val_size}, but the training split has only "
            f"{len(train_all)} reviews. Lower --config.task.val_size."
        )
    train_indices, val_indices = shared.held_out_split(len(train_all), val_size, seed)
    max_examples = options["max_examples"]
    splits = {
        "train": shared.first_examples(shared.SubsetSource(train_all, train_indices), max_examples),
        "val": shared.first_examples(shared.SubsetSource(train_all, val_indices), max_examples),
        "test": shared.first_examples(sources["test"], max_examples),
    }
    for split, stats in prepared["split_stats"].items():
        if stats["num_truncated"]:
            logging.info(
                "Text %s: %d of %d reviews are longer than max_length %d bytes and were truncated "
                "(longest %d bytes)",
                split, stats["num_truncated"], stats["num_examples"], max_length, stats["max_source_length"],
            )
    info = {
        "task": NAME,
        "data_dir": root,
        "source": source,
        "generated": False,
        "cache_dir": cache_root,
        **prepared,
        "val_source": f"held out from train ({val_size} examples, seed {seed})",
        "max_examples": max_examples,
        "num_examples": {split: len(split_source) for split, split_source in splits.items()},
        "prepared_num_examples": prepared["num_examples"],
    }
    return LoadedTask(spec=make_spec(max_length), splits=splits, info=info)


def spec_from_options(options: dict) -> TaskSpec:
    """Return the spec for merged options, without reading any data."""
    return make_spec(options["max_length"])
