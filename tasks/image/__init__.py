"""Image (Long Range Arena): CIFAR-10 in grayscale as 1024 pixel tokens, 10 classes, 2D.

`load` reads a CIFAR-10 download from the data directory (`tasks.image.reader` lists the
formats) and stores it as array_record through ImageBuilder. The validation split is the last
`val_size` (5,000) images of the training files in file order, which leaves 45,000 for
training. The test split is `test_batch` (10,000 images). The LRA input pipeline holds out
the last 10% of the tfds `cifar10` training split instead, in the order tfds stores it.
Tokens are gray levels 0..255 with no padding id, and the spec's image_shape (32, 32) makes
the model mix along rows and columns. There is no generator: without a data directory `load`
raises DataFilesNotFoundError.
"""

import os

import numpy as np

from tasks import cache, shared
from tasks.errors import DataFilesNotFoundError
from tasks.image import reader
from tasks.image.builder import ImageBuilder
from tasks.registry import LoadedTask
from tasks.spec import TaskSpec

NAME = "image"
VOCAB_SIZE = 256
DEFAULT_OPTIONS = {
    "max_length": reader.NUM_PIXELS,  # Must be 1024 = 32 x 32.
    "val_size": 5_000,  # The last val_size training images, in file order, are the validation split.
    "max_examples": 0,  # At most this many examples per split, for smoke runs. 0 keeps all.
}


def make_spec() -> TaskSpec:
    return TaskSpec(
        name=NAME,
        vocab_size=VOCAB_SIZE,
        max_length=reader.NUM_PIXELS,
        num_classes=reader.NUM_CLASSES,
        image_shape=(reader.SIDE, reader.SIDE),
        pool="mean",
    )


def find_source(root: str, data_dir_argument: str | None) -> str:
    """Return the first unpacked folder or archive of CIFAR-10 under root, in the order listed.

    Raises DataFilesNotFoundError listing every accepted layout when none exists.
    """
    candidates = []
    for folder, _, _ in reader.FORMATS.values():
        candidates.append(os.path.join(root, folder))
    for _, _, archive in reader.FORMATS.values():
        candidates.append(os.path.join(root, archive))
    for candidate in candidates:
        if os.path.isdir(candidate) or os.path.isfile(candidate):
            return candidate
    origin = "the data_dir argument" if data_dir_argument else f"${cache.DATA_DIR_ENV}"
    listing = "\n".join(f"  {candidate}  (missing)" for candidate in candidates)
    raise DataFilesNotFoundError(
        f"{NAME}: no CIFAR-10 under {root}. Accepted layouts, tried in order:\n{listing}\n"
        f"The data directory comes from {origin}. Download cifar-10-binary.tar.gz or "
        "cifar-10-python.tar.gz (Krizhevsky 2009) into it, unpacked or not."
    )


def _check_options(options: dict) -> None:
    if options["max_length"] != reader.NUM_PIXELS:
        raise ValueError(
            f"option 'max_length' of task {NAME!r} must be {reader.NUM_PIXELS} (32 x 32 pixels), "
            f"got {options['max_length']}. Set --config.task.max_length={reader.NUM_PIXELS}."
        )
    if options["val_size"] < 1:
        raise ValueError(f"option 'val_size' of task {NAME!r} must be >= 1, got {options['val_size']}")
    if options["max_examples"] < 0:
        raise ValueError(
            f"option 'max_examples' of task {NAME!r} must be >= 0 (0 keeps all), "
            f"got {options['max_examples']}"
        )


def load(*, data_dir: str | None, cache_dir: str | None, seed: int, options: dict) -> LoadedTask:
    """Load Image. `options` contains every key of DEFAULT_OPTIONS, merged by the registry."""
    del seed  # The validation split is the last val_size images, not a seeded draw.
    _check_options(options)
    root = cache.resolve_data_dir(data_dir)
    if root is None:
        raise DataFilesNotFoundError(
            f"{NAME}: no data directory is set and CIFAR-10 cannot be generated. Set the data_dir "
            f"argument (--config.task.data_dir) or ${cache.DATA_DIR_ENV} to a folder with "
            "cifar-10-binary.tar.gz or cifar-10-python.tar.gz, packed or unpacked."
        )
    source = find_source(root, data_dir)
    cache_root = cache.resolve_cache_dir(cache_dir)
    # NOTE: for an unpacked folder the cache key covers the folder's own size and modification
    # time, not the batch files inside it, so replacing a batch file needs a fresh cache_dir.
    sources, prepared = cache.prepare_splits(
        ImageBuilder, split_files={split: source for split in reader.SPLIT_FILES},
        max_length=reader.NUM_PIXELS, cache_dir=cache_root,
    )

    train_all = sources["train"]
    val_size = options["val_size"]
    if val_size >= len(train_all):
        raise ValueError(
            f"option 'val_size' of task {NAME!r} is {val_size}, but the training files contain only "
            f"{len(train_all)} images. Lower --config.task.val_size."
        )
    num_train = len(train_all) - val_size
    max_examples = options["max_examples"]
    splits = {
        "train": shared.first_examples(shared.SubsetSource(train_all, np.arange(num_train)), max_examples),
        "val": shared.first_examples(
            shared.SubsetSource(train_all, np.arange(num_train, len(train_all))), max_examples
        ),
        "test": shared.first_examples(sources["test"], max_examples),
    }
    info = {
        "task": NAME,
        "data_dir": root,
        "source": source,
        "generated": False,
        "cache_dir": cache_root,
        **prepared,
        "val_source": f"the last {val_size} training images in file order",
        "grayscale": "rint(0.2989 R + 0.5870 G + 0.1140 B), ties to even",
        "max_examples": max_examples,
        "num_examples": {split: len(split_source) for split, split_source in splits.items()},
        "prepared_num_examples": prepared["num_examples"],
    }
    return LoadedTask(spec=make_spec(), splits=splits, info=info)


def spec_from_options(options: dict) -> TaskSpec:
    """Return the spec for merged options, without reading any data."""
    del options  # The image size is fixed.
    return make_spec()
