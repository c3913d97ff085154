"""Every 1D mixer kind against its own dense matrix, plus causality, padding, bfloat16 and
gradients.

Each mixer's `dense_matrix(n)` is built from its own kernel (for SKI kinds: the dense
W A W^T (+ S) matrix), and the fast path must equal it applied by einsum.
"""

import functools

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.test_util import check_grads

from tnn import MixerConfig, make_mixer

CHANNELS = 3
# Small grids keep SKI and interp non-trivial at small n: r < n, several taps.
OPTIONS = dict(decay=0.95, num_inducing=5, num_taps=5, rpe_dim=8, rpe_layers=1)
MAX_LENGTH = 64
# (kind, causal) pairs that exist; SKI kinds are bidirectional only.
KINDS = [
    ("tnn", False),
    ("tnn", True),
    ("ski", False),
    ("sparse_ski", False),
    ("interp", False),
    ("interp", True),
    ("fd", False),
    ("fd", True),
]
KIND_IDS = [f"{kind}-{'causal' if causal else 'bidir'}" for kind, causal in KINDS]
# Measured float32 error against the float64 dense product is below 2e-6 relative to max|y|
# for these sizes (CPU, jax 0.10.2); the bound leaves a margin for other backends.
FLOAT32_RTOL = 1e-5
FLOAT64_RTOL = 1e-10


@pytest.fixture
def x64():
    """Enable float64 in jax for one test and restore the previous setting afterwards."""
    with jax.enable_x64(True):
        yield


def build_mixer(kind, causal, param_dtype=jnp.float32, channels=CHANNELS, **overrides):
    options = dict(OPTIONS, max_length=MAX_LENGTH)
    options.update(overrides)
    cfg = MixerConfig(kind=kind, causal=causal, **options)
    return make_mixer(cfg, channels, rngs=nnx.Rngs(0), param_dtype=param_dtype)


cached_mixer = functools.cache(build_mixer)

# One compilation per shape is much faster than eager op-by-op dispatch.
apply_mixer = nnx.jit(lambda mixer, x, mask=None: mixer(x, mask))
mixer_dense = nnx.jit(lambda mixer, n: mixer.dense_matrix(n), static_argnums=1)
# The fast output and the dense matrix of the same input length, in one compilation.
mixer_and_dense = nnx.jit(lambda mixer, x: (mixer(x), mixer.dense_matrix(x.shape[-2])))
mixer_kernel = nnx.jit(lambda mixer, n: mixer.kernel(n), static_argnums=1)


def apply_dense(matrix_CNN, x_BNC):
    """Apply per-channel matrices in float64: y[b, i, c] = sum_j T[c, i, j] x[b, j, c]."""
    matrix_CNN = np.asarray(matrix_CNN, np.float64)
    return np.einsum("cij,bjc->bic", matrix_CNN, np.asarray(x_BNC, np.float64))


def relative_error(y, reference):
    y, reference = np.asarray(y, np.float64), np.asarray(reference, np.float64)
    return np.max(np.abs(y - reference)) / np.max(np.abs(reference))


def random_input(shape, seed=0, dtype=jnp.float32):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), dtype)


# Equivalence with the dense matrix.


@pytest.mark.parametrize("n", [7, 8])
@pytest.mark.parametrize("kind, causal", KINDS, ids=KIND_IDS)
def test_mixer_matches_dense_float64(x64, kind, causal, n):
    mixer = build_mixer(kind, causal, param_dtype=jnp.float64)
    x_BNC = random_input((2, n, CHANNELS), seed=n, dtype=jnp.float64)
    y_BNC, matrix_CNN = mixer_and_dense(mixer, x_BNC)
    assert y_BNC.dtype == jnp.float64
    reference = apply_dense(matrix_CNN, x_BNC)
    assert relative_error(y_BNC, reference) < FLOAT64_RTOL


@pytest.mark.parametrize("n", [7, 1024])
@pytest.mark.parametrize("kind, causal", KINDS, ids=KIND_IDS)
def test_mixer_matches_dense_float32(kind, causal, n):
    overrides = {} if n < MAX_LENGTH else dict(max_length=1024, num_inducing=37, num_taps=9)
    mixer = cached_mixer(kind, causal, **overrides)
    x_BNC = random_input((2, n, CHANNELS), seed=n)
    y_BNC, matrix_CNN = mixer_and_dense(mixer, x_BNC)
    assert y_BNC.dtype == jnp.float32
    reference = apply_dense(matrix_CNN, x_BNC)
    assert relative_error(y_BNC, reference) < FLOAT32_RTOL


@pytest.mark.parametrize("kind, causal", KINDS, ids=KIND_IDS)
def test_kernel_and_dense_matrix_structure(kind, causal):
    n = 8
    mixer = cached_mixer(kind, causal)
    kernel_LC = np.asarray(mixer_kernel(mixer, n))
    assert kernel_LC.shape == ((n if causal else 2 * n - 1), CHANNELS)
    assert np.all(np.isfinite(kernel_LC))
    matrix_CNN = np.asarray(mixer_dense(mixer, n))
    if causal:
        upper = np.triu(np.ones((n, n), bool), k=1)
        assert np.all(matrix_CNN[:, upper] == 0.0)
        assert np.all(matrix_CNN[:, ~upper] != 0.0)
    else:
        # T != T^T shows that the dense comparisons cover an asymmetric kernel.
        assert not np.allclose(kernel_LC[n:], kernel_LC[: n - 1][::-1], rtol=1e-3)
        assert not np.allclose(matrix_CNN, np.swapaxes(matrix_CNN, 1, 2), rtol=1e-3)


# Causality.


@pytest.mark.parametrize("kind", ["interp", "fd", "tnn"])
def test_causal_output_ignores_future_inputs(kind):
    n, cut = 60, 25
    mixer = cached_mixer(kind, True)
    rng = np.random.default_rng(0)
    x_BNC = rng.standard_normal((2, n, CHANNELS))
    changed_BNC = x_BNC.copy()
    changed_BNC[:, cut + 1 :] = 100.0 * rng.standard_normal((2, n - cut - 1, CHANNELS))
    y_BNC = np.asarray(apply_mixer(mixer, jnp.asarray(x_BNC, jnp.float32)))
    y_changed_BNC = np.asarray(apply_mixer(mixer, jnp.asarray(changed_BNC, jnp.float32)))
    # The FFT leaks round-off of about eps * max|y| * log n into earlier positions.
    scale = max(np.abs(y_BNC).max(), np.abs(y_changed_BNC).max())
    np.testing.assert_allclose(y_changed_BNC[:, : cut + 1], y_BNC[:, : cut + 1], atol=1e-5 * scale)
    assert not np.allclose(y_changed_BNC[:, cut + 1 :], y_BNC[:, cut + 1 :])


def test_bidirectional_mixers_see_the_future():
    # The same perturbation does change earlier outputs of bidirectional kinds.
    for kind in ("ski", "sparse_ski", "interp", "fd"):
        mixer = cached_mixer(kind, False)
        x_BNC = random_input((1, 40, CHANNELS))
        changed_BNC = x_BNC.at[:, 30:].add(10.0)
        y_BNC = np.asarray(apply_mixer(mixer, x_BNC))
        y_changed_BNC = np.asarray(apply_mixer(mixer, changed_BNC))
        assert not np.allclose(y_BNC[:, :20], y_changed_BNC[:, :20]), kind


# Padding.


@pytest.mark.parametrize("kind, causal", KINDS, ids=KIND_IDS)
def test_padding_does_not_change_valid_outputs(kind, causal):
    valid = 37
    mixer = cached_mixer(kind, causal)
    rng = np.random.default_rng(0)
    content_BNC = rng.standard_normal((2, valid, CHANNELS))
    outputs = []
    for total in (valid, MAX_LENGTH):
        padding = 100.0 * rng.standard_normal((2, total - valid, CHANNELS))
        x_BNC = jnp.asarray(np.concatenate([content_BNC, padding], axis=1), jnp.float32)
        mask_BN = jnp.broadcast_to(jnp.arange(total)[None, :] < valid, (2, total))
        outputs.append(np.asarray(apply_mixer(mixer, x_BNC, mask_BN))[:, :valid])
    scale = np.abs(outputs[0]).max()
    for y_BNC in outputs[1:]:
        np.testing.assert_allclose(y_BNC, outputs[0], atol=1e-5 * scale)


@pytest.mark.parametrize("kind", ["ski", "sparse_ski", "interp", "fd"])
def test_grid_depends_on_max_length_not_input_length(kind):
    # Without max_length the grid follows n, so padding changes valid outputs: the reason
    # the trainer sets max_length to the task's padded length.
    mixer = build_mixer(kind, False, max_length=None)
    x_BNC = random_input((1, 48, CHANNELS))
    mask_BN = jnp.arange(48)[None, :] < 30
    short = np.asarray(apply_mixer(mixer, x_BNC[:, :30]))
    padded = np.asarray(apply_mixer(mixer, x_BNC, mask_BN))[:, :30]
    assert not np.allclose(short, padded, rtol=1e-4)


@pytest.mark.parametrize("kind", ["tnn", "ski", "sparse_ski", "interp", "fd"])
def test_input_longer_than_max_length_raises(kind):
    mixer = cached_mixer(kind, False)
    with pytest.raises(ValueError, match=f"n={MAX_LENGTH + 1} exceeds MixerConfig.max_length"):
        mixer(jnp.ones((1, MAX_LENGTH + 1, CHANNELS)))
    with pytest.raises(ValueError, match=f"n={MAX_LENGTH + 1} exceeds MixerConfig.max_length"):
        mixer.dense_matrix(MAX_LENGTH + 1)


@pytest.mark.parametrize("kind", ["ski", "sparse_ski", "interp", "fd"])
def test_mixer_rejects_bad_shapes(kind):
    mixer = cached_mixer(kind, False)
    with pytest.raises(ValueError, match=f"expected \\(..., N, {CHANNELS}\\)"):
        mixer(jnp.ones((2, 8, CHANNELS + 1)))
    with pytest.raises(ValueError, match="mask_BN has shape"):
        mixer(jnp.ones((2, 8, CHANNELS)), jnp.ones((2, 9), bool))


# Groups of channels (the columns of an image in tnn.mixer2d).


@pytest.mark.parametrize("kind, causal", KINDS, ids=KIND_IDS)
def test_groups_mix_like_separate_calls(x64, kind, causal):
    # x contains 3 groups of the C channels side by side. Each group must be mixed exactly as
    # a call on that group alone, and the parameter gradients must be the sums over groups.
    mixer = build_mixer(kind, causal, param_dtype=jnp.float64)
    graphdef, params = nnx.split(mixer, nnx.Param)
    groups, n = 3, 11
    x_BNT = random_input((2, n, groups * CHANNELS), dtype=jnp.float64)
    probe_BNT = random_input((2, n, groups * CHANNELS), seed=1, dtype=jnp.float64)

    def grouped(params, x_BNT):
        return nnx.merge(graphdef, params)(x_BNT, groups=groups)

    def separate(params, x_BNT):
        module = nnx.merge(graphdef, params)
        parts = jnp.split(x_BNT, groups, axis=-1)
        return jnp.concatenate([module(part) for part in parts], axis=-1)

    def loss(fn):
        return jax.jit(jax.value_and_grad(lambda p, x: jnp.sum(fn(p, x) * probe_BNT),
                                          argnums=(0, 1)))

    y_grouped = jax.jit(grouped)(params, x_BNT)
    y_separate = jax.jit(separate)(params, x_BNT)
    assert relative_error(y_grouped, y_separate) < FLOAT64_RTOL
    _, (dparams_grouped, dx_grouped) = loss(grouped)(params, x_BNT)
    _, (dparams_separate, dx_separate) = loss(separate)(params, x_BNT)
    assert relative_error(dx_grouped, dx_separate) < FLOAT64_RTOL
    for a, b in zip(jax.tree.leaves(dparams_grouped), jax.tree.leaves(dparams_separate)):
        assert relative_error(a, b) < FLOAT64_RTOL


@pytest.mark.parametrize("kind", ["tnn", "ski", "sparse_ski", "interp", "fd"])
def test_groups_must_match_the_last_axis(kind):
    mixer = cached_mixer(kind, False)
    with pytest.raises(ValueError, match=f"expected \\(..., N, {2 * CHANNELS}\\) \\(2 groups"):
        mixer(jnp.ones((2, 8, 3 * CHANNELS)), groups=2)
    with pytest.raises(ValueError, match="groups=0 is invalid"):
        mixer(jnp.ones((2, 8, CHANNELS)), groups=0)
    with pytest.raises(ValueError, match="groups=True is invalid"):
        mixer(jnp.ones((2, 8, CHANNELS)), groups=True)
    assert mixer(jnp.ones((2, 8, 2 * CHANNELS)), groups=np.int64(2)).shape == (2, 8, 6)


# Precision.


def fft_operand_dtypes(fn, *args):
    """Return the dtypes of every operand of every FFT in the traced computation of fn."""
    dtypes = set()

    def visit(jaxpr):
        for eqn in jaxpr.eqns:
            if eqn.primitive.name == "fft":
                dtypes.update(str(var.aval.dtype) for var in eqn.invars)
            for value in eqn.params.values():
                for sub in value if isinstance(value, (tuple, list)) else (value,):
                    if isinstance(sub, jax.extend.core.ClosedJaxpr):
                        visit(sub.jaxpr)
                    elif isinstance(sub, jax.extend.core.Jaxpr):
                        visit(sub)

    visit(jax.make_jaxpr(fn)(*args).jaxpr)
    return dtypes


def to_bfloat16(mixer):
    """Return a copy of mixer whose float parameters are rounded to bfloat16."""
    graphdef, state = nnx.split(mixer)
    def round_leaf(leaf):
        return leaf.astype(jnp.bfloat16) if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf

    state = jax.tree.map(round_leaf, state)
    return nnx.merge(graphdef, state)


@pytest.mark.parametrize("kind, causal", KINDS, ids=KIND_IDS)
def test_bfloat16_close_to_float32(kind, causal):
    mixer = cached_mixer(kind, causal)
    mixer16 = to_bfloat16(mixer)
    x_BNC = random_input((2, 50, CHANNELS))
    y32 = np.asarray(apply_mixer(mixer, x_BNC))
    y16_BNC = apply_mixer(mixer16, x_BNC.astype(jnp.bfloat16))
    assert y16_BNC.dtype == jnp.bfloat16
    y16 = np.asarray(y16_BNC.astype(jnp.float32))
    assert np.all(np.isfinite(y16))
    # bfloat16 keeps 8 significant bits: inputs, parameters and outputs each carry about
    # 2^-9 relative error, and the RPE amplifies parameter rounding a little.
    assert relative_error(y16, y32) < 3e-2

    dtypes = fft_operand_dtypes(lambda x: mixer16(x), x_BNC.astype(jnp.bfloat16))
    assert dtypes <= {"float32", "complex64"}, dtypes
    if kind in ("tnn", "interp", "fd"):
        assert dtypes, "expected an FFT"


# Gradients.


@pytest.mark.parametrize("kind, causal", KINDS, ids=KIND_IDS)
def test_gradients_match_finite_differences(x64, kind, causal):
    mixer = build_mixer(kind, causal, param_dtype=jnp.float64, learn_decay=True)
    graphdef, params = nnx.split(mixer, nnx.Param)
    x_BNC = random_input((2, 9, CHANNELS), dtype=jnp.float64)
    probe_BNC = random_input((2, 9, CHANNELS), seed=1, dtype=jnp.float64)

    @jax.jit
    def loss(params, x_BNC):
        return jnp.sum(jnp.sin(nnx.merge(graphdef, params)(x_BNC)) * probe_BNC)

    # Custom VJPs (SKI's W, W^T and the banded product) define reverse mode only. A small
    # step keeps finite differences off the kinks of the RPE's ReLUs.
    check_grads(loss, (params, x_BNC), order=1, modes=["rev"], eps=1e-6, atol=1e-6, rtol=1e-6)
    # Every parameter reaches the output.
    grads = jax.grad(loss)(params, x_BNC)
    for path, leaf in jax.tree_util.tree_leaves_with_path(grads):
        assert np.any(np.asarray(leaf) != 0.0), jax.tree_util.keystr(path)


# Configuration.


@pytest.mark.parametrize("kind", ["ski", "sparse_ski"])
def test_causal_ski_raises_with_alternatives(kind):
    with pytest.raises(ValueError, match="low-rank W A W\\^T.*'interp'.*'fd'.*'tnn'"):
        MixerConfig(kind=kind, causal=True)


@pytest.mark.parametrize(
    "overrides, field",
    [
        (dict(num_inducing=1), "num_inducing"),
        (dict(num_taps=4), "num_taps"),
        (dict(num_taps=0), "num_taps"),
        (dict(ski_kernel="mlp"), "ski_kernel"),
        (dict(ski_kernel="warped_linear", kind="fd"), "ski_kernel"),
        (dict(warp_gamma=1.0), "warp_gamma"),
    ],
)
def test_mixer_config_rejects_bad_fast_mixer_options(overrides, field):
    with pytest.raises(ValueError, match=f"MixerConfig.{field}="):
        MixerConfig(**overrides)


# The benchmark's target checks (launch/bench.py), on made-up measurements.


def fake_measurement(kind, length, backward_s, memory, dims=1):
    from launch import bench

    shape = (8, length, 64) if dims == 1 else (8, 4, length // 4, 64)
    return bench.Measurement(kind=kind, dims=dims, length=length, shape=shape, forward_s=1.0,
                             backward_s=backward_s, compile_forward_s=0.1,
                             compile_backward_s=0.2, memory_forward=memory,
                             memory_backward=memory)


def test_bench_targets_report_met_and_missed(tmp_path):
    from launch import bench

    results = [
        fake_measurement("tnn", 8192, 1.0, 100),
        fake_measurement("tnn", 16384, 2.0, 200),
        fake_measurement("sparse_ski", 8192, 0.3, 90),
        fake_measurement("sparse_ski", 16384, 0.8, 210),  # 2.67x growth, more memory.
        fake_measurement("fd", 8192, 0.9, 100),
        fake_measurement("fd", 16384, 1.9, 190),
    ]
    rows = {name: (met, evidence) for name, met, evidence in bench.check_targets(results)}
    speed = rows["sparse_ski faster than tnn (forward+backward) at every n >= 2048"]
    assert speed == (True, "n=8192: 0.30x, n=16384: 0.40x")
    growth = rows["sparse_ski time at n=16384 at most 2.3x its time at n=8192 (forward+backward)"]
    assert growth == (False, "2.67x")
    memory = rows["no mixer needs more memory than tnn at the same shape (forward+backward)"]
    assert memory[0] is False
    assert "sparse_ski 1D n=16384: 1.05x" in memory[1]
    aim = rows["aim: sparse_ski at n=16384 at least 3x faster than tnn (forward+backward)"]
    assert aim == (False, "2.50x faster")

    page = tmp_path / "page.md"
    bench.write_page(str(page), results, {"platform": "cpu"}, "python -m launch.bench mixers", 3,
                     "plot.png")
    text = page.read_text()
    assert "| sparse_ski | 8 x 16384 x 64 | 1000.0 | 1.00 | 800.0 | 0.40 |" in text
    assert "MISSED" in text


def test_bench_targets_without_long_sequences_are_not_measured():
    from launch import bench

    results = [fake_measurement("tnn", 1024, 1.0, 10), fake_measurement("fd", 1024, 0.5, 10)]
    rows = bench.check_targets(results)
    assert rows[0][1] is None
    assert rows[1][1] is None
    assert rows[2][1] is None


def test_bench_mixers_command_writes_page_plot_and_numbers(tmp_path):
    # The real benchmark at toy sizes: two kinds, one 1D and one 2D shape, two rounds.
    import json

    from launch import bench

    bench.main(["mixers", "--sizes", "16", "--sizes-2d", "4", "--kinds", "sparse_ski",
                "--repeats", "2", "--batch", "2", "--channels", "3", "--out", str(tmp_path)])
    raw = json.loads((tmp_path / "mixers-cpu.json").read_text())
    measured = {(r["kind"], tuple(r["shape"])) for r in raw["results"]}
    assert measured == {("tnn", (2, 16, 3)), ("sparse_ski", (2, 16, 3)),
                        ("tnn", (2, 4, 4, 3)), ("sparse_ski", (2, 4, 4, 3))}
    for result in raw["results"]:
        assert result["forward_s"] > 0
        assert result["backward_s"] > 0
        assert result["memory_backward"] > result["memory_forward"] > 0
    text = (tmp_path / "mixers-cpu.md").read_text()
    assert "--sizes 16 --sizes-2d 4" in text
    assert "NOTE: only 2 rounds" in text
    assert "| sparse_ski | 2 x 4 x 4 x 3 |" in text
    assert (tmp_path / "mixers-cpu.png").stat().st_size > 0


@pytest.mark.parametrize(
    "channels, image_shape, field",
    [(-1, None, "channels=-1"), (0, None, "channels=0"), (2.5, None, "channels=2.5"),
     (True, None, "channels=True"), (3, (0, 4), "image_shape=\\(0, 4\\)"),
     (3, (4,), "image_shape=\\(4,\\)"), (3, 7, "image_shape=7")],
)
def test_make_mixer_rejects_bad_channels_and_image_shape(channels, image_shape, field):
    with pytest.raises(ValueError, match=f"make_mixer: {field} is invalid"):
        make_mixer(MixerConfig(kind="tnn"), channels, rngs=nnx.Rngs(0), image_shape=image_shape)


def test_bench_empty_sizes_and_quoting(tmp_path):
    from launch import bench

    with pytest.raises(SystemExit, match="nothing to measure"):
        bench.main(["mixers", "--sizes", "", "--sizes-2d", "", "--out", str(tmp_path)])
    assert not (tmp_path / "mixers-cpu.md").exists()
    # Duplicate kinds are measured once, and the page's command can be pasted into a shell.
    bench.main(["mixers", "--sizes", "8", "--sizes-2d", "", "--kinds", "ski,ski", "--repeats",
                "1", "--batch", "1", "--channels", "2", "--out", str(tmp_path)])
    text = (tmp_path / "mixers-cpu.md").read_text()
    assert "--sizes-2d '' --kinds ski,ski" in text
    assert text.count("| ski | 1 x 8 x 2 |") == 1
    rows = {name: (met, evidence) for name, met, evidence in bench.check_targets([])}
    assert all(met is None for met, _ in rows.values())
