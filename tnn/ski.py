"""Structured kernel interpolation (SKI) Toeplitz mixer: the low-rank operator W A W^T.

Moreno, Mei, Walters, "SKI to go Faster: Accelerating Toeplitz Neural Networks via Asymmetric
Kernels", 2023 (arXiv 2305.09028), which applies the interpolation of KISS-GP (Wilson and
Nickisch, ICML 2015) to the Toeplitz kernel of Qin et al. (ICLR 2023). Per channel,

    T ~= W A W^T,    A[m, l] = kappa((m - l) h),    u_m = m h,    h = (L - 1) / (r - 1),

where W (n x r) interpolates position i linearly between its two neighbouring inducing
points: s = i / h, m = min(floor(s), r - 2), w = s - m, W[i, m] = 1 - w, W[i, m + 1] = w.
W has entries >= 0, rows that sum to 1, reproduces linear functions exactly, and is the
identity when r = L = n, so that the mixer then equals the baseline TNO with the same kernel.

Cost per channel: W^T x (block sums and a small scatter-add) and W z (a gather and a lerp) are
O(n), A z is O(r^2), and kappa is evaluated at 2r - 1 lags instead of 2n - 1. No dense n x r
matrix is formed outside `dense_matrix`, which exists for tests.

Kernel parameterisations (MixerConfig.ski_kernel), both multiplied by the decay lambda^|k|:
- "rpe": the baseline's RPE MLP evaluated at the real lags (m - l) h.
- "warped_linear": a piecewise-linear function f_c of the warped lag s = sign0(k) gamma^|k|
  (sign0(0) = +1, gamma = MixerConfig.warp_gamma) with 2r + 1 knots evenly spaced on [-1, 1]
  (r + 1 knots on [0, 1] when causal). Lag 0 maps to s = 1 and far lags to s -> 0, where the
  knot value is fixed to 0, so kappa -> 0 at far lags; the other 2r (or r) values are learned
  per channel. NOTE: the warp degenerates when gamma^(L-1) is tiny (0.999^16383 is about
  8e-8). Every lag |k| > ln(r) / ln(1/gamma) (about 4160 for r = 64, gamma = 0.999) maps into
  the last knot interval (0, 1/r], where f_c is linear in gamma^|k|, so most of a long grid
  shares one fixed exponential shape that the learned values cannot change.

Grid: the inducing points lie on [0, L - 1] with L = MixerConfig.max_length (the input length n
when None). An input of n <= L positions uses the first n rows of the grid's W, so outputs at
valid positions do not depend on how much padding follows. Inputs longer than L raise. More
inducing points than grid positions are clipped to r = L.

Shape letters: B batch (any number of leading axes), N length, C channels, R inducing points,
L lags, P interpolation blocks, U positions per block.

Deliberate differences from the released SKI-TNN code:
- Interpolation weights: the release's W puts each position on the wrong pair of neighbours,
  and its rows can have negative entries. We implement the weights stated above.
- Fall-off: the release multiplies row i of W by gamma^(i n), which zeroes every row but the
  first few for decay <= 0.99. We apply the decay to kappa only.
- The warped-linear kernel is also multiplied by the decay (1 by default in ListOps), so that
  MixerConfig.decay means the same for every kernel parameterisation.
- Causal SKI raises: causal masking destroys the low-rank W A W^T structure.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from tnn import toeplitz
from tnn.config import MixerConfig
from tnn.rpe import RPE, ExponentialDecay
from tnn.toeplitz import check_input

# Positions per block of the block sums in W^T x. Blocks never span more than two
# interpolation segments, so the block is also capped by the segment length floor(h).
MAX_BLOCK = 64

CAUSAL_SKI_ERROR = (
    "causal masking destroys the low-rank W A W^T structure (the lower-triangular part of "
    "W A W^T is not W A' W^T for any A'). For causal mixing use kind='interp' (interpolated "
    "kernel, FFT product), 'fd' (frequency-domain kernel) or 'tnn' (the baseline)."
)


def grid_length(cfg: MixerConfig, n: int, caller: str) -> int:
    """Return the grid length L for an input of n positions, or raise if n > max_length."""
    if n < 1:
        raise ValueError(f"{caller}: sequence length n={n} is invalid. It must be >= 1.")
    if cfg.max_length is None:
        return n
    if n > cfg.max_length:
        raise ValueError(
            f"{caller}: input length n={n} exceeds MixerConfig.max_length={cfg.max_length}, "
            "the length of the mixer's grid. Raise max_length or crop the inputs."
        )
    return cfg.max_length


@dataclasses.dataclass(frozen=True, eq=False)
class InterpolationPlan:
    """Static (numpy) description of W for n positions on a grid of length L with r points.

    Attributes:
      n, length, num_points: the sizes n, L and r (r already clipped to L).
      spacing: inducing point spacing h = (L - 1) / (r - 1) (1 when r = 1).
      lower_N, upper_N: indices of the two inducing points around each position.
      frac_N: weight w of the upper point (the lower one gets 1 - w).
      blocks: the block layouts of W^T x in the forward pass and in the backward pass of W z.
        The backward layout uses half-size blocks, so that its coefficient arrays differ from
        the forward ones. XLA (CPU, jax 0.10) otherwise merges the identical coefficient
        broadcasts of both passes and then writes the merged broadcast out at the size of x.
        NOTE: mixers with equal plans in one program (several layers, both axes of a square
        image) still share their arrays, and pay that extra write once per program.
    """

    n: int
    length: int
    num_points: int
    spacing: float
    lower_N: np.ndarray
    upper_N: np.ndarray
    frac_N: np.ndarray
    blocks: tuple["BlockLayout", "BlockLayout"]

    @property
    def is_identity(self) -> bool:
        """Whether W is the first n rows of the r x r identity (r = L: one point per position).

        Then W^T x pads x to r positions and W z keeps the first n, with no block sums (which
        would hold 3 values per position when blocks have one position each).
        """
        return self.num_points == self.length


@dataclasses.dataclass(frozen=True, eq=False)
class BlockLayout:
    """Blocks of U consecutive positions for W^T x.

    Attributes:
      coef_PUK: weight of position u of block p on inducing point base_P[p] + k, k = 0, 1, 2.
      index_PK: base_P[p] + k clipped to [0, r - 1] (clipped entries have zero weight).
    """

    coef_PUK: np.ndarray
    index_PK: np.ndarray


def _block_layout(lower_N, frac_N, block: int, num_points: int) -> BlockLayout:
    # Every segment {i : lower_i = m} has at least floor(h) positions, so a block of at most
    # floor(h) consecutive positions touches inducing points base, base + 1 and base + 2 only.
    n = lower_N.shape[0]
    num_blocks = -(-n // block)
    padded = num_blocks * block
    lower_padded = np.concatenate([lower_N, np.full(padded - n, lower_N[-1])])
    base_P = lower_padded.reshape(num_blocks, block)[:, 0]
    offset_PU = lower_padded.reshape(num_blocks, block) - base_P[:, None]
    weight_hi = np.concatenate([frac_N, np.zeros(padded - n)]).reshape(num_blocks, block)
    weight_lo = np.concatenate([1.0 - frac_N, np.zeros(padded - n)]).reshape(num_blocks, block)
    coef_PUK = np.zeros((num_blocks, block, 3), np.float64)
    p_index, u_index = np.meshgrid(np.arange(num_blocks), np.arange(block), indexing="ij")
    np.add.at(coef_PUK, (p_index, u_index, offset_PU), weight_lo)
    np.add.at(coef_PUK, (p_index, u_index, offset_PU + 1), weight_hi)
    index_PK = np.minimum(base_P[:, None] + np.arange(3)[None, :], num_points - 1)
    return BlockLayout(coef_PUK=coef_PUK, index_PK=index_PK.astype(np.int32))


@functools.lru_cache(maxsize=256)
def interpolation_plan(n: int, length: int, num_points: int) -> InterpolationPlan:
    """Build the plan of W for positions 0..n-1 on inducing points m h, m = 0..r-1.

    `num_points` larger than `length` is clipped to `length`.
    """
    if not 1 <= n <= length:
        raise ValueError(
            f"interpolation_plan: n={n} is invalid for grid length {length}. Need 1 <= n <= L."
        )
    r = min(num_points, length)
    positions = np.arange(n, dtype=np.int64)
    if r == 1:
        spacing = 1.0
        lower = np.zeros(n, np.int64)
        frac = np.zeros(n, np.float64)
    else:
        # Integer arithmetic keeps grid points exact: s = i (r - 1) / (L - 1).
        spacing = (length - 1) / (r - 1)
        numerator = positions * (r - 1)
        lower = np.minimum(numerator // (length - 1), r - 2)
        frac = (numerator - lower * (length - 1)) / (length - 1)
    upper = np.minimum(lower + 1, r - 1)

    block = max(1, min(MAX_BLOCK, int(math.floor(spacing)), n))
    blocks = (
        _block_layout(lower, frac, block, r),
        _block_layout(lower, frac, max(1, block // 2), r),
    )
    return InterpolationPlan(
        n=n,
        length=length,
        num_points=r,
        spacing=spacing,
        lower_N=lower.astype(np.int32),
        upper_N=upper.astype(np.int32),
        frac_N=frac,
        blocks=blocks,
    )


def interpolation_matrix(n: int, length: int, num_points: int) -> np.ndarray:
    """Build the dense float64 W (n x r) of `interpolation_plan`, for tests and dense_matrix."""
    plan = interpolation_plan(n, length, num_points)
    matrix_NR = np.zeros((n, plan.num_points))
    rows = np.arange(n)
    np.add.at(matrix_NR, (rows, plan.lower_N), 1.0 - plan.frac_N)
    np.add.at(matrix_NR, (rows, plan.upper_N), plan.frac_N)
    return matrix_NR


def _restrict_impl(x_MNC, plan: InterpolationPlan, layout: BlockLayout):
    """W^T x: block sums of x weighted by the layout, then a scatter-add of 3 values per block."""
    rows, n, channels = x_MNC.shape
    num_blocks, block, _ = layout.coef_PUK.shape
    x_MNC = jnp.pad(x_MNC, ((0, 0), (0, num_blocks * block - n), (0, 0)))
    x_MPUC = x_MNC.reshape(rows, num_blocks, block, channels)
    coef_PUK = jnp.asarray(layout.coef_PUK, x_MNC.dtype)
    # One multiply-and-sum per neighbour offset: each reads x once and writes 1/U of its size.
    sums = [jnp.sum(x_MPUC * coef_PUK[None, :, :, k, None], axis=2) for k in range(3)]
    sums_KMPC = jnp.stack(sums, axis=0)
    sums_PKMC = jnp.transpose(sums_KMPC, (2, 0, 1, 3)).reshape(num_blocks * 3, rows, channels)
    z_RMC = jnp.zeros((plan.num_points, rows, channels), x_MNC.dtype)
    z_RMC = z_RMC.at[layout.index_PK.reshape(-1)].add(sums_PKMC)
    return jnp.transpose(z_RMC, (1, 0, 2))


def _interpolate_impl(z_MRC, plan: InterpolationPlan):
    """W z: gather the two neighbouring inducing values of each position and lerp."""
    frac_N1 = jnp.asarray(plan.frac_N[:, None], z_MRC.dtype)
    lower_MNC = z_MRC[:, plan.lower_N]
    upper_MNC = z_MRC[:, plan.upper_N]
    return lower_MNC + frac_N1 * (upper_MNC - lower_MNC)


@functools.lru_cache(maxsize=256)
def _linear_maps(plan: InterpolationPlan):
    """Return (restrict, interpolate) = (W^T, W) for `plan`, each the other's adjoint.

    Custom VJPs make the backward pass of each map the other map, so neither direction
    differentiates through a scatter-add (slow on CPU). Only reverse mode is defined.
    """

    forward_layout, backward_layout = plan.blocks

    @jax.custom_vjp
    def restrict(x_MNC):
        return _restrict_impl(x_MNC, plan, forward_layout)

    @jax.custom_vjp
    def interpolate(z_MRC):
        return _interpolate_impl(z_MRC, plan)

    restrict.defvjp(
        lambda x_MNC: (_restrict_impl(x_MNC, plan, forward_layout), None),
        lambda _, g_MRC: (_interpolate_impl(g_MRC, plan),),
    )
    interpolate.defvjp(
        lambda z_MRC: (_interpolate_impl(z_MRC, plan), None),
        lambda _, g_MNC: (_restrict_impl(g_MNC, plan, backward_layout),),
    )
    return restrict, interpolate


def restrict(x_BNC, plan: InterpolationPlan):
    """Compute W^T x along axis -2: (..., n, C) -> (..., r, C)."""
    if plan.is_identity:
        padding = [(0, 0)] * (x_BNC.ndim - 2) + [(0, plan.num_points - plan.n), (0, 0)]
        return jnp.pad(x_BNC, padding)
    lead = x_BNC.shape[:-2]
    x_MNC = x_BNC.reshape((-1,) + x_BNC.shape[-2:])
    z_MRC = _linear_maps(plan)[0](x_MNC)
    return z_MRC.reshape(lead + z_MRC.shape[-2:])


def interpolate(z_BRC, plan: InterpolationPlan):
    """Compute W z along axis -2: (..., r, C) -> (..., n, C)."""
    if plan.is_identity:
        return z_BRC[..., : plan.n, :]
    lead = z_BRC.shape[:-2]
    z_MRC = z_BRC.reshape((-1,) + z_BRC.shape[-2:])
    y_MNC = _linear_maps(plan)[1](z_MRC)
    return y_MNC.reshape(lead + y_MNC.shape[-2:])


class WarpedLinear(nnx.Module):
    """Piecewise-linear function f_c(s) of the warped lag s = sign0(k) gamma^|k| (see the
    module docstring)."""

    def __init__(
        self,
        channels: int,
        num_points: int,
        gamma: float,
        causal: bool,
        *,
        rngs: nnx.Rngs,
        param_dtype=jnp.float32,
    ):
        self.num_points = num_points
        self.causal = causal
        self.log_gamma = math.log(gamma)
        self.dtype = jnp.promote_types(param_dtype, jnp.float32)
        # The knot at s = 0 is fixed to 0, so only the others are parameters.
        learned = num_points if causal else 2 * num_points
        self.values_CJ = nnx.Param(
            jax.random.normal(rngs.params(), (channels, learned), param_dtype)
        )

    def __call__(self, lags_L):
        lags_L = jnp.asarray(lags_L, self.dtype)
        sign_L = jnp.where(lags_L >= 0, 1.0, -1.0).astype(self.dtype)
        warped_L = sign_L * jnp.exp(jnp.abs(lags_L) * self.log_gamma)
        values_CJ = self.values_CJ[...].astype(self.dtype)
        zero_C1 = jnp.zeros((values_CJ.shape[0], 1), self.dtype)
        r = self.num_points
        if self.causal:
            table_CJ = jnp.concatenate([zero_C1, values_CJ], axis=1)  # knots j / r, j = 0..r
            position_L = jnp.clip(warped_L, 0.0, 1.0) * r
        else:
            # Knots j / r - 1, j = 0..2r; knot r (s = 0) is the fixed zero.
            table_CJ = jnp.concatenate([values_CJ[:, :r], zero_C1, values_CJ[:, r:]], axis=1)
            position_L = (warped_L + 1.0) * r
        last = table_CJ.shape[1] - 1
        index_L = jnp.clip(jnp.floor(position_L).astype(jnp.int32), 0, last - 1)
        weight_L1 = (position_L - index_L)[:, None]
        table_JC = table_CJ.T
        return table_JC[index_L] * (1.0 - weight_L1) + table_JC[index_L + 1] * weight_L1


class InducingKernel(nnx.Module):
    """Kernel kappa(k) = lambda^|k| * f(k) at real lags k, with f the RPE MLP or the
    warped-linear function (`lag_function`) and lambda^|k| the decay."""

    def __init__(
        self,
        cfg: MixerConfig,
        channels: int,
        *,
        rngs: nnx.Rngs,
        param_dtype=jnp.float32,
    ):
        if cfg.ski_kernel == "rpe":
            self.lag_function = RPE(
                channels,
                hidden=cfg.rpe_dim,
                num_layers=cfg.rpe_layers,
                norm=cfg.rpe_norm,
                rngs=rngs,
                param_dtype=param_dtype,
            )
        else:
            self.lag_function = WarpedLinear(
                channels,
                cfg.num_inducing,
                cfg.warp_gamma,
                cfg.causal,
                rngs=rngs,
                param_dtype=param_dtype,
            )
        self.decay = ExponentialDecay(
            channels, cfg.decay, cfg.learn_decay, param_dtype=param_dtype
        )

    def __call__(self, lags_L):
        return self.lag_function(lags_L) * self.decay(lags_L)


class SKI(nnx.Module):
    """Bidirectional low-rank Toeplitz mixer y = W A W^T x (see the module docstring)."""

    supports_causal = False
    causal_unsupported = CAUSAL_SKI_ERROR

    def __init__(
        self, cfg: MixerConfig, channels: int, *, rngs: nnx.Rngs, param_dtype=jnp.float32
    ):
        self.cfg = cfg
        self.channels = channels
        self.inducing_kernel = InducingKernel(cfg, channels, rngs=rngs, param_dtype=param_dtype)

    def plan(self, n: int) -> InterpolationPlan:
        """Return the interpolation plan for n positions on this mixer's grid."""
        length = grid_length(self.cfg, n, type(self).__name__)
        return interpolation_plan(n, length, self.cfg.num_inducing)

    def inducing_matrix(self, plan: InterpolationPlan):
        """Build A_CRR with A[c, m, l] = kappa_c((m - l) h), from 2r - 1 kernel values."""
        r = plan.num_points
        lags_L = np.arange(-(r - 1), r) * plan.spacing
        return toeplitz.dense_toeplitz(self.inducing_kernel(lags_L), r)

    def low_rank(self, x_BNT, plan: InterpolationPlan):
        """Compute W A W^T x in x's dtype (already in the compute dtype).

        x's last axis contains T = G * C values: G groups of the C channels (see `__call__`).
        """
        matrix_CRR = self.inducing_matrix(plan).astype(x_BNT.dtype)
        z_BRT = restrict(x_BNT, plan)
        z_BRGC = z_BRT.reshape(z_BRT.shape[:-1] + (-1, self.channels))
        z_BRGC = jnp.einsum("crs,...sgc->...rgc", matrix_CRR, z_BRGC)
        return interpolate(z_BRGC.reshape(z_BRT.shape), plan)

    def kernel(self, n: int):
        """Evaluate kappa at the integer lags -(n-1)..(n-1): the Toeplitz kernel W A W^T
        approximates, equal to it when r = L = n."""
        grid_length(self.cfg, n, f"{type(self).__name__}.kernel")
        return self.inducing_kernel(np.arange(-(n - 1), n))

    def __call__(self, x_BNC, mask_BN=None, *, groups: int = 1):
        check_input(x_BNC, self.channels, type(self).__name__, groups)
        x_BNC = toeplitz.mask_inputs(x_BNC, mask_BN)
        plan = self.plan(x_BNC.shape[-2])
        x32_BNC = x_BNC.astype(toeplitz.compute_dtype(x_BNC.dtype))
        return self.low_rank(x32_BNC, plan).astype(x_BNC.dtype)

    def dense_matrix(self, n: int):
        """Build W A W^T as dense (C, n, n) matrices, for tests."""
        plan = self.plan(n)
        matrix_CRR = self.inducing_matrix(plan)
        interp_NR = jnp.asarray(
            interpolation_matrix(n, plan.length, self.cfg.num_inducing), matrix_CRR.dtype
        )
        return jnp.einsum("ir,crs,js->cij", interp_NR, matrix_CRR, interp_NR)
