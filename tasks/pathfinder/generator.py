"""Seeded generator of the Pathfinder task, written in numpy and pillow.

Linsley et al., "Learning long-range spatial dependencies with horizontal gated recurrent
units", NeurIPS 2018 (generator drewlinsley/pathfinder, `snakes2.py`), in the sizes used by Tay
et al., "Long Range Arena", ICLR 2021 (Pathfinder-32 and Path-X, 128 x 128).

An image shows two target snakes and a few distractor snakes, each a chain of short line
segments ("paddles"), plus two marker disks. Per image:
1. Draw the label (0 or 1) and a margin m from the size's margin list.
2. Seed the two target snakes: a first paddle of length L at a random position and
   direction, and a second one whose start lies `seed_distance` away at a random angle.
3. Grow both snakes in turn to `contour_length` paddles. A step moves L + 2m along the last
   direction theta to a pivot. The new paddle runs from m to L + m from the pivot along a
   direction phi on a grid of directions (one per half pixel of arc at radius L + m), drawn
   with weight cos(min(continuity * |phi - theta|, pi / 2))^2 among the directions whose
   paddle fits. A paddle fits when it stays inside the padding and keeps the separation from
   every other paddle except its predecessor.
4. Put a marker disk on the start of one target snake, and one on the end of the same snake
   (label 1) or of the other snake (label 0). Both kinds of image show two full snakes.
5. Add `distractor_budget // (contour_length // 3)` distractor snakes of
   `contour_length // 3` paddles each. A distractor that does not fit is skipped.
6. Render each paddle and disk at 2x resolution, downsample it by 2 (box filter), and combine
   them by the pixel-wise maximum. Pixels are 0..255 with a white (255) stroke.

Shape letters: K directions on the grid, J candidate directions of one step, S sample points
along a paddle.

`write_dataset` writes the layout of the LRA release: `pathfinder{R}/<difficulty folder>/`
with `imgs/<batch>/sample_<i>.png` and `metadata/<batch>.npy`. Despite the suffix, a metadata
file is text with one space-separated line per image. Its columns are the image sub-folder,
the file name, the index and the label, then the continuity, contour length, distractor
length, paddle length, thickness, margin and number of contrast levels (always 1).

Deliberate differences from the released generator:
- Randomness comes from `numpy.random.Generator`, seeded per metadata batch from
  (seed, resolution, difficulty, batch), so a seed fixes the data set and batches can be
  written in parallel with the same result.
- Paddles that are not neighbours in one snake keep a separation of
  `thickness + 2 * margin + extra_separation` between their centre lines. The released code
  uses about `thickness + 2 * margin`, which equals the gap between consecutive paddles of a
  snake. The extra 1.5 pixels keep distinct snakes apart at 32 x 32, so that whether the
  markers are joined can be read from the pixels. Fewer distractors fit as a result.
- Directions come from a fixed grid (about 38 at 32 x 32) instead of integer degrees for the
  first paddle and pixel-rounded end points after it.
- The overlap test covers the newest paddles of both target snakes. The released code lets
  them cross, and leaves one snake's last paddle out of the mask that distractors avoid.
- A stuck snake drops its newest paddle and redraws it, up to half its length in total,
  before the image starts over. The released code always starts over, which is much slower.
- Marker disks keep the separation from the other target snake (the start snake is drawn
  among the snakes for which they do), and distractors keep it from the disks. The released
  code draws disks over whatever lies underneath.
- Downsampling uses the 2 x 2 box average instead of Lanczos, so the background stays exactly
  0 and no ringing appears next to strokes.
- There are no single-paddle distractors (the LRA images were made with them switched off).
"""

import concurrent.futures
import dataclasses
import itertools
import json
import math
import multiprocessing
import os
import time

import numpy as np
from absl import logging
from PIL import Image, ImageDraw, ImageFont

RESOLUTIONS = (32, 64, 128)
# Difficulty name -> (folder of the LRA release, paddles per target snake).
DIFFICULTIES = {
    "easy": ("curv_baseline", 6),
    "intermediate": ("curv_contour_length_9", 9),
    "hard": ("curv_contour_length_14", 14),
}
IMAGES_PER_BATCH = 1000
SUMMARY_FILE = "generation.json"
# Bumped whenever a change to this file changes the images drawn for a seed.
GENERATOR_VERSION = 1
ANTIALIAS = 2
# Target pairs drawn per image before giving up, because the settings leave too little room.
MAX_PAIR_ATTEMPTS = 1000
# Dead ends a snake may back out of, as a fraction of its paddles.
BACKTRACK_FRACTION = 0.5
# Start positions tried per distractor snake, and distractor snakes tried per distractor.
MAX_SEED_ATTEMPTS = 10
MAX_DISTRACTOR_ATTEMPTS = 5


@dataclasses.dataclass(frozen=True)
class PathfinderParams:
    """Geometry of one image size and difficulty, with lengths in pixels of the final image.

    Attributes:
      resolution: image side R.
      contour_length: paddles per target snake (6, 9 or 14).
      paddle_length: length L of one paddle.
      thickness: stroke width of a paddle.
      marker_radius: radius of a marker disk.
      seed_distance: distance between the starts of the two target snakes.
      continuity: sharpness of the preference for straight continuation.
      margins: margin m values, of which one is drawn per image. Consecutive paddles are 2m apart.
      padding: border where no paddle may be drawn.
      distractor_budget: total paddles of distractor snakes, before rounding down.
      extra_separation: added to the separation between paddles that are not neighbours.
    """

    resolution: int
    contour_length: int
    paddle_length: float
    thickness: float
    marker_radius: float
    seed_distance: float
    continuity: float
    margins: tuple[int, ...]
    padding: int
    distractor_budget: int
    extra_separation: float = 1.5

    @property
    def distractor_length(self) -> int:
        return self.contour_length // 3

    @property
    def num_distractors(self) -> int:
        return self.distractor_budget // self.distractor_length


# Per size: paddle length, thickness, marker radius, seed distance, continuity, margins,
# padding, distractor budget. 32 and 128 are the settings of the LRA images.
# NOTE: the 64 x 64 settings are interpolated between those of 32 and 128, not taken from the
# generator run that made the released pathfinder64 images.
_SIZE_SETTINGS = {
    32: (2, 0.5, 1.5, 7, 1.0, (1,), 1, 20),
    64: (3, 1.0, 2.0, 12, 1.4, (1, 2), 1, 25),
    128: (5, 1.5, 3.0, 20, 1.8, (2, 3), 1, 35),
}


def params_for(resolution: int, difficulty: str) -> PathfinderParams:
    """Return the generator settings for an image size and a difficulty name."""
    if resolution not in _SIZE_SETTINGS:
        raise ValueError(f"Pathfinder resolution must be one of {RESOLUTIONS}, got {resolution!r}")
    if difficulty not in DIFFICULTIES:
        raise ValueError(
            f"Pathfinder difficulty must be one of {sorted(DIFFICULTIES)}, got {difficulty!r}"
        )
    paddle, thickness, marker, seed_distance, continuity, margins, padding, budget = (
        _SIZE_SETTINGS[resolution]
    )
    return PathfinderParams(
        resolution=resolution,
        contour_length=DIFFICULTIES[difficulty][1],
        paddle_length=paddle,
        thickness=thickness,
        marker_radius=marker,
        seed_distance=seed_distance,
        continuity=continuity,
        margins=margins,
        padding=padding,
        distractor_budget=budget,
    )


def difficulty_folder(difficulty: str) -> str:
    """Return the LRA release folder of a difficulty, e.g. `curv_contour_length_14` for hard."""
    if difficulty not in DIFFICULTIES:
        raise ValueError(
            f"Pathfinder difficulty must be one of {sorted(DIFFICULTIES)}, got {difficulty!r}"
        )
    return DIFFICULTIES[difficulty][0]


class _Scene:
    """Occupancy of an image, as a grid of where a new paddle's centre line may not go.

    Every object has a clearance radius: half the separation for a paddle, and for a disk
    the radius that puts the same clearance around its rim as around a paddle's stroke. A new
    paddle fits when its centre line stays the sum of both radii away from every object, so
    each object is stamped into `blocked` as a capsule of that summed radius. The grid has
    ANTIALIAS cells per pixel and a band of blocked cells around the image, where centre lines
    would come closer than the padding to the border. `blocked` counts stamps, so removing an
    object again is exact.
    """

    def __init__(self, params: PathfinderParams, margin: int):
        self.params = params
        self.margin = margin
        self.separation = params.thickness + 2 * margin + params.extra_separation
        self.paddle_radius = self.separation / 2
        self.disk_radius = params.marker_radius - params.thickness / 2 + self.separation / 2
        self.step_radius = params.paddle_length + margin

        # The grid extends `border` pixels past each side, so that every point within a step
        # of a valid pivot has a cell.
        self.border = math.ceil(self.step_radius + margin) + 1
        self.side = (params.resolution + 2 * self.border) * ANTIALIAS
        centres = (np.arange(self.side) + 0.5) / ANTIALIAS - self.border
        self._centres = centres
        limit = params.padding + params.thickness / 2
        outside = (centres < limit) | (centres > params.resolution - limit)
        self.blocked = (outside[:, None] | outside[None, :]).astype(np.int16)

        # Directions form a fixed grid of K angles, one per half pixel of arc on the circle of
        # candidate ends, so that the continuity weight of every turn comes from a table.
        self.num_angles = max(8, math.ceil(2 * math.pi * self.step_radius * ANTIALIAS))
        angles_K = 2 * math.pi * np.arange(self.num_angles) / self.num_angles
        self.directions_K2 = np.stack([np.sin(angles_K), np.cos(angles_K)], axis=1)
        turns_K = np.arange(self.num_angles)
        turn_angles_K = 2 * math.pi * np.minimum(turns_K, self.num_angles - turns_K) / self.num_angles
        weights_K = np.cos(np.minimum(params.continuity * turn_angles_K, math.pi / 2)) ** 2
        self.turns_J = np.flatnonzero(weights_K > 1e-9)
        self.turn_weights_J = weights_K[self.turns_J]

        # Test points of a paddle at most half a cell apart. From the pivot, the points of the
        # paddle in direction k lie at offsets_KS2[k], in grid cells.
        num_samples = max(2, math.ceil(params.paddle_length * ANTIALIAS * 2) + 1)
        self._fractions_S = np.linspace(0.0, 1.0, num_samples)
        radii_S = margin + params.paddle_length * self._fractions_S
        self._offsets_KS2 = radii_S[None, :, None] * self.directions_K2[:, None, :] * ANTIALIAS

    def _cells(self, points_2: np.ndarray) -> np.ndarray:
        """Return the grid coordinates (in cells, not rounded) of image points."""
        return (points_2 + self.border) * ANTIALIAS

    def fits(self, cells_KS2: np.ndarray) -> np.ndarray:
        """Return, per paddle given by the grid coordinates of its test points, whether it fits."""
        # Points off the grid land on its blocked edge cells.
        index_KS2 = np.clip(cells_KS2, 0, self.side - 1).astype(np.intp)
        return ~np.any(self.blocked[index_KS2[..., 0], index_KS2[..., 1]], axis=-1)

    def segment_cells(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Return the (S, 2) grid coordinates of the test points of the segment start -> end."""
        return self._cells(start + self._fractions_S[:, None] * (end - start))

    def add(self, start: np.ndarray, end: np.ndarray, radius: float) -> tuple:
        """Add an object of clearance radius (start == end makes a disk) and return its handle."""
        reach = radius + self.paddle_radius
        (start_y, start_x), (end_y, end_x) = start.tolist(), end.tolist()
        first_y = max(0, math.floor((min(start_y, end_y) - reach + self.border) * ANTIALIAS))
        first_x = max(0, math.floor((min(start_x, end_x) - reach + self.border) * ANTIALIAS))
        stop_y = min(self.side, math.ceil((max(start_y, end_y) + reach + self.border) * ANTIALIAS) + 1)
        stop_x = min(self.side, math.ceil((max(start_x, end_x) + reach + self.border) * ANTIALIAS) + 1)
        step_y, step_x = end_y - start_y, end_x - start_x
        length_sq = step_y * step_y + step_x * step_x
        dy = self._centres[first_y:stop_y, None] - start_y
        dx = self._centres[None, first_x:stop_x] - start_x
        if length_sq > 0:
            t = np.clip((dy * step_y + dx * step_x) / length_sq, 0.0, 1.0)
            dy = dy - t * step_y
            dx = dx - t * step_x
        stamp = dy * dy + dx * dx <= reach * reach
        window = (slice(first_y, stop_y), slice(first_x, stop_x))
        self.blocked[window] += stamp
        return window, stamp

    def remove(self, handle: tuple) -> None:
        """Remove an object added by `add`."""
        window, stamp = handle
        self.blocked[window] -= stamp

    def restore(self, handle: tuple) -> None:
        """Add again an object taken out by `remove`."""
        window, stamp = handle
        self.blocked[window] += stamp

    def free_points(self) -> np.ndarray:
        """Return the image coordinates of the corners of every free cell, as (M, 2)."""
        rows, cols = np.nonzero(self.blocked == 0)
        return np.stack([rows, cols], axis=1) / ANTIALIAS - self.border


@dataclasses.dataclass
class _Paddle:
    """One paddle: a segment from start to end along the grid direction `direction`."""

    start: np.ndarray
    end: np.ndarray
    direction: int
    handle: tuple


def _place_first(rng, scene: _Scene, start: np.ndarray) -> list[_Paddle] | None:
    """Return a new snake whose first paddle runs from start in a random direction, or None."""
    direction = int(rng.integers(scene.num_angles))
    end = start + scene.params.paddle_length * scene.directions_K2[direction]
    if not scene.fits(scene.segment_cells(start, end)[None])[0]:
        return None
    return [_Paddle(start, end, direction, scene.add(start, end, scene.paddle_radius))]


def _extend(rng, scene: _Scene, snake: list[_Paddle]) -> bool:
    """Add the next paddle by the continuity-weighted choice, or return False at a dead end.

    The snake's newest paddle is left out of the test, because the next paddle starts only
    2m from it, closer than the separation.
    """
    margin = scene.margin
    last = snake[-1]
    pivot = last.end + margin * scene.directions_K2[last.direction]
    candidates_J = (last.direction + scene.turns_J) % scene.num_angles
    cells_JS2 = scene._cells(pivot) + scene._offsets_KS2[candidates_J]
    scene.remove(last.handle)
    fits_J = scene.fits(cells_JS2)
    scene.restore(last.handle)
    cumulative_J = np.cumsum(scene.turn_weights_J * fits_J)
    if cumulative_J[-1] <= 0:
        return False
    chosen = int(np.searchsorted(cumulative_J, rng.uniform(0, cumulative_J[-1]), side="right"))
    direction = int(candidates_J[min(chosen, len(candidates_J) - 1)])
    start = pivot + margin * scene.directions_K2[direction]
    end = pivot + scene.step_radius * scene.directions_K2[direction]
    snake.append(_Paddle(start, end, direction, scene.add(start, end, scene.paddle_radius)))
    return True


def _grow(rng, scene: _Scene, snakes: list[list[_Paddle]], num_paddles: int) -> bool:
    """Extend the snakes in turn, one paddle each, until each has num_paddles.

    At a dead end the snake's newest paddle is dropped so that it is drawn again, up to
    BACKTRACK_FRACTION * num_paddles times per snake. Returns False when a snake stays stuck,
    and the partial snakes then stay in the scene.
    """
    backtracks = [0] * len(snakes)
    while any(len(snake) < num_paddles for snake in snakes):
        for index, snake in enumerate(snakes):
            if len(snake) >= num_paddles or _extend(rng, scene, snake):
                continue
            if len(snake) == 1 or backtracks[index] >= BACKTRACK_FRACTION * num_paddles:
                return False
            backtracks[index] += 1
            scene.remove(snake.pop().handle)
    return True


def _unit(angle: float) -> np.ndarray:
    """Return the (y, x) unit vector of an angle measured from the x axis towards +y."""
    return np.array([math.sin(angle), math.cos(angle)])


def _point_segment_distance(point, start, end):
    """Return |point - segment(start, end)|, broadcasting over leading axes of (.., 2) arrays."""
    direction = end - start
    length_sq = np.sum(direction * direction, axis=-1)
    t = np.sum((point - start) * direction, axis=-1) / np.where(length_sq > 0, length_sq, 1.0)
    closest = start + np.clip(t, 0.0, 1.0)[..., None] * direction
    return np.sqrt(np.sum((point - closest) ** 2, axis=-1))


def _distance_to_snake(point: np.ndarray, snake: list[_Paddle]) -> float:
    starts_N2 = np.stack([paddle.start for paddle in snake])
    ends_N2 = np.stack([paddle.end for paddle in snake])
    return float(_point_segment_distance(point[None], starts_N2, ends_N2).min())


def _grow_target_pair(rng, scene: _Scene) -> list[list[_Paddle]] | None:
    """Add two full target snakes whose starts are seed_distance apart, or return None."""
    params = scene.params
    resolution = params.resolution
    # Like the released code, the first start keeps 2 * seed_distance from the border when
    # the image is large enough, so that the second start fits around it.
    border = min(2 * params.seed_distance, resolution / 2 - 1)
    first_start = rng.uniform(border, resolution - border, size=2)
    first = _place_first(rng, scene, first_start)
    if first is None:
        return None
    second_start = first_start + params.seed_distance * _unit(rng.uniform(0, 2 * math.pi))
    second = _place_first(rng, scene, second_start)
    if second is None:
        return None
    snakes = [first, second]
    if not _grow(rng, scene, snakes, params.contour_length):
        return None
    return snakes


def _place_markers(rng, scene: _Scene, snakes: list[list[_Paddle]], label: int):
    """Return the (start, end) marker centres for label, or None when no choice fits.

    The start marker sits on the start of one snake, drawn uniformly among the snakes for
    which both disks keep their clearance from the snake they do not belong to.
    """
    clearance = scene.disk_radius + scene.paddle_radius
    options = []
    for origin in (0, 1):
        terminal = origin if label == 1 else 1 - origin
        start = snakes[origin][0].start
        end = snakes[terminal][-1].end
        if (
            _distance_to_snake(start, snakes[1 - origin]) >= clearance
            and _distance_to_snake(end, snakes[1 - terminal]) >= clearance
        ):
            options.append((start, end))
    if not options:
        return None
    return options[int(rng.integers(len(options)))]


def _grow_distractor(rng, scene: _Scene) -> list[_Paddle] | None:
    """Add a distractor snake of distractor_length paddles, or return None and leave the scene."""
    free_points = scene.free_points()
    if len(free_points) == 0:
        return None
    for _ in range(MAX_SEED_ATTEMPTS):
        corner = free_points[rng.integers(len(free_points))]
        snake = _place_first(rng, scene, corner + rng.uniform(0, 1 / ANTIALIAS, size=2))
        if snake is not None:
            break
    else:
        return None
    if _grow(rng, scene, [snake], scene.params.distractor_length):
        return snake
    for paddle in snake:
        scene.remove(paddle.handle)
    return None


def _render_paddle(image: np.ndarray, start: np.ndarray, end: np.ndarray, thickness: float) -> None:
    """Draw one anti-aliased paddle into image (uint8, R x R) by the pixel-wise maximum."""
    resolution = image.shape[0]
    reach = thickness / 2 + 1
    low = np.clip(np.floor(np.minimum(start, end) - reach).astype(int), 0, resolution)
    high = np.clip(np.ceil(np.maximum(start, end) + reach).astype(int), 0, resolution)
    height, width = high - low
    if height <= 0 or width <= 0:
        return
    patch = Image.new("L", (width * ANTIALIAS, height * ANTIALIAS), 0)
    # Pillow puts integer coordinates at pixel centres, so the continuous point p of the
    # final image is at ANTIALIAS * p - 0.5 on the 2x patch.
    points = [
        tuple((ANTIALIAS * (point[::-1] - low[::-1]) - 0.5).tolist()) for point in (start, end)
    ]
    ImageDraw.Draw(patch).line(points, fill=255, width=max(1, round(thickness * ANTIALIAS)))
    small = np.asarray(patch.reduce(ANTIALIAS))
    region = image[low[0] : high[0], low[1] : high[1]]
    np.maximum(region, small, out=region)


def _render_disk(image: np.ndarray, centre: np.ndarray, radius: float) -> None:
    """Draw one anti-aliased disk into image by the pixel-wise maximum."""
    resolution = image.shape[0]
    low = np.clip(np.floor(centre - radius - 1).astype(int), 0, resolution)
    high = np.clip(np.ceil(centre + radius + 1).astype(int), 0, resolution)
    rows = (np.arange(low[0] * ANTIALIAS, high[0] * ANTIALIAS) + 0.5) / ANTIALIAS
    cols = (np.arange(low[1] * ANTIALIAS, high[1] * ANTIALIAS) + 0.5) / ANTIALIAS
    inside = (rows[:, None] - centre[0]) ** 2 + (cols[None, :] - centre[1]) ** 2 <= radius**2
    height, width = high - low
    coverage = inside.reshape(height, ANTIALIAS, width, ANTIALIAS).mean(axis=(1, 3))
    small = np.rint(coverage * 255).astype(np.uint8)
    region = image[low[0] : high[0], low[1] : high[1]]
    np.maximum(region, small, out=region)


@dataclasses.dataclass
class GeneratedImage:
    """One image and what it shows.

    Attributes:
      pixels: uint8 (R, R), background 0.
      label: 1 when both markers sit on the same snake, else 0.
      margin: the margin m drawn for this image.
      markers: ((y, x), (y, x)) centres of the start and end marker disks.
      num_distractors: distractor snakes that fit.
      pair_attempts: target pairs drawn until one fitted.
    """

    pixels: np.ndarray
    label: int
    margin: int
    markers: tuple[tuple[float, float], tuple[float, float]]
    num_distractors: int
    pair_attempts: int


def generate_image(rng: np.random.Generator, params: PathfinderParams) -> GeneratedImage:
    """Draw one Pathfinder image with its label (see the module docstring for the steps).

    Raises RuntimeError when MAX_PAIR_ATTEMPTS target pairs in a row do not fit, which points
    at settings that leave too little room.
    """
    label = int(rng.integers(2))
    margin = int(params.margins[rng.integers(len(params.margins))])
    for attempt in range(1, MAX_PAIR_ATTEMPTS + 1):
        scene = _Scene(params, margin)
        snakes = _grow_target_pair(rng, scene)
        markers = None if snakes is None else _place_markers(rng, scene, snakes, label)
        if markers is not None:
            break
    else:
        raise RuntimeError(
            f"Pathfinder generator: no pair of {params.contour_length}-paddle snakes with "
            f"markers fitted in {MAX_PAIR_ATTEMPTS} attempts at resolution "
            f"{params.resolution}. The settings leave too little room."
        )
    for centre in markers:
        scene.add(centre, centre, scene.disk_radius)

    distractors = []
    for _ in range(params.num_distractors):
        for _ in range(MAX_DISTRACTOR_ATTEMPTS):
            snake = _grow_distractor(rng, scene)
            if snake is not None:
                distractors.append(snake)
                break

    pixels = np.zeros((params.resolution, params.resolution), np.uint8)
    for snake in [*snakes, *distractors]:
        for paddle in snake:
            _render_paddle(pixels, paddle.start, paddle.end, params.thickness)
    for centre in markers:
        _render_disk(pixels, centre, params.marker_radius)
    return GeneratedImage(
        pixels=pixels,
        label=label,
        margin=margin,
        markers=tuple((float(centre[0]), float(centre[1])) for centre in markers),
        num_distractors=len(distractors),
        pair_attempts=attempt,
    )


def batch_rng(seed: int, resolution: int, difficulty: str, batch: int) -> np.random.Generator:
    """Return the random generator of one metadata batch, which depends on nothing else."""
    difficulty_index = sorted(DIFFICULTIES).index(difficulty)
    return np.random.default_rng([seed, resolution, difficulty_index, batch])


def dataset_dir(out_dir: str, resolution: int, difficulty: str) -> str:
    """Return `out_dir/pathfinder{R}/<difficulty folder>`, where write_dataset puts the images."""
    return os.path.join(out_dir, f"pathfinder{resolution}", difficulty_folder(difficulty))


def _write_batch(task: tuple) -> dict:
    """Write the PNG files and the metadata file of one batch, and return its counts."""
    root, seed, resolution, difficulty, batch, num_images = task
    params = params_for(resolution, difficulty)
    rng = batch_rng(seed, resolution, difficulty, batch)
    sub_folder = f"imgs/{batch}"
    os.makedirs(os.path.join(root, sub_folder), exist_ok=True)
    lines = []
    labels = [0, 0]
    pair_attempts = 0
    distractors = 0
    for index in range(num_images):
        generated = generate_image(rng, params)
        file_name = f"sample_{index}.png"
        Image.fromarray(generated.pixels, mode="L").save(os.path.join(root, sub_folder, file_name))
        labels[generated.label] += 1
        pair_attempts += generated.pair_attempts
        distractors += generated.num_distractors
        lines.append(
            f"{sub_folder} {file_name} {index} {generated.label} {params.continuity} "
            f"{params.contour_length} {params.distractor_length} {params.paddle_length} "
            f"{params.thickness} {generated.margin} 1"
        )
    # The metadata file is written last, so it never lists an image that is not on disk.
    metadata_path = os.path.join(root, "metadata", f"{batch}.npy")
    with open(metadata_path + ".partial", "w", encoding="ascii", newline="\n") as metadata_file:
        metadata_file.write("\n".join(lines) + "\n")
    os.replace(metadata_path + ".partial", metadata_path)
    return {"labels": labels, "pair_attempts": pair_attempts, "distractors": distractors}


def write_dataset(
    out_dir: str,
    *,
    resolution: int,
    difficulty: str,
    seed: int,
    num_images: int,
    num_workers: int = 1,
    images_per_batch: int = IMAGES_PER_BATCH,
) -> dict:
    """Generate num_images images in the LRA release layout under out_dir, and return the summary.

    Images go to `dataset_dir(out_dir, resolution, difficulty)` in batches of
    images_per_batch (`imgs/<batch>/`, `metadata/<batch>.npy`), and the summary is also
    written there as `generation.json`. The files depend only on the seed, resolution,
    difficulty and the batch sizes, not on num_workers (worker processes, where 1 writes in
    this process).
    """
    params_for(resolution, difficulty)
    if seed < 0:
        raise ValueError(f"Pathfinder seed must be >= 0, got {seed}")
    if num_images < 1:
        raise ValueError(f"Pathfinder num_images must be >= 1, got {num_images}")
    if images_per_batch < 1:
        raise ValueError(f"Pathfinder images_per_batch must be >= 1, got {images_per_batch}")
    if num_workers < 1:
        raise ValueError(f"Pathfinder num_workers must be >= 1, got {num_workers}")

    root = dataset_dir(out_dir, resolution, difficulty)
    os.makedirs(os.path.join(root, "metadata"), exist_ok=True)
    tasks = []
    for batch, first in enumerate(range(0, num_images, images_per_batch)):
        count = min(images_per_batch, num_images - first)
        tasks.append((root, seed, resolution, difficulty, batch, count))

    start_time = time.perf_counter()
    if num_workers == 1 or len(tasks) == 1:
        results = [_write_batch(task) for task in tasks]
    else:
        # Workers are spawned, not forked, because the parent may already run JAX threads.
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(num_workers, mp_context=context) as pool:
            results = list(pool.map(_write_batch, tasks))
    elapsed_s = time.perf_counter() - start_time

    labels = [sum(result["labels"][label] for result in results) for label in (0, 1)]
    summary = {
        "generator": "tasks.pathfinder.generator",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "resolution": resolution,
        "difficulty": difficulty,
        "folder": difficulty_folder(difficulty),
        "num_images": num_images,
        "images_per_batch": images_per_batch,
        "num_label_0": labels[0],
        "num_label_1": labels[1],
        "mean_pair_attempts": sum(result["pair_attempts"] for result in results) / num_images,
        "mean_distractors": sum(result["distractors"] for result in results) / num_images,
        "params": dataclasses.asdict(params_for(resolution, difficulty)),
    }
    with open(os.path.join(root, SUMMARY_FILE), "w", encoding="utf-8") as summary_file:
        json.dump(summary, summary_file, indent=2)
    logging.info(
        "Generated %d Pathfinder-%d %s images (seed %d) in %s in %.1f s with %d worker(s)",
        num_images, resolution, difficulty, seed, root, elapsed_s, num_workers,
    )
    return summary


def write_contact_sheet(
    folder: str, out_path: str, *, count: int = 16, columns: int = 4, scale: int = 6
) -> None:
    """Write a PNG grid of the first `count` images of a generated folder with their labels.

    Images are enlarged `scale` times without smoothing and captioned with their file and
    label (1: the markers are joined, 0: they are not).
    """
    from tasks.pathfinder import reader  # The reader imports nothing from this module.

    listed = list(itertools.islice(reader.iter_metadata(folder), count))
    if not listed:
        raise ValueError(f"{folder} lists no images to put on a contact sheet")
    first = np.asarray(Image.open(listed[0][2]))
    tile = first.shape[0] * scale
    caption, gap = 14, 6
    rows = -(-len(listed) // columns)
    sheet = Image.new("L", (columns * (tile + gap) + gap, rows * (tile + caption + gap) + gap), 96)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for position, (_, _, image_path, label) in enumerate(listed):
        row, column = divmod(position, columns)
        left = gap + column * (tile + gap)
        top = gap + row * (tile + caption + gap)
        pixels = np.asarray(Image.open(image_path))
        sheet.paste(Image.fromarray(np.kron(pixels, np.ones((scale, scale), np.uint8))), (left, top))
        name = os.path.basename(image_path)
        draw.text((left, top + tile + 1), f"{name}: label {label}", fill=255, font=font)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    sheet.save(out_path)
