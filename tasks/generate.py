"""Command line for the offline task generators.

    python -m tasks.generate listops --out_dir DIR --seed S --num_train N --num_val N \
        --num_test N [--min_length L --max_length L]
    python -m tasks.generate pathfinder --resolution {32,64,128} \
        --difficulty {easy,intermediate,hard} --out_dir DIR --seed S --num_images N \
        [--num_workers W] [--contact_sheet PNG]

Each task is a subcommand, so generators for further tasks are added beside `listops`.
"""

import argparse
import sys

from absl import logging

from tasks.listops import generator as listops_generator
from tasks.pathfinder import generator as pathfinder_generator


def _add_listops_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "listops",
        help="write basic_{train,val,test}.tsv in the format of the LRA release",
        description="Generate ListOps trees with the seeded LRA generator and write the official TSV files.",
    )
    parser.add_argument("--out_dir", required=True, help="folder to write the TSV files and generation.json into")
    parser.add_argument("--seed", type=int, required=True, help="seed of the numpy random generator (>= 0)")
    parser.add_argument("--num_train", type=int, default=96_000, help="number of training examples")
    parser.add_argument("--num_val", type=int, default=2_000, help="number of validation examples")
    parser.add_argument("--num_test", type=int, default=2_000, help="number of test examples")
    parser.add_argument(
        "--min_length", type=int, default=500, help="exclusive lower bound of the tree length in tokens"
    )
    parser.add_argument(
        "--max_length", type=int, default=2_000, help="exclusive upper bound of the tree length in tokens"
    )
    parser.set_defaults(run=_run_listops)


def _run_listops(args: argparse.Namespace) -> None:
    listops_generator.write_splits(
        args.out_dir,
        seed=args.seed,
        num_train=args.num_train,
        num_val=args.num_val,
        num_test=args.num_test,
        min_length=args.min_length,
        max_length=args.max_length,
    )


def _add_pathfinder_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "pathfinder",
        help="write Pathfinder PNG images and metadata in the layout of the LRA release",
        description=(
            "Generate Pathfinder images with the seeded generator and write "
            "OUT_DIR/pathfinder{R}/<difficulty folder>/{imgs,metadata}/."
        ),
    )
    parser.add_argument(
        "--resolution", type=int, required=True, choices=pathfinder_generator.RESOLUTIONS,
        help="image side in pixels (32 is Pathfinder, 128 is Path-X)",
    )
    parser.add_argument(
        "--difficulty", required=True, choices=sorted(pathfinder_generator.DIFFICULTIES),
        help="paddles per target snake: easy 6 (curv_baseline), intermediate 9, hard 14",
    )
    parser.add_argument("--out_dir", required=True, help="folder to write pathfinder{R}/ into")
    parser.add_argument("--seed", type=int, required=True, help="seed of the numpy random generators (>= 0)")
    parser.add_argument("--num_images", type=int, default=200_000, help="number of images")
    parser.add_argument(
        "--num_workers", type=int, default=1,
        help="number of worker processes (the images do not depend on it)",
    )
    parser.add_argument(
        "--contact_sheet", default="",
        help="also write a PNG grid of the first 16 images with their labels to this path",
    )
    parser.set_defaults(run=_run_pathfinder)


def _run_pathfinder(args: argparse.Namespace) -> None:
    pathfinder_generator.write_dataset(
        args.out_dir,
        resolution=args.resolution,
        difficulty=args.difficulty,
        seed=args.seed,
        num_images=args.num_images,
        num_workers=args.num_workers,
    )
    if args.contact_sheet:
        pathfinder_generator.write_contact_sheet(
            pathfinder_generator.dataset_dir(args.out_dir, args.resolution, args.difficulty),
            args.contact_sheet,
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tasks.generate", description=__doc__.split("\n")[0])
    subparsers = parser.add_subparsers(dest="task", required=True, metavar="TASK")
    _add_listops_parser(subparsers)
    _add_pathfinder_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.set_verbosity(logging.INFO)
    try:
        args.run(args)
    except ValueError as error:
        logging.error("%s", error)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
