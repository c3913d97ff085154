"""Seeded generator of the Pathfinder task, written in numpy and pillow.

Linsley et al., "Learning long-range spatial dependencies with horizontal gated recurrent
units", NeurIPS 2018 (generator drewlinsley/pathfinder, `snakes2.py`), in the sizes used by Tay
et al., "Long Range Arena", ICLR 2021 (Pathfinder-32 and Path-X, 128 x 128).

An image shows two target snakes and a few distractor snakes, each a chain of short line
segments ("paddles"), plus two marker disks. Per image:
1. Draw the label (0 or 1) and a margin m from the size's margin list.
2. Seed the two target snakes: a first paddle of `paddle_length` L at a random position and
   direction, and a second one whose start lies `seed_distance` away at a random angle.
3. Grow both snakes in turn to `contour_length` paddles. A step moves L + 2m along the last
   direction to a pivot. Candidate directions phi lie on a circle around the pivot, one per
   half pixel of arc, and are weighted by cos(min(continuity * |phi - theta|, pi / 2))^2 times
   the free space at the candidate end. The new paddle runs from m to L + m along phi. A paddle
   that comes closer than the separation to an earlier paddle is rejected and redrawn.
4. Put a marker disk on the start of one target snake, and one on the end of the same snake
   (label 1) or of the other snake (label 0). Both kinds of image show two full snakes.
5. Add `distractor_budget // (contour_length // 3)` distractor snakes of
   `contour_length // 3` paddles each. A distractor that does not fit is skipped.
6. Render each paddle and disk at 2x resolution, downsample it by 2 (box filter), and combine
   them by the pixel-wise maximum. Pixels are 0..255 with a white (255) stroke.

`write_dataset` writes the layout of the LRA release: `pathfinder{R}/<difficulty folder>/`
with `imgs/<batch>/sample_<i>.png` and `metadata/<batch>.npy`. Despite the suffix, a metadata
file is text: one line per image, space separated, with the image sub-folder, the file name,
the index, the label, then the continuity, contour length, distractor length, paddle length,
thickness, margin and the number of contrast levels (always 1).

Deliberate differences from the released generator:
- Randomness comes from `numpy.random.Generator`, seeded per metadata batch from
  (seed, resolution, difficulty, batch), so a seed fixes the data set and batches can be
  written in parallel with the same result.
- Paddles of different snakes (and a snake's paddles two or more steps apart) keep a
  separation of `thickness + 2 * margin + extra_separation` between their centre lines. The
  released code uses about `thickness + 2 * margin`, which is also the gap between consecutive
  paddles of one snake. The extra pixel keeps distinct snakes visibly apart at 32 x 32, so that
  whether the markers are joined can be read from the pixels.
- Both target snakes, including their newest paddles, take part in the overlap test. The
  released code lets the newest paddles of the two snakes cross and leaves one snake's last
  paddle out of the mask that distractors avoid.
- Marker disks keep the separation from the other target snake, and distractors keep it from
  the disks. The released code draws disks over whatever lies underneath.
- Downsampling uses the 2 x 2 box average instead of Lanczos, so the background stays exactly
  0 and no ringing appears next to strokes.
- There are no single-paddle distractors (the LRA images were made with them switched off).
"""

import concurrent.futures
import dataclasses
import json
import math
import multiprocessing
import os
import time

import numpy as np
from absl import logging
from PIL import Image, ImageDraw

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
# Attempts before giving up: target pair per image, seed position per snake, distractor snake.
MAX_PAIR_ATTEMPTS = 200
MAX_SNAKE_ATTEMPTS = 20
MAX_SEED_ATTEMPTS = 30
MAX_DISTRACTOR_ATTEMPTS = 5
# Direction draws per paddle before the snake counts as stuck (the released code allows 3).
MAX_PADDLE_ATTEMPTS = 3


@dataclasses.dataclass(frozen=True)
class PathfinderParams:
    """Geometry of one image size and difficulty; lengths are in pixels of the final image.

    Attributes:
      resolution: image side R.
      contour_length: paddles per target snake (6, 9 or 14).
      paddle_length: length L of one paddle.
      thickness: stroke width of a paddle.
      marker_radius: radius of a marker disk.
      seed_distance: distance between the starts of the two target snakes.
      continuity: sharpness of the preference for straight continuation.
      margins: margin m values; one is drawn per image. Consecutive paddles are 2m apart.
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
    extra_separation: float = 1.0

    @property
    def distractor_length(self) -> int:
        return self.contour_length // 3

    @property
    def num_distractors(self) -> int:
        return self.distractor_budget // self.distractor_length


# Per size: paddle length, thickness, marker radius, seed distance, continuity, margins,
# padding, distractor budget. 32 and 128 are the LRA settings.
# NOTE: no 64 x 64 settings were found in the LRA sources; these are interpolated between the
# 32 and 128 settings and have not been compared with the released pathfinder64 images.
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


def _unit(angle: float) -> np.ndarray:
    """Return the (y, x) unit vector of an angle measured from the x axis towards +y."""
    return np.array([math.sin(angle), math.cos(angle)])


class _Canvas:
    """Occupancy of the image at 2x resolution, for the overlap tests between paddles.

    A paddle's zone is every 2x pixel whose centre lies within half the separation of its
    centre line, so two paddles with disjoint zones are at least the separation apart.
    """

    def __init__(self, params: PathfinderParams, margin: int):
        self.params = params
        self.margin = margin
        self.side = params.resolution * ANTIALIAS
        self.separation = params.thickness + 2 * margin + params.extra_separation
        self.occupied = np.zeros((self.side, self.side), bool)
        low = params.padding + params.thickness / 2
        self.bounds = (low, params.resolution - low)

    def inside(self, point: np.ndarray) -> bool:
        low, high = self.bounds
        return bool(low <= point[0] <= high and low <= point[1] <= high)

    def zone(self, start: np.ndarray, end: np.ndarray, radius: float):
        """Return (row slice, column slice, bool mask) of 2x pixels within radius of a segment."""
        scale = ANTIALIAS
        low = np.floor((np.minimum(start, end) - radius) * scale).astype(int)
        high = np.ceil((np.maximum(start, end) + radius) * scale).astype(int) + 1
        low = np.clip(low, 0, self.side)
        high = np.clip(high, 0, self.side)
        rows = (np.arange(low[0], high[0]) + 0.5) / scale
        cols = (np.arange(low[1], high[1]) + 0.5) / scale
        direction = end - start
        length_sq = float(direction @ direction)
        dy = rows[:, None] - start[0]
        dx = cols[None, :] - start[1]
        if length_sq > 0:
            t = np.clip((dy * direction[0] + dx * direction[1]) / length_sq, 0.0, 1.0)
        else:
            t = np.zeros_like(dy * dx)
        dist_sq = (dy - t * direction[0]) ** 2 + (dx - t * direction[1]) ** 2
        return slice(low[0], high[0]), slice(low[1], high[1]), dist_sq <= radius * radius

    def paddle_zone(self, start: np.ndarray, end: np.ndarray):
        return self.zone(start, end, self.separation / 2)

    def collides(self, zone) -> bool:
        rows, cols, mask = zone
        return bool((self.occupied[rows, cols] & mask).any())

    def add(self, zone) -> None:
        rows, cols, mask = zone
        self.occupied[rows, cols] |= mask

    def free_points(self, points_K2: np.ndarray) -> np.ndarray:
        """Return 1.0 for each (y, x) point inside the bounds and on a free pixel, else 0.0."""
        low, high = self.bounds
        inside_K = np.all((points_K2 >= low) & (points_K2 <= high), axis=1)
        cells_K2 = np.clip((points_K2 * ANTIALIAS).astype(int), 0, self.side - 1)
        free_K = ~self.occupied[cells_K2[:, 0], cells_K2[:, 1]]
        return (inside_K & free_K).astype(float)


@dataclasses.dataclass
class _Snake:
    """A snake being grown: its paddles, current direction, and the zone not yet committed."""

    paddles: list[tuple[np.ndarray, np.ndarray]]
    angle: float
    pending_zone: tuple

    @property
    def start(self) -> np.ndarray:
        return self.paddles[0][0]

    @property
    def end(self) -> np.ndarray:
        return self.paddles[-1][1]


def _try_first_paddle(rng, canvas: _Canvas, start: np.ndarray):
    """Return a snake with one paddle from start in a random direction, or None if it collides."""
    angle = rng.uniform(-math.pi, math.pi)
    end = start + canvas.params.paddle_length * _unit(angle)
    if not (canvas.inside(start) and canvas.inside(end)):
        return None
    zone = canvas.paddle_zone(start, end)
    if canvas.collides(zone):
        return None
    return _Snake(paddles=[(start, end)], angle=angle, pending_zone=zone)


def _extend(rng, canvas: _Canvas, snake: _Snake) -> bool:
    """Add one paddle to snake and return True, or return False when no direction is free.

    The snake's own newest paddle is not yet in the occupancy grid, so the new paddle may come
    close to it; it is committed once the new paddle is placed.
    """
    params = canvas.params
    margin = canvas.margin
    pivot = snake.end + margin * _unit(snake.angle)
    radius = params.paddle_length + margin
    num_candidates = max(8, math.ceil(2 * math.pi * radius * ANTIALIAS))
    phase = rng.uniform(0, 2 * math.pi / num_candidates)
    angles_K = phase + 2 * math.pi * np.arange(num_candidates) / num_candidates
    turn_K = np.abs((angles_K - snake.angle + math.pi) % (2 * math.pi) - math.pi)
    weights_K = np.cos(np.minimum(params.continuity * turn_K, math.pi / 2)) ** 2
    ends_K2 = pivot + radius * np.stack([np.sin(angles_K), np.cos(angles_K)], axis=1)
    weights_K *= canvas.free_points(ends_K2)
    total = weights_K.sum()
    if total <= 1e-9:
        return False
    probabilities_K = weights_K / total
    for _ in range(MAX_PADDLE_ATTEMPTS):
        index = rng.choice(num_candidates, p=probabilities_K)
        angle = float(angles_K[index])
        start = pivot + margin * _unit(angle)
        end = ends_K2[index]
        if not canvas.inside(start):
            continue
        zone = canvas.paddle_zone(start, end)
        if canvas.collides(zone):
            continue
        canvas.add(snake.pending_zone)
        snake.paddles.append((start, end))
        snake.angle = angle
        snake.pending_zone = zone
        return True
    return False


def _grow_snake(rng, canvas: _Canvas, start: np.ndarray, num_paddles: int):
    """Grow a snake of num_paddles from start and commit it to canvas; None if it gets stuck.

    On failure the canvas is left as it was.
    """
    snake = _try_first_paddle(rng, canvas, start)
    if snake is None:
        return None
    saved = canvas.occupied.copy()
    for _ in range(num_paddles - 1):
        if not _extend(rng, canvas, snake):
            canvas.occupied = saved
            return None
    canvas.add(snake.pending_zone)
    return snake


def _far_from(point: np.ndarray, snake: _Snake, distance: float) -> bool:
    """Return whether every paddle of snake lies at least distance from point."""
    for start, end in snake.paddles:
        direction = end - start
        t = np.clip((point - start) @ direction / (direction @ direction), 0.0, 1.0)
        if np.linalg.norm(point - (start + t * direction)) < distance:
            return False
    return True


def _grow_target_pair(rng, canvas: _Canvas):
    """Return two full target snakes whose starts are seed_distance apart, or None.

    The first snake is redrawn until it fits, then the second one around it; after
    MAX_SNAKE_ATTEMPTS failures of either, the caller starts a new pair.
    """
    params = canvas.params
    resolution = params.resolution
    # Like the released code, the first start keeps 2 * seed_distance from the border when
    # the image is large enough, so that the second start fits around it.
    border = min(2 * params.seed_distance, resolution / 2 - 1)
    for _ in range(MAX_SNAKE_ATTEMPTS):
        first_start = rng.uniform(border, resolution - border, size=2)
        first = _grow_snake(rng, canvas, first_start, params.contour_length)
        if first is not None:
            break
    else:
        return None
    for _ in range(MAX_SNAKE_ATTEMPTS):
        angle = rng.uniform(0, 2 * math.pi)
        second_start = first_start + params.seed_distance * _unit(angle)
        second = _grow_snake(rng, canvas, second_start, params.contour_length)
        if second is not None:
            break
    else:
        return None

    # A marker disk must keep the separation from the other snake, as paddles do.
    clearance = params.marker_radius + canvas.separation - params.thickness / 2
    snakes = [first, second]
    for index, snake in enumerate(snakes):
        other = snakes[1 - index]
        if not (_far_from(snake.start, other, clearance) and _far_from(snake.end, other, clearance)):
            return None
    return snakes


def _grow_distractor(rng, canvas: _Canvas):
    """Return a distractor snake of distractor_length paddles committed to canvas, or None."""
    low, high = canvas.bounds
    for _ in range(MAX_SEED_ATTEMPTS):
        start = rng.uniform(low, high, size=2)
        if canvas.free_points(start[None, :])[0]:
            return _grow_snake(rng, canvas, start, canvas.params.distractor_length)
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
        canvas = _Canvas(params, margin)
        snakes = _grow_target_pair(rng, canvas)
        if snakes is not None:
            break
    else:
        raise RuntimeError(
            f"Pathfinder generator: no pair of {params.contour_length}-paddle snakes fitted in "
            f"{MAX_PAIR_ATTEMPTS} attempts at resolution {params.resolution}; the settings "
            "leave too little room"
        )

    origin = int(rng.integers(2))
    terminal = origin if label == 1 else 1 - origin
    markers = (snakes[origin].start, snakes[terminal].end)
    disk_zone_radius = params.marker_radius + canvas.separation / 2 - params.thickness / 2
    for centre in markers:
        canvas.add(canvas.zone(centre, centre, disk_zone_radius))

    distractors = []
    for _ in range(params.num_distractors):
        for _ in range(MAX_DISTRACTOR_ATTEMPTS):
            snake = _grow_distractor(rng, canvas)
            if snake is not None:
                distractors.append(snake)
                break

    pixels = np.zeros((params.resolution, params.resolution), np.uint8)
    for snake in [*snakes, *distractors]:
        for start, end in snake.paddles:
            _render_paddle(pixels, start, end, params.thickness)
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
    """Return the random generator of one metadata batch; it depends on nothing else."""
    difficulty_index = sorted(DIFFICULTIES).index(difficulty)
    return np.random.default_rng([seed, resolution, difficulty_index, batch])


def dataset_dir(out_dir: str, resolution: int, difficulty: str) -> str:
    """Return `out_dir/pathfinder{R}/<difficulty folder>`, where write_dataset puts the images."""
    return os.path.join(out_dir, f"pathfinder{resolution}", difficulty_folder(difficulty))


def _write_batch(task: tuple) -> dict:
    """Write the PNG files and the metadata file of one batch; return its counts."""
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
    """Generate num_images images in the LRA release layout under out_dir; return the summary.

    Images go to `dataset_dir(out_dir, resolution, difficulty)` in batches of
    images_per_batch (`imgs/<batch>/`, `metadata/<batch>.npy`), and the summary is also
    written there as `generation.json`. The files depend only on the seed, resolution,
    difficulty and the batch sizes, not on num_workers (worker processes; 1 writes in this
    process).
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
        # Spawned, not forked, workers: the parent may already run JAX threads.
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
