"""Seeded generator of the ListOps task.

Nangia and Bowman, "ListOps: A Diagnostic Dataset for Latent Tree Learning", NAACL SRW 2018,
in the variant of Tay et al., "Long Range Arena", ICLR 2021 (generator `listops.py` in
google-research/long-range-arena). A tree is drawn recursively: at depth < 10 a node is a value
leaf with probability 0.75, otherwise it gets m ~ U{2..10} children at depth + 1 and an operator
drawn uniformly from MIN, MAX, MED (median truncated to int) and SM (sum mod 10). Nodes at depth
10 are always leaves, and the root has depth 1. The length of a tree counts values, operators
and `]` (1 per leaf, 2 per operator node plus its children), never parentheses. Trees with
min_length < length < max_length are kept, duplicates are dropped, and the unique trees are
split in order into train, val and test.

Deliberate differences from the released generator:
- Randomness comes from one `numpy.random.Generator` seeded with `seed`, so a seed fixes the
  data set. The released code draws from the unseeded `random` module, so a regenerated set
  matches its distribution, not its examples.
- A tree is abandoned as soon as its running length reaches max_length. It would be rejected
  anyway, so the distribution of kept trees is unchanged, and the large trees that make plain
  rejection sampling slow are never finished.
- Each node draws its operator before its children (the released code draws it after). Both
  orders give the same distribution.
- The released code collects trees in a Python set, so its split order depends on hashing.
  Here the first unique trees go to train, the next to val, the last to test.
"""

import dataclasses
import hashlib
import itertools
import json
import os
import time
from collections.abc import Callable, Iterator

import numpy as np
from absl import logging

OPERATORS = ("[MAX", "[MIN", "[MED", "[SM")
END_TOKEN = "]"
MAX_DEPTH = 10
MAX_CHILDREN = 10
# A node at depth < MAX_DEPTH is an operator node when its uniform draw is <= this value.
OPERATOR_PROBABILITY = 0.25
SPLITS = ("train", "val", "test")
HEADER = "Source\tTarget"
SUMMARY_FILE = "generation.json"
# Bumped whenever a change to this file changes the examples drawn for a seed.
GENERATOR_VERSION = 1
# Consecutive attempts without a new unique tree after which the bounds count as exhausted.
MAX_ATTEMPTS_WITHOUT_NEW_TREE = 200_000
_UNIFORM_BLOCK = 1 << 16


def split_file_name(split: str) -> str:
    """Return the official file name of a ListOps split, e.g. `basic_train.tsv`."""
    return f"basic_{split}.tsv"


class _TooLong(Exception):
    """Raised inside tree sampling once the running length reaches the upper bound."""


def _uniform_stream(rng: np.random.Generator) -> Callable[[], float]:
    """Return a function that yields the next U[0, 1) draw of `rng`, drawn in blocks for speed."""
    blocks = iter(lambda: rng.random(_UNIFORM_BLOCK).tolist(), None)
    return itertools.chain.from_iterable(blocks).__next__


def evaluate_operator(operator: str, values: list[int]) -> int:
    """Apply a ListOps operator (`[MAX`, `[MIN`, `[MED` or `[SM`) to its argument values."""
    if operator == "[MAX":
        return max(values)
    if operator == "[MIN":
        return min(values)
    if operator == "[MED":
        ordered = sorted(values)
        middle = len(ordered) // 2
        if len(ordered) % 2:
            return ordered[middle]
        # int(np.median(...)) in the released code: the mean of the two middle values, truncated.
        return (ordered[middle - 1] + ordered[middle]) // 2
    if operator == "[SM":
        return sum(values) % 10
    raise ValueError(f"unknown ListOps operator {operator!r}; expected one of {OPERATORS}")


def sample_tree(uniform: Callable[[], float], max_length: int) -> tuple[list[str], int, int] | None:
    """Draw one tree and return (tokens, value, length), or None once its length reaches max_length.

    `tokens` is the official rendering split on spaces, e.g. `( ( ( [MAX 2 ) 9 ) ] )` for
    [MAX 2 9 ]: a node with m children opens m + 1 parentheses, and each child as well as the
    final `]` is followed by `)`.
    """
    tokens: list[str] = []
    length = 0

    def draw(depth: int) -> int:
        nonlocal length
        if depth < MAX_DEPTH and uniform() <= OPERATOR_PROBABILITY:
            length += 2
            if length >= max_length:
                raise _TooLong
            num_children = 2 + int(uniform() * (MAX_CHILDREN - 1))
            operator = OPERATORS[int(uniform() * len(OPERATORS))]
            tokens.extend(["("] * (num_children + 1))
            tokens.append(operator)
            values = []
            for _ in range(num_children):
                values.append(draw(depth + 1))
                tokens.append(")")
            tokens.append(END_TOKEN)
            tokens.append(")")
            return evaluate_operator(operator, values)
        length += 1
        if length >= max_length:
            raise _TooLong
        value = int(uniform() * 10)
        tokens.append(str(value))
        return value

    try:
        value = draw(1)
    except _TooLong:
        return None
    return tokens, value, length


@dataclasses.dataclass
class SamplingCounts:
    """Counts of tree attempts by outcome, for the generation summary."""

    attempts: int = 0
    too_short: int = 0
    too_long: int = 0
    duplicates: int = 0
    accepted: int = 0


def iter_unique_trees(
    seed: int, *, min_length: int, max_length: int, counts: SamplingCounts | None = None
) -> Iterator[tuple[str, int]]:
    """Yield (source, target) for unique trees with min_length < length < max_length, endlessly.

    The sequence depends only on the seed and the bounds. Raises RuntimeError when
    MAX_ATTEMPTS_WITHOUT_NEW_TREE attempts in a row bring no new tree, which happens when the
    bounds admit too few distinct trees.
    """
    check_length_bounds(min_length, max_length)
    counts = counts if counts is not None else SamplingCounts()
    uniform = _uniform_stream(np.random.default_rng(seed))
    seen_digests: set[bytes] = set()
    attempts_since_new = 0
    while True:
        counts.attempts += 1
        attempts_since_new += 1
        if attempts_since_new > MAX_ATTEMPTS_WITHOUT_NEW_TREE:
            raise RuntimeError(
                f"ListOps generator found no new tree in {MAX_ATTEMPTS_WITHOUT_NEW_TREE} attempts "
                f"with {min_length} < length < {max_length} after {counts.accepted} unique trees; "
                "widen the length bounds or request fewer examples"
            )
        sampled = sample_tree(uniform, max_length)
        if sampled is None:
            counts.too_long += 1
            continue
        tokens, value, length = sampled
        if length <= min_length:
            counts.too_short += 1
            continue
        source = " ".join(tokens)
        # A 128-bit digest keeps memory small at 100k trees, and unlike hash() it does not vary
        # between processes, so a collision could not make the output depend on PYTHONHASHSEED.
        digest = hashlib.blake2b(source.encode("ascii"), digest_size=16).digest()
        if digest in seen_digests:
            counts.duplicates += 1
            continue
        seen_digests.add(digest)
        counts.accepted += 1
        attempts_since_new = 0
        yield source, value


def check_length_bounds(min_length: int, max_length: int) -> None:
    """Raise ValueError unless some tree length L satisfies min_length < L < max_length."""
    if min_length < 0:
        raise ValueError(f"ListOps min_length must be >= 0, got {min_length}")
    if max_length - min_length < 2:
        raise ValueError(
            f"ListOps length bounds are exclusive: min_length={min_length} and "
            f"max_length={max_length} leave no valid length; use max_length >= min_length + 2"
        )


def write_splits(
    out_dir: str,
    *,
    seed: int,
    num_train: int,
    num_val: int,
    num_test: int,
    min_length: int = 500,
    max_length: int = 2000,
) -> dict:
    """Generate ListOps and write `basic_{train,val,test}.tsv` plus `generation.json` to out_dir.

    The TSV files have the header `Source\\tTarget` and one tree per row. Each file is written
    under a temporary name and renamed when complete. Returns the summary that is also written
    to `generation.json`: seed, sizes, bounds and attempt counts.
    """
    sizes = {"train": num_train, "val": num_val, "test": num_test}
    for split, size in sizes.items():
        if size < 0:
            raise ValueError(f"ListOps num_{split} must be >= 0, got {size}")
    check_length_bounds(min_length, max_length)
    os.makedirs(out_dir, exist_ok=True)

    start_time = time.perf_counter()
    counts = SamplingCounts()
    trees = iter_unique_trees(seed, min_length=min_length, max_length=max_length, counts=counts)
    for split in SPLITS:
        final_path = os.path.join(out_dir, split_file_name(split))
        partial_path = final_path + ".partial"
        with open(partial_path, "w", encoding="ascii", newline="\n") as tsv_file:
            tsv_file.write(HEADER + "\n")
            for source, target in itertools.islice(trees, sizes[split]):
                tsv_file.write(f"{source}\t{target}\n")
        os.replace(partial_path, final_path)
    elapsed_s = time.perf_counter() - start_time

    summary = {
        "generator": "tasks.listops.generator",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "num_examples": sizes,
        "min_length": min_length,
        "max_length": max_length,
        "sampling": dataclasses.asdict(counts),
    }
    with open(os.path.join(out_dir, SUMMARY_FILE), "w", encoding="utf-8") as summary_file:
        json.dump(summary, summary_file, indent=2)
    logging.info(
        "Generated ListOps (seed %d, %d/%d/%d examples, %d < length < %d) in %s in %.1f s "
        "from %d attempts",
        seed, num_train, num_val, num_test, min_length, max_length, out_dir, elapsed_s,
        counts.attempts,
    )
    return summary
