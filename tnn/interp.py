"""Interpolated Toeplitz mixer: the kernel sampled at r lags, interpolated to every lag, by FFT.

Moreno, Mei, Walters, "SKI to go Faster: Accelerating Toeplitz Neural Networks via Asymmetric
Kernels", 2023 (arXiv 2305.09028), the causal use of SKI ideas. Per channel, with inducing lags
u_m = m h, h = (L - 1) / (r - 1), m = 0..r-1 on the grid [0, L - 1]:

    a(k)  = lambda^|k| * sum_m W[|k|, m] f(sign(k) u_m) + t(k),

where f is the RPE MLP (or the warped-linear function of `tnn.ski`) evaluated at the r
nonnegative lags (and the r negative ones when bidirectional), W is the linear interpolation
matrix of `tnn.ski` (lag |k| plays the role of the position), lambda the decay, and t the
sparse taps on the first lags: lags -(k-1)/2..(k-1)/2 when bidirectional, 0..(k-1)/2 when
causal (a(k) = 0 for k < 0). The product is the FFT product of `tnn.toeplitz`: O(n log n)
like the baseline, but only O(r) RPE evaluations. Causal masking keeps the kernel Toeplitz, so
this is the causal fast path (SKI's W A W^T is bidirectional only).

Grid: as in `tnn.ski`, L = MixerConfig.max_length (n when None) fixes the inducing lags, so the
kernel at lags below n does not depend on n and outputs at valid positions do not depend on
padding. Inputs longer than L raise.

Shape letters: B batch, N length, C channels, R inducing lags, L lags, K taps.

Deliberate differences from the released SKI-TNN code: the decay lambda comes from
MixerConfig.decay (the release uses a fixed gamma of 0.999), and taps start from
U(-1/sqrt(k), 1/sqrt(k)) instead of a standard normal (see `tnn.sparse`).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from flax import nnx

from tnn import toeplitz
from tnn.config import MixerConfig
from tnn.ski import InducingKernel, check_input, grid_length, interpolate, interpolation_plan
from tnn.sparse import banded_kernel, init_taps


class InterpTNO(nnx.Module):
    """Toeplitz mixer with an interpolated kernel plus sparse taps (see the module docstring)."""

    supports_causal = True

    def __init__(
        self, cfg: MixerConfig, channels: int, *, rngs: nnx.Rngs, param_dtype=jnp.float32
    ):
        self.cfg = cfg
        self.channels = channels
        self.inducing_kernel = InducingKernel(cfg, channels, rngs=rngs, param_dtype=param_dtype)
        num_taps = cfg.num_taps // 2 + 1 if cfg.causal else cfg.num_taps
        self.taps_KC = nnx.Param(init_taps(rngs.params(), num_taps, channels, param_dtype))

    def kernel(self, n: int):
        """Evaluate kernel_LC: a(k) for k = -(n-1)..(n-1), or k = 0..n-1 when causal."""
        length = grid_length(self.cfg, n, "InterpTNO.kernel")
        plan = interpolation_plan(n, length, self.cfg.num_inducing)
        inducing_lags_R = np.arange(plan.num_points) * plan.spacing
        lag_function = self.inducing_kernel.lag_function
        positive_NC = interpolate(lag_function(inducing_lags_R), plan)
        taps_KC = self.taps_KC[...].astype(positive_NC.dtype)
        if self.cfg.causal:
            lags_L = np.arange(n)
            kernel_LC = positive_NC * self.inducing_kernel.decay(lags_L)
            kept = min(taps_KC.shape[0], n)
            return kernel_LC.at[:kept].add(taps_KC[:kept])
        negative_NC = interpolate(lag_function(-inducing_lags_R), plan)
        lags_L = np.arange(-(n - 1), n)
        # Lags -(n-1)..-1 come from the negative side reversed, lags 0..n-1 from the positive.
        values_LC = jnp.concatenate([negative_NC[:0:-1], positive_NC], axis=0)
        kernel_LC = values_LC * self.inducing_kernel.decay(lags_L)
        return kernel_LC + banded_kernel(taps_KC, n)

    def __call__(self, x_BNC, mask_BN=None, *, groups: int = 1):
        check_input(x_BNC, self.channels, "InterpTNO", groups)
        x_BNC = toeplitz.mask_inputs(x_BNC, mask_BN)
        n = x_BNC.shape[-2]
        return toeplitz.toeplitz_fft(
            x_BNC, self.kernel(n), self.cfg.causal, self.cfg.fft_size, groups=groups
        )

    def dense_matrix(self, n: int):
        """Build T_CNN with T[c, i, j] = a_c(i - j) from `kernel(n)`."""
        return toeplitz.dense_toeplitz(self.kernel(n), n)
