"""Tests of the ListOps generator, reader, tfds builder, cache and `load_task`."""

import json
import os

import numpy as np
import pytest

from tasks import cache, generate, registry
from tasks.errors import DataFilesNotFoundError, MalformedDataError
from tasks.listops import generator, reader
from tasks.spec import SplitStats

# [MAX 2 [MIN 4 7 ] 0 ] in the rendering of the LRA release files.
NESTED_SOURCE = "( ( ( ( [MAX 2 ) ( ( ( [MIN 4 ) 7 ) ] ) ) 0 ) ] )"
SMALL_BOUNDS = {"min_length": 10, "max_length": 60}
SMALL_OPTIONS = {
    "num_train": 30, "num_val": 7, "num_test": 5, "min_length": 10, "max_length_bound": 60, "max_length": 64,
}


@pytest.fixture(autouse=True)
def no_data_dir_env(monkeypatch):
    monkeypatch.delenv(cache.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv(cache.CACHE_DIR_ENV, raising=False)


def write_tsv(path, rows, header="Source\tTarget"):
    with open(path, "w", encoding="utf-8") as tsv_file:
        tsv_file.write(header + "\n")
        for row in rows:
            tsv_file.write(row + "\n")
    return str(path)


def read_tsv_rows(path):
    with open(path, encoding="utf-8") as tsv_file:
        lines = tsv_file.read().splitlines()
    return lines[0], [line.split("\t") for line in lines[1:]]


# An evaluator written apart from the generator: it parses the parenthesised rendering back into
# the generator's left-nested tuples ((((op, c1), c2) .. cm), ]) and evaluates them.
def parse_rendering(tokens, position=0):
    token = tokens[position]
    if token != "(":
        return token, position + 1
    left, position = parse_rendering(tokens, position + 1)
    right, position = parse_rendering(tokens, position)
    assert tokens[position] == ")", f"expected ')' at token {position}, found {tokens[position]!r}"
    return (left, right), position + 1


def evaluate_parsed(tree):
    if isinstance(tree, str):
        return int(tree)
    items = []
    while isinstance(tree, tuple):
        items.append(tree[1])
        tree = tree[0]
    operator = tree
    items.reverse()
    assert items[-1] == "]", f"operator {operator} does not end with ']'"
    values = [evaluate_parsed(child) for child in items[:-1]]
    assert len(values) >= 2, f"operator {operator} has {len(values)} arguments"
    if operator == "[MAX":
        return max(values)
    if operator == "[MIN":
        return min(values)
    if operator == "[MED":
        return int(np.median(values))
    if operator == "[SM":
        return sum(values) % 10
    raise AssertionError(f"unknown operator {operator!r}")


def evaluate_source(source):
    tokens = source.split()
    tree, end = parse_rendering(tokens)
    assert end == len(tokens), f"{len(tokens) - end} tokens left after the tree"
    return evaluate_parsed(tree)


def tree_length(source):
    return sum(token not in ("(", ")") for token in source.split())


# Reader.


def test_vocabulary_is_sorted_token_set():
    expected_tokens = sorted(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "[MAX", "[MIN", "[MED", "[SM", "]"])
    assert list(reader.TOKENS) == expected_tokens
    assert [reader.TOKEN_TO_ID[token] for token in expected_tokens] == list(range(2, 17))
    assert reader.PAD_ID == 0
    assert reader.UNKNOWN_ID == 1
    assert reader.VOCAB_SIZE == 17


def test_tokenize_keeps_end_brackets():
    ids, num_unknown = reader.tokenize(NESTED_SOURCE)
    expected = [reader.TOKEN_TO_ID[token] for token in "[MAX 2 [MIN 4 7 ] 0 ]".split()]
    assert ids.tolist() == expected
    assert ids.tolist() == [12, 4, 14, 6, 9, 16, 2, 16]
    assert (ids == reader.TOKEN_TO_ID["]"]).sum() == 2
    assert ids.dtype == np.int32
    assert num_unknown == 0


def test_tokenize_fast_path_matches_slow_path():
    trees = generator.iter_unique_trees(7, min_length=30, max_length=400)
    for _ in range(50):
        source, _ = next(trees)
        fast_ids, _ = reader.tokenize(source)
        slow_ids, slow_unknown = reader._tokenize_slow(source.split())
        np.testing.assert_array_equal(fast_ids, slow_ids)
        assert slow_unknown == 0


def test_tokenize_maps_unknown_tokens():
    ids, num_unknown = reader.tokenize("( ( ( [MAX 2 ) x ) ] )")
    assert ids.tolist() == [12, 4, reader.UNKNOWN_ID, 16]
    assert num_unknown == 1


def test_read_examples_truncates_and_counts(tmp_path):
    path = write_tsv(tmp_path / "basic_train.tsv", [f"{NESTED_SOURCE}\t7", "( ( ( [SM 1 ) 2 ) ] )\t3"])
    stats = SplitStats()
    examples = list(reader.read_examples(path, max_length=5, stats=stats))
    assert [example["inputs"].tolist() for example in examples] == [[12, 4, 14, 6, 9], [15, 3, 4, 16]]
    assert [int(example["label"]) for example in examples] == [7, 3]
    assert stats.as_dict() == {
        "num_examples": 2, "num_truncated": 1, "max_source_length": 8, "num_unknown_tokens": 0,
    }


@pytest.mark.parametrize(
    "rows, header, line_number, problem",
    [
        ([f"{NESTED_SOURCE}\t7"], "Input\tOutput", 1, "expected the header"),
        ([f"{NESTED_SOURCE}\t7", NESTED_SOURCE], "Source\tTarget", 3, "expected 2 tab-separated columns"),
        ([f"{NESTED_SOURCE}\t7\textra"], "Source\tTarget", 2, "expected 2 tab-separated columns"),
        ([f"{NESTED_SOURCE}\t10"], "Source\tTarget", 2, "not an integer in 0..9"),
        ([f"{NESTED_SOURCE}\tseven"], "Source\tTarget", 2, "not an integer in 0..9"),
        ([f"{NESTED_SOURCE}\t"], "Source\tTarget", 2, "not an integer in 0..9"),
        ([f"{NESTED_SOURCE}\t1", "( ( [MAX 2 ) 9 ) ] )\t9"], "Source\tTarget", 3, "unbalanced brackets"),
        (["( ( ( [MAX 2 ) 9 ) )\t9"], "Source\tTarget", 2, "unbalanced brackets"),
        (["( ( ( [MAX 2 ) 9 ) ] ] )\t9"], "Source\tTarget", 2, "unbalanced brackets"),
        (["\t4"], "Source\tTarget", 2, "Source is empty"),
    ],
)
def test_malformed_row_names_file_and_line(tmp_path, rows, header, line_number, problem):
    path = write_tsv(tmp_path / "basic_val.tsv", rows, header=header)
    with pytest.raises(MalformedDataError) as raised:
        list(reader.read_examples(path, max_length=100, stats=SplitStats()))
    assert str(raised.value).startswith(f"{path}:{line_number}: ")
    assert problem in str(raised.value)
    assert raised.value.line_number == line_number


def test_empty_file_reports_missing_header(tmp_path):
    path = tmp_path / "basic_test.tsv"
    path.write_text("")
    with pytest.raises(MalformedDataError, match=r"basic_test\.tsv:1: expected the header"):
        list(reader.iter_rows(str(path)))


# Generator.


def test_generator_rendering_of_one_node():
    values = iter([0.1, 0.0, 0.0, 0.9, 0.25, 0.9, 0.95])
    # Root is an operator (0.1 <= 0.25) with 2 children ([MAX), then the leaves 2 and 9.
    tokens, value, length = generator.sample_tree(lambda: next(values), max_length=100)
    assert " ".join(tokens) == "( ( ( [MAX 2 ) 9 ) ] )"
    assert value == 9
    assert length == 4


def test_generator_draw_boundaries():
    # 0.25 still makes an operator node and 0.26 a leaf; u -> 2 + int(9u) children covers 2..10.
    values = iter([0.25, 0.9999, 0.9999] + [0.26, 0.0] * 10)
    tokens, value, length = generator.sample_tree(lambda: next(values), max_length=100)
    assert tokens[:12] == ["("] * 11 + ["[SM"]
    assert value == 0
    assert length == 12
    leaf = iter([0.26, 0.55])
    assert generator.sample_tree(lambda: next(leaf), max_length=100) == (["5"], 5, 1)


def test_generator_stops_at_depth_ten():
    # Always drawing 0 makes every node an operator with 2 children until depth 10 forces leaves:
    # 2**9 leaves and 2**9 - 1 operators.
    tokens, value, length = generator.sample_tree(lambda: 0.0, max_length=10_000)
    assert length == 2**9 + 2 * (2**9 - 1)
    assert tokens.count("0") == 2**9
    assert value == 0
    assert generator.sample_tree(lambda: 0.0, max_length=length) is None


def test_generator_leaf_probability_at_root():
    # At the root a leaf has probability 0.75; 20000 draws put the rate within 0.015 with
    # probability above 0.999.
    uniform = generator._uniform_stream(np.random.default_rng(0))
    results = [generator.sample_tree(uniform, max_length=30) for _ in range(20_000)]
    leaf_rate = np.mean([result is not None and result[2] == 1 for result in results])
    assert abs(leaf_rate - 0.75) < 0.015


@pytest.mark.parametrize(
    "operator, values, expected",
    [("[MAX", [3, 9, 1], 9), ("[MIN", [3, 9, 1], 1), ("[MED", [3, 9, 1], 3), ("[MED", [2, 7], 4),
     ("[MED", [1, 2, 8, 9], 5), ("[SM", [7, 8, 9], 4)],
)
def test_evaluate_operator(operator, values, expected):
    assert generator.evaluate_operator(operator, values) == expected
    assert generator.evaluate_operator(operator, values) == evaluate_parsed(
        parse_rendering(generator_rendering(operator, values))[0]
    )


def generator_rendering(operator, values):
    return ["("] * (len(values) + 1) + [operator] + [token for value in values for token in (str(value), ")")] + ["]", ")"]


def test_generator_labels_match_independent_evaluation(tmp_path):
    generator.write_splits(str(tmp_path), seed=11, num_train=40, num_val=5, num_test=5, min_length=20, max_length=300)
    for split in generator.SPLITS:
        _, rows = read_tsv_rows(tmp_path / generator.split_file_name(split))
        for source, target in rows:
            assert int(target) == evaluate_source(source), source


def test_generator_files_layout_and_summary(tmp_path):
    summary = generator.write_splits(str(tmp_path), seed=3, num_train=12, num_val=4, num_test=2, **SMALL_BOUNDS)
    all_sources = []
    for split, size in [("train", 12), ("val", 4), ("test", 2)]:
        header, rows = read_tsv_rows(tmp_path / generator.split_file_name(split))
        assert header == "Source\tTarget"
        assert len(rows) == size
        all_sources += [source for source, _ in rows]
    assert len(set(all_sources)) == len(all_sources)
    assert sorted(os.listdir(tmp_path)) == ["basic_test.tsv", "basic_train.tsv", "basic_val.tsv", "generation.json"]
    with open(tmp_path / "generation.json") as summary_file:
        assert json.load(summary_file) == summary
    assert summary["seed"] == 3
    assert summary["sampling"]["accepted"] == 18


def test_generator_is_deterministic_per_seed(tmp_path):
    contents = {}
    for name, seed in [("first", 5), ("again", 5), ("other", 6)]:
        generator.write_splits(str(tmp_path / name), seed=seed, num_train=20, num_val=3, num_test=3, **SMALL_BOUNDS)
        contents[name] = [
            (tmp_path / name / generator.split_file_name(split)).read_text() for split in generator.SPLITS
        ]
    assert contents["first"] == contents["again"]
    for split_index in range(3):
        assert contents["first"][split_index] != contents["other"][split_index]


def test_generator_respects_small_length_bounds(tmp_path):
    generator.write_splits(str(tmp_path), seed=2, num_train=60, num_val=0, num_test=0, min_length=15, max_length=25)
    _, rows = read_tsv_rows(tmp_path / "basic_train.tsv")
    lengths = [tree_length(source) for source, _ in rows]
    assert min(lengths) > 15
    assert max(lengths) < 25
    assert all(len(reader.tokenize(source)[0]) == length for (source, _), length in zip(rows, lengths))


def test_generator_respects_lra_length_bounds():
    trees = generator.iter_unique_trees(0, min_length=500, max_length=2000)
    for _ in range(5):
        source, target = next(trees)
        assert 500 < tree_length(source) < 2000
        assert target == evaluate_source(source)


def test_generator_raises_when_bounds_admit_too_few_trees(monkeypatch):
    monkeypatch.setattr(generator, "MAX_ATTEMPTS_WITHOUT_NEW_TREE", 2000)
    # Only the 10 one-leaf trees have length 1.
    trees = generator.iter_unique_trees(0, min_length=0, max_length=2)
    with pytest.raises(RuntimeError, match="no new tree in 2000 attempts"):
        for _ in range(11):
            next(trees)


@pytest.mark.parametrize("min_length, max_length", [(10, 11), (10, 5), (-1, 20)])
def test_generator_rejects_empty_length_bounds(tmp_path, min_length, max_length):
    with pytest.raises(ValueError, match="ListOps"):
        generator.write_splits(str(tmp_path), seed=0, num_train=1, num_val=1, num_test=1, min_length=min_length,
                               max_length=max_length)
    assert not any(name.endswith(".tsv") for name in os.listdir(tmp_path))


def test_generate_command_line_writes_files(tmp_path):
    out_dir = tmp_path / "listops"
    status = generate.main([
        "listops", "--out_dir", str(out_dir), "--seed", "4", "--num_train", "6", "--num_val", "2",
        "--num_test", "2", "--min_length", "10", "--max_length", "60",
    ])
    assert status == 0
    header, rows = read_tsv_rows(out_dir / "basic_val.tsv")
    assert header == "Source\tTarget"
    assert len(rows) == 2
    assert json.loads((out_dir / "generation.json").read_text())["seed"] == 4


def test_generate_command_line_reports_bad_bounds(tmp_path):
    status = generate.main(["listops", "--out_dir", str(tmp_path), "--seed", "4", "--min_length", "9",
                            "--max_length", "10"])
    assert status == 2


# Cache helpers.


def test_build_dir_atomically_leaves_nothing_after_failure(tmp_path):
    final_dir = str(tmp_path / "data")

    def fail_halfway(folder):
        write_tsv(os.path.join(folder, "basic_train.tsv"), ["half"])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.build_dir_atomically(final_dir, fail_halfway, description="test data")
    assert os.listdir(tmp_path) == []
    assert cache.build_dir_atomically(final_dir, lambda folder: None, description="test data")
    assert not cache.build_dir_atomically(final_dir, fail_halfway, description="test data")
    assert os.listdir(tmp_path) == ["data"]


def test_cache_dir_resolution(monkeypatch, tmp_path):
    assert cache.resolve_cache_dir(str(tmp_path)) == str(tmp_path)
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(tmp_path / "from_env"))
    assert cache.resolve_cache_dir(None) == str(tmp_path / "from_env")
    monkeypatch.delenv(cache.CACHE_DIR_ENV)
    assert cache.resolve_cache_dir(None) == os.path.expanduser("~/.cache/tnn_lra")


# load_task.


def test_load_task_generates_then_reuses_cache(tmp_path):
    cache_dir = str(tmp_path / "cache")
    first = registry.load_task("listops", data_dir=None, cache_dir=cache_dir, seed=9, options=SMALL_OPTIONS)
    assert first.info["generated"]
    assert not first.info["reused"]
    assert first.info["generation"]["seed"] == 9
    assert first.info["num_examples"] == {"train": 30, "val": 7, "test": 5}
    assert first.info["data_dir"].startswith(os.path.join(cache_dir, "listops", "generated-"))
    assert "seed9" in first.info["data_dir"]
    json.dumps(first.info)
    train_file = first.info["split_files"]["train"]
    modified_ns = os.stat(train_file).st_mtime_ns
    assert not [name for name in os.listdir(os.path.join(cache_dir, "listops")) if ".partial-" in name]

    second = registry.load_task("listops", data_dir=None, cache_dir=cache_dir, seed=9, options=SMALL_OPTIONS)
    assert second.info["reused"]
    assert second.info["split_files"] == first.info["split_files"]
    assert second.info["tfds_dir"] == first.info["tfds_dir"]
    assert os.stat(train_file).st_mtime_ns == modified_ns
    assert second.info["split_stats"] == first.info["split_stats"]


def test_load_task_examples_match_reader(tmp_path):
    task = registry.load_task("listops", data_dir=None, cache_dir=str(tmp_path), seed=1, options=SMALL_OPTIONS)
    assert task.spec.name == "listops"
    assert task.spec.vocab_size == 17
    assert task.spec.num_classes == 10
    assert task.spec.max_length == 64
    for split in ("train", "val", "test"):
        expected = list(reader.read_examples(task.info["split_files"][split], max_length=64, stats=SplitStats()))
        source = task.splits[split]
        assert len(source) == len(expected)
        for index, example in enumerate(expected):
            loaded = source[index]
            assert loaded["inputs"].dtype == np.int32
            assert isinstance(loaded["label"], np.int32)
            np.testing.assert_array_equal(loaded["inputs"], example["inputs"])
            assert loaded["label"] == example["label"]


def test_load_task_counts_truncation(tmp_path):
    options = dict(SMALL_OPTIONS, max_length=20)
    task = registry.load_task("listops", data_dir=None, cache_dir=str(tmp_path), seed=1, options=options)
    for split in ("train", "val", "test"):
        _, rows = read_tsv_rows(task.info["split_files"][split])
        expected = sum(tree_length(source) > 20 for source, _ in rows)
        assert task.info["split_stats"][split]["num_truncated"] == expected
        assert max(len(task.splits[split][index]["inputs"]) for index in range(len(rows))) <= 20
    assert sum(stats["num_truncated"] for stats in task.info["split_stats"].values()) > 0


def test_load_task_reads_release_layout_from_env(tmp_path, monkeypatch):
    root = tmp_path / "lra_release"
    generator.write_splits(str(root / "listops-1000"), seed=2, num_train=8, num_val=3, num_test=3, **SMALL_BOUNDS)
    monkeypatch.setenv(cache.DATA_DIR_ENV, str(root))
    task = registry.load_task("listops", data_dir=None, cache_dir=str(tmp_path / "cache"), seed=0,
                              options={"max_length": 64})
    assert not task.info["generated"]
    assert task.info["data_dir"] == str(root / "listops-1000")
    assert task.info["num_examples"] == {"train": 8, "val": 3, "test": 3}


def test_load_task_keys_prepared_data_by_max_length(tmp_path):
    generator.write_splits(str(tmp_path / "data"), seed=2, num_train=8, num_val=3, num_test=3, **SMALL_BOUNDS)
    tfds_dirs = set()
    for max_length in (32, 64, 64):
        task = registry.load_task("listops", data_dir=str(tmp_path / "data"), cache_dir=str(tmp_path / "cache"),
                                  seed=0, options={"max_length": max_length})
        tfds_dirs.add(task.info["tfds_dir"])
        assert max(len(task.splits["train"][index]["inputs"]) for index in range(8)) <= max_length
    assert len(tfds_dirs) == 2


def test_load_task_missing_file_lists_layouts(tmp_path):
    data_dir = tmp_path / "data"
    (data_dir / "listops-1000").mkdir(parents=True)
    write_tsv(data_dir / "listops-1000" / "basic_train.tsv", [f"{NESTED_SOURCE}\t7"])
    with pytest.raises(DataFilesNotFoundError) as raised:
        registry.load_task("listops", data_dir=str(data_dir), cache_dir=str(tmp_path / "cache"), seed=0, options={})
    message = str(raised.value)
    for folder in (data_dir, data_dir / "listops-1000"):
        for split in ("train", "val", "test"):
            assert str(folder / f"basic_{split}.tsv") in message
    assert f"{data_dir / 'listops-1000' / 'basic_train.tsv'}  (found)" in message
    assert f"{data_dir / 'listops-1000' / 'basic_val.tsv'}  (missing)" in message
    assert "TNN_LRA_DATA" in message
    assert not (tmp_path / "cache").exists()


def test_load_task_rejects_unknown_options_and_tasks(tmp_path):
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['max_len', 'vocab'\] for task 'listops'"):
        registry.load_task("listops", data_dir=None, cache_dir=str(tmp_path), seed=0,
                           options={"max_len": 10, "vocab": 3, "max_length": 10})
    with pytest.raises(ValueError, match="option 'num_train' of task 'listops' must be an int"):
        registry.load_task("listops", data_dir=None, cache_dir=str(tmp_path), seed=0, options={"num_train": 1.5})
    with pytest.raises(ValueError, match=r"unknown task 'listopz'; known tasks: \[.*'listops'.*\]"):
        registry.load_task("listopz", data_dir=None, cache_dir=str(tmp_path), seed=0, options={})
    assert os.listdir(tmp_path) == []


def test_max_examples_caps_every_split(tmp_path):
    options = {"num_train": 12, "num_val": 4, "num_test": 3, "max_length": 64, "max_examples": 5,
               "min_length": 5, "max_length_bound": 60}
    loaded = registry.load_task("listops", data_dir=None, cache_dir=str(tmp_path), seed=0, options=options)
    assert len(loaded.splits["train"]) == 5
    assert len(loaded.splits["val"]) == 4
    assert len(loaded.splits["test"]) == 3
    assert loaded.info["max_examples"] == 5
