"""Tests of the TNN classifier: shapes, padding invariance, BatchNorm masking, towers, configs."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tnn import Classifier, MixerConfig, ModelConfig, count_params
from tnn.norms import MaskedBatchNorm

VOCAB, CLASSES, WIDTH = 12, 3, 16
TINY_MIXER = MixerConfig(rpe_dim=8, rpe_layers=1, decay=0.9)

forward = nnx.jit(lambda model, tokens, mask: model(tokens, mask))
encode = nnx.jit(lambda model, tokens, mask: model.encode(tokens, mask))


def tiny_config(**overrides):
    fields = dict(
        vocab_size=VOCAB,
        num_classes=CLASSES,
        max_length=32,
        num_layers=2,
        width=WIDTH,
        dropout=0.0,
        input_dropout=0.0,
        mixer=TINY_MIXER,
    )
    fields.update(overrides)
    return ModelConfig(**fields)


def random_tokens(rng, shape):
    return jnp.asarray(rng.integers(0, VOCAB, size=shape), jnp.int32)


def prefix_mask(lengths, total):
    return jnp.arange(total)[None, :] < jnp.asarray(lengths)[:, None]


def pad_tokens(content, lengths, total, rng):
    """Put each row's first lengths[b] tokens first and random junk tokens after them."""
    padded = rng.integers(0, VOCAB, size=(content.shape[0], total))
    for b, length in enumerate(lengths):
        padded[b, :length] = content[b, :length]
    return jnp.asarray(padded, jnp.int32)


def warm_up_batch_stats(model, rng, n=20):
    """Run one training-mode forward pass so BatchNorm running averages are not the defaults."""
    model.train()
    tokens = random_tokens(rng, (4, n))
    forward(model, tokens, prefix_mask([n, 15, 9, 3], n))
    model.eval()


# Shapes.


def test_logits_shape_single_input():
    model = Classifier(tiny_config(), rngs=nnx.Rngs(0))
    model.eval()
    tokens = random_tokens(np.random.default_rng(0), (3, 20))
    logits = forward(model, tokens, jnp.ones((3, 20), bool))
    assert logits.shape == (3, CLASSES)
    assert logits.dtype == jnp.float32
    assert np.all(np.isfinite(np.asarray(logits)))


def test_logits_shape_two_inputs():
    model = Classifier(tiny_config(num_inputs=2, num_classes=2), rngs=nnx.Rngs(0))
    model.eval()
    tokens = random_tokens(np.random.default_rng(0), (3, 2, 20))
    logits = forward(model, tokens, jnp.ones((3, 2, 20), bool))
    assert logits.shape == (3, 2)
    assert np.all(np.isfinite(np.asarray(logits)))


def test_bfloat16_model_returns_float32_logits():
    model = Classifier(tiny_config(dtype="bfloat16"), rngs=nnx.Rngs(0))
    model.eval()
    tokens = random_tokens(np.random.default_rng(0), (2, 20))
    logits = forward(model, tokens, jnp.ones((2, 20), bool))
    assert logits.dtype == jnp.float32
    assert np.all(np.isfinite(np.asarray(logits)))


# Padding invariance.


@pytest.mark.parametrize(
    "pool, norm",
    [("mean", "batchnorm"), ("last", "batchnorm"), ("mean", "layernorm"), ("last", "rmsnorm")],
)
def test_eval_logits_ignore_padding(pool, norm):
    rng = np.random.default_rng(0)
    model = Classifier(tiny_config(pool=pool, norm=norm), rngs=nnx.Rngs(0))
    warm_up_batch_stats(model, rng)
    lengths = [10, 17]
    content = rng.integers(0, VOCAB, size=(2, 20))
    logits = []
    for total in (17, 20, 32):
        tokens = pad_tokens(content, lengths, total, rng)
        logits.append(np.asarray(forward(model, tokens, prefix_mask(lengths, total))))
    scale = np.abs(logits[0]).max()
    for other in logits[1:]:
        np.testing.assert_allclose(other, logits[0], rtol=1e-5, atol=1e-5 * scale)


def test_train_logits_ignore_padding_with_batchnorm():
    # In training mode BatchNorm uses batch statistics, so this holds only if they skip padding.
    rng = np.random.default_rng(1)
    model = Classifier(tiny_config(norm="batchnorm"), rngs=nnx.Rngs(0))
    model.train()
    lengths = [10, 17]
    content = rng.integers(0, VOCAB, size=(2, 20))
    logits = []
    for total in (17, 32):
        tokens = pad_tokens(content, lengths, total, rng)
        logits.append(np.asarray(forward(model, tokens, prefix_mask(lengths, total))))
    scale = np.abs(logits[0]).max()
    np.testing.assert_allclose(logits[1], logits[0], rtol=1e-5, atol=1e-5 * scale)


# BatchNorm statistics.


def test_batchnorm_statistics_skip_padded_positions():
    rng = np.random.default_rng(0)
    x_BND = rng.standard_normal((2, 6, 3)).astype(np.float32)
    x_BND[1, 4:] = 1000.0  # Padding values that would dominate unmasked statistics.
    mask_BN = np.ones((2, 6), bool)
    mask_BN[1, 4:] = False
    valid_VD = x_BND[mask_BN]
    mean_D, var_D = valid_VD.mean(axis=0), valid_VD.var(axis=0)

    norm = MaskedBatchNorm(3, rngs=nnx.Rngs(0))
    norm.train()
    y_BND = np.asarray(norm(jnp.asarray(x_BND), jnp.asarray(mask_BN)))
    expected_BND = (x_BND - mean_D) / np.sqrt(var_D + 1e-5)
    np.testing.assert_allclose(y_BND[mask_BN], expected_BND[mask_BN], rtol=1e-4, atol=1e-5)
    # Running averages start at mean 0 and variance 1 and take 10% of the batch statistics.
    np.testing.assert_allclose(np.asarray(norm.norm.mean[...]), 0.1 * mean_D, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(norm.norm.var[...]), 0.9 + 0.1 * var_D, rtol=1e-5)

    norm.eval()
    running_mean_D, running_var_D = 0.1 * mean_D, 0.9 + 0.1 * var_D
    y_eval_BND = np.asarray(norm(jnp.asarray(x_BND), jnp.asarray(mask_BN)))
    expected_eval_BND = (x_BND - running_mean_D) / np.sqrt(running_var_D + 1e-5)
    np.testing.assert_allclose(y_eval_BND, expected_eval_BND, rtol=1e-4, atol=1e-5)


# Retrieval towers.


def test_towers_do_not_see_each_other():
    rng = np.random.default_rng(0)
    model = Classifier(tiny_config(num_inputs=2, num_classes=2, pool="mean"), rngs=nnx.Rngs(0))
    warm_up_pairs = random_tokens(rng, (2, 2, 20))
    model.train()
    forward(model, warm_up_pairs, jnp.ones((2, 2, 20), bool))
    model.eval()

    tokens = np.asarray(random_tokens(rng, (2, 2, 20)))
    mask = np.ones((2, 2, 20), bool)
    mask[:, :, 15:] = False
    changed = tokens.copy()
    changed[0, 1] = (tokens[0, 1] + 1 + rng.integers(0, VOCAB - 1, size=20)) % VOCAB
    pooled = np.asarray(encode(model, jnp.asarray(tokens), jnp.asarray(mask)))
    pooled_changed = np.asarray(encode(model, jnp.asarray(changed), jnp.asarray(mask)))
    assert pooled.shape == (2, 2, WIDTH)
    assert np.array_equal(pooled_changed[0, 0], pooled[0, 0])
    assert np.array_equal(pooled_changed[1], pooled[1])
    assert not np.allclose(pooled_changed[0, 1], pooled[0, 1])


# Dropout modes.


def test_dropout_only_in_train_mode():
    cfg = tiny_config(dropout=0.3, input_dropout=0.1)
    model = Classifier(cfg, rngs=nnx.Rngs(params=0, dropout=1))
    tokens = random_tokens(np.random.default_rng(0), (2, 20))
    mask = jnp.ones((2, 20), bool)
    model.eval()
    first, second = forward(model, tokens, mask), forward(model, tokens, mask)
    assert np.array_equal(np.asarray(first), np.asarray(second))
    model.train()
    first, second = forward(model, tokens, mask), forward(model, tokens, mask)
    assert not np.allclose(np.asarray(first), np.asarray(second))


# Parameter count.


def test_count_params_matches_formula():
    cfg = tiny_config(norm="batchnorm", gtu_expand=2, glu_expand=1.5)
    model = Classifier(cfg, rngs=nnx.Rngs(0))
    d, c, h, e, k = WIDTH, 2 * WIDTH, 24, TINY_MIXER.rpe_dim, CLASSES
    linear = lambda fan_in, fan_out: fan_in * fan_out + fan_out  # noqa: E731
    rpe = linear(1, e) + TINY_MIXER.rpe_layers * (2 * e + linear(e, e)) + 2 * e + linear(e, c)
    gtu = 2 * linear(d, c) + linear(c, d) + rpe
    glu = 2 * linear(d, h) + linear(h, d)
    # BatchNorm has a scale and a bias. Its running averages are not trainable parameters.
    layer = 2 * (2 * d) + gtu + glu
    expected = VOCAB * d + cfg.num_layers * layer + 2 * d + linear(d, k)
    assert count_params(model) == expected


def test_count_params_includes_learned_decay():
    plain = Classifier(tiny_config(), rngs=nnx.Rngs(0))
    learned = Classifier(
        tiny_config(mixer=dataclasses.replace(TINY_MIXER, learn_decay=True)), rngs=nnx.Rngs(0)
    )
    assert count_params(learned) == count_params(plain) + 2 * WIDTH


# Configuration and input errors.


@pytest.mark.parametrize(
    "overrides, field",
    [
        (dict(vocab_size=0), "vocab_size"),
        (dict(num_classes=1), "num_classes"),
        (dict(max_length=-5), "max_length"),
        (dict(num_layers=0), "num_layers"),
        (dict(width=16.5), "width"),
        (dict(gtu_expand=0), "gtu_expand"),
        (dict(glu_expand=1.01), "glu_expand"),
        (dict(dropout=1.0), "dropout"),
        (dict(input_dropout=-0.1), "input_dropout"),
        (dict(norm="groupnorm"), "norm"),
        (dict(pos_encoding="yes"), "pos_encoding"),
        (dict(pool="max"), "pool"),
        (dict(num_inputs=3), "num_inputs"),
        (dict(image_shape=(4, 4)), "image_shape"),
        (dict(image_shape=(32,)), "image_shape"),
        (dict(mixer={"kind": "tnn"}), "mixer"),
        (dict(dtype="float16"), "dtype"),
        (dict(param_dtype="int8"), "param_dtype"),
    ],
)
def test_model_config_rejects_bad_value(overrides, field):
    with pytest.raises(ValueError, match=f"ModelConfig.{field}="):
        tiny_config(**overrides)


@pytest.mark.parametrize(
    "overrides, field",
    [
        (dict(causal=1), "causal"),
        (dict(rpe_dim=0), "rpe_dim"),
        (dict(rpe_layers=-1), "rpe_layers"),
        (dict(rpe_norm="batchnorm"), "rpe_norm"),
        (dict(decay=0.0), "decay"),
        (dict(decay=1.5), "decay"),
        (dict(learn_decay="no"), "learn_decay"),
        (dict(max_lag=-1), "max_lag"),
        (dict(fft_size=2048), "fft_size"),
        (dict(max_length=0), "max_length"),
    ],
)
def test_mixer_config_rejects_bad_value(overrides, field):
    with pytest.raises(ValueError, match=f"MixerConfig.{field}="):
        MixerConfig(**overrides)


def test_unknown_mixer_kind_lists_known_kinds():
    with pytest.raises(ValueError, match="MixerConfig.kind='skii'.*'tnn'"):
        MixerConfig(kind="skii")


def test_image_shape_list_becomes_tuple():
    cfg = tiny_config(max_length=16, image_shape=[4, 4])
    assert cfg.image_shape == (4, 4)


def test_classifier_rejects_bad_input_shapes():
    model = Classifier(tiny_config(), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="expected \\(B, N\\)"):
        model(jnp.zeros((2, 2, 8), jnp.int32), None)
    with pytest.raises(ValueError, match="max_length=32"):
        model(jnp.zeros((2, 40), jnp.int32), None)
    with pytest.raises(ValueError, match="mask has shape"):
        model(jnp.zeros((2, 8), jnp.int32), jnp.ones((2, 9), bool))
    pair_model = Classifier(tiny_config(num_inputs=2, num_classes=2), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="expected \\(B, 2, N\\)"):
        pair_model(jnp.zeros((2, 8), jnp.int32), None)
