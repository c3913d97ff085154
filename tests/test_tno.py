"""Tests of the FFT Toeplitz product and the baseline TNO mixer against dense matrices."""

import functools

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tnn import MixerConfig, dense_toeplitz, fft_length, make_mixer, toeplitz_fft
from tnn.rpe import MIN_LEARNED_DECAY, ExponentialDecay
from tnn.toeplitz import circulant_embedding

LENGTHS = (7, 8, 1000, 1024)
# Measured float32 error of the FFT product is below 3e-7 relative to max|y| for these lengths
# (CPU, jax 0.10.2). The bound leaves a margin for other FFT libraries.
FLOAT32_RTOL = 1e-5
FLOAT64_RTOL = 1e-10
CHANNELS = 4


@pytest.fixture
def x64():
    """Enable float64 in jax for one test and restore the previous setting afterwards."""
    with jax.enable_x64(True):
        yield


def random_kernel(rng, n, causal, channels=CHANNELS):
    """Return a random kernel whose values at lags k and -k differ."""
    length = n if causal else 2 * n - 1
    kernel_LC = rng.standard_normal((length, channels))
    if not causal and n > 1:
        assert not np.allclose(kernel_LC[n:], kernel_LC[: n - 1][::-1])
    return kernel_LC


def apply_dense(matrix_CNN, x_BNC):
    """Apply per-channel matrices in float64: y[b, i, c] = sum_j T[c, i, j] x[b, j, c]."""
    matrix_CNN = np.asarray(matrix_CNN, np.float64)
    return np.einsum("cij,bjc->bic", matrix_CNN, np.asarray(x_BNC, np.float64))


def relative_error(y, reference):
    y, reference = np.asarray(y, np.float64), np.asarray(reference, np.float64)
    return np.max(np.abs(y - reference)) / np.max(np.abs(reference))


def is_5_smooth(m):
    for prime in (2, 3, 5):
        while m % prime == 0:
            m //= prime
    return m == 1


# FFT length rules.


def test_fft_length_pow2_rule():
    for n in range(1, 300):
        size = fft_length(n, "pow2")
        assert size & (size - 1) == 0, (n, size)
        assert size >= 2 * n, (n, size)
        assert size // 2 < 2 * n, (n, size)


def test_fft_length_fast_rule():
    for n in range(1, 300):
        size = fft_length(n, "fast")
        assert is_5_smooth(size), (n, size)
        assert size >= 2 * n - 1, (n, size)
        smaller = [m for m in range(2 * n - 1, size) if is_5_smooth(m)]
        assert smaller == [], (n, size, smaller)
    assert fft_length(1000, "fast") == 2000


def test_fft_length_rejects_bad_input():
    with pytest.raises(ValueError, match="rule"):
        fft_length(8, "next")
    with pytest.raises(ValueError, match="n=0"):
        fft_length(0)


def test_circulant_embedding_rejects_short_fft():
    kernel_LC = jnp.ones((2 * 8 - 1, 2))
    with pytest.raises(ValueError, match="fft_len=8"):
        circulant_embedding(kernel_LC, 8, 8, causal=False)


def test_toeplitz_fft_rejects_wrong_kernel_length():
    x_BNC = jnp.ones((1, 8, 2))
    with pytest.raises(ValueError, match="expected \\(15, C\\)"):
        toeplitz_fft(x_BNC, jnp.ones((8, 2)), causal=False)
    with pytest.raises(ValueError, match="expected \\(8, C\\)"):
        toeplitz_fft(x_BNC, jnp.ones((15, 2)), causal=True)


# The dense reference itself.


@pytest.mark.parametrize("causal", [False, True])
def test_dense_toeplitz_matches_definition(causal):
    n = 7
    kernel_LC = random_kernel(np.random.default_rng(1), n, causal)
    matrix_CNN = np.asarray(dense_toeplitz(jnp.asarray(kernel_LC), n))
    for c in range(kernel_LC.shape[1]):
        for i in range(n):
            for j in range(n):
                lag = i - j
                if causal:
                    expected = kernel_LC[lag, c] if lag >= 0 else 0.0
                else:
                    expected = kernel_LC[lag + n - 1, c]
                assert matrix_CNN[c, i, j] == np.float32(expected), (c, i, j)


# FFT product equals the dense matrix.


@pytest.mark.parametrize("rule", ["pow2", "fast"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n", LENGTHS)
def test_toeplitz_fft_matches_dense_float64(x64, n, causal, rule):
    rng = np.random.default_rng(n)
    kernel_LC = random_kernel(rng, n, causal)
    x_BNC = rng.standard_normal((2, n, CHANNELS))
    y_BNC = toeplitz_fft_jit(jnp.asarray(x_BNC), jnp.asarray(kernel_LC), causal, rule)
    assert y_BNC.dtype == jnp.float64
    reference = apply_dense(dense_toeplitz(jnp.asarray(kernel_LC), n), x_BNC)
    assert relative_error(y_BNC, reference) < FLOAT64_RTOL


@pytest.mark.parametrize("rule", ["pow2", "fast"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n", LENGTHS)
def test_toeplitz_fft_matches_dense_float32(n, causal, rule):
    rng = np.random.default_rng(n)
    kernel_LC = jnp.asarray(random_kernel(rng, n, causal), jnp.float32)
    x_BNC = jnp.asarray(rng.standard_normal((2, n, CHANNELS)), jnp.float32)
    y_BNC = toeplitz_fft_jit(x_BNC, kernel_LC, causal, rule)
    assert y_BNC.dtype == jnp.float32
    reference = apply_dense(dense_toeplitz(kernel_LC, n), x_BNC)
    assert relative_error(y_BNC, reference) < FLOAT32_RTOL


# The TNO mixer equals its own dense matrix.


@functools.cache
def make_tno(**overrides):
    """Build a TNO with 4 channels and seed 0, cached because tests only read it."""
    return make_mixer(MixerConfig(**overrides), CHANNELS, rngs=nnx.Rngs(0))


# Jitted entry points: one compilation per shape is much faster than eager op-by-op dispatch.
apply_mixer = nnx.jit(lambda mixer, x_BNC, mask_BN=None: mixer(x_BNC, mask_BN))
mixer_kernel = nnx.jit(lambda mixer, n: mixer.kernel(n), static_argnums=1)
mixer_dense = nnx.jit(lambda mixer, n: mixer.dense_matrix(n), static_argnums=1)
toeplitz_fft_jit = jax.jit(toeplitz_fft, static_argnums=(2, 3))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n", LENGTHS)
def test_tno_matches_dense_matrix_float32(n, causal):
    mixer = make_tno(causal=causal, decay=0.99)
    kernel_LC = np.asarray(mixer_kernel(mixer, n))
    assert kernel_LC.shape == ((n if causal else 2 * n - 1), CHANNELS)
    if not causal:
        assert not np.allclose(kernel_LC[n:], kernel_LC[: n - 1][::-1])
    x_BNC = jnp.asarray(np.random.default_rng(n).standard_normal((2, n, CHANNELS)), jnp.float32)
    reference = apply_dense(mixer_dense(mixer, n), x_BNC)
    assert relative_error(apply_mixer(mixer, x_BNC), reference) < FLOAT32_RTOL


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n", [7, 1000])
def test_tno_matches_dense_matrix_float64(x64, n, causal):
    cfg = MixerConfig(causal=causal, decay=0.99)
    mixer = make_mixer(cfg, CHANNELS, rngs=nnx.Rngs(0), param_dtype=jnp.float64)
    assert mixer_kernel(mixer, n).dtype == jnp.float64
    x_BNC = jnp.asarray(np.random.default_rng(n).standard_normal((2, n, CHANNELS)))
    y_BNC = apply_mixer(mixer, x_BNC)
    assert y_BNC.dtype == jnp.float64
    reference = apply_dense(mixer_dense(mixer, n), x_BNC)
    assert relative_error(y_BNC, reference) < FLOAT64_RTOL


def test_tno_kernel_applies_decay():
    n = 20
    plain = make_tno(decay=1.0)
    decayed = make_tno(decay=0.8)
    lags = np.arange(-(n - 1), n)
    expected_LC = np.asarray(mixer_kernel(plain, n)) * (0.8 ** np.abs(lags))[:, None]
    decayed_LC = np.asarray(mixer_kernel(decayed, n))
    np.testing.assert_allclose(decayed_LC, expected_LC, rtol=1e-5, atol=1e-7)


def test_rpe_kernel_varies_with_lag_at_init():
    # Lag 0 is nonzero and positive lags differ from each other before any training.
    kernel_LC = np.asarray(mixer_kernel(make_tno(decay=1.0), 10))
    assert np.all(kernel_LC[9] != 0.0)
    positive_LC = kernel_LC[10:]
    assert np.all(np.abs(np.diff(positive_LC, axis=0)) > 1e-6)


# Causality.


def test_causal_dense_matrix_is_lower_triangular():
    matrix_CNN = np.asarray(mixer_dense(make_tno(causal=True), 16))
    upper = np.triu(np.ones((16, 16), bool), k=1)
    assert np.all(matrix_CNN[:, upper] == 0.0)
    assert np.all(matrix_CNN[:, ~upper] != 0.0)


@pytest.mark.parametrize("rule", ["pow2", "fast"])
def test_causal_output_ignores_future_inputs(rule):
    n, cut = 64, 30
    mixer = make_tno(causal=True, fft_size=rule)
    rng = np.random.default_rng(0)
    x_BNC = rng.standard_normal((2, n, CHANNELS))
    changed_BNC = x_BNC.copy()
    changed_BNC[:, cut + 1 :] = 100.0 * rng.standard_normal((2, n - cut - 1, CHANNELS))
    y_BNC = np.asarray(apply_mixer(mixer, jnp.asarray(x_BNC, jnp.float32)))
    y_changed_BNC = np.asarray(apply_mixer(mixer, jnp.asarray(changed_BNC, jnp.float32)))
    # Round-off of the FFT leaks about eps * max|y| * log n into earlier positions.
    scale = max(np.abs(y_BNC).max(), np.abs(y_changed_BNC).max())
    np.testing.assert_allclose(y_changed_BNC[:, : cut + 1], y_BNC[:, : cut + 1], atol=1e-5 * scale)
    assert not np.allclose(y_changed_BNC[:, cut + 1 :], y_BNC[:, cut + 1 :])


# Padding.


@pytest.mark.parametrize("causal", [False, True])
def test_padding_does_not_change_valid_outputs(causal):
    valid = 50
    mixer = make_tno(causal=causal, decay=0.95)
    rng = np.random.default_rng(0)
    content_BNC = rng.standard_normal((2, valid, CHANNELS))
    outputs = []
    for total in (valid, 64, 100):
        padding = 100.0 * rng.standard_normal((2, total - valid, CHANNELS))
        x_BNC = jnp.asarray(np.concatenate([content_BNC, padding], axis=1), jnp.float32)
        mask_BN = jnp.arange(total)[None, :] < valid
        mask_BN = jnp.broadcast_to(mask_BN, (2, total))
        outputs.append(np.asarray(apply_mixer(mixer, x_BNC, mask_BN))[:, :valid])
    scale = np.abs(outputs[0]).max()
    for y_BNC in outputs[1:]:
        np.testing.assert_allclose(y_BNC, outputs[0], atol=1e-5 * scale)


def test_padding_changes_outputs_without_mask():
    # Shows that the masked test above can fail: unmasked padding does reach valid positions.
    mixer = make_tno()
    rng = np.random.default_rng(0)
    x_BNC = rng.standard_normal((1, 64, CHANNELS))
    padded_BNC = x_BNC.copy()
    padded_BNC[:, 50:] = 100.0
    y_BNC = np.asarray(apply_mixer(mixer, jnp.asarray(x_BNC, jnp.float32)))
    y_padded_BNC = np.asarray(apply_mixer(mixer, jnp.asarray(padded_BNC, jnp.float32)))
    assert not np.allclose(y_BNC[:, :50], y_padded_BNC[:, :50])


def test_mixer_rejects_mismatched_mask():
    mixer = make_tno()
    with pytest.raises(ValueError, match="mask_BN has shape"):
        mixer(jnp.ones((2, 8, 4)), jnp.ones((2, 9), bool))
    with pytest.raises(ValueError, match="expected \\(..., N, 4\\)"):
        mixer(jnp.ones((2, 8, 3)))


# Lag truncation.


@pytest.mark.parametrize("causal", [False, True])
def test_max_lag_zeroes_far_lags(causal):
    n, max_lag = 20, 5
    full_LC = np.asarray(mixer_kernel(make_tno(causal=causal), n))
    truncated_LC = np.asarray(mixer_kernel(make_tno(causal=causal, max_lag=max_lag), n))
    lags = np.arange(n) if causal else np.arange(-(n - 1), n)
    far = np.abs(lags) > max_lag
    assert np.all(truncated_LC[far] == 0.0)
    assert np.all(full_LC[far] != 0.0)
    np.testing.assert_allclose(truncated_LC[~far], full_LC[~far], rtol=1e-5, atol=1e-6)


def test_max_lag_beyond_length_keeps_every_lag():
    full_LC = np.asarray(mixer_kernel(make_tno(), 12))
    long_lag_LC = np.asarray(mixer_kernel(make_tno(max_lag=1023), 12))
    np.testing.assert_allclose(long_lag_LC, full_LC, rtol=1e-6)


# Decay.


def test_fixed_decay_factor():
    lags = jnp.arange(-4, 5)
    factor_LC = np.asarray(ExponentialDecay(3, 0.5, learn=False)(lags))
    expected_L = 0.5 ** np.abs(np.arange(-4, 5))
    np.testing.assert_allclose(factor_LC, np.repeat(expected_L[:, None], 3, axis=1), rtol=1e-6)


def test_learned_decay_stays_in_unit_interval():
    decay = ExponentialDecay(3, 1.0, learn=True)
    lags = jnp.arange(0, 6)
    grads = nnx.grad(lambda module: jnp.sum(module(lags)))(decay)
    assert np.all(np.asarray(grads["decay_C"][...]) != 0.0)
    decay.decay_C[...] = jnp.array([1.5, 0.5, -1.0])
    factor_LC = np.asarray(decay(lags))
    np.testing.assert_allclose(factor_LC[:, 0], 1.0)
    np.testing.assert_allclose(factor_LC[:, 1], 0.5 ** np.arange(6), rtol=1e-6)
    np.testing.assert_allclose(factor_LC[:, 2], MIN_LEARNED_DECAY ** np.arange(6), rtol=1e-5)


# bfloat16.


def fft_operand_dtypes(fn, *args):
    """Return the dtypes of every operand of every FFT in the traced computation of fn."""
    dtypes = set()

    def visit(jaxpr):
        for eqn in jaxpr.eqns:
            if eqn.primitive.name == "fft":
                dtypes.update(str(var.aval.dtype) for var in eqn.invars)
            # FFTs inside jnp.fft are wrapped in nested jitted computations.
            for value in eqn.params.values():
                for sub in value if isinstance(value, (tuple, list)) else (value,):
                    if isinstance(sub, jax.extend.core.ClosedJaxpr):
                        visit(sub.jaxpr)
                    elif isinstance(sub, jax.extend.core.Jaxpr):
                        visit(sub)

    visit(jax.make_jaxpr(fn)(*args).jaxpr)
    return dtypes


def test_bfloat16_input_runs_fft_in_float32():
    rng = np.random.default_rng(0)
    n = 100
    kernel_LC = jnp.asarray(rng.standard_normal((2 * n - 1, 4)), jnp.float32)
    x_BNC = jnp.asarray(rng.standard_normal((2, n, 4)), jnp.bfloat16)

    dtypes = fft_operand_dtypes(lambda x: toeplitz_fft(x, kernel_LC, False), x_BNC)
    assert dtypes and dtypes <= {"float32", "complex64"}, dtypes

    y_BNC = toeplitz_fft(x_BNC, kernel_LC, False)
    assert y_BNC.dtype == jnp.bfloat16
    y_np = np.asarray(y_BNC.astype(jnp.float32))
    assert np.all(np.isfinite(y_np))
    # Same bfloat16 inputs in float32: the only difference is rounding the output to bfloat16.
    y32 = np.asarray(toeplitz_fft(x_BNC.astype(jnp.float32), kernel_LC, False))
    np.testing.assert_allclose(y_np, y32, rtol=2.0**-8, atol=1e-6 * np.abs(y32).max())


def test_tno_bfloat16_close_to_float32():
    mixer = make_tno(decay=0.9)
    x_BNC = jnp.asarray(np.random.default_rng(0).standard_normal((2, 100, CHANNELS)), jnp.float32)
    y32 = np.asarray(apply_mixer(mixer, x_BNC))
    y16_BNC = apply_mixer(mixer, x_BNC.astype(jnp.bfloat16))
    assert y16_BNC.dtype == jnp.bfloat16
    y16 = np.asarray(y16_BNC.astype(jnp.float32))
    assert np.all(np.isfinite(y16))
    # bfloat16 keeps 8 significant bits, so inputs and outputs each carry about 2^-9 error.
    assert relative_error(y16, y32) < 2e-2
