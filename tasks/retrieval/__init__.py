"""Retrieval (Long Range Arena): whether two AAN papers are linked by a citation, byte level.

`load` reads `new_aan_pairs.{train,eval,test}.tsv` from the data directory (the eval file is
the validation split) and stores them as array_record through RetrievalBuilder. An example's
inputs have shape (2, L): two documents of at most max_length (4000) byte ids each, with their
lengths, so the pipeline masks each document on its own. The model encodes both with one
shared encoder and compares them only in its [u, v, u * v, u - v] head. There is no
generator: without a data directory `load` raises DataFilesNotFoundError.
"""

from absl import logging

from tasks import cache, shared
from tasks.errors import DataFilesNotFoundError
from tasks.registry import LoadedTask
from tasks.retrieval import reader
from tasks.retrieval.builder import RetrievalBuilder
from tasks.spec import TaskSpec

NAME = "retrieval"
# Sub-folders of the data directory that may contain the files: the folder itself, `tsv_data`,
# or `tsv_data` inside the unpacked LRA release (which nests a second lra_release folder).
LAYOUTS = ("", "tsv_data", "lra_release/tsv_data", "lra_release/lra_release/tsv_data")
DEFAULT_OPTIONS = {
    "max_length": 4000,  # Bytes kept per document. The padded input is (2, max_length).
    "max_examples": 0,  # At most this many examples per split, for smoke runs. 0 keeps all.
}


def make_spec(max_length: int) -> TaskSpec:
    return TaskSpec(
        name=NAME,
        vocab_size=shared.BYTE_VOCAB_SIZE,
        max_length=max_length,
        num_classes=reader.NUM_CLASSES,
        num_inputs=2,
        pool="mean",
    )


def load(*, data_dir: str | None, cache_dir: str | None, seed: int, options: dict) -> LoadedTask:
    """Load Retrieval. `options` contains every key of DEFAULT_OPTIONS, merged by the registry."""
    del seed  # The splits are the files' own.
    max_length = options["max_length"]
    if max_length < 1:
        raise ValueError(f"option 'max_length' of task {NAME!r} must be >= 1, got {max_length}")
    root = cache.resolve_data_dir(data_dir)
    if root is None:
        raise DataFilesNotFoundError(
            f"{NAME}: no data directory is set and the AAN pairs cannot be generated. Set the "
            f"data_dir argument (--config.task.data_dir) or ${cache.DATA_DIR_ENV} to a folder "
            "with the tsv_data files of the LRA release."
        )

    origin = "the data_dir argument" if data_dir else f"${cache.DATA_DIR_ENV}"
    split_files = cache.find_split_files(
        root,
        task=NAME,
        layouts=LAYOUTS,
        file_names=reader.FILE_NAMES,
        hint=(
            f"The data directory comes from {origin}. Point it at the unpacked LRA release "
            "(lra_release.gz) or at its tsv_data folder."
        ),
    )
    cache_root = cache.resolve_cache_dir(cache_dir)
    sources, prepared = cache.prepare_splits(
        RetrievalBuilder, split_files=split_files, max_length=max_length, cache_dir=cache_root
    )
    for split, stats in prepared["split_stats"].items():
        if stats["num_truncated"]:
            logging.info(
                "Retrieval %s: %d of %d pairs have a document longer than max_length %d bytes, "
                "truncated (longest %d bytes)",
                split, stats["num_truncated"], stats["num_examples"], max_length, stats["max_source_length"],
            )

    max_examples = options["max_examples"]
    splits = {split: shared.first_examples(source, max_examples) for split, source in sources.items()}
    info = {
        "task": NAME,
        "data_dir": root,
        "generated": False,
        "split_files": split_files,
        "cache_dir": cache_root,
        **prepared,
        "val_source": f"the release's eval file ({reader.FILE_NAMES['val']})",
        "max_examples": max_examples,
        "num_examples": {split: len(source) for split, source in splits.items()},
        "prepared_num_examples": prepared["num_examples"],
    }
    return LoadedTask(spec=make_spec(max_length), splits=splits, info=info)


def spec_from_options(options: dict) -> TaskSpec:
    """Return the spec for merged options, without reading any data."""
    return make_spec(options["max_length"])
