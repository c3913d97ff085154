"""Task registry: `load_task(name, ...)` returns a task's spec and its split sources.

A task is a module listed in TASK_MODULES that defines
- `DEFAULT_OPTIONS`: a dict of every option the task accepts, with its default value, and
- `load(*, data_dir, cache_dir, seed, options) -> LoadedTask`, which receives the defaults
  merged with the caller's options, already checked here, and
- `spec_from_options(options) -> TaskSpec`, the spec alone, for benchmarks that need no data.
Modules are imported on first use, so loading one task never imports another.
"""

import dataclasses
import importlib
import numbers
from collections.abc import Mapping
from typing import Any

from tasks.spec import TaskSpec

TASK_MODULES = {
    "listops": "tasks.listops",
    "text": "tasks.text",
    "retrieval": "tasks.retrieval",
    "image": "tasks.image",
    "pathfinder": "tasks.pathfinder",
    "pathx": "tasks.pathfinder.pathx",
}


@dataclasses.dataclass
class LoadedTask:
    """A task ready for training.

    Attributes:
      spec: static facts the model and the pipeline need.
      splits: "train", "val", "test" -> random-access source; `len(source)` and `source[i]` ->
        {"inputs": int32 array (L,) or (2, L), "label": np.int32}.
      info: JSON-serialisable facts about where the data came from: the data directory used,
        whether it was generated, the tfds folder, example and truncation counts per split.
    """

    spec: TaskSpec
    splits: dict[str, Any]
    info: dict


def task_names() -> list[str]:
    return sorted(TASK_MODULES)


def merge_options(task: str, defaults: Mapping[str, Any], options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return defaults updated with options; raise ValueError on unknown keys or wrong types."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} for task {task!r}; accepted options: {sorted(defaults)}"
        )
    merged = dict(defaults)
    for key, value in options.items():
        default = defaults[key]
        if isinstance(default, int) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ValueError(f"option {key!r} of task {task!r} must be an int, got {value!r}")
            value = int(value)
        merged[key] = value
    return merged


def load_task(
    name: str, *, data_dir: str | None, cache_dir: str | None, seed: int, options: Mapping[str, Any] | None
) -> LoadedTask:
    """Load task `name`: read its files from data_dir (or $TNN_LRA_DATA) or generate them.

    Raises ValueError for an unknown task or option, and DataFilesNotFoundError when the data
    directory lacks the task's files.
    """
    if name not in TASK_MODULES:
        raise ValueError(f"unknown task {name!r}; known tasks: {task_names()}")
    module = importlib.import_module(TASK_MODULES[name])
    merged = merge_options(name, module.DEFAULT_OPTIONS, options)
    return module.load(data_dir=data_dir, cache_dir=cache_dir, seed=seed, options=merged)


def task_spec(name: str, options: Mapping[str, Any] | None = None) -> TaskSpec:
    """Return task `name`'s spec for the given options without reading or generating data."""
    if name not in TASK_MODULES:
        raise ValueError(f"unknown task {name!r}; known tasks: {task_names()}")
    module = importlib.import_module(TASK_MODULES[name])
    return module.spec_from_options(merge_options(name, module.DEFAULT_OPTIONS, options))
