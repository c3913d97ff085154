"""Data directory resolution and the cache of prepared task data.

- Data and cache directories: an explicit argument wins, then the environment variables
  TNN_LRA_DATA and TNN_LRA_CACHE; the cache falls back to ~/.cache/tnn_lra.
- `find_split_files` looks for a task's files under the accepted layouts of a data directory
  and raises DataFilesNotFoundError listing them all when none is complete.
- `build_dir_atomically` fills a folder in a temporary sibling and renames it into place, so a
  killed run never leaves a half-written folder that a later run would reuse.
- `TaskBuilder` is the tensorflow-datasets builder shared by all tasks. A subclass only defines
  how to read one split file with `_read_split`, which also truncates. The base writes
  array_record files and stores each split's SplitStats in the dataset metadata.
- `prepare_splits` builds (or reuses) a TaskBuilder under the cache directory and returns
  random-access sources. Prepared data is keyed by the source files (absolute path, size,
  modification time), max_length and the builder version, so different inputs get different
  folders.
"""

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow_datasets as tfds
from absl import logging

from tasks.errors import DataFilesNotFoundError
from tasks.spec import SplitStats

DATA_DIR_ENV = "TNN_LRA_DATA"
CACHE_DIR_ENV = "TNN_LRA_CACHE"
DEFAULT_CACHE_DIR = os.path.join("~", ".cache", "tnn_lra")
TFDS_SUBDIR = "tfds"


def resolve_data_dir(data_dir: str | None) -> str | None:
    """Return data_dir, else $TNN_LRA_DATA, else None (the task must then generate its data)."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV) or None
    return os.path.abspath(os.path.expanduser(chosen)) if chosen else None


def resolve_cache_dir(cache_dir: str | None) -> str:
    """Return cache_dir, else $TNN_LRA_CACHE, else ~/.cache/tnn_lra, as an absolute path."""
    chosen = cache_dir or os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_DIR
    return os.path.abspath(os.path.expanduser(chosen))


def find_split_files(
    root: str,
    *,
    task: str,
    layouts: Sequence[str],
    file_names: Mapping[str, str],
    hint: str,
) -> dict[str, str]:
    """Return {split: path} for the first layout under root that contains every file in file_names.

    `layouts` are sub-folders of root tried in order ("" is root itself). When no layout is
    complete, raises DataFilesNotFoundError listing every accepted file path and which are
    missing, followed by `hint` (what the user can do instead).
    """
    lines = []
    for layout in layouts:
        folder = os.path.join(root, layout) if layout else root
        paths = {split: os.path.join(folder, name) for split, name in file_names.items()}
        missing = [path for path in paths.values() if not os.path.isfile(path)]
        if not missing:
            return paths
        for path in paths.values():
            lines.append(f"  {path}{'  (missing)' if path in missing else '  (found)'}")
        lines.append("")
    listing = "\n".join(lines).rstrip()
    raise DataFilesNotFoundError(
        f"{task}: no complete set of data files under {root}. Accepted layouts, tried in order:\n"
        f"{listing}\n{hint}"
    )


def build_dir_atomically(final_dir: str, build: Callable[[str], Any], *, description: str) -> bool:
    """Create final_dir by calling build(temporary_dir) and renaming the result into place.

    Returns False without calling build when final_dir already exists, True when it was built
    now. If another process renames its copy first, that copy is kept and this one removed.
    """
    if os.path.isdir(final_dir):
        logging.info("Reusing %s in %s", description, final_dir)
        return False
    parent = os.path.dirname(final_dir)
    os.makedirs(parent, exist_ok=True)
    # NOTE: a killed run leaves its `.partial-*` sibling behind. It is never reused, because
    # every run starts a new one, and it can be deleted by hand.
    temporary_dir = tempfile.mkdtemp(prefix=os.path.basename(final_dir) + ".partial-", dir=parent)
    logging.info("Building %s in %s", description, final_dir)
    try:
        build(temporary_dir)
        os.rename(temporary_dir, final_dir)
    except OSError:
        if not os.path.isdir(final_dir):
            raise
        logging.info("Another process built %s first; keeping its copy", final_dir)
    finally:
        if os.path.isdir(temporary_dir):
            shutil.rmtree(temporary_dir, ignore_errors=True)
    return True


def fingerprint_files(paths: Mapping[str, str], **parameters: Any) -> str:
    """Return a short hex key of the files' absolute paths, sizes and mtimes plus `parameters`."""
    described = {}
    for name, path in sorted(paths.items()):
        status = os.stat(path)
        described[name] = [os.path.abspath(path), status.st_size, status.st_mtime_ns]
    payload = json.dumps({"files": described, "parameters": parameters}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


@dataclasses.dataclass(eq=False)
class SplitFilesConfig(tfds.core.BuilderConfig):
    """A builder config naming the source file of each split and the maximum stored length."""

    split_files: dict[str, str] = dataclasses.field(default_factory=dict)
    max_length: int = 0


class TaskBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base tfds builder: one source file per split, examples {"inputs": int32, "label": int32}.

    Subclasses set `name`, `VERSION` and `RELEASE_NOTES` and implement `_read_split`.
    `INPUTS_SHAPE` is (None,) for one input, (2, None) for two. Examples keep the order of the
    source file: record i of a split is the i-th example read.
    """

    INPUTS_SHAPE: tuple[int | None, ...] = (None,)

    # NOTE: tensorflow-datasets 4.9.10 looks for a checksums file next to the builder's module
    # through the importlib_resources package, which it does not install on Python >= 3.9, so
    # preparing fails with ModuleNotFoundError. These builders download nothing and need no
    # checksums file; with no code path, tfds skips that lookup.
    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls):
        return None

    def _read_split(self, path: str, *, max_length: int, stats: SplitStats) -> Iterator[dict[str, Any]]:
        """Yield the examples of one source file, at most max_length tokens each, counting into stats."""
        raise NotImplementedError(f"{type(self).__name__} must implement _read_split")

    def _info(self) -> tfds.core.DatasetInfo:
        features = tfds.features.FeaturesDict({
            "inputs": tfds.features.Tensor(shape=self.INPUTS_SHAPE, dtype=np.int32),
            "label": tfds.features.Tensor(shape=(), dtype=np.int32),
        })
        return tfds.core.DatasetInfo(
            builder=self,
            description=f"{self.name} read from {self.builder_config.split_files}",
            features=features,
            disable_shuffling=True,
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Every source file is local.
        return {
            split: self._generate_examples(split, path)
            for split, path in self.builder_config.split_files.items()
        }

    def _generate_examples(self, split: str, path: str):
        stats = SplitStats()
        max_length = self.builder_config.max_length
        for index, example in enumerate(self._read_split(path, max_length=max_length, stats=stats)):
            yield index, example
        # Written to metadata.json with the dataset, so a reused copy still reports truncation.
        self.info.metadata.setdefault("split_stats", {})[split] = stats.as_dict()


class ExampleSource:
    """Random-access view of a prepared split that returns numpy int32 values.

    `len(source)` is the number of examples and `source[i]` is {"inputs": int32 array,
    "label": np.int32}. The tfds data source underneath returns Python ints for scalars.
    """

    def __init__(self, data_source):
        self._data_source = data_source

    def __len__(self) -> int:
        return len(self._data_source)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return _to_int32(self._data_source[index])

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, np.ndarray]]:
        return [_to_int32(record) for record in self._data_source.__getitems__(indices)]

    def __repr__(self) -> str:
        return f"ExampleSource({self._data_source!r})"


def _to_int32(record: Mapping[str, Any]) -> dict[str, np.ndarray]:
    converted = {}
    for key, value in record.items():
        if np.ndim(value) == 0:
            converted[key] = np.int32(value)
        else:
            converted[key] = np.asarray(value, dtype=np.int32)
    return converted


def prepare_splits(
    builder_class: type[TaskBuilder],
    *,
    split_files: Mapping[str, str],
    max_length: int,
    cache_dir: str,
) -> tuple[dict[str, ExampleSource], dict[str, Any]]:
    """Build or reuse the array_record copy of split_files; return (sources, info).

    info contains "tfds_dir" (the prepared dataset folder), "reused" (bool), "num_examples" and
    "split_stats" (SplitStats as dicts) per split.
    """
    split_files = {split: os.path.abspath(path) for split, path in split_files.items()}
    key = fingerprint_files(
        split_files, max_length=max_length, builder=builder_class.name, version=str(builder_class.VERSION)
    )
    config = SplitFilesConfig(
        name=f"n{max_length}-{key}",
        description=f"max_length {max_length}, files {split_files}",
        split_files=split_files,
        max_length=max_length,
    )
    builder = builder_class(
        data_dir=os.path.join(cache_dir, TFDS_SUBDIR), config=config, file_format="array_record"
    )
    reused = builder.is_prepared()
    if reused:
        logging.info("Reusing prepared %s data in %s", builder_class.name, builder.data_dir)
    else:
        logging.info("Preparing %s data from %s into %s", builder_class.name, split_files, builder.data_dir)
        builder.download_and_prepare(
            download_dir=os.path.join(cache_dir, TFDS_SUBDIR, "downloads"),
            download_config=tfds.download.DownloadConfig(
                compute_stats=tfds.download.ComputeStatsMode.SKIP
            ),
        )

    sources = {split: ExampleSource(builder.as_data_source(split)) for split in split_files}
    info = {
        "tfds_dir": os.fspath(builder.data_dir),
        "reused": reused,
        "num_examples": {split: len(source) for split, source in sources.items()},
        "split_stats": dict(builder.info.metadata.get("split_stats", {})),
    }
    return sources, info
