"""Pathfinder (Long Range Arena): are the two marker disks joined by a path? 2 classes, 2D.

`load` reads a difficulty folder of the LRA release from the data directory
(`pathfinder{R}/<folder>/`, also inside the release's `lra_release/` and nested
`lra_release/lra_release/` folders) or, with no data directory, generates one into the cache
with `tasks.pathfinder.generator`. The images are stored as array_record through
PathfinderBuilder. Difficulty easy, intermediate or hard selects the folder curv_baseline,
curv_contour_length_9 or curv_contour_length_14 (hard by default).

Splits follow metadata order (see `tasks.pathfinder.reader`). Of the n readable images, the
last n // 10 are the test split and the n // 10 before them the validation split. The rest
are the training split, so the release's 200k images give 160k / 20k / 20k. Tokens are gray
levels 0..255 with no padding id. Every image fills all R * R positions, so the mask never
depends on pixel values. The model reads the last position (pool "last"), as the reference
TNN head does. Empty or undecodable PNG files are skipped, and their count is in the task
info.

Path-X is the same task at 128 x 128 (`tasks.pathfinder.pathx`).
"""

import json
import os

import numpy as np
from absl import logging

from tasks import cache, shared
from tasks.errors import DataFilesNotFoundError
from tasks.pathfinder import generator, reader
from tasks.pathfinder.builder import SKIPPED_KEY, SPLIT, PathfinderBuilder
from tasks.registry import LoadedTask
from tasks.spec import TaskSpec

NAME = "pathfinder"
VOCAB_SIZE = 256
# Resolutions the reader accepts, since the release also has pathfinder64 and pathfinder256.
# The generator writes 32, 64 and 128.
READ_RESOLUTIONS = (32, 64, 128, 256)
# Folders under the data directory that may contain `pathfinder{R}/`: the folder itself and
# the unpacked LRA release with its nested second copy.
PREFIXES = ("", "lra_release", os.path.join("lra_release", "lra_release"))
DEFAULT_OPTIONS = {
    "max_length": 1024,  # Must equal resolution * resolution.
    "resolution": 32,
    "difficulty": "hard",  # easy, intermediate or hard.
    # Generator settings, used only when no data directory is configured.
    "num_images": 200_000,
    "num_workers": 0,  # Processes that generate images. 0 uses every CPU.
    "max_examples": 0,  # At most this many examples per split, for smoke runs. 0 keeps all.
}
_GENERATOR_OPTIONS = ("num_images", "num_workers")


def make_spec(name: str, resolution: int) -> TaskSpec:
    return TaskSpec(
        name=name,
        vocab_size=VOCAB_SIZE,
        max_length=resolution * resolution,
        num_classes=reader.NUM_CLASSES,
        image_shape=(resolution, resolution),
        pool="last",
    )


def find_folder(root: str, resolution: int, difficulty: str, data_dir_argument: str | None, task: str) -> str:
    """Return the first difficulty folder under root whose metadata folder exists.

    Raises DataFilesNotFoundError listing every metadata folder it looked for.
    """
    folder_name = generator.difficulty_folder(difficulty)
    candidates = [
        os.path.join(root, prefix, f"pathfinder{resolution}", folder_name) for prefix in PREFIXES
    ]
    candidates.append(os.path.join(root, folder_name))
    for candidate in candidates:
        if os.path.isdir(os.path.join(candidate, reader.METADATA_FOLDER)):
            return candidate
    origin = "the data_dir argument" if data_dir_argument else f"${cache.DATA_DIR_ENV}"
    listing = "\n".join(
        f"  {os.path.join(candidate, reader.METADATA_FOLDER)}/<batch>.npy  (missing), with images in "
        f"{os.path.join(candidate, 'imgs')}/<batch>/sample_<i>.png"
        for candidate in candidates
    )
    raise DataFilesNotFoundError(
        f"{task}: no {difficulty} Pathfinder-{resolution} folder ({folder_name}) under {root}. "
        f"Accepted layouts, tried in order:\n{listing}\n"
        f"The data directory comes from {origin}. Point it at the unpacked LRA release "
        f"(lra_release.gz), or leave both the data_dir argument and ${cache.DATA_DIR_ENV} unset "
        "to generate the images into the cache."
    )


def generated_folder_name(seed: int, resolution: int, difficulty: str, num_images: int) -> str:
    """Return the cache folder name for generated images, which encodes what changes them."""
    return (
        f"generated-v{generator.GENERATOR_VERSION}-r{resolution}-{difficulty}-seed{seed}-n{num_images}"
    )


def _generate_into_cache(cache_root: str, seed: int, resolution: int, difficulty: str, options: dict) -> str:
    generated_dir = os.path.join(
        cache_root, NAME, generated_folder_name(seed, resolution, difficulty, options["num_images"])
    )
    num_workers = options["num_workers"] or os.cpu_count() or 1
    cache.build_dir_atomically(
        generated_dir,
        lambda folder: generator.write_dataset(
            folder, resolution=resolution, difficulty=difficulty, seed=seed,
            num_images=options["num_images"], num_workers=num_workers,
        ),
        description=f"generated Pathfinder-{resolution} {difficulty} (seed {seed})",
    )
    return generator.dataset_dir(generated_dir, resolution, difficulty)


def check_options(task: str, options: dict, resolution: int) -> None:
    """Raise ValueError for an option value the task cannot use, naming the config key."""
    if resolution not in READ_RESOLUTIONS:
        raise ValueError(
            f"option 'resolution' of task {task!r} must be one of {READ_RESOLUTIONS}, got {resolution}"
        )
    if options["max_length"] != resolution * resolution:
        raise ValueError(
            f"option 'max_length' of task {task!r} must be resolution * resolution = "
            f"{resolution * resolution}, got {options['max_length']}. Set "
            f"--config.task.max_length={resolution * resolution}"
        )
    if options["difficulty"] not in generator.DIFFICULTIES:
        raise ValueError(
            f"option 'difficulty' of task {task!r} must be one of {sorted(generator.DIFFICULTIES)}, "
            f"got {options['difficulty']!r}"
        )
    for key in ("num_images", "num_workers", "max_examples"):
        minimum = 1 if key == "num_images" else 0
        if options[key] < minimum:
            raise ValueError(f"option {key!r} of task {task!r} must be >= {minimum}, got {options[key]}")


def _read_skipped(tfds_dir: str) -> dict:
    with open(os.path.join(tfds_dir, "metadata.json"), encoding="utf-8") as metadata_file:
        return json.load(metadata_file).get(SKIPPED_KEY, {})


def split_indices(num_examples: int) -> dict[str, np.ndarray]:
    """Return the metadata-order split: the last n // 10 test, the n // 10 before val, the rest train."""
    num_held_out = num_examples // 10
    num_train = num_examples - 2 * num_held_out
    if num_train < 1 or num_held_out < 1:
        raise ValueError(
            f"Pathfinder needs at least 10 readable images to make three splits, found {num_examples}"
        )
    return {
        "train": np.arange(num_train),
        "val": np.arange(num_train, num_train + num_held_out),
        "test": np.arange(num_train + num_held_out, num_examples),
    }


def load_resolution(
    task: str, resolution: int, *, data_dir: str | None, cache_dir: str | None, seed: int, options: dict
) -> LoadedTask:
    """Load Pathfinder at one resolution under the task name `task` ("pathfinder" or "pathx")."""
    check_options(task, options, resolution)
    difficulty = options["difficulty"]
    root = cache.resolve_data_dir(data_dir)
    cache_root = cache.resolve_cache_dir(cache_dir)

    generation = None
    if root is not None:
        folder = find_folder(root, resolution, difficulty, data_dir, task)
        changed = [key for key in _GENERATOR_OPTIONS if options[key] != DEFAULT_OPTIONS[key]]
        if changed:
            logging.warning(
                "%s options %s only apply when generating images. They are unused because the "
                "images are read from %s", task, changed, folder,
            )
    else:
        if resolution not in generator.RESOLUTIONS:
            raise ValueError(
                f"{task}: the generator draws resolutions {generator.RESOLUTIONS}, not {resolution}. "
                "Point the data directory at the images instead."
            )
        folder = _generate_into_cache(cache_root, seed, resolution, difficulty, options)
        with open(os.path.join(folder, generator.SUMMARY_FILE), encoding="utf-8") as summary_file:
            generation = json.load(summary_file)

    # NOTE: the cache key covers the difficulty folder's own size and modification time, not
    # the images and metadata inside it, so editing them needs a fresh cache_dir.
    sources, prepared = cache.prepare_splits(
        PathfinderBuilder, split_files={SPLIT: folder}, max_length=resolution * resolution,
        cache_dir=cache_root,
    )
    everything = sources[SPLIT]
    max_examples = options["max_examples"]
    splits = {
        split: shared.first_examples(shared.SubsetSource(everything, indices), max_examples)
        for split, indices in split_indices(len(everything)).items()
    }
    skipped = _read_skipped(prepared["tfds_dir"])
    info = {
        "task": task,
        "data_dir": folder,
        "resolution": resolution,
        "difficulty": difficulty,
        "generated": generation is not None,
        "generation": generation,
        "cache_dir": cache_root,
        **prepared,
        "skipped_images": skipped,
        "num_skipped": skipped.get("total", 0),
        "split_rule": (
            "metadata order: the last n // 10 images test, the n // 10 before them val, the rest train"
        ),
        "val_source": "held out in metadata order (see split_rule)",
        "max_examples": max_examples,
        "num_examples": {split: len(source) for split, source in splits.items()},
        "prepared_num_examples": prepared["num_examples"],
    }
    return LoadedTask(spec=make_spec(task, resolution), splits=splits, info=info)


def load(*, data_dir: str | None, cache_dir: str | None, seed: int, options: dict) -> LoadedTask:
    """Load Pathfinder. `options` contains every key of DEFAULT_OPTIONS, merged by the registry."""
    return load_resolution(
        NAME, options["resolution"], data_dir=data_dir, cache_dir=cache_dir, seed=seed, options=options
    )


def spec_from_options(options: dict) -> TaskSpec:
    """Return the spec for merged options, without reading or generating any data."""
    return make_spec(NAME, options["resolution"])
