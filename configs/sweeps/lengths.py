"""Training speed against sequence length: ListOps padded to 512 .. 4096 tokens.

Smoke-size model and data keep the runs short, so only the step time and throughput are
meaningful, not the accuracy. Each padded length N comes with generator bounds
N/4 < length < N, the ratio of the LRA bounds 500 < length < 2000.
`python -m results.table ROOT` plots step time against N.
"""

from configs.sweeps import make_run

MIXERS = ("tnn", "sparse_ski", "fd")
LENGTHS = (512, 1024, 2048, 4096)


def get_sweep() -> dict[str, object]:
    """Returns one run per padded length and mixer."""
    runs = []
    for length in LENGTHS:
        overrides = {
            "task.max_length": length,
            "task.min_length": length // 4,
            "task.max_length_bound": length,
        }
        for mixer in MIXERS:
            runs.append(
                make_run(
                    "listops",
                    mixer,
                    smoke=True,
                    name=f"listops_n{length}_{mixer}",
                    overrides=overrides,
                )
            )
    return dict(name="lengths", runs=runs)
