"""Path-X (Long Range Arena): Pathfinder at 128 x 128, 16,384 pixel tokens per image.

The same reader, builder, splits and generator as `tasks.pathfinder`, at resolution 128
(`pathfinder128/<folder>/`), and the resolution is not an option. Summaries name the task "pathx".
"""

from tasks import pathfinder
from tasks.registry import LoadedTask
from tasks.spec import TaskSpec

NAME = "pathx"
RESOLUTION = 128
DEFAULT_OPTIONS = {
    key: value for key, value in pathfinder.DEFAULT_OPTIONS.items() if key != "resolution"
}
DEFAULT_OPTIONS["max_length"] = RESOLUTION * RESOLUTION


def load(*, data_dir: str | None, cache_dir: str | None, seed: int, options: dict) -> LoadedTask:
    """Load Path-X. `options` contains every key of DEFAULT_OPTIONS, merged by the registry."""
    return pathfinder.load_resolution(
        NAME, RESOLUTION, data_dir=data_dir, cache_dir=cache_dir, seed=seed,
        options=dict(options, resolution=RESOLUTION),
    )


def spec_from_options(options: dict) -> TaskSpec:
    """Return the spec for merged options, without reading or generating any data."""
    del options  # The resolution is fixed.
    return pathfinder.make_spec(NAME, RESOLUTION)
