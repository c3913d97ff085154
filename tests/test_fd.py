"""The frequency-domain mixer: FFT size from the grid, the real bins of the bidirectional
response, and the Hilbert construction of the causal response."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tnn import MixerConfig, make_mixer
from tnn.fd import fd_fft_length

from test_mixers import random_input

response = nnx.jit(lambda mixer, n: mixer.response(n), static_argnums=1)


def fd_mixer(causal, param_dtype=jnp.float32, **overrides):
    options = dict(kind="fd", causal=causal, rpe_dim=8, rpe_layers=1, max_length=40)
    options.update(overrides)
    return make_mixer(MixerConfig(**options), 3, rngs=nnx.Rngs(0), param_dtype=param_dtype)


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


@pytest.mark.parametrize("length", [1, 7, 40, 1000, 1024])
def test_fft_length_rules(length):
    for rule in ("pow2", "fast"):
        size = fd_fft_length(length, rule)
        assert size % 2 == 0, (rule, size)
        assert size >= 2 * length, (rule, size)
    assert fd_fft_length(length, "pow2") & (fd_fft_length(length, "pow2") - 1) == 0
    assert fd_fft_length(1000, "fast") == 2000
    with pytest.raises(ValueError, match="rule='next'"):
        fd_fft_length(length, "next")


def test_fft_length_comes_from_max_length():
    mixer = fd_mixer(False, max_length=40)
    assert {mixer.fft_length(n) for n in (1, 17, 40)} == {128}
    unbounded = fd_mixer(False, max_length=None)
    assert unbounded.fft_length(17) == 64


def test_bidirectional_response_is_real_at_dc_and_nyquist():
    spectrum_FC, fft_len = response(fd_mixer(False), 40)
    spectrum_FC = np.asarray(spectrum_FC)
    assert spectrum_FC.shape == (fft_len // 2 + 1, 3)
    np.testing.assert_array_equal(spectrum_FC[0].imag, 0.0)
    np.testing.assert_array_equal(spectrum_FC[-1].imag, 0.0)
    assert np.all(spectrum_FC[1:-1].imag != 0.0)


def test_bidirectional_response_comes_from_2c_rpe_outputs():
    mixer = fd_mixer(False)
    spectrum_FC, fft_len = response(mixer, 40)
    half = fft_len // 2
    out_F2C = np.asarray(mixer.rpe(np.pi * np.arange(half + 1) / half))
    # The jitted and the eager RPE round differently in float32.
    np.testing.assert_allclose(np.asarray(spectrum_FC).real, out_F2C[:, :3], atol=1e-6)
    np.testing.assert_allclose(np.asarray(spectrum_FC)[1:-1].imag, out_F2C[1:-1, 3:], atol=1e-6)


def real_FC_full(real_FC, fft_len):
    """Extend the rfft bins of a real, even spectrum to all N bins."""
    half = fft_len // 2
    return np.concatenate([real_FC, real_FC[1:half][::-1]], axis=0)


def test_causal_response_is_hilbert_pair(x64):
    mixer = fd_mixer(True, param_dtype=jnp.float64)
    spectrum_FC, fft_len = response(mixer, 40)
    spectrum_FC = np.asarray(spectrum_FC)
    half = fft_len // 2
    real_FC = np.asarray(mixer.rpe(np.pi * np.arange(half + 1) / half))
    # Re K is the RPE output R, because the folded kernel has the even part h_e.
    np.testing.assert_allclose(spectrum_FC.real, real_FC, rtol=1e-10, atol=1e-12)
    # Im K = -Hilbert(R): with the analytic signal of the even kernel h_e, computed here with
    # numpy's full complex FFT as a separate reference.
    even_NC = np.fft.irfft(real_FC, n=fft_len, axis=0)
    sign_N = np.zeros(fft_len)
    sign_N[1:half] = 1.0
    sign_N[half + 1 :] = -1.0
    hilbert_NC = np.fft.ifft(-1j * sign_N[:, None] * np.fft.fft(real_FC_full(real_FC, fft_len),
                                                                  axis=0), axis=0)
    np.testing.assert_allclose(spectrum_FC.imag, -hilbert_NC.real[: half + 1], atol=1e-10)
    assert np.allclose(even_NC[1:half], even_NC[-1:half:-1])


def test_causal_kernel_support(x64):
    mixer = fd_mixer(True, param_dtype=jnp.float64)
    spectrum_FC, fft_len = response(mixer, 40)
    impulse_NC = np.fft.irfft(np.asarray(spectrum_FC), n=fft_len, axis=0)
    half = fft_len // 2
    np.testing.assert_allclose(impulse_NC[half + 1 :], 0.0, atol=1e-12)
    assert np.all(impulse_NC[:half] != 0.0)


def test_causal_fd_leaks_only_round_off():
    mixer = fd_mixer(True)
    x_BNC = np.asarray(random_input((2, 40, 3)))
    changed_BNC = x_BNC.copy()
    changed_BNC[:, 20:] += 1e3
    run = nnx.jit(lambda m, x: m(x))
    y = np.asarray(run(mixer, jnp.asarray(x_BNC)))
    y_changed = np.asarray(run(mixer, jnp.asarray(changed_BNC)))
    leak = np.abs(y_changed[:, :20] - y[:, :20]).max()
    # float32 round-off of an FFT of length 128 on values of about 1e3 * max|h|.
    assert leak < 1e-5 * np.abs(y_changed).max()
