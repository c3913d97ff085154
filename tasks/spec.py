"""The task spec the trainer builds a model from, and the statistics of a prepared split.

A task is a spec plus random-access sources of examples, so the trainer never branches on the
task name. The vocabulary size, padded length, number of classes, one or two inputs, 1D or 2D
layout and pooling all come from the spec.
"""

import dataclasses
import numbers

POOLS = ("mean", "last")


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """Static facts about a task's inputs and labels.

    Attributes:
      name: task name as registered, e.g. "listops".
      vocab_size: number of token ids, including padding and unknown ids.
      max_length: padded length N of one input.
      num_classes: number of label values; labels are 0..num_classes - 1.
      num_inputs: 1, or 2 for tasks that compare two documents (Retrieval).
      image_shape: (H, W) for 2D tasks, with H * W == max_length; None for 1D tasks.
      pool: "mean" (masked mean over valid positions) or "last" (last valid position).
    """

    name: str
    vocab_size: int
    max_length: int
    num_classes: int
    num_inputs: int = 1
    image_shape: tuple[int, int] | None = None
    pool: str = "mean"

    def __post_init__(self):
        for field in ("vocab_size", "max_length", "num_classes"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"TaskSpec {self.name!r}: {field} must be a positive int, got {value!r}")
        if self.num_inputs not in (1, 2):
            raise ValueError(f"TaskSpec {self.name!r}: num_inputs must be 1 or 2, got {self.num_inputs!r}")
        if self.pool not in POOLS:
            raise ValueError(f"TaskSpec {self.name!r}: pool must be one of {POOLS}, got {self.pool!r}")
        if self.image_shape is not None:
            height, width = self.image_shape
            if height * width != self.max_length:
                raise ValueError(
                    f"TaskSpec {self.name!r}: image_shape {self.image_shape} has {height * width} "
                    f"positions but max_length is {self.max_length}; they must be equal"
                )

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one padded input: (N,) for one input, (2, N) for two."""
        if self.num_inputs == 1:
            return (self.max_length,)
        return (self.num_inputs, self.max_length)


@dataclasses.dataclass
class SplitStats:
    """What reading one split's source file found; stored with the prepared data.

    Attributes:
      num_examples: examples read.
      num_truncated: examples longer than max_length, cut to max_length.
      max_source_length: maximum example length before truncation, in tokens.
      num_unknown_tokens: tokens outside the vocabulary, mapped to the unknown id.
    """

    num_examples: int = 0
    num_truncated: int = 0
    max_source_length: int = 0
    num_unknown_tokens: int = 0

    def add(self, source_length: int, max_length: int, num_unknown_tokens: int = 0) -> None:
        """Count one example of source_length tokens read for a padded length of max_length."""
        self.num_examples += 1
        self.num_truncated += int(source_length > max_length)
        self.max_source_length = max(self.max_source_length, source_length)
        self.num_unknown_tokens += num_unknown_tokens

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)
