"""Long Range Arena tasks as numpy examples: readers, generators, tfds builders and grain pipelines.

Entry points: `load_task` (the spec and split sources of a task, from `tasks.registry`),
`task_spec` (the spec alone) and
`tasks.pipeline` (padded, masked batches for training and evaluation).
"""

from tasks.registry import LoadedTask, load_task, task_spec
from tasks.spec import TaskSpec

__all__ = ["LoadedTask", "TaskSpec", "load_task", "task_spec"]
