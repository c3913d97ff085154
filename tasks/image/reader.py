"""Reader of CIFAR-10 for the grayscale Image task of Long Range Arena.

Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", 2009, as used by Tay et
al., "Long Range Arena", ICLR 2021. Both official downloads are read, packed or unpacked:
- `cifar-10-binary.tar.gz` (`cifar-10-batches-bin/`): files `data_batch_{1..5}.bin` and
  `test_batch.bin`, each a run of 3073-byte records: the label byte, then 1024 red, 1024 green
  and 1024 blue values of a 32 x 32 image in row-major order;
- `cifar-10-python.tar.gz` (`cifar-10-batches-py/`): pickled dicts `data_batch_{1..5}` and
  `test_batch` with b"data", a uint8 array (N, 3072) in the same plane order, and b"labels".

An image becomes 1024 tokens, the row-major gray levels
`rint(0.2989 R + 0.5870 G + 0.1140 B)`: the luma weights of ITU-R BT.601 as in
`tf.image.rgb_to_grayscale`, rounded to the nearest integer with ties to even. The levels stay
integer tokens 0..255 (vocabulary 256, no padding id), and 0 is a black pixel.

Deliberate differences from released code:
- The pickles are read by an unpickler that accepts only the numpy classes CIFAR-10 uses, so a
  tampered file cannot run code.
"""

import io
import os
import pickle
import tarfile
import zlib
from collections.abc import Iterator

import numpy as np
from absl import logging

from tasks.shared import ArchiveSplit, CorruptFileError
from tasks.spec import SplitStats

NUM_CLASSES = 10
SIDE = 32
NUM_PIXELS = SIDE * SIDE
LUMA_WEIGHTS = (0.2989, 0.5870, 0.1140)
SPLIT_FILES = {
    "train": tuple(f"data_batch_{index}" for index in range(1, 6)),
    "test": ("test_batch",),
}
# Format -> (unpacked folder, suffix of the batch files, archive).
FORMATS = {
    "binary": ("cifar-10-batches-bin", ".bin", "cifar-10-binary.tar.gz"),
    "python": ("cifar-10-batches-py", "", "cifar-10-python.tar.gz"),
}
_RECORD_BYTES = 1 + 3 * NUM_PIXELS
# The only globals a CIFAR-10 pickle needs: numpy 1.x writes numpy.core and 2.x numpy._core,
# and Python 3 writes array bytes at protocol 2 through _codecs.encode.
_ALLOWED_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


def to_gray(images_N3HW: np.ndarray) -> np.ndarray:
    """Return uint8 gray levels (N, H, W) of uint8 RGB images in channel-plane order."""
    weights_3 = np.asarray(LUMA_WEIGHTS, np.float64)
    gray_NHW = np.einsum("nchw,c->nhw", images_N3HW.astype(np.float64), weights_3)
    return np.clip(np.rint(gray_NHW), 0, 255).astype(np.uint8)


def source_format(path: str) -> str:
    """Return "binary" or "python" for a CIFAR-10 archive or unpacked folder path."""
    name = os.path.basename(os.path.normpath(path))
    for kind, (folder, _, archive) in FORMATS.items():
        if name in (folder, archive):
            return kind
    raise ValueError(f"{path} is not a CIFAR-10 source. Expected one of {FORMATS}.")


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR-10 batch")
        return super().find_class(module, name)


def decode_binary(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (images (N, 3, 32, 32), labels (N,)) of one binary batch file named name."""
    if len(data) == 0 or len(data) % _RECORD_BYTES:
        raise CorruptFileError(
            name, f"has {len(data)} bytes, not a positive multiple of the {_RECORD_BYTES}-byte record. "
            "The file is truncated or not a CIFAR-10 binary batch.",
        )
    records = np.frombuffer(data, np.uint8).reshape(-1, _RECORD_BYTES)
    return records[:, 1:].reshape(-1, 3, SIDE, SIDE), records[:, 0].astype(np.int64)


def decode_python(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (images (N, 3, 32, 32), labels (N,)) of one pickled batch file named name."""
    try:
        batch = _NumpyOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
        images = np.asarray(batch[b"data"], np.uint8)
        labels = np.asarray(batch[b"labels"], np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise CorruptFileError(
            name, f"cannot be read as a CIFAR-10 python batch ({type(error).__name__}: {error})"
        ) from error
    if images.ndim != 2 or images.shape[1] != 3 * NUM_PIXELS or len(labels) != len(images):
        raise CorruptFileError(
            name, f"has data of shape {images.shape} and {len(labels)} labels, expected (N, 3072) and N"
        )
    return images.reshape(-1, 3, SIDE, SIDE), labels


def iter_batches(source: ArchiveSplit) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield (file name, images, labels) for the batch files of one split, in file order.

    Raises CorruptFileError naming the archive or file when it cannot be read or a batch file
    is missing from it, and for labels outside 0..9.
    """
    kind = source_format(source.path)
    folder, suffix, _ = FORMATS[kind]
    decode = decode_binary if kind == "binary" else decode_python
    names = [f"{stem}{suffix}" for stem in SPLIT_FILES[source.split]]
    if os.path.isdir(source.path):
        for name in names:
            path = os.path.join(source.path, name)
            if not os.path.isfile(path):
                raise CorruptFileError(source.path, f"has no {name}. The folder is incomplete.")
            with open(path, "rb") as batch_file:
                images, labels = decode(batch_file.read(), path)
            yield path, images, _checked(labels, path)
        return
    try:
        with tarfile.open(source.path, "r:gz") as archive:
            for name in names:
                member_name = f"{folder}/{name}"
                try:
                    batch_file = archive.extractfile(member_name)
                except KeyError as error:
                    raise CorruptFileError(
                        source.path, f"has no member {member_name}. Is this the {kind} CIFAR-10 archive?"
                    ) from error
                label = f"{source.path}:{member_name}"
                images, labels = decode(batch_file.read(), label)
                yield label, images, _checked(labels, label)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise CorruptFileError(
            source.path,
            f"cannot be read as a gzip-compressed tar archive ({type(error).__name__}: {error}). "
            f"The file may be truncated. Download it again, or unpack it and point the data "
            f"directory at the folder that contains {folder}/",
        ) from error


def _checked(labels: np.ndarray, name: str) -> np.ndarray:
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise CorruptFileError(
            name, f"has labels {labels.min()}..{labels.max()}, outside 0..{NUM_CLASSES - 1}"
        )
    return labels


def read_examples(
    source: ArchiveSplit, *, max_length: int, stats: SplitStats
) -> Iterator[dict[str, np.ndarray]]:
    """Yield {"inputs": uint8 (1024,) gray levels, "label": int32} per image of one split."""
    if max_length != NUM_PIXELS:
        raise ValueError(f"CIFAR-10 images have {NUM_PIXELS} pixels, but max_length is {max_length}")
    for _, images, labels in iter_batches(source):
        gray_NP = to_gray(images).reshape(len(images), NUM_PIXELS)
        for pixels, label in zip(gray_NP, labels):
            stats.add(NUM_PIXELS, max_length)
            yield {"inputs": pixels, "label": np.int32(label)}
    logging.info("Read %d CIFAR-10 %s images from %s", stats.num_examples, source.split, source.path)
