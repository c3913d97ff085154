"""Frequency-domain Toeplitz mixer (FD-TNN): the RPE outputs the kernel's frequency response.

Moreno, Mei, Walters, "SKI to go Faster: Accelerating Toeplitz Neural Networks via Asymmetric
Kernels", 2023 (arXiv 2305.09028), section "frequency domain". The RPE MLP of `tnn.rpe` takes
the angular frequency omega_m = pi m / (N/2), m = 0..N/2, and returns the response K directly,
with no decay bias (a smooth response already gives a decaying impulse response):

- bidirectional: the RPE returns 2C values, K = Re + i Im, with Im set to 0 at m = 0 (DC) and
  m = N/2 (Nyquist), the bins where the response of a real kernel is real.
  y = irfft(K * rfft(x, N), N)[:n]: two FFTs of the batch instead of the baseline's three.
  The implied kernel is a(k) = h[k mod N] with h = irfft(K, N).
- causal: the RPE returns R = Re K (C values). With h_e = irfft(R, N) (even in k), keep
  h[0] = h_e[0], h[k] = 2 h_e[k] for 0 < k < N/2, h[N/2] = h_e[N/2] and zero the rest, then
  K = rfft(h, N). This gives Im K = -Hilbert(Re K), and the kernel is supported on lags
  0..N/2 with N/2 >= n, so the product is causal up to round-off. These kernel transforms act
  on (F, C) arrays and do not depend on the batch.

Grid: N >= 2L is even and comes from L = MixerConfig.max_length (n when None) and the
MixerConfig.fft_size rule ("pow2": the next power of two >= 2L, "fast": 2 x the next 2^a 3^b
5^c >= L), so that outputs at valid positions do not depend on padding. N >= 2n - 1 also means
no lag aliases onto another. Inputs longer than L raise.

Shape letters: B batch, N sequence length in x_BNC and FFT length in kernel_NC and even_NC,
C channels, F frequency bins (N/2 + 1), L lags of `kernel`.

Compared with the released FD-TNN code:
- Bidirectional: the same. The release also zeroes Im K at DC and at Nyquist, and also feeds
  the RPE the N/2 + 1 frequencies evenly spaced on [0, pi].
- Causal, deliberately different at the Nyquist tap: the release keeps h[0..N/2], halves
  h[0] and doubles everything, so h[N/2] is doubled too. Its Re K then differs from the RPE
  output R by h_e[N/2] (-1)^m. We keep h[N/2] undoubled, so Re K equals R exactly (tested).
- FFT size, deliberately different: the release takes the next power of two >= 2n from each
  input's length n; we take N from the grid length L (see "Grid"), so that padding does not
  change the response.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
from flax import nnx

from tnn import toeplitz
from tnn.config import MixerConfig
from tnn.rpe import RPE
from tnn.ski import check_input, grid_length
from tnn.toeplitz import _next_5_smooth


def fd_fft_length(length: int, rule: str) -> int:
    """Return the even FFT length N >= 2L of the FD mixer for grid length L."""
    if rule == "pow2":
        return toeplitz.fft_length(length, "pow2")
    if rule == "fast":
        return 2 * _next_5_smooth(length)
    raise ValueError(
        f"fd_fft_length: rule={rule!r} is invalid. Allowed: {', '.join(toeplitz.FFT_SIZE_RULES)}."
    )


class FDTNO(nnx.Module):
    """Toeplitz mixer whose RPE outputs the frequency response (see the module docstring)."""

    supports_causal = True

    def __init__(
        self, cfg: MixerConfig, channels: int, *, rngs: nnx.Rngs, param_dtype=jnp.float32
    ):
        self.cfg = cfg
        self.channels = channels
        self.rpe = RPE(
            channels if cfg.causal else 2 * channels,
            hidden=cfg.rpe_dim,
            num_layers=cfg.rpe_layers,
            norm=cfg.rpe_norm,
            rngs=rngs,
            param_dtype=param_dtype,
        )

    def fft_length(self, n: int) -> int:
        """Return the FFT length N used for inputs of n positions."""
        return fd_fft_length(grid_length(self.cfg, n, "FDTNO"), self.cfg.fft_size)

    def response(self, n: int):
        """Compute (spectrum_FC, N): the complex response K at the F = N/2 + 1 rfft bins."""
        fft_len = self.fft_length(n)
        half = fft_len // 2
        omega_F = math.pi * np.arange(half + 1) / half
        out_FC = self.rpe(omega_F)
        if self.cfg.causal:
            even_NC = jnp.fft.irfft(out_FC, n=fft_len, axis=0)
            kernel_NC = jnp.concatenate(
                [
                    even_NC[:1],
                    2.0 * even_NC[1:half],
                    even_NC[half : half + 1],
                    jnp.zeros((half - 1, self.channels), even_NC.dtype),
                ],
                axis=0,
            )
            return jnp.fft.rfft(kernel_NC, n=fft_len, axis=0), fft_len
        real_FC = out_FC[:, : self.channels]
        imag_FC = out_FC[:, self.channels :].at[jnp.array([0, half])].set(0.0)
        return real_FC + 1j * imag_FC, fft_len

    def kernel(self, n: int):
        """Evaluate kernel_LC: a(k) = h[k mod N] for k = -(n-1)..(n-1), or k = 0..n-1 when
        causal, with h = irfft(K, N)."""
        spectrum_FC, fft_len = self.response(n)
        impulse_NC = jnp.fft.irfft(spectrum_FC, n=fft_len, axis=0)
        if self.cfg.causal:
            return impulse_NC[:n]
        return impulse_NC[np.arange(-(n - 1), n) % fft_len]

    def __call__(self, x_BNC, mask_BN=None, *, groups: int = 1):
        check_input(x_BNC, self.channels, "FDTNO", groups)
        x_BNC = toeplitz.mask_inputs(x_BNC, mask_BN)
        spectrum_FC, fft_len = self.response(x_BNC.shape[-2])
        return toeplitz.apply_spectrum(x_BNC, toeplitz.tile_groups(spectrum_FC, groups), fft_len)

    def dense_matrix(self, n: int):
        """Build T_CNN with T[c, i, j] = a_c(i - j) from `kernel(n)`."""
        return toeplitz.dense_toeplitz(self.kernel(n), n)
