"""SKI building blocks: the interpolation matrix W, its O(n) products, the inducing kernels,
the banded product of sparse_ski, and SKI with r = n against the baseline TNO."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tnn import MixerConfig, make_mixer, sparse
from tnn.ski import interpolate, interpolation_matrix, interpolation_plan, restrict
from tnn.sparse import banded_conv, banded_kernel, shifted_sum
from tnn.toeplitz import dense_toeplitz

from test_mixers import apply_dense, apply_mixer, mixer_and_dense, random_input, relative_error

# (n, grid length L, inducing points r): grid = input, input shorter than the grid,
# non-integer spacing, spacing below 2 (one-position blocks), r > L (clipped to L), r = L.
GRIDS = [(50, 50, 8), (37, 64, 8), (100, 100, 13), (20, 30, 20), (6, 6, 10), (9, 9, 9)]


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


# The interpolation matrix W.


@pytest.mark.parametrize("n, length, r", GRIDS)
def test_interpolation_matrix_properties(n, length, r):
    matrix_NR = interpolation_matrix(n, length, r)
    points = min(r, length)
    assert matrix_NR.shape == (n, points)
    assert np.all(matrix_NR >= 0.0)
    np.testing.assert_allclose(matrix_NR.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # At most two neighbouring inducing points per row.
    assert np.all(np.count_nonzero(matrix_NR, axis=1) <= 2)
    # W f(u) = f(i) for every linear f, with u_m = m h on [0, L - 1].
    spacing = (length - 1) / (points - 1)
    inducing_R = np.arange(points) * spacing
    np.testing.assert_allclose(matrix_NR @ (3.0 - 0.25 * inducing_R), 3.0 - 0.25 * np.arange(n),
                               rtol=0, atol=1e-10)


def test_interpolation_matrix_is_identity_when_r_equals_n():
    np.testing.assert_array_equal(interpolation_matrix(17, 17, 17), np.eye(17))


def test_interpolation_rows_do_not_depend_on_input_length():
    # An input of n <= L positions uses the first n rows of the grid's W.
    full_NR = interpolation_matrix(64, 64, 9)
    np.testing.assert_array_equal(interpolation_matrix(40, 64, 9), full_NR[:40])


def test_interpolation_plan_rejects_input_longer_than_grid():
    with pytest.raises(ValueError, match="n=65 is invalid for grid length 64"):
        interpolation_plan(65, 64, 8)


@pytest.mark.parametrize("n, length, r", GRIDS)
def test_restrict_and_interpolate_match_dense(x64, n, length, r):
    plan = interpolation_plan(n, length, r)
    matrix_NR = interpolation_matrix(n, length, r)
    x_BHNC = random_input((2, 3, n, 4), dtype=jnp.float64)  # Two leading axes.
    z_BHRC = random_input((2, 3, plan.num_points, 4), seed=1, dtype=jnp.float64)
    restricted = np.asarray(jax.jit(lambda x: restrict(x, plan))(x_BHNC))
    np.testing.assert_allclose(restricted, np.einsum("nr,bhnc->bhrc", matrix_NR, x_BHNC),
                               rtol=1e-12, atol=1e-12)
    interpolated = np.asarray(jax.jit(lambda z: interpolate(z, plan))(z_BHRC))
    np.testing.assert_allclose(interpolated, np.einsum("nr,bhrc->bhnc", matrix_NR, z_BHRC),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n, length, r", GRIDS[:3])
def test_restrict_and_interpolate_gradients_are_adjoints(x64, n, length, r):
    # The custom VJPs: the gradient of <g, W^T x> is W g and that of <g, W z> is W^T g.
    plan = interpolation_plan(n, length, r)
    matrix_NR = interpolation_matrix(n, length, r)
    g_BRC = random_input((2, plan.num_points, 4), dtype=jnp.float64)
    g_BNC = random_input((2, n, 4), seed=1, dtype=jnp.float64)
    x_BNC = random_input((2, n, 4), seed=2, dtype=jnp.float64)
    z_BRC = random_input((2, plan.num_points, 4), seed=3, dtype=jnp.float64)
    grad_x = jax.jit(jax.grad(lambda x: jnp.sum(restrict(x, plan) * g_BRC)))(x_BNC)
    grad_z = jax.jit(jax.grad(lambda z: jnp.sum(interpolate(z, plan) * g_BNC)))(z_BRC)
    np.testing.assert_allclose(grad_x, np.einsum("nr,brc->bnc", matrix_NR, g_BRC), atol=1e-12)
    np.testing.assert_allclose(grad_z, np.einsum("nr,bnc->brc", matrix_NR, g_BNC), atol=1e-12)


# SKI against the baseline.


def test_ski_with_r_equal_to_n_equals_tnn(x64):
    n = 24
    options = dict(decay=0.9, rpe_dim=8, rpe_layers=2, max_length=n)
    tno = make_mixer(MixerConfig(kind="tnn", **options), 3, rngs=nnx.Rngs(0),
                     param_dtype=jnp.float64)
    ski = make_mixer(MixerConfig(kind="ski", num_inducing=n, **options), 3, rngs=nnx.Rngs(1),
                     param_dtype=jnp.float64)
    nnx.update(ski.inducing_kernel.lag_function, nnx.state(tno.rpe))
    x_BNC = random_input((2, n, 3), dtype=jnp.float64)
    y_tnn = np.asarray(apply_mixer(tno, x_BNC))
    y_ski = np.asarray(apply_mixer(ski, x_BNC))
    assert relative_error(y_ski, y_tnn) < 1e-12
    np.testing.assert_allclose(ski.kernel(n), tno.kernel(n), rtol=1e-12)


def test_ski_with_fewer_points_differs_from_tnn():
    # Shows that the test above can fail: r < n gives an approximation, not the TNO itself.
    n = 24
    options = dict(decay=0.9, rpe_dim=8, rpe_layers=2, max_length=n)
    tno = make_mixer(MixerConfig(kind="tnn", **options), 3, rngs=nnx.Rngs(0))
    ski = make_mixer(MixerConfig(kind="ski", num_inducing=6, **options), 3, rngs=nnx.Rngs(1))
    nnx.update(ski.inducing_kernel.lag_function, nnx.state(tno.rpe))
    x_BNC = random_input((2, n, 3))
    assert relative_error(apply_mixer(ski, x_BNC), apply_mixer(tno, x_BNC)) > 1e-3


def test_ski_inducing_kernel_uses_2r_minus_1_lags():
    ski = make_mixer(MixerConfig(kind="ski", num_inducing=5, max_length=41, decay=0.9), 2,
                     rngs=nnx.Rngs(0))
    plan = ski.plan(41)
    assert plan.spacing == 10.0
    matrix_CRR = np.asarray(ski.inducing_matrix(plan))
    expected_LC = np.asarray(ski.inducing_kernel(np.arange(-4, 5) * 10.0))
    np.testing.assert_allclose(matrix_CRR, np.asarray(dense_toeplitz(expected_LC, 5)), rtol=1e-6)


# The warped-linear kernel.


def warped_mixer(kind, causal=False, param_dtype=jnp.float32, **overrides):
    options = dict(kind=kind, causal=causal, ski_kernel="warped_linear", warp_gamma=0.8,
                   num_inducing=4, num_taps=3, decay=1.0, max_length=32)
    options.update(overrides)
    return make_mixer(MixerConfig(**options), 2, rngs=nnx.Rngs(0), param_dtype=param_dtype)


def test_warped_linear_kernel_values():
    mixer = warped_mixer("ski")
    warped = mixer.inducing_kernel.lag_function
    values_CJ = np.asarray(warped.values_CJ[...])
    assert values_CJ.shape == (2, 8)  # 2r learned knots; the knot at s = 0 is fixed to 0.
    kernel = lambda lags: np.asarray(mixer.inducing_kernel(np.asarray(lags, np.float64)))
    # Lag 0 maps to s = 1 (the last knot), far lags to s -> 0 (the fixed zero).
    np.testing.assert_allclose(kernel([0.0])[0], values_CJ[:, -1], rtol=1e-6)
    np.testing.assert_allclose(kernel([1000.0, -1000.0]), 0.0, atol=1e-6)
    # Linear in s between knots: s(k) = 0.8^k = 0.875 lies halfway between knots 0.75 and 1.
    lag = np.log(0.875) / np.log(0.8)
    np.testing.assert_allclose(kernel([lag])[0], 0.5 * (values_CJ[:, -2] + values_CJ[:, -1]),
                               rtol=1e-5)
    # Negative lags use the first r knots: s(-k) = -0.875 lies between knots -1 and -0.75.
    np.testing.assert_allclose(kernel([-lag])[0], 0.5 * (values_CJ[:, 0] + values_CJ[:, 1]),
                               rtol=1e-5)


@pytest.mark.parametrize("kind, causal", [("ski", False), ("sparse_ski", False),
                                          ("interp", False), ("interp", True)])
def test_warped_linear_mixers_match_dense(x64, kind, causal):
    mixer = warped_mixer(kind, causal, param_dtype=jnp.float64)
    x_BNC = random_input((2, 11, 2), dtype=jnp.float64)
    y_BNC, matrix_CNN = mixer_and_dense(mixer, x_BNC)
    assert relative_error(y_BNC, apply_dense(matrix_CNN, x_BNC)) < 1e-10


def test_causal_warped_linear_has_r_learned_knots():
    mixer = warped_mixer("interp", causal=True)
    assert mixer.inducing_kernel.lag_function.values_CJ[...].shape == (2, 4)


# The banded product of sparse_ski.


def dense_banded(taps_KC, n):
    return dense_toeplitz(banded_kernel(jnp.asarray(taps_KC), n), n)


# n >= 16 K takes the split path of shifted_sum (interior slices, padded ends): (81, 5),
# (96, 5) and (17, 1); the others pad x first.
BANDED_CASES = [(5, 33), (33, 33), (40, 5), (70, 17), (9, 1), (81, 5), (96, 5), (17, 1)]


@pytest.mark.parametrize("n, num_taps", BANDED_CASES)
def test_banded_conv_matches_dense(x64, n, num_taps):
    taps_KC = random_input((num_taps, 3), dtype=jnp.float64)
    x_BHNC = random_input((2, 2, n, 3), seed=1, dtype=jnp.float64)
    y = np.asarray(jax.jit(banded_conv)(x_BHNC, taps_KC))
    reference = np.einsum("cij,bhjc->bhic", np.asarray(dense_banded(taps_KC, n)), x_BHNC)
    np.testing.assert_allclose(y, reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n, num_taps", BANDED_CASES + [(64, 33)])
def test_banded_conv_gradients_match_dense(x64, n, num_taps):
    # The custom VJP (flipped shifted sum and blocked matmul) against plain autodiff of the
    # dense banded matrix.
    taps_KC = random_input((num_taps, 3), dtype=jnp.float64)
    x_BNC = random_input((2, n, 3), seed=1, dtype=jnp.float64)
    probe_BNC = random_input((2, n, 3), seed=2, dtype=jnp.float64)

    def fast_loss(x, taps):
        return jnp.sum(banded_conv(x, taps) * probe_BNC)

    def dense_loss(x, taps):
        return jnp.sum(jnp.einsum("cij,bjc->bic", dense_banded(taps, n), x) * probe_BNC)

    fast = jax.jit(jax.grad(fast_loss, argnums=(0, 1)))(x_BNC, taps_KC)
    dense = jax.jit(jax.grad(dense_loss, argnums=(0, 1)))(x_BNC, taps_KC)
    np.testing.assert_allclose(fast[0], dense[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast[1], dense[1], rtol=1e-12, atol=1e-12)


def assert_tap_gradient_matches_dense(rows, n, num_taps, channels, groups):
    """Compare banded_conv's tap gradient with autodiff of the dense banded matrix."""
    width = groups * channels
    taps_KC = random_input((num_taps, channels), dtype=jnp.float64)
    x_BNC = random_input((rows, n, width), seed=1, dtype=jnp.float64)
    probe_BNC = random_input((rows, n, width), seed=2, dtype=jnp.float64)

    def tap_gradient(product):
        loss = lambda taps: jnp.sum(product(x_BNC, taps) * probe_BNC)
        return jax.jit(jax.grad(loss))(taps_KC)

    def dense_product(x, taps):
        x_BNGC = x.reshape(rows, n, groups, channels)
        return jnp.einsum("cij,bjgc->bigc", dense_banded(taps, n), x_BNGC).reshape(x.shape)

    np.testing.assert_allclose(tap_gradient(banded_conv), tap_gradient(dense_product),
                               rtol=1e-12, atol=1e-12)
    return x_BNC, taps_KC


@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("chunk_rows", [1, 2, 3])
def test_banded_conv_tap_gradient_chunks_match_dense(x64, monkeypatch, chunk_rows, groups):
    # A chunk small enough that the tap gradient loops over rows: 7 rows in chunks of 1, 2
    # and 3 rows (the last two leave a remainder of 1 row), with 1 or 2 groups of channels.
    n, channels = 21, 3
    monkeypatch.setattr(sparse, "TAP_GRADIENT_CHUNK", chunk_rows * n * groups * channels)
    x_BNC, taps_KC = assert_tap_gradient_matches_dense(7, n, 5, channels, groups)
    loop_text = jax.jit(jax.grad(lambda t: jnp.sum(banded_conv(x_BNC, t)))).lower(taps_KC)
    assert "while" in loop_text.as_text()


@pytest.mark.parametrize("n, segments", [(40, 4), (44, 4), (22, 2)])
def test_banded_conv_tap_gradient_cut_rows_match_dense(x64, monkeypatch, n, segments):
    # Rows longer than a chunk are cut into segments of even (10) and odd (11) length, and the
    # products across each cut are added back from windows around it. Rows of several groups
    # are not cut; with 2 groups the same chunk then loops over whole rows.
    num_taps, channels = 5, 3
    monkeypatch.setattr(sparse, "TAP_GRADIENT_CHUNK", (n // segments) * channels)
    assert sparse._row_segments(n, channels, num_taps) == segments
    assert_tap_gradient_matches_dense(3, n, num_taps, channels, groups=1)
    assert_tap_gradient_matches_dense(3, n, num_taps, channels, groups=2)


def test_row_segments_equal_and_long_enough():
    assert sparse._row_segments(16384, 64, 33) == 4  # 4 MiB rows, 1 MiB chunks.
    assert sparse._row_segments(4096, 64, 33) == 1  # One row fits a chunk.
    assert sparse._row_segments(16383, 64, 33) == 1  # 4 does not divide n.
    assert sparse._row_segments(64, 2**15, 33) == 1  # Segments would be shorter than K - 1.


def test_banded_conv_gradient_equals_autodiff_of_shifted_sum():
    taps_KC = random_input((33, 4))
    x_BNC = random_input((3, 100, 4), seed=1)
    probe_BNC = random_input((3, 100, 4), seed=2)
    grad = lambda fn: jax.jit(jax.grad(lambda x, t: jnp.sum(fn(x, t) * probe_BNC),
                                       argnums=(0, 1)))(x_BNC, taps_KC)
    fast, plain = grad(banded_conv), grad(shifted_sum)
    for fast_leaf, plain_leaf in zip(fast, plain):
        assert relative_error(fast_leaf, plain_leaf) < 1e-5


def test_banded_conv_rejects_even_taps():
    with pytest.raises(ValueError, match="K odd"):
        banded_conv(jnp.ones((1, 8, 3)), jnp.ones((4, 3)))
