"""Baseline Toeplitz neural operator (TNO): RPE MLP kernel with exponential decay, by FFT.

Qin et al., "Toeplitz Neural Network for Sequence Modeling", ICLR 2023. Each channel c mixes
tokens with a Toeplitz matrix T_c[i, j] = a_c(i - j), where

    a(0) = RPE(0),    a(k) = lambda^|k| * RPE(k)  for k != 0,

over lags k = -(n-1)..(n-1), or k = 0..n-1 when causal (a(k) = 0 for k < 0). The product
y = T x uses the circulant embedding and FFT of `tnn.toeplitz.toeplitz_fft`.

Every mixer kind shares this interface:
    __call__(x_BNC, mask_BN=None, *, groups=1) -> y_BNC
        mask True = valid, inputs zeroed first. With groups = G, x's last axis contains G * C
        values: G groups of the C channels side by side, each group mixed with the same
        kernels (`tnn.mixer2d` passes an image's columns this way, without a transpose).
    kernel(n) -> kernel_LC                   (L = 2n - 1, or n when causal)
    dense_matrix(n) -> T_CNN                 (the same operator as a dense matrix, for tests)

Shape letters: B batch, N length, C channels, L lags.

Deliberate differences from the released TNN code:
- The RPE is evaluated at every lag by default. The released LRA code evaluates it only for
  |k| <= 1023 and uses zero beyond. Set MixerConfig.max_lag=1023 to reproduce that.
- Inputs at padded positions are zeroed before the product, so outputs at valid positions
  do not depend on how much padding follows.
"""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from tnn import toeplitz
from tnn.config import MixerConfig
from tnn.rpe import RPE, ExponentialDecay
from tnn.toeplitz import check_input


class TNO(nnx.Module):
    """Toeplitz mixer whose kernel is lambda^|k| * RPE(k) (see the module docstring)."""

    supports_causal = True

    def __init__(
        self, cfg: MixerConfig, channels: int, *, rngs: nnx.Rngs, param_dtype=jnp.float32
    ):
        self.cfg = cfg
        self.channels = channels
        self.rpe = RPE(
            channels,
            hidden=cfg.rpe_dim,
            num_layers=cfg.rpe_layers,
            norm=cfg.rpe_norm,
            rngs=rngs,
            param_dtype=param_dtype,
        )
        self.decay = ExponentialDecay(
            channels, cfg.decay, cfg.learn_decay, param_dtype=param_dtype
        )

    def kernel(self, n: int):
        """Evaluate kernel_LC: a(k) for k = -(n-1)..(n-1), or k = 0..n-1 when causal.

        With MixerConfig.max_lag set, the RPE runs only for |k| <= max_lag and a(k) = 0
        beyond.
        """
        if n < 1:
            raise ValueError(f"TNO.kernel: sequence length n={n} is invalid. It must be >= 1.")
        if self.cfg.max_length is not None and n > self.cfg.max_length:
            raise ValueError(
                f"TNO.kernel: input length n={n} exceeds MixerConfig.max_length="
                f"{self.cfg.max_length}. Raise max_length or crop the inputs."
            )
        max_lag = n - 1 if self.cfg.max_lag is None else min(n - 1, self.cfg.max_lag)
        zeros = n - 1 - max_lag
        if self.cfg.causal:
            lags_L = jnp.arange(0, max_lag + 1)
            pad = (0, zeros)
        else:
            lags_L = jnp.arange(-max_lag, max_lag + 1)
            pad = (zeros, zeros)
        # The decay factor is exactly 1 at lag 0, so a(0) = RPE(0) needs no special case.
        values_LC = self.rpe(lags_L) * self.decay(lags_L)
        return jnp.pad(values_LC, (pad, (0, 0)))

    def __call__(self, x_BNC, mask_BN=None, *, groups: int = 1):
        check_input(x_BNC, self.channels, "TNO", groups)
        x_BNC = toeplitz.mask_inputs(x_BNC, mask_BN)
        n = x_BNC.shape[-2]
        return toeplitz.toeplitz_fft(
            x_BNC, self.kernel(n), self.cfg.causal, self.cfg.fft_size, groups=groups
        )

    def dense_matrix(self, n: int):
        """Build T_CNN with T[c, i, j] = a_c(i - j) from `kernel(n)`."""
        return toeplitz.dense_toeplitz(self.kernel(n), n)
