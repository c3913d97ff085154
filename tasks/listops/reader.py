"""Reader of the official ListOps TSV files (`listops-1000/basic_{train,val,test}.tsv`).

Tay et al., "Long Range Arena", ICLR 2021. Each file starts with the header `Source\\tTarget`.
Source is the fully parenthesised tree, e.g. `( ( ( [MAX 2 ) 9 ) ] )`, and Target its value
0..9. Tokens are separated by whitespace. Parentheses are dropped and `]` is kept as a token,
so the example above becomes `[MAX 2 9 ]`. Without `]` the extent of each operator is lost and
the task cannot be solved.

Token ids: 0 is padding, 1 is unknown, then the sorted token set
(`0`..`9`, `[MAX`, `[MED`, `[MIN`, `[SM`, `]`) takes ids 2..16.

Deliberate differences from released code:
- The vocabulary is fixed and sorted, not built from the training file, so ids never depend on
  file contents or hash order.
- Malformed rows raise MalformedDataError with the file and line instead of being skipped.
"""

import re
from collections.abc import Iterator

import numpy as np
from absl import logging

from tasks.errors import MalformedDataError
from tasks.listops.generator import END_TOKEN, HEADER, OPERATORS
from tasks.spec import SplitStats

PAD_ID = 0
UNKNOWN_ID = 1
TOKENS = tuple(sorted([str(digit) for digit in range(10)] + list(OPERATORS) + [END_TOKEN]))
TOKEN_TO_ID = {token: index + 2 for index, token in enumerate(TOKENS)}
VOCAB_SIZE = 2 + len(TOKENS)
NUM_CLASSES = 10
_PARENTHESES = ("(", ")")
_KNOWN_SOURCE_TOKENS = frozenset(TOKEN_TO_ID) | frozenset(_PARENTHESES)
_TARGET_PATTERN = re.compile(r"[0-9]")

# Lookup tables for the vectorised tokenizer, indexed by byte value.
_IS_WHITESPACE = np.array([chr(byte).isspace() for byte in range(128)] + [False] * 128)
_ID_BY_FIRST_BYTE = np.full(256, UNKNOWN_ID, np.int32)
for _token, _token_id in TOKEN_TO_ID.items():
    if len(_token) == 1:
        _ID_BY_FIRST_BYTE[ord(_token)] = _token_id
# The third byte distinguishes the operators: [MAX, [MED, [MIN, [SM.
_ID_BY_OPERATOR_THIRD_BYTE = np.full(256, UNKNOWN_ID, np.int32)
for _operator in OPERATORS:
    _ID_BY_OPERATOR_THIRD_BYTE[ord(_operator[2])] = TOKEN_TO_ID[_operator]
if len(set(operator[2] for operator in OPERATORS)) != len(OPERATORS):
    raise AssertionError("ListOps operators must differ in their third character")


def _check_balanced(opens_K: np.ndarray, closes_K: np.ndarray, open_token: str, close_token: str) -> None:
    """Raise ValueError naming the first token where open/close tokens stop being balanced."""
    depth_K = np.cumsum(opens_K.astype(np.int32) - closes_K.astype(np.int32))
    negative = np.flatnonzero(depth_K < 0)
    if negative.size:
        raise ValueError(
            f"unbalanced brackets: token {negative[0] + 1} is a {close_token!r} with no open "
            f"{open_token!r} before it"
        )
    if depth_K.size and depth_K[-1] != 0:
        raise ValueError(f"unbalanced brackets: {depth_K[-1]} {open_token!r} never closed")


def _tokenize_known_ascii(source: str) -> np.ndarray:
    """Tokenize a source whose tokens are all known and ASCII, with numpy on its bytes."""
    chars = np.frombuffer(source.encode("ascii"), np.uint8)
    is_token_char = ~_IS_WHITESPACE[chars]
    follows_token_char = np.concatenate(([False], is_token_char[:-1]))
    starts_K = np.flatnonzero(is_token_char & ~follows_token_char)
    first_K = chars[starts_K]
    _check_balanced(first_K == ord("("), first_K == ord(")"), "(", ")")
    is_operator_K = first_K == ord("[")
    _check_balanced(is_operator_K, first_K == ord("]"), "[", "]")

    is_kept_K = (first_K != ord("(")) & (first_K != ord(")"))
    ids = _ID_BY_FIRST_BYTE[first_K[is_kept_K]]
    operator_starts = starts_K[is_kept_K & is_operator_K]
    ids[is_operator_K[is_kept_K]] = _ID_BY_OPERATOR_THIRD_BYTE[chars[operator_starts + 2]]
    return ids


def _tokenize_slow(tokens: list[str]) -> tuple[np.ndarray, int]:
    """Tokenize any token list one token at a time; returns the ids and the unknown-token count."""
    _check_balanced(
        np.array([token == "(" for token in tokens], bool),
        np.array([token == ")" for token in tokens], bool),
        "(", ")",
    )
    _check_balanced(
        np.array([token.startswith("[") for token in tokens], bool),
        np.array([token == END_TOKEN for token in tokens], bool),
        "[", "]",
    )
    ids = [TOKEN_TO_ID.get(token, UNKNOWN_ID) for token in tokens if token not in _PARENTHESES]
    num_unknown = sum(token not in _KNOWN_SOURCE_TOKENS for token in tokens)
    return np.array(ids, np.int32), num_unknown


def tokenize(source: str) -> tuple[np.ndarray, int]:
    """Map a Source string to int32 token ids; returns the ids and the count of unknown tokens.

    Raises ValueError when the source is empty or its `(`/`)` or `[`/`]` are unbalanced. Any
    token starting with `[` counts as an opening bracket.
    """
    tokens = source.split()
    if not tokens:
        raise ValueError("Source is empty")
    if source.isascii() and _KNOWN_SOURCE_TOKENS.issuperset(tokens):
        return _tokenize_known_ascii(source), 0
    return _tokenize_slow(tokens)


def iter_rows(path: str) -> Iterator[tuple[int, str, int]]:
    """Yield (line_number, source, target) for each row of a ListOps TSV file, checking its format.

    Raises MalformedDataError naming the file and 1-based line for a missing header, a row
    without exactly two tab-separated columns, or a target that is not an integer in 0..9.
    """
    with open(path, encoding="utf-8", newline="") as tsv_file:
        header = tsv_file.readline().rstrip("\r\n")
        if header != HEADER:
            raise MalformedDataError(
                path, 1, f"expected the header {HEADER!r}, found {header[:80]!r}; is this a ListOps file?"
            )
        for line_number, line in enumerate(tsv_file, start=2):
            columns = line.rstrip("\r\n").split("\t")
            if len(columns) != 2:
                raise MalformedDataError(
                    path, line_number, f"expected 2 tab-separated columns (Source, Target), found {len(columns)}"
                )
            source, target = columns
            target = target.strip()
            if not _TARGET_PATTERN.fullmatch(target):
                raise MalformedDataError(
                    path, line_number, f"Target {target[:20]!r} is not an integer in 0..9"
                )
            yield line_number, source, int(target)


def read_examples(path: str, *, max_length: int, stats: SplitStats) -> Iterator[dict[str, np.ndarray]]:
    """Yield {"inputs": int32 (L,), "label": int32} per row, with L <= max_length.

    Longer examples are cut to their first max_length tokens. Truncations and unknown tokens
    are counted in `stats` and logged once the file is read. Raises MalformedDataError for a
    malformed row.
    """
    first_unknown_line = None
    for line_number, source, target in iter_rows(path):
        try:
            ids, num_unknown = tokenize(source)
        except ValueError as error:
            raise MalformedDataError(path, line_number, str(error)) from None
        if num_unknown and first_unknown_line is None:
            first_unknown_line = line_number
        stats.add(len(ids), max_length, num_unknown)
        yield {"inputs": ids[:max_length], "label": np.int32(target)}

    logging.info(
        "Read %d ListOps examples from %s; %d truncated to max_length %d (longest %d tokens)",
        stats.num_examples, path, stats.num_truncated, max_length, stats.max_source_length,
    )
    if stats.num_unknown_tokens:
        logging.warning(
            "%s: %d tokens outside the ListOps vocabulary were mapped to the unknown id %d; "
            "the first is on line %d",
            path, stats.num_unknown_tokens, UNKNOWN_ID, first_unknown_line,
        )
