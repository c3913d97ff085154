"""Benchmarks of the token mixers (`mixers`) and of the train step per task (`train`).

`train` is implemented in launch/train_bench.py.

  python -m launch.bench mixers                      # full run: results/bench/mixers-<platform>.*
  python -m launch.bench mixers --sizes 1024,2048 --sizes-2d 32 --repeats 3 --out /tmp/bench

For each mixer kind and shape (1D: B x n x C; 2D: B x H x W x C with H = W) the `mixers`
subcommand measures, in one process:
- forward time and forward+backward time (the output, and the pullback of an output gradient
  to the input and the mixer parameters, as in one training step): the median over
  --repeats rounds of the compiled executables, each run timed up to `block_until_ready`,
  after one warm-up run. A round runs every kind once in turn, so that load from other
  processes falls on all kinds alike;
- compile time (lowering plus XLA compilation) of each executable, apart from the runs;
- peak memory of each executable from XLA's memory analysis of the compiled program: the
  bytes of its arguments, outputs and temporaries. On CPU this is what the program needs, not
  what the process holds.
Every number is also given as a ratio to `tnn` at the same shape, measured in the same run.
It writes `mixers-<platform>.md` (the table, the machine, the versions, the exact command),
`mixers-<platform>.json` (the raw numbers) and `mixers-<platform>.png` (time against n on
log-log axes).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Sequence

import flax
import jax
import jax.numpy as jnp
import jaxlib
import numpy as np
from flax import nnx
from matplotlib.figure import Figure

import tnn
from launch import train_bench

KINDS = ("tnn", "ski", "sparse_ski", "interp", "fd")
# Settings of the reference scripts: (num_inducing, num_taps) in 1D and per axis in 2D.
OPTIONS_1D = {"num_inducing": 64, "num_taps": 33}
OPTIONS_2D = {"num_inducing": 32, "num_taps": 17}
BASELINE = "tnn"


@dataclasses.dataclass
class Measurement:
    """Times in seconds and memory in bytes of one mixer at one shape."""

    kind: str
    dims: int  # 1 or 2.
    length: int  # n in 1D, H * W in 2D.
    shape: tuple[int, ...]  # Input shape.
    forward_s: float
    backward_s: float  # Forward plus backward.
    compile_forward_s: float
    compile_backward_s: float
    memory_forward: int | None
    memory_backward: int | None


def _parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        message = f"expected comma-separated integers, got {text!r}"
        raise argparse.ArgumentTypeError(message) from error
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be >= 1, got {text!r}")
    return sizes


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from error
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _parse_kinds(text: str) -> list[str]:
    kinds = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [kind for kind in kinds if kind not in tnn.MIXERS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown mixer kinds {unknown}; known kinds: {', '.join(sorted(tnn.MIXERS))}"
        )
    kinds = list(dict.fromkeys(kinds))  # Each kind once, in the given order.
    if BASELINE not in kinds:
        kinds.insert(0, BASELINE)  # Every ratio needs the baseline from the same run.
    return kinds


def _memory_bytes(compiled) -> int | None:
    analysis = compiled.memory_analysis()
    if analysis is None:
        return None
    return int(
        analysis.temp_size_in_bytes
        + analysis.argument_size_in_bytes
        + analysis.output_size_in_bytes
    )


def _time_once(compiled, args) -> float:
    start = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    return time.perf_counter() - start


def _compile(fn, args) -> tuple[object, float]:
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return compiled, time.perf_counter() - start


@dataclasses.dataclass
class _Compiled:
    """The two compiled programs of one mixer at one shape, with their arguments."""

    kind: str
    shape: tuple[int, ...]
    forward: object
    forward_args: tuple
    backward: object
    backward_args: tuple
    compile_forward_s: float
    compile_backward_s: float


def compile_mixer(kind: str, shape: Sequence[int], seed: int = 0) -> _Compiled:
    """Builds one mixer for inputs of `shape` ((B, n, C) or (B, H, W, C)) and compiles it."""
    dims = len(shape) - 2
    channels = shape[-1]
    options = OPTIONS_1D if dims == 1 else OPTIONS_2D
    length = int(np.prod(shape[1:-1]))
    cfg = tnn.MixerConfig(kind=kind, decay=0.99, max_length=length, **options)
    image_shape = tuple(shape[1:3]) if dims == 2 else None
    mixer = tnn.make_mixer(cfg, channels, rngs=nnx.Rngs(seed), image_shape=image_shape)
    graphdef, params = nnx.split(mixer)

    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.standard_normal(shape), jnp.float32)
    probe = jnp.asarray(rng.standard_normal(shape), jnp.float32)

    def forward(params, x):
        return nnx.merge(graphdef, params)(x)

    # One training step of a layer: the output goes on to the next layer and the output
    # gradient (the probe) comes back. Returning the output keeps the forward pass in the
    # program: with jax.grad of a loss alone, XLA drops the forward product of a mixer that is
    # linear in x, because the gradients do not need it. The probe is an argument, not a
    # constant, so that XLA cannot fold the backward pass at compile time.
    def backward(params, x, probe):
        y, pullback = jax.vjp(forward, params, x)
        return y, pullback(probe)

    compiled_forward, compile_forward = _compile(forward, (params, x))
    compiled_backward, compile_backward = _compile(backward, (params, x, probe))
    return _Compiled(
        kind=kind,
        shape=tuple(shape),
        forward=compiled_forward,
        forward_args=(params, x),
        backward=compiled_backward,
        backward_args=(params, x, probe),
        compile_forward_s=compile_forward,
        compile_backward_s=compile_backward,
    )


def measure_shape(kinds: Sequence[str], shape: Sequence[int], repeats: int) -> list[Measurement]:
    """Measures every mixer kind at one shape, interleaving their runs.

    All kinds are compiled and run once first. Then each of the `repeats` rounds times one
    forward and one forward+backward run of every kind in turn. A burst of load from other
    processes then slows all kinds of a round alike, not only the kind measured during it.
    Each time is the median over the rounds.
    """
    programs = [compile_mixer(kind, shape) for kind in kinds]
    for program in programs:
        _time_once(program.forward, program.forward_args)
        _time_once(program.backward, program.backward_args)
    forward_times = {program.kind: [] for program in programs}
    backward_times = {program.kind: [] for program in programs}
    for _ in range(repeats):
        for program in programs:
            forward_times[program.kind].append(_time_once(program.forward, program.forward_args))
            backward_times[program.kind].append(
                _time_once(program.backward, program.backward_args)
            )
    dims = len(shape) - 2
    return [
        Measurement(
            kind=program.kind,
            dims=dims,
            length=int(np.prod(shape[1:-1])),
            shape=tuple(shape),
            forward_s=statistics.median(forward_times[program.kind]),
            backward_s=statistics.median(backward_times[program.kind]),
            compile_forward_s=program.compile_forward_s,
            compile_backward_s=program.compile_backward_s,
            memory_forward=_memory_bytes(program.forward),
            memory_backward=_memory_bytes(program.backward),
        )
        for program in programs
    ]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, str]:
    """Returns the hardware and software versions the numbers depend on."""
    device = jax.devices()[0]
    return {
        "platform": jax.default_backend(),
        "device": getattr(device, "device_kind", str(device)),
        "cpu": _cpu_model(),
        "cpu cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "flax": flax.__version__,
        "numpy": np.__version__,
    }


def _ratio(value: float | None, baseline: float | None) -> str:
    if value is None or not baseline:
        return "n/a"
    return f"{value / baseline:.2f}"


def _mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:.1f}"


def _baselines(results: Sequence[Measurement]) -> dict[tuple[int, int], Measurement]:
    return {(m.dims, m.length): m for m in results if m.kind == BASELINE}


def _shape_text(m: Measurement) -> str:
    """Return "1D n=1024" or "2D 32 x 32"."""
    if m.dims == 1:
        return f"1D n={m.length}"
    return "2D " + " x ".join(str(side) for side in m.shape[1:-1])


def check_targets(results: Sequence[Measurement]) -> list[tuple[str, bool | None, str]]:
    """Checks the speed and memory targets on the 1D results: (target, met, evidence) rows.

    `met` is None when the run lacks the shapes a target needs.
    """
    base = _baselines(results)
    one_d = [m for m in results if m.dims == 1]
    rows = []
    for kind in ("sparse_ski", "fd"):
        pairs = [
            (m, base[(1, m.length)])
            for m in one_d
            if m.kind == kind and m.length >= 2048 and (1, m.length) in base
        ]
        evidence = ", ".join(f"n={m.length}: {m.backward_s / b.backward_s:.2f}x" for m, b in pairs)
        met = all(m.backward_s < b.backward_s for m, b in pairs) if pairs else None
        rows.append(
            (
                f"{kind} faster than tnn (forward+backward) at every n >= 2048",
                met,
                evidence or "no n >= 2048 measured",
            )
        )
    by_length = {m.length: m for m in one_d if m.kind == "sparse_ski"}
    if 8192 in by_length and 16384 in by_length:
        growth = by_length[16384].backward_s / by_length[8192].backward_s
        rows.append(
            (
                "sparse_ski time at n=16384 at most 2.3x its time at n=8192 (forward+backward)",
                growth <= 2.3,
                f"{growth:.2f}x",
            )
        )
    else:
        rows.append(
            (
                "sparse_ski time at n=16384 at most 2.3x its time at n=8192",
                None,
                "n=8192 and n=16384 not both measured",
            )
        )
    worse = []
    for m in results:
        b = base.get((m.dims, m.length))
        if b is None or m.memory_backward is None or b.memory_backward is None:
            continue
        if m.memory_backward > b.memory_backward:
            extra = m.memory_backward - b.memory_backward
            extra_text = f"{extra / 2**20:.2f} MiB" if extra >= 2**20 / 100 else f"{extra} bytes"
            ratio = m.memory_backward / b.memory_backward
            worse.append(f"{m.kind} {_shape_text(m)}: {ratio:.2f}x (+{extra_text})")
    compared = any(
        m.kind != BASELINE and (m.dims, m.length) in base and m.memory_backward is not None
        for m in results
    )
    rows.append(
        (
            "no mixer needs more memory than tnn at the same shape (forward+backward)",
            (not worse) if compared else None,
            ", ".join(worse) or ("all at or below tnn" if compared else "no mixer measured"),
        )
    )
    aim = "aim: sparse_ski at n=16384 at least 3x faster than tnn (forward+backward)"
    if 16384 in by_length and (1, 16384) in base:
        speedup = base[(1, 16384)].backward_s / by_length[16384].backward_s
        rows.append((aim, speedup >= 3.0, f"{speedup:.2f}x faster"))
    else:
        rows.append((aim, None, "sparse_ski and tnn at n=16384 not both measured"))
    return rows


def _table(results: Sequence[Measurement], dims: int) -> list[str]:
    base = _baselines(results)
    header = (
        "| mixer | shape | forward ms | ratio | fwd+bwd ms | ratio "
        "| compile s (fwd, fwd+bwd) | memory MiB (fwd+bwd) | ratio |"
    )
    lines = [header, "|" + "---|" * 9]
    for m in sorted(
        (m for m in results if m.dims == dims),
        key=lambda m: (m.length, KINDS.index(m.kind) if m.kind in KINDS else 99),
    ):
        b = base.get((m.dims, m.length))
        shape = " x ".join(str(s) for s in m.shape)
        lines.append(
            f"| {m.kind} | {shape} | {1e3 * m.forward_s:.1f} | "
            f"{_ratio(m.forward_s, b and b.forward_s)} | {1e3 * m.backward_s:.1f} | "
            f"{_ratio(m.backward_s, b and b.backward_s)} | {m.compile_forward_s:.1f}, "
            f"{m.compile_backward_s:.1f} | {_mib(m.memory_backward)} | "
            f"{_ratio(m.memory_backward, b and b.memory_backward)} |"
        )
    return lines


def write_page(
    path: str,
    results: Sequence[Measurement],
    info: dict[str, str],
    command: str,
    repeats: int,
    plot_name: str,
) -> None:
    """Writes the Markdown page with the tables, the targets, the machine and the command."""
    status = {True: "met", False: "MISSED", None: "not measured"}
    lines = [
        f"# Mixer speed and memory ({info['platform']})",
        "",
        "Generated by `launch/bench.py`; do not edit by hand. Command:",
        "",
        f"    {command}",
        "",
        "Times are medians over " + str(repeats) + " rounds after one warm-up run; a round "
        "runs the compiled executable of every kind once in turn, each run ended by "
        "`block_until_ready`. Forward+backward computes the output "
        "and pulls a given output gradient back to the input and the mixer parameters, as one "
        "training step does for a layer. Compile time (lowering "
        "and XLA compilation) is measured apart from the runs. Memory is XLA's memory analysis "
        "of the compiled forward+backward program: argument + output + temporary bytes. On CPU "
        "this is what the program needs, not the resident size of the process. Ratios divide "
        "by `tnn` at the same shape, measured in the same run. 1D mixers use r = 64 inducing "
        "points and 33 taps, 2D mixers r = 32 and 17 taps per axis, decay 0.99, RPE width 32, "
        "3 RPE layers, float32. Where the time goes, and why a target is missed: "
        "`results/bench/README.md` in the repository.",
        *(
            [
                "",
                f"NOTE: only {repeats} rounds; a single slow run can move a median this short. "
                "Use --repeats 7 or more before quoting a ratio.",
            ]
            if repeats < 5
            else []
        ),
        "",
        "## Machine",
        "",
    ]
    lines += [f"- {key}: {value}" for key, value in info.items()]
    lines += ["", "## Targets", "", "| target | status | measured |", "|---|---|---|"]
    lines += [
        f"| {name} | {status[met]} | {evidence} |" for name, met, evidence in check_targets(results)
    ]
    for dims in (1, 2):
        if any(m.dims == dims for m in results):
            lines += ["", f"## {dims}D", ""] + _table(results, dims)
    lines += ["", f"![time against length]({plot_name})", ""]
    with open(path, "w") as page:
        page.write("\n".join(lines))


def write_plot(path: str, results: Sequence[Measurement]) -> None:
    """Plots forward and forward+backward time against length per mixer, log-log."""
    figure = Figure(figsize=(11, 4.2))
    axes = figure.subplots(1, 2)
    for ax, attribute, title in (
        (axes[0], "forward_s", "forward"),
        (axes[1], "backward_s", "forward + backward"),
    ):
        for index, kind in enumerate(KINDS):
            for dims, style in ((1, "-o"), (2, "--s")):
                points = sorted(
                    (m.length, getattr(m, attribute))
                    for m in results
                    if m.kind == kind and m.dims == dims
                )
                if points:
                    lengths, seconds = zip(*points)
                    ax.plot(
                        lengths,
                        [1e3 * s for s in seconds],
                        style,
                        color=f"C{index}",
                        label=f"{kind} {dims}D",
                    )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length n (2D: H x W)")
        ax.set_ylabel("time (ms)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def run_mixers(args: argparse.Namespace) -> list[Measurement]:
    """Measures every requested mixer at every shape and writes the page, JSON and plot."""
    shapes = [(args.batch, n, args.channels) for n in args.sizes]
    shapes += [(args.batch, side, side, args.channels) for side in args.sizes_2d]
    if not shapes:
        raise SystemExit(
            "launch.bench mixers: --sizes and --sizes-2d are both empty, so there is nothing to "
            "measure. Give at least one size."
        )
    results = []
    for shape in shapes:
        for measurement in measure_shape(args.kinds, shape, args.repeats):
            results.append(measurement)
            kind = measurement.kind
            shape_text = "x".join(map(str, shape))
            print(
                f"{kind:>10} {shape_text:>16}  forward {1e3 * measurement.forward_s:8.1f} ms  "
                f"fwd+bwd {1e3 * measurement.backward_s:8.1f} ms  compile (fwd, fwd+bwd) "
                f"{measurement.compile_forward_s:4.1f} s, {measurement.compile_backward_s:4.1f} s  "
                f"memory {_mib(measurement.memory_backward)} MiB",
                flush=True,
            )

    info = machine_info()
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"mixers-{info['platform']}")
    command = "python -m launch.bench " + shlex.join(args.argv)
    write_plot(stem + ".png", results)
    write_page(stem + ".md", results, info, command, args.repeats, os.path.basename(stem) + ".png")
    with open(stem + ".json", "w") as raw:
        json.dump(
            {
                "machine": info,
                "command": command,
                "repeats": args.repeats,
                "results": [dataclasses.asdict(m) for m in results],
            },
            raw,
            indent=1,
        )
    print(f"Wrote {stem}.md, {stem}.png and {stem}.json")
    return results


def build_parser() -> argparse.ArgumentParser:
    summary = __doc__.split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m launch.bench", description=summary)
    commands = parser.add_subparsers(dest="command", required=True)
    mixers = commands.add_parser("mixers", help="time every token mixer against tnn")
    mixers.add_argument(
        "--sizes",
        type=_parse_sizes,
        default=[1024, 2048, 4096, 8192, 16384],
        help="1D sequence lengths n, comma-separated (default: %(default)s)",
    )
    mixers.add_argument(
        "--sizes-2d",
        type=_parse_sizes,
        default=[32, 64, 128],
        help="2D image sides H = W, comma-separated; empty for none (default: %(default)s)",
    )
    mixers.add_argument(
        "--kinds",
        type=_parse_kinds,
        default=list(KINDS),
        help="mixer kinds, comma-separated; tnn is always added (default: all)",
    )
    mixers.add_argument("--batch", type=_positive_int, default=8, help="batch size B (default: 8)")
    mixers.add_argument(
        "--channels", type=_positive_int, default=64, help="mixer channels C (default: 64)"
    )
    mixers.add_argument(
        "--repeats",
        type=_positive_int,
        default=5,
        help="timed rounds (one run of every kind each), after one warm-up run (default: 5)",
    )
    mixers.add_argument(
        "--out",
        default=os.path.join("results", "bench"),
        help="output folder (default: %(default)s)",
    )
    mixers.set_defaults(run=run_mixers)
    train_bench.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    args.run(args)


if __name__ == "__main__":
    main()
