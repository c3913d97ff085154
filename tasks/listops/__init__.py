"""ListOps (Long Range Arena): nested MIN/MAX/MED/SM expressions, 10 classes, up to 2000 tokens.

`load` reads `basic_{train,val,test}.tsv` from the data directory, or generates them with the
seeded generator into the cache when no data directory is configured, then stores them as
array_record through ListOpsBuilder.
"""

import json
import os

from absl import logging

from tasks import cache, shared
from tasks.listops import generator, reader
from tasks.listops.builder import ListOpsBuilder
from tasks.registry import LoadedTask
from tasks.spec import TaskSpec

NAME = "listops"
# Sub-folders of the data directory that may hold the files: the folder itself, or the root of
# the unpacked LRA release archive.
LAYOUTS = ("", "listops-1000")
DEFAULT_OPTIONS = {
    "max_length": 2000,  # Padded length N; longer examples are truncated and counted.
    "max_examples": 0,  # At most this many examples per split, for smoke runs. 0 keeps all.
    # Generator settings, used only when no data directory is configured.
    "num_train": 96_000,
    "num_val": 2_000,
    "num_test": 2_000,
    "min_length": 500,  # Exclusive lower bound of the generated tree length.
    "max_length_bound": 2_000,  # Exclusive upper bound of the generated tree length.
}
_GENERATOR_OPTIONS = ("num_train", "num_val", "num_test", "min_length", "max_length_bound")


def make_spec(max_length: int) -> TaskSpec:
    return TaskSpec(
        name=NAME,
        vocab_size=reader.VOCAB_SIZE,
        max_length=max_length,
        num_classes=reader.NUM_CLASSES,
        pool="mean",
    )


def generated_folder_name(seed: int, options: dict) -> str:
    """Name of the cache folder for generated data; it encodes everything that changes the files."""
    return (
        f"generated-v{generator.GENERATOR_VERSION}-seed{seed}"
        f"-n{options['num_train']}-{options['num_val']}-{options['num_test']}"
        f"-len{options['min_length']}-{options['max_length_bound']}"
    )


def _generate_into_cache(cache_root: str, seed: int, options: dict) -> str:
    generated_dir = os.path.join(cache_root, NAME, generated_folder_name(seed, options))
    cache.build_dir_atomically(
        generated_dir,
        lambda folder: generator.write_splits(
            folder,
            seed=seed,
            num_train=options["num_train"],
            num_val=options["num_val"],
            num_test=options["num_test"],
            min_length=options["min_length"],
            max_length=options["max_length_bound"],
        ),
        description=f"generated ListOps (seed {seed})",
    )
    return generated_dir


def _find_files(root: str, data_dir_argument: str | None) -> dict[str, str]:
    origin = "the data_dir argument" if data_dir_argument else f"${cache.DATA_DIR_ENV}"
    hint = (
        f"The data directory comes from {origin}. Point it at a folder with these files (for "
        "example the unpacked lra_release folder), or leave both the data_dir argument and "
        f"${cache.DATA_DIR_ENV} unset to generate ListOps into the cache."
    )
    return cache.find_split_files(
        root,
        task=NAME,
        layouts=LAYOUTS,
        file_names={split: generator.split_file_name(split) for split in generator.SPLITS},
        hint=hint,
    )


def load(*, data_dir: str | None, cache_dir: str | None, seed: int, options: dict) -> LoadedTask:
    """Load ListOps; `options` must hold every key of DEFAULT_OPTIONS (the registry merges them)."""
    max_length = options["max_length"]
    spec = make_spec(max_length)
    root = cache.resolve_data_dir(data_dir)
    cache_root = cache.resolve_cache_dir(cache_dir)

    generation = None
    if root is not None:
        split_files = _find_files(root, data_dir)
        changed = [key for key in _GENERATOR_OPTIONS if options[key] != DEFAULT_OPTIONS[key]]
        if changed:
            logging.warning(
                "ListOps options %s only apply when generating data; they are unused because the "
                "files are read from %s",
                changed, root,
            )
    else:
        generated_dir = _generate_into_cache(cache_root, seed, options)
        split_files = {
            split: os.path.join(generated_dir, generator.split_file_name(split)) for split in generator.SPLITS
        }
        with open(os.path.join(generated_dir, generator.SUMMARY_FILE), encoding="utf-8") as summary_file:
            generation = json.load(summary_file)

    sources, prepared = cache.prepare_splits(
        ListOpsBuilder, split_files=split_files, max_length=max_length, cache_dir=cache_root
    )
    for split, stats in prepared["split_stats"].items():
        if stats["num_truncated"]:
            logging.warning(
                "ListOps %s: %d of %d examples are longer than max_length %d and were truncated "
                "(longest %d tokens)",
                split, stats["num_truncated"], stats["num_examples"], max_length, stats["max_source_length"],
            )
    sources = {split: shared.first_examples(source, options["max_examples"])
               for split, source in sources.items()}
    info = {
        "task": NAME,
        "max_examples": options["max_examples"],
        "data_dir": os.path.dirname(split_files["train"]),
        "generated": generation is not None,
        "generation": generation,
        "split_files": split_files,
        "cache_dir": cache_root,
        **prepared,
    }
    return LoadedTask(spec=spec, splits=sources, info=info)


def spec_from_options(options: dict) -> TaskSpec:
    """Return the spec for merged options, without reading or generating any data."""
    return make_spec(options["max_length"])
