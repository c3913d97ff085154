"""Tiny data sets in the exact file formats of the LRA sources, written into test folders.

Each builder writes the files of an official download: the IMDb archive or folder, the AAN
TSV files, both CIFAR-10 formats, or the Pathfinder PNG + metadata layout. It returns what it
wrote, so tests can compare the loaded examples with the input.
"""

import io
import os
import pickle
import tarfile

import numpy as np
from PIL import Image

IMDB_LABELS = ("neg", "pos")


def imdb_reviews(num_per_label: int, *, seed: int = 0) -> dict:
    """Return {(split, label): [review text]} with num_per_label short reviews per split and label."""
    rng = np.random.default_rng(seed)
    words = ["good", "bad", "film", "plot", "actor", "<br />", "boring", "great", "scene"]
    reviews = {}
    for split in ("train", "test"):
        for label in IMDB_LABELS:
            reviews[(split, label)] = [
                f"{split} {label} {index}: " + " ".join(rng.choice(words, size=rng.integers(3, 12)))
                for index in range(num_per_label)
            ]
    return reviews


def _imdb_members(reviews: dict) -> list[tuple[str, bytes]]:
    members = []
    for (split, label), texts in reviews.items():
        for index, text in enumerate(texts):
            rating = 8 if label == "pos" else 2
            members.append((f"aclImdb/{split}/{label}/{index}_{rating}.txt", text.encode("utf-8")))
    # Files of the real archive that the reader must ignore.
    members.append(("aclImdb/train/unsup/0_0.txt", b"unlabelled review"))
    members.append(("aclImdb/train/urls_pos.txt", b"http://example.invalid/\n"))
    members.append(("aclImdb/README", b"Large Movie Review Dataset v1.0\n"))
    return members


def write_imdb_folder(root, reviews: dict) -> str:
    """Write the unpacked `aclImdb` folder under root and return its path."""
    for name, data in _imdb_members(reviews):
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as review_file:
            review_file.write(data)
    return os.path.join(root, "aclImdb")


def write_imdb_archive(root, reviews: dict) -> str:
    """Write `aclImdb_v1.tar.gz` under root, members in a shuffled order, and return its path."""
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, "aclImdb_v1.tar.gz")
    members = _imdb_members(reviews)
    order = np.random.default_rng(1).permutation(len(members))
    with tarfile.open(path, "w:gz") as archive:
        for index in order:
            name, data = members[index]
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def aan_rows(num_rows: int, *, seed: int = 0) -> list[tuple[int, str, str, str, str]]:
    """Return (label, id1, id2, text1, text2) rows whose texts contain quotes, as real ones do."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(num_rows):
        text1 = f'paper "{index}" cites ' + "x" * int(rng.integers(5, 60))
        text2 = "a 'quoted' abstract " + "y" * int(rng.integers(5, 60))
        rows.append((int(rng.integers(2)), f"P{index:02d}-1", f"P{index:02d}-2", text1, text2))
    return rows


def write_aan_tsvs(folder, rows_by_split: dict, *, label_format: str = "{}") -> dict:
    """Write `new_aan_pairs.{train,eval,test}.tsv` into folder and return {split: path}."""
    os.makedirs(folder, exist_ok=True)
    paths = {}
    for split, rows in rows_by_split.items():
        path = os.path.join(folder, f"new_aan_pairs.{split}.tsv")
        with open(path, "w", encoding="utf-8", newline="\n") as tsv_file:
            for label, id1, id2, text1, text2 in rows:
                tsv_file.write(f"{label_format.format(label)}\t{id1}\t{id2}\t{text1}\t{text2}\n")
        paths[split] = path
    return paths


def cifar_images(num_images: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return (uint8 RGB images (n, 3, 32, 32) in CIFAR's channel-plane order, labels (n,))."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(num_images, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, size=num_images).astype(np.uint8)
    return images, labels


def cifar_batches(num_train_per_batch: int, num_test: int, *, seed: int = 0) -> dict:
    """Return {file stem: (images, labels)} for data_batch_1..5 and test_batch."""
    batches = {}
    for index in range(1, 6):
        batches[f"data_batch_{index}"] = cifar_images(num_train_per_batch, seed=seed + index)
    batches["test_batch"] = cifar_images(num_test, seed=seed + 100)
    return batches


def _binary_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    records = np.concatenate([labels[:, None], images.reshape(len(images), -1)], axis=1)
    return records.astype(np.uint8).tobytes()


def _pickle_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    batch = {
        b"batch_label": b"fixture batch",
        b"labels": [int(label) for label in labels],
        b"data": images.reshape(len(images), -1),
        b"filenames": [f"image_{index}.png".encode() for index in range(len(images))],
    }
    return pickle.dumps(batch, protocol=2)


def _cifar_members(batches: dict, kind: str) -> list[tuple[str, bytes]]:
    if kind == "binary":
        return [
            (f"cifar-10-batches-bin/{stem}.bin", _binary_bytes(*batch)) for stem, batch in batches.items()
        ] + [("cifar-10-batches-bin/batches.meta.txt", b"airplane\nautomobile\n")]
    if kind == "python":
        return [
            (f"cifar-10-batches-py/{stem}", _pickle_bytes(*batch)) for stem, batch in batches.items()
        ]
    raise ValueError(f"unknown CIFAR kind {kind!r}")


def write_cifar_folder(root, batches: dict, kind: str) -> str:
    """Write the unpacked `cifar-10-batches-{bin,py}` folder under root and return its path."""
    members = _cifar_members(batches, kind)
    for name, data in members:
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as batch_file:
            batch_file.write(data)
    return os.path.join(root, os.path.dirname(members[0][0]))


def write_cifar_archive(root, batches: dict, kind: str) -> str:
    """Write `cifar-10-binary.tar.gz` or `cifar-10-python.tar.gz` under root and return its path."""
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, "cifar-10-binary.tar.gz" if kind == "binary" else "cifar-10-python.tar.gz")
    with tarfile.open(path, "w:gz") as archive:
        for name, data in _cifar_members(batches, kind):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def truncate_file(path, keep_fraction: float = 0.5) -> None:
    """Cut a file to the first keep_fraction of its bytes, as an interrupted download would."""
    size = os.path.getsize(path)
    with open(path, "r+b") as data_file:
        data_file.truncate(int(size * keep_fraction))


def write_pathfinder(
    root, *, resolution: int, folder: str, labels_by_batch: list[list[int]], seed: int = 0,
    label_column: int = 3,
) -> list[tuple[str, int]]:
    """Write `pathfinder{R}/<folder>/` with random-noise PNGs and text metadata files.

    labels_by_batch[b] lists the labels of batch b, whose images are `imgs/<b>/sample_<i>.png`.
    Returns [(image path, label)] in metadata order.
    """
    rng = np.random.default_rng(seed)
    base = os.path.join(root, f"pathfinder{resolution}", folder)
    os.makedirs(os.path.join(base, "metadata"), exist_ok=True)
    written = []
    for batch, labels in enumerate(labels_by_batch):
        os.makedirs(os.path.join(base, "imgs", str(batch)), exist_ok=True)
        lines = []
        for index, label in enumerate(labels):
            pixels = rng.integers(0, 256, size=(resolution, resolution), dtype=np.uint8)
            image_path = os.path.join(base, "imgs", str(batch), f"sample_{index}.png")
            Image.fromarray(pixels, mode="L").save(image_path)
            columns = [f"imgs/{batch}", f"sample_{index}.png", str(index), "0", "1.0", "14", "4", "2", "0.5", "1", "1"]
            columns[label_column] = str(label)
            lines.append(" ".join(columns))
            written.append((image_path, label))
        with open(os.path.join(base, "metadata", f"{batch}.npy"), "w", encoding="ascii") as metadata_file:
            metadata_file.write("\n".join(lines) + "\n")
    return written
