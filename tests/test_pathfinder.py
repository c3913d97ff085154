"""Tests of the Pathfinder and Path-X reader, splits, generator and `load_task`."""

import filecmp
import json
import os
import time

import numpy as np
import pytest
from PIL import Image

import lra_fixtures
from tasks import cache, generate, pipeline, registry
from tasks.errors import DataFilesNotFoundError, MalformedDataError
from tasks.pathfinder import generator, reader

HARD = "curv_contour_length_14"


@pytest.fixture(autouse=True)
def no_data_dir_env(monkeypatch):
    monkeypatch.delenv(cache.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv(cache.CACHE_DIR_ENV, raising=False)


def load(data_dir, tmp_path, name="pathfinder", **options):
    return registry.load_task(
        name, data_dir=str(data_dir) if data_dir else None, cache_dir=str(tmp_path / "cache"),
        seed=0, options=options,
    )


def all_examples(loaded):
    return [loaded.splits[split][index] for split in ("train", "val", "test")
            for index in range(len(loaded.splits[split]))]


# Reader and load_task on official-layout fixtures.


def test_reads_nested_release_layout(tmp_path):
    root = tmp_path / "data"
    written = lra_fixtures.write_pathfinder(
        root / "lra_release" / "lra_release", resolution=32, folder=HARD,
        labels_by_batch=[[0, 1, 1, 0, 1], [1, 0, 0, 1, 1]],
    )
    loaded = load(root, tmp_path)
    examples = all_examples(loaded)
    assert [int(example["label"]) for example in examples] == [label for _, label in written]
    for example, (path, _) in zip(examples, written):
        expected = np.asarray(Image.open(path)).reshape(-1)
        np.testing.assert_array_equal(example["inputs"], expected)
        assert example["inputs"].dtype == np.int32
    assert loaded.spec.max_length == 1024
    assert loaded.spec.image_shape == (32, 32)
    assert loaded.spec.vocab_size == 256
    assert loaded.spec.pool == "last"
    assert loaded.info["num_skipped"] == 0
    assert loaded.info["data_dir"].endswith(os.path.join("lra_release", "lra_release", "pathfinder32", HARD))


def test_black_image_is_fully_valid(tmp_path):
    written = lra_fixtures.write_pathfinder(tmp_path / "data", resolution=32, folder=HARD,
                                            labels_by_batch=[[0, 1] * 5])
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(written[0][0])
    loaded = load(tmp_path / "data", tmp_path)
    batch = next(iter(pipeline.eval_batches(loaded.splits["train"], loaded.spec, batch_size=4)))
    assert (batch["inputs"][0] == 0).all()
    assert batch["mask"].all()


def test_metadata_read_in_numeric_order(tmp_path):
    labels_by_batch = [[batch % 2] * 2 for batch in range(12)]
    written = lra_fixtures.write_pathfinder(tmp_path / "data", resolution=32, folder=HARD,
                                            labels_by_batch=labels_by_batch)
    folder = tmp_path / "data" / "pathfinder32" / HARD
    names = [os.path.basename(path) for path in reader.metadata_files(str(folder))]
    assert names[:3] == ["0.npy", "1.npy", "2.npy"]
    assert names[-2:] == ["10.npy", "11.npy"]
    loaded = load(tmp_path / "data", tmp_path)
    assert [int(example["label"]) for example in all_examples(loaded)] == [label for _, label in written]


def test_empty_and_undecodable_pngs_skipped_and_counted(tmp_path):
    written = lra_fixtures.write_pathfinder(tmp_path / "data", resolution=32, folder=HARD,
                                            labels_by_batch=[[0, 1] * 6])
    open(written[2][0], "wb").close()
    with open(written[5][0], "wb") as broken:
        broken.write(b"\x89PNG\r\n\x1a\n not really a png")
    loaded = load(tmp_path / "data", tmp_path)
    assert loaded.info["num_skipped"] == 2
    assert loaded.info["skipped_images"]["empty"] == 1
    assert loaded.info["skipped_images"]["undecodable"] == 1
    assert written[2][0] in loaded.info["skipped_images"]["first_paths"]
    readable_labels = [label for index, (_, label) in enumerate(written) if index not in (2, 5)]
    assert [int(example["label"]) for example in all_examples(loaded)] == readable_labels
    assert sum(loaded.info["num_examples"].values()) == 10
    # A second load reuses the prepared copy and still reports the skipped images.
    again = load(tmp_path / "data", tmp_path)
    assert again.info["reused"]
    assert again.info["num_skipped"] == 2


def test_missing_metadata_folder_names_path(tmp_path):
    folder = tmp_path / "data" / "pathfinder32" / HARD
    (folder / "imgs" / "0").mkdir(parents=True)
    with pytest.raises(DataFilesNotFoundError) as raised:
        load(tmp_path / "data", tmp_path)
    message = str(raised.value)
    assert str(folder / "metadata") in message
    assert os.path.join("lra_release", "lra_release", "pathfinder32", HARD, "metadata") in message
    assert "TNN_LRA_DATA" in message or "data_dir" in message


def test_missing_listed_image_raises(tmp_path):
    written = lra_fixtures.write_pathfinder(tmp_path / "data", resolution=32, folder=HARD,
                                            labels_by_batch=[[0, 1] * 6])
    os.remove(written[4][0])
    with pytest.raises(DataFilesNotFoundError, match="sample_4.png"):
        load(tmp_path / "data", tmp_path)


def test_wrong_image_size_names_metadata_line(tmp_path):
    written = lra_fixtures.write_pathfinder(tmp_path / "data", resolution=32, folder=HARD,
                                            labels_by_batch=[[0, 1] * 6])
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(written[3][0])
    with pytest.raises(MalformedDataError) as raised:
        load(tmp_path / "data", tmp_path)
    assert raised.value.line_number == 4
    assert raised.value.path.endswith(os.path.join("metadata", "0.npy"))


def test_bad_metadata_label_names_line(tmp_path):
    lra_fixtures.write_pathfinder(tmp_path / "data", resolution=32, folder=HARD,
                                  labels_by_batch=[[0, 1, 7, 0]])
    with pytest.raises(MalformedDataError, match=r"0\.npy:3: label '7'"):
        load(tmp_path / "data", tmp_path)


def test_splits_follow_metadata_order(tmp_path):
    lra_fixtures.write_pathfinder(tmp_path / "data", resolution=32, folder=HARD,
                                  labels_by_batch=[[0, 1] * 10, [1, 1, 0] * 4 + [0, 0]])
    loaded = load(tmp_path / "data", tmp_path)
    sizes = {split: len(source) for split, source in loaded.splits.items()}
    assert sizes == {"train": 28, "val": 3, "test": 3}
    indices = {split: source.indices.tolist() for split, source in loaded.splits.items()}
    assert indices["train"] == list(range(28))
    assert indices["val"] == [28, 29, 30]
    assert indices["test"] == [31, 32, 33]
    limited = load(tmp_path / "data", tmp_path, max_examples=5)
    assert {split: len(source) for split, source in limited.splits.items()} == {"train": 5, "val": 3, "test": 3}


def test_difficulty_option_selects_folder(tmp_path):
    lra_fixtures.write_pathfinder(tmp_path / "data", resolution=32, folder="curv_baseline",
                                  labels_by_batch=[[0, 1] * 5])
    loaded = load(tmp_path / "data", tmp_path, difficulty="easy")
    assert loaded.info["data_dir"].endswith("curv_baseline")
    with pytest.raises(DataFilesNotFoundError, match=HARD):
        load(tmp_path / "data", tmp_path)


@pytest.mark.parametrize("options, match", [
    ({"difficulty": "medium"}, "difficulty"),
    ({"max_length": 1000}, "max_length"),
    ({"resolution": 48, "max_length": 48 * 48}, "resolution"),
    ({"num_images": 0}, "num_images"),
    ({"colour": True}, "unknown option"),
])
def test_invalid_options_raise(tmp_path, options, match):
    with pytest.raises(ValueError, match=match):
        load(tmp_path / "data", tmp_path, **options)


def test_pathx_reads_pathfinder128(tmp_path):
    lra_fixtures.write_pathfinder(tmp_path / "data" / "lra_release", resolution=128, folder=HARD,
                                  labels_by_batch=[[1, 0] * 5])
    loaded = load(tmp_path / "data", tmp_path, name="pathx")
    assert loaded.spec.name == "pathx"
    assert loaded.spec.max_length == 128 * 128
    assert loaded.spec.image_shape == (128, 128)
    assert loaded.splits["train"][0]["inputs"].shape == (128 * 128,)
    with pytest.raises(ValueError, match="unknown option"):
        load(tmp_path / "data", tmp_path, name="pathx", resolution=32)


# Generator.


def marker_seeds(pixels):
    """Return one pixel of each of the two largest blobs of marker-bright pixels."""
    bright = pixels > 200
    blobs = []
    remaining = bright.copy()
    while remaining.any():
        start = np.zeros_like(remaining)
        start[tuple(np.argwhere(remaining)[0])] = True
        blob = flood(start, remaining, reach=1)
        blobs.append(blob)
        remaining &= ~blob
    blobs.sort(key=lambda blob: -blob.sum())
    return [tuple(np.argwhere(blob)[0]) for blob in blobs[:2]]


def flood(start, allowed, reach):
    """Return the pixels of `allowed` reachable from `start` in steps of up to `reach` pixels."""
    reached = start & allowed
    size = 2 * reach + 1
    while True:
        padded = np.pad(reached, reach)
        grown = np.zeros_like(reached)
        for dy in range(size):
            for dx in range(size):
                grown |= padded[dy : dy + reached.shape[0], dx : dx + reached.shape[1]]
        grown &= allowed
        if (grown == reached).all():
            return reached
        reached = grown


def markers_joined(pixels, threshold=20, reach=2):
    """Return whether a flood fill over pixels > threshold joins the two marker disks.

    Steps of up to 2 pixels bridge the gaps of 2 * margin between the paddles of one snake.
    """
    seeds = marker_seeds(pixels)
    if len(seeds) < 2:
        return True
    start = np.zeros(pixels.shape, bool)
    start[seeds[0]] = True
    return bool(flood(start, pixels > threshold, reach)[seeds[1]])


def generated_images(out_dir, resolution, difficulty):
    folder = generator.dataset_dir(str(out_dir), resolution, difficulty)
    for _, _, image_path, label in reader.iter_metadata(folder):
        yield np.asarray(Image.open(image_path)), label


def test_generated_labels_match_flood_fill(tmp_path):
    start = time.perf_counter()
    generator.write_dataset(str(tmp_path), resolution=32, difficulty="hard", seed=11, num_images=120,
                            images_per_batch=60)
    seconds_per_image = (time.perf_counter() - start) / 120
    print(f"Pathfinder-32 hard: {1000 * seconds_per_image:.1f} ms per image")
    agree = {0: 0, 1: 0}
    count = {0: 0, 1: 0}
    for pixels, label in generated_images(tmp_path, 32, "hard"):
        count[label] += 1
        agree[label] += int(markers_joined(pixels) == bool(label))
    assert count[0] >= 50, count
    assert count[1] >= 50, count
    assert agree[0] >= 0.95 * count[0], (agree, count)
    assert agree[1] >= 0.95 * count[1], (agree, count)


def test_generated_labels_balanced(tmp_path):
    start = time.perf_counter()
    summary = generator.write_dataset(str(tmp_path), resolution=32, difficulty="easy", seed=5,
                                      num_images=1000, images_per_batch=500)
    print(f"Pathfinder-32 easy: {(time.perf_counter() - start):.1f} s for 1000 images")
    folder = generator.dataset_dir(str(tmp_path), 32, "easy")
    labels = [label for _, _, _, label in reader.iter_metadata(folder)]
    assert len(labels) == 1000
    assert 0.45 <= np.mean(labels) <= 0.55
    assert summary["num_label_1"] == sum(labels)


def test_generated_images_look_like_pathfinder():
    params = generator.params_for(32, "hard")
    image = generator.generate_image(np.random.default_rng(0), params)
    assert image.pixels.shape == (32, 32)
    assert image.pixels.dtype == np.uint8
    assert 0.05 < (image.pixels > 0).mean() < 0.5
    # Strokes half a pixel wide stay gray, and only the marker disks reach white.
    rows, cols = np.mgrid[:32, :32] + 0.5
    near_marker = np.zeros((32, 32), bool)
    for centre_y, centre_x in image.markers:
        near_marker |= np.hypot(rows - centre_y, cols - centre_x) <= params.marker_radius + 1
        assert image.pixels[int(centre_y), int(centre_x)] == 255
    assert image.pixels[~near_marker].max() <= 140


def test_generator_is_deterministic(tmp_path):
    for name, seed in (("first", 3), ("second", 3), ("other", 4)):
        generator.write_dataset(str(tmp_path / name), resolution=32, difficulty="easy", seed=seed,
                                num_images=6, images_per_batch=3)
    first = generator.dataset_dir(str(tmp_path / "first"), 32, "easy")
    second = generator.dataset_dir(str(tmp_path / "second"), 32, "easy")
    other = generator.dataset_dir(str(tmp_path / "other"), 32, "easy")
    paths = [os.path.join("metadata", "0.npy"), os.path.join("metadata", "1.npy")]
    paths += [os.path.join("imgs", str(batch), f"sample_{index}.png") for batch in (0, 1) for index in range(3)]
    for path in paths:
        assert filecmp.cmp(os.path.join(first, path), os.path.join(second, path), shallow=False), path
    assert any(
        not filecmp.cmp(os.path.join(first, path), os.path.join(other, path), shallow=False) for path in paths
    )


def test_generator_workers_do_not_change_images(tmp_path):
    for name, workers in (("serial", 1), ("parallel", 2)):
        generator.write_dataset(str(tmp_path / name), resolution=32, difficulty="easy", seed=8,
                                num_images=4, images_per_batch=2, num_workers=workers)
    serial = generator.dataset_dir(str(tmp_path / "serial"), 32, "easy")
    parallel = generator.dataset_dir(str(tmp_path / "parallel"), 32, "easy")
    for batch in (0, 1):
        assert filecmp.cmp(os.path.join(serial, "metadata", f"{batch}.npy"),
                           os.path.join(parallel, "metadata", f"{batch}.npy"), shallow=False)
        for index in range(2):
            path = os.path.join("imgs", str(batch), f"sample_{index}.png")
            assert filecmp.cmp(os.path.join(serial, path), os.path.join(parallel, path), shallow=False)


def test_generated_layout_reads_back(tmp_path):
    generator.write_dataset(str(tmp_path / "data"), resolution=32, difficulty="intermediate", seed=2,
                            num_images=20, images_per_batch=10)
    loaded = load(tmp_path / "data", tmp_path, difficulty="intermediate")
    folder = generator.dataset_dir(str(tmp_path / "data"), 32, "intermediate")
    labels = [label for _, _, _, label in reader.iter_metadata(folder)]
    assert [int(example["label"]) for example in all_examples(loaded)] == labels
    assert loaded.info["num_examples"] == {"train": 16, "val": 2, "test": 2}


def test_load_without_data_dir_generates_into_cache(tmp_path):
    loaded = load(None, tmp_path, difficulty="easy", num_images=30, num_workers=1)
    assert loaded.info["generated"]
    assert loaded.info["generation"]["seed"] == 0
    assert loaded.info["generation"]["num_images"] == 30
    assert loaded.info["data_dir"].startswith(str(tmp_path / "cache"))
    assert sum(loaded.info["num_examples"].values()) == 30
    again = load(None, tmp_path, difficulty="easy", num_images=30, num_workers=1)
    assert again.info["reused"]


def test_generate_cli_writes_release_layout(tmp_path):
    sheet_path = tmp_path / "sheet.png"
    status = generate.main(["pathfinder", "--resolution", "32", "--difficulty", "hard",
                            "--out_dir", str(tmp_path), "--seed", "1", "--num_images", "3",
                            "--contact_sheet", str(sheet_path)])
    assert status == 0
    folder = tmp_path / "pathfinder32" / HARD
    assert sorted(os.listdir(folder / "imgs" / "0")) == ["sample_0.png", "sample_1.png", "sample_2.png"]
    lines = (folder / "metadata" / "0.npy").read_text().splitlines()
    assert len(lines) == 3
    assert lines[0].split()[:3] == ["imgs/0", "sample_0.png", "0"]
    assert lines[0].split()[3] in ("0", "1")
    summary = json.loads((folder / generator.SUMMARY_FILE).read_text())
    assert summary["seed"] == 1
    sheet = Image.open(sheet_path)
    assert sheet.width > 3 * 32 * 6
    assert sheet.height > 32 * 6
    with pytest.raises(SystemExit):
        generate.main(["pathfinder", "--resolution", "48", "--difficulty", "hard",
                       "--out_dir", str(tmp_path), "--seed", "1", "--num_images", "3"])


def test_params_follow_lra_sizes():
    small = generator.params_for(32, "hard")
    large = generator.params_for(128, "easy")
    assert (small.paddle_length, small.thickness, small.marker_radius, small.seed_distance) == (2, 0.5, 1.5, 7)
    assert (small.continuity, small.margins, small.contour_length) == (1.0, (1,), 14)
    assert small.num_distractors == 20 // 4
    assert (large.paddle_length, large.thickness, large.marker_radius, large.seed_distance) == (5, 1.5, 3.0, 20)
    assert (large.continuity, large.margins, large.contour_length) == (1.8, (2, 3), 6)
    assert large.num_distractors == 35 // 2
    with pytest.raises(ValueError, match="difficulty"):
        generator.params_for(32, "impossible")
