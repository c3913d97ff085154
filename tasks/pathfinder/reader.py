"""Reader of the Pathfinder PNG images and metadata files of the Long Range Arena release.

Linsley et al., NeurIPS 2018, in the sizes of Tay et al., "Long Range Arena", ICLR 2021. A
difficulty folder `pathfinder{R}/<folder>/` contains `imgs/<batch>/sample_<i>.png` and
`metadata/<batch>.npy`. Despite the suffix a metadata file is text, with one space-separated
line per image. Column 0 is the image sub-folder (e.g. `imgs/0`), column 1 the file name and
column 3 the label (1 when the two markers lie on the same path). Metadata files are read in
the numeric order of their names (0, 1, 2, ..., 10, ...), lines in file order.

An image becomes R * R tokens, its row-major 8-bit gray levels 0..255 (vocabulary 256, no
padding id, and 0 is a black pixel). An image that is not 8-bit grayscale is converted with
Pillow's `convert("L")`.

A PNG file of 0 bytes (the release has one, `pathfinder32/curv_baseline/imgs/0/sample_172.png`)
or one that Pillow cannot decode is skipped and counted in SkipCounts. A listed image that does
not exist raises DataFilesNotFoundError, because it means an incompletely unpacked folder.

Deliberate differences from released code:
- The LRA input pipeline cuts 80% / 10% / 10% slices from its tfds copy of the images, in
  the order tfds stores them, and drops empty images after slicing. Here the order is the
  numeric metadata order, and empty images are dropped before the split.
"""

import dataclasses
import os
import re
from collections.abc import Iterator

import numpy as np
from absl import logging
from PIL import Image

from tasks.errors import DataFilesNotFoundError, MalformedDataError
from tasks.spec import SplitStats

NUM_CLASSES = 2
METADATA_FOLDER = "metadata"
_NUMBER = re.compile(r"^\d+$")


@dataclasses.dataclass
class SkipCounts:
    """Images skipped while reading, by reason, with the first few paths."""

    empty: int = 0
    undecodable: int = 0
    paths: list[str] = dataclasses.field(default_factory=list)

    MAX_PATHS = 10

    def add(self, reason: str, path: str) -> None:
        setattr(self, reason, getattr(self, reason) + 1)
        if len(self.paths) < self.MAX_PATHS:
            self.paths.append(path)

    @property
    def total(self) -> int:
        return self.empty + self.undecodable

    def as_dict(self) -> dict:
        return {"total": self.total, "empty": self.empty, "undecodable": self.undecodable,
                "first_paths": list(self.paths)}


def metadata_files(folder: str) -> list[str]:
    """Return the metadata file paths of a difficulty folder, numeric names first in numeric order.

    Raises DataFilesNotFoundError naming the metadata folder when it is missing or empty.
    """
    metadata_dir = os.path.join(folder, METADATA_FOLDER)
    if not os.path.isdir(metadata_dir):
        raise DataFilesNotFoundError(f"Pathfinder metadata folder {metadata_dir} is missing")
    names = [name for name in os.listdir(metadata_dir) if name.endswith(".npy")]
    if not names:
        raise DataFilesNotFoundError(f"Pathfinder metadata folder {metadata_dir} has no <batch>.npy files")

    def order(name: str):
        stem = name[: -len(".npy")]
        return (0, int(stem), "") if _NUMBER.match(stem) else (1, 0, stem)

    return [os.path.join(metadata_dir, name) for name in sorted(names, key=order)]


def iter_metadata(folder: str) -> Iterator[tuple[str, int, str, int]]:
    """Yield (metadata path, line number, image path, label) for every listed image, in order.

    Raises MalformedDataError naming the file and line for a line with fewer than 4 columns or
    a label other than 0 or 1.
    """
    for metadata_path in metadata_files(folder):
        with open(metadata_path, encoding="utf-8", errors="replace") as metadata_file:
            for line_number, line in enumerate(metadata_file, start=1):
                columns = line.split()
                if not columns:
                    continue
                if len(columns) < 4:
                    raise MalformedDataError(
                        metadata_path, line_number,
                        f"expected at least 4 space-separated columns (sub-folder, file, index, label), "
                        f"found {len(columns)}",
                    )
                label = _parse_label(columns[3])
                if label is None:
                    raise MalformedDataError(
                        metadata_path, line_number, f"label {columns[3][:20]!r} in column 3 is not 0 or 1"
                    )
                yield metadata_path, line_number, os.path.join(folder, columns[0], columns[1]), label


def _parse_label(text: str) -> int | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value in (0.0, 1.0) else None


def decode_image(path: str) -> np.ndarray | None:
    """Return the uint8 gray levels (H, W) of a PNG, or None when Pillow cannot decode it."""
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode != "L":
                image = image.convert("L")
            return np.asarray(image, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        # Pillow raises OSError (UnidentifiedImageError among them) for unreadable or
        # truncated files and SyntaxError or ValueError for some malformed chunks.
        return None


def read_examples(
    folder: str, *, resolution: int, stats: SplitStats, skipped: SkipCounts
) -> Iterator[dict[str, np.ndarray]]:
    """Yield {"inputs": uint8 (R * R,), "label": int32} per readable image listed in folder.

    Empty and undecodable images are counted in `skipped`. Raises DataFilesNotFoundError for
    a listed image that does not exist and MalformedDataError for one that is not R x R.
    """
    num_pixels = resolution * resolution
    for metadata_path, line_number, image_path, label in iter_metadata(folder):
        try:
            size = os.path.getsize(image_path)
        except FileNotFoundError:
            raise DataFilesNotFoundError(
                f"{image_path}, listed on line {line_number} of {metadata_path}, does not exist. "
                "The Pathfinder folder looks incompletely unpacked."
            ) from None
        if size == 0:
            skipped.add("empty", image_path)
            continue
        pixels = decode_image(image_path)
        if pixels is None:
            skipped.add("undecodable", image_path)
            continue
        if pixels.shape != (resolution, resolution):
            raise MalformedDataError(
                metadata_path, line_number,
                f"image {image_path} has shape {pixels.shape}, expected ({resolution}, {resolution}); "
                f"is this a pathfinder{resolution} folder?",
            )
        stats.add(num_pixels, num_pixels)
        yield {"inputs": pixels.reshape(num_pixels), "label": np.int32(label)}
    if skipped.total:
        logging.warning(
            "Skipped %d Pathfinder images in %s (%d empty, %d undecodable), e.g. %s",
            skipped.total, folder, skipped.empty, skipped.undecodable, skipped.paths[0],
        )
    logging.info("Read %d Pathfinder images from %s", stats.num_examples, folder)
