"""Sparse plus low-rank Toeplitz mixer (the bidirectional SKI-TNN), and its banded product.

Moreno, Mei, Walters, "SKI to go Faster: Accelerating Toeplitz Neural Networks via Asymmetric
Kernels", 2023 (arXiv 2305.09028), section "sparse plus low-rank": per channel

    T = S + W A W^T,    S[i, j] = t_c(i - j) for |i - j| <= (k - 1) / 2, else 0,

where S is a depthwise convolution with k learned taps centred on the diagonal (k = 33 in 1D
and 17 per axis in 2D in the reference scripts) and W A W^T is the SKI low-rank part of
`tnn.ski` (r = 64 in 1D, 32 per axis in 2D). Cost: O(n (k + 4)) per channel plus the r x r
inducing product, with no FFT of length n.

The banded product (`banded_conv`) has a custom VJP, because differentiating the shifted sum
directly computes the tap gradient as k separate reductions over the batch and the sequence,
which is slow on CPU:
- forward: y[i] = sum_t taps[t] x[i - (t - h)], h = (k - 1) / 2, one fused pass over x.
- input gradient: the same shifted sum of the output gradient g with the taps reversed.
- tap gradient: dtaps[t] = sum_i g[i] x[i - (t - h)]. The sequence is cut into blocks of
  b = max(k - 1, 8) positions; block q of g meets the window of b + k - 1 positions of x around it in
  one batched matmul per channel (contracting over batch and blocks), and the k tap
  gradients are sums along diagonals of the resulting (b, b + k - 1) matrix. The matmul
  batches over channels, so x and g are first copied channels-first. A loop over chunks of
  rows of about 1 MiB keeps those copies small and in cache. Longer rows of one group are cut
  into segments, and the products across each cut are added back (`_cut_correction`).

Shape letters: B batch (any number of leading axes), N length, C channels, K taps, M rows
(flattened leading axes, or rows times blocks), T = G * C values of G groups of channels.

Deliberate differences from the released SKI-TNN code:
- Taps start from U(-1/sqrt(k), 1/sqrt(k)) (PyTorch's Conv1d default) instead of a standard
  normal, so the sparse part starts at the scale of the low-rank part.
- The differences of the low-rank part listed in `tnn.ski` (interpolation weights, fall-off).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from tnn import toeplitz
from tnn.config import MixerConfig
from tnn.ski import SKI, check_input


def shifted_sum(x_MNT, taps_KC):
    """Compute y[:, i] = sum_t taps[t] x[:, i - (t - h)], zeros outside [0, n), h = (K - 1) / 2.

    x's last axis contains T = G * C values, G groups of the C channels of taps_KC. This is the
    forward pass of `banded_conv`. Plain autodiff through it is correct but slow.

    Long sequences of one group: the outputs i in [h, n - h) read only x inside [0, n), and
    XLA fuses their K shifted slices of x into one pass that writes straight into the output.
    The h outputs at each end come from a zero-padded copy of 2h positions. Measured on CPU
    (jax 0.10.2) at B = 8, n = 16384, C = 64, K = 33, this takes 8 ms, against 29 ms for
    padding all of x first (XLA does not fuse that pad), and the sparse_ski forward+backward
    needs 137 instead of 201 MiB. Otherwise x is padded first: for several groups (the column
    pass of `tnn.mixer2d`) the split form made the 2D step twice as slow, and for short
    sequences most outputs are at the ends.
    """
    num_taps = taps_KC.shape[0]
    half = num_taps // 2
    n = x_MNT.shape[1]
    groups = x_MNT.shape[-1] // taps_KC.shape[-1]
    taps_KT = toeplitz.tile_groups(taps_KC, groups)
    if groups > 1 or n < 16 * num_taps:
        return _shifted_sum_padded(x_MNT, taps_KT)
    inner_MNT = None
    for t in range(num_taps):
        start = 2 * half - t
        term = taps_KT[t] * jax.lax.slice_in_dim(x_MNT, start, start + n - 2 * half, axis=1)
        inner_MNT = term if inner_MNT is None else inner_MNT + term
    left_MNT = _shifted_sum_padded(x_MNT[:, : 2 * half], taps_KT)[:, :half]
    right_MNT = _shifted_sum_padded(x_MNT[:, n - 2 * half :], taps_KT)[:, half:]
    return jnp.concatenate([left_MNT, inner_MNT, right_MNT], axis=1)


def _shifted_sum_padded(x_MNT, taps_KT):
    """`shifted_sum` on x padded with h zeros at both ends, for taps already tiled to T."""
    num_taps = taps_KT.shape[0]
    half = num_taps // 2
    n = x_MNT.shape[1]
    padded_MNT = jnp.pad(x_MNT, ((0, 0), (half, half), (0, 0)))
    y_MNT = jnp.zeros_like(x_MNT)
    for t in range(num_taps):
        start = 2 * half - t
        y_MNT = y_MNT + taps_KT[t] * jax.lax.slice_in_dim(padded_MNT, start, start + n, axis=1)
    return y_MNT


# Elements (rows x length x channels) of x per step of the tap gradient's loop: 1 MiB of
# float32. At n = 16384 one row is already 4 MiB, so each step takes one row. Measured on CPU
# (jax 0.10.2, B = 8, n = 16384, C = 64): steps of 1 to 4 MiB took about 44 ms, 8 MiB 54 ms,
# and one pass over all rows 87 ms.
TAP_GRADIENT_CHUNK = 1 << 18


def _tap_gradient(x_MNT, g_MNT, num_taps: int, channels: int):
    """dtaps[t, c] = sum_{m, i} g[m, i, c] x[m, i - (t - h), c], a few rows at a time.

    The rows are independent, so the sum runs in a loop over chunks of rows that each hold
    about TAP_GRADIENT_CHUNK elements. Rows longer than that are first cut into segments (see
    `_cut_correction`). The temporaries then have the size of one chunk, not of x. Measured on CPU (jax 0.10.2) at B = 8, C = 64, 33 taps, this loop
    is about 2x faster than one pass over all rows at n = 16384 and needs an eighth of the
    temporary memory; on 2D axes of 64 positions it is about 3x faster.
    """
    rows, n, width = x_MNT.shape
    # Only rows of one group are cut: on the 2D column pass (many groups, short rows) cutting
    # measured 30 % more memory for the whole 2D step at 128 x 128.
    segments = _row_segments(n, width, num_taps) if width == channels else 1
    if segments > 1:
        # Rows longer than a chunk are cut into segments that become rows of their own. The
        # products that cross a cut are added back from windows around the cuts.
        length = n // segments
        inner_KC = _tap_gradient(
            x_MNT.reshape(rows * segments, length, width),
            g_MNT.reshape(rows * segments, length, width),
            num_taps,
            channels,
        )
        return inner_KC + _cut_correction(x_MNT, g_MNT, segments, num_taps)
    chunk = max(1, min(rows, TAP_GRADIENT_CHUNK // (n * width)))
    steps, tail = divmod(rows, chunk)

    def chunk_gradient(x_chunk, g_chunk):
        # Groups of channels become rows: (m, n, G, C) -> (m G, n, C), a transpose of one chunk.
        return _tap_gradient_rows(_groups_to_rows(x_chunk, channels),
                                  _groups_to_rows(g_chunk, channels), num_taps)

    if steps <= 1:
        return chunk_gradient(x_MNT, g_MNT)

    def add_chunk(step, total_KC):
        x_chunk = jax.lax.dynamic_slice_in_dim(x_MNT, step * chunk, chunk, axis=0)
        g_chunk = jax.lax.dynamic_slice_in_dim(g_MNT, step * chunk, chunk, axis=0)
        return total_KC + chunk_gradient(x_chunk, g_chunk)

    total_KC = jax.lax.fori_loop(
        0, steps, add_chunk, jnp.zeros((num_taps, channels), x_MNT.dtype)
    )
    if tail:
        total_KC = total_KC + chunk_gradient(x_MNT[steps * chunk :], g_MNT[steps * chunk :])
    return total_KC


def _row_segments(n: int, width: int, num_taps: int) -> int:
    """Return S, the number of equal segments to cut rows of n positions into (1: none).

    S is the smallest power of two that brings a segment to at most TAP_GRADIENT_CHUNK
    elements, if it divides n and leaves segments of at least K - 1 positions.
    """
    segments = 1
    while (n // segments) * width > TAP_GRADIENT_CHUNK:
        segments *= 2
    if segments == 1 or n % segments or n // segments < num_taps - 1:
        return 1
    return segments


def _cut_correction(x_MNC, g_MNC, segments: int, num_taps: int):
    """Return the tap-gradient products whose two positions lie on opposite sides of a cut.

    Around each cut, W is the window of h positions on each side. Every crossing pair lies in
    W, so the tap gradient of W minus those of its two halves (each with zeros outside)
    leaves exactly the crossing pairs.
    """
    rows, n, channels = x_MNC.shape
    half = num_taps // 2
    length = n // segments

    def windows(a_MNC):
        a_MSLC = a_MNC.reshape(rows, segments, length, channels)
        left = a_MSLC[:, :-1, length - half :].reshape(-1, half, channels)
        right = a_MSLC[:, 1:, :half].reshape(-1, half, channels)
        return jnp.concatenate([left, right], axis=1), left, right

    (x_both, x_left, x_right), (g_both, g_left, g_right) = windows(x_MNC), windows(g_MNC)
    return (
        _tap_gradient_rows(x_both, g_both, num_taps)
        - _tap_gradient_rows(x_left, g_left, num_taps)
        - _tap_gradient_rows(x_right, g_right, num_taps)
    )


def _groups_to_rows(x_MNT, channels: int):
    """Reshape (M, n, G * C) to (M * G, n, C), one row per group."""
    rows, n, width = x_MNT.shape
    if width == channels:
        return x_MNT
    x_MNGC = x_MNT.reshape(rows, n, width // channels, channels)
    return jnp.transpose(x_MNGC, (0, 2, 1, 3)).reshape(-1, n, channels)


def _tap_gradient_rows(x_MNC, g_MNC, num_taps: int):
    """dtaps[t, c] = sum_{m, i} g[m, i, c] x[m, i - (t - h), c], by blocked batched matmul."""
    rows, n, channels = x_MNC.shape
    half = num_taps // 2
    block = max(num_taps - 1, 8)
    num_blocks = -(-n // block)
    window = block + num_taps - 1
    # Channels go first so that the matmul batches over them (batch axes must be major).
    g_CMN = jnp.transpose(g_MNC, (2, 0, 1))
    g_CMN = jnp.pad(g_CMN, ((0, 0), (0, 0), (0, num_blocks * block - n)))
    g_CQU = g_CMN.reshape(channels, rows * num_blocks, block)
    x_CMN = jnp.transpose(x_MNC, (2, 0, 1))
    # Window p contains x at positions p b - h .. p b + b + h - 1: blocks p and p + 1 of x shifted
    # right by h. Measured on CPU with jax 0.10, this is faster than building the windows
    # from unshifted blocks and than three matmuls on block-aligned slices.
    x_CMN = jnp.pad(x_CMN, ((0, 0), (0, 0), (half, (num_blocks + 1) * block - n - half)))
    x_CMPU = x_CMN.reshape(channels, rows, num_blocks + 1, block)
    windows_CMPW = jnp.concatenate(
        [x_CMPU[:, :, :num_blocks], x_CMPU[:, :, 1:, : num_taps - 1]], axis=-1
    )
    windows_CQW = windows_CMPW.reshape(channels, rows * num_blocks, window)
    products_CUW = jnp.einsum("cqu,cqw->cuw", g_CQU, windows_CQW)
    # Position u of a block meets window entry u + 2h - t at tap t.
    u_UK = np.arange(block)[:, None]
    t_UK = np.arange(num_taps)[None, :]
    return jnp.sum(products_CUW[:, u_UK, u_UK + 2 * half - t_UK], axis=1).T


@jax.custom_vjp
def _banded_conv(x_MNC, taps_KC):
    return shifted_sum(x_MNC, taps_KC)


def _banded_conv_fwd(x_MNC, taps_KC):
    return shifted_sum(x_MNC, taps_KC), (x_MNC, taps_KC)


def _banded_conv_bwd(residuals, g_MNC):
    x_MNC, taps_KC = residuals
    dx_MNC = shifted_sum(g_MNC, taps_KC[::-1])
    dtaps_KC = _tap_gradient(x_MNC, g_MNC, taps_KC.shape[0], taps_KC.shape[1])
    return dx_MNC, dtaps_KC.astype(taps_KC.dtype)


_banded_conv.defvjp(_banded_conv_fwd, _banded_conv_bwd)


def banded_conv(x_BNC, taps_KC):
    """Apply the banded Toeplitz matrix S[i, j] = taps[i - j + h] (|i - j| <= h) along axis -2.

    Args:
      x_BNC: input (..., n, C), or (..., n, G * C) for G groups of the C channels side by
        side, each group mixed with the same taps.
      taps_KC: K (odd) taps per channel, tap t at lag t - h with h = (K - 1) / 2, in x's
        dtype.

    Only reverse-mode differentiation is defined (custom VJP, see the module docstring).
    """
    num_taps = taps_KC.shape[0]
    width = x_BNC.shape[-1]
    if (
        num_taps % 2 == 0
        or taps_KC.ndim != 2
        or taps_KC.shape[1] == 0
        or width % taps_KC.shape[1] != 0
    ):
        raise ValueError(
            f"banded_conv: taps_KC has shape {tuple(taps_KC.shape)}, expected (K, C) with K "
            f"odd and C dividing x's last axis ({width})."
        )
    x_MNC = x_BNC.reshape((-1,) + x_BNC.shape[-2:])
    return _banded_conv(x_MNC, taps_KC).reshape(x_BNC.shape)


def banded_kernel(taps_KC, n: int):
    """Return the kernel over lags -(n-1)..(n-1) that is taps_KC at |lag| <= h and 0 beyond."""
    half = taps_KC.shape[0] // 2
    kept = min(half, n - 1)
    middle_KC = taps_KC[half - kept : half + kept + 1]
    zeros = n - 1 - kept
    return jnp.pad(middle_KC, ((zeros, zeros), (0, 0)))


def init_taps(key, num_taps: int, channels: int, dtype):
    """Draw taps from U(-1/sqrt(K), 1/sqrt(K)), PyTorch's default for a depthwise Conv1d."""
    bound = 1.0 / np.sqrt(num_taps)
    return jax.random.uniform(key, (num_taps, channels), dtype, -bound, bound)


class SparseSKI(SKI):
    """Bidirectional sparse plus low-rank mixer y = S x + W A W^T x (see the docstring)."""

    def __init__(
        self, cfg: MixerConfig, channels: int, *, rngs: nnx.Rngs, param_dtype=jnp.float32
    ):
        super().__init__(cfg, channels, rngs=rngs, param_dtype=param_dtype)
        self.taps_KC = nnx.Param(init_taps(rngs.params(), cfg.num_taps, channels, param_dtype))

    def kernel(self, n: int):
        """Evaluate kappa plus the taps at the integer lags -(n-1)..(n-1)."""
        kernel_LC = super().kernel(n)
        return kernel_LC + banded_kernel(self.taps_KC[...], n).astype(kernel_LC.dtype)

    def __call__(self, x_BNC, mask_BN=None, *, groups: int = 1):
        check_input(x_BNC, self.channels, type(self).__name__, groups)
        x_BNC = toeplitz.mask_inputs(x_BNC, mask_BN)
        plan = self.plan(x_BNC.shape[-2])
        x32_BNC = x_BNC.astype(toeplitz.compute_dtype(x_BNC.dtype))
        taps_KC = self.taps_KC[...].astype(x32_BNC.dtype)
        y_BNC = banded_conv(x32_BNC, taps_KC) + self.low_rank(x32_BNC, plan)
        return y_BNC.astype(x_BNC.dtype)

    def dense_matrix(self, n: int):
        """Build S + W A W^T as dense (C, n, n) matrices, for tests."""
        low_rank_CNN = super().dense_matrix(n)
        band_CNN = toeplitz.dense_toeplitz(banded_kernel(self.taps_KC[...], n), n)
        return low_rank_CNN + band_CNN.astype(low_rank_CNN.dtype)

