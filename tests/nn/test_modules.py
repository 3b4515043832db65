import numpy as np
import pytest
import torch

from minuet_sk.nn.autoencoder import DiffusionAutoencoder, band_whitening
from minuet_sk.nn.denoiser import ConditionalDenoiser
from minuet_sk.nn.layers import PatchEmbedding, PatchUnembedding, padded_size
from minuet_sk.nn.perceiver import LatentNorm, PerceiverEncoder

# (C, H, W) that need padding, including sklearn's (1, 1, n_features) rows
SHAPES = [(3, 16, 16), (3, 13, 10), (1, 1, 7), (2, 5, 1)]


def test_padded_size():
    assert [padded_size(s, 4) for s in (1, 4, 5, 8, 9)] == [4, 4, 8, 8, 12]


@pytest.mark.parametrize("shape", SHAPES)
def test_patch_round_trip_layout(shape):
    """Unembedding inverts the patch layout: with identity maps an image comes back."""
    p = 4
    c = shape[0]
    embed = PatchEmbedding(shape, p, c * p * p)
    unembed = PatchUnembedding(shape, p, c * p * p)
    with torch.no_grad():
        embed.position.zero_()
        embed.proj.weight.copy_(torch.eye(c * p * p).reshape(c * p * p, c, p, p))
        embed.proj.bias.zero_()
        unembed.proj.weight.copy_(torch.eye(c * p * p))
        unembed.proj.bias.zero_()
    images = torch.randn(2, *shape)
    torch.testing.assert_close(unembed(embed(images)), images)


@pytest.mark.parametrize("shape", SHAPES)
def test_encoder_shapes_and_gradients(shape):
    encoder = PerceiverEncoder(shape, n_latents=3, patch_size=4, width=16, depth=2, n_heads=2)
    images = torch.randn(4, *shape, requires_grad=True)
    z = encoder(images)
    assert z.shape == (4, 3)
    (z * torch.randn(4, 3)).sum().backward()  # (a plain sum of standardised z is constant)
    assert images.grad.abs().sum() > 0
    assert all(p.grad is not None for p in encoder.parameters())


def test_latents_keep_unit_scale_in_training_and_one_image_works():
    torch.manual_seed(0)
    encoder = PerceiverEncoder((1, 8, 8), n_latents=3, patch_size=4, width=16, depth=1,
                               n_heads=2)
    with torch.no_grad():
        encoder.head.weight.mul_(100.0)  # raw latents far from unit scale
        z = encoder(torch.randn(64, 1, 8, 8))
        torch.testing.assert_close(z.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
        torch.testing.assert_close(z.std(0, unbiased=False), torch.ones(3), atol=1e-3, rtol=0)
        # a batch of one in training mode uses the running statistics instead of failing
        assert torch.isfinite(encoder(torch.randn(1, 1, 8, 8))).all()
        assert encoder.standardise.running_var.min() > 10.0


def test_global_batch_statistics_are_accurate_far_from_zero(monkeypatch):
    """The distributed path (here one process, all_reduce the identity) standardises
    latents whose mean is 300 times their spread as BatchNorm does, to 1e-4; the one-pass
    E[z^2] - E[z]^2 in float32 is 0.03 off there (and wholly wrong at 1e4)."""
    import torch.distributed.nn.functional as dist_functional

    monkeypatch.setattr(dist_functional, "all_reduce", lambda tensor: tensor)
    z = 300.0 + torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    norm, reference = LatentNorm(3), LatentNorm(3)
    torch.testing.assert_close(norm._global_batch_norm(z), reference(z), atol=2e-4, rtol=0)
    torch.testing.assert_close(norm.running_var, reference.running_var)


def test_encoder_batch_independent():
    encoder = PerceiverEncoder((2, 8, 8), n_latents=3, patch_size=4, width=16, depth=1,
                               n_heads=2).eval()
    images = torch.randn(5, 2, 8, 8)
    torch.testing.assert_close(encoder(images)[2:3], encoder(images[2:3]))


@pytest.mark.parametrize("conditioning", ["tokens", "adaln"])
@pytest.mark.parametrize("shape", SHAPES)
def test_denoiser_shapes_and_gradients(shape, conditioning):
    denoiser = ConditionalDenoiser(shape, n_latents=3, patch_size=4, width=16, depth=2,
                                   n_heads=2, conditioning=conditioning, refiner_channels=4)
    # zero-initialised output layers give zero output and no gradient upstream at step 0
    for p in denoiser.parameters():
        torch.nn.init.normal_(p, std=0.1)
    x_t = torch.randn(4, *shape)
    z = torch.randn(4, 3, requires_grad=True)
    out = denoiser(x_t, torch.tensor([0, 1, 50, 99]), z)
    assert out.shape == x_t.shape
    out.square().sum().backward()
    assert z.grad.abs().sum() > 0  # the latents condition the output
    assert all(p.grad is not None for p in denoiser.parameters())


def test_denoiser_rejects_unknown_conditioning():
    with pytest.raises(ValueError, match="conditioning"):
        ConditionalDenoiser((1, 4, 4), conditioning="film")


@pytest.mark.parametrize("refiner_channels", [0, 4])
def test_refiner_reaches_every_direction_of_a_patch(refiner_channels):
    """A patch of C * p**2 = 16 values decoded from an 8-wide token spans at most 8
    directions; the convolutional refiner (which also sees the noisy image) reaches all 16.
    Without it, DDIM cannot remove the starting noise in the other directions."""
    torch.manual_seed(0)
    denoiser = ConditionalDenoiser((1, 8, 8), n_latents=2, patch_size=4, width=8, depth=1,
                                   n_heads=2, refiner_channels=refiner_channels)
    for p in denoiser.parameters():
        torch.nn.init.normal_(p, std=0.3)
    with torch.no_grad():
        out = denoiser(torch.randn(64, 1, 8, 8), torch.full((64,), 10), torch.zeros(64, 2))
    first_patch = out[:, 0, :4, :4].reshape(64, 16)
    rank = torch.linalg.matrix_rank(first_patch - first_patch.mean(0), rtol=1e-4)
    assert rank <= 8 if refiner_channels == 0 else rank == 16


def test_band_whitening_decorrelates_and_orders_by_variance():
    rng = np.random.default_rng(0)
    brightness = rng.normal(size=5000)
    bands = np.stack([brightness + 0.1 * rng.normal(size=5000) for _ in range(3)])
    correlation = np.corrcoef(bands)
    w = band_whitening(correlation)
    np.testing.assert_allclose(w @ correlation @ w.T, np.eye(3), atol=1e-10)
    # the first component is the brightness shared by all bands, with a positive sign
    np.testing.assert_allclose(w[0] / w[0].sum(), np.full(3, 1 / 3), atol=0.01)
    # partial whitening keeps the order of the variances, with a mean of 1
    half = band_whitening(correlation, strength=0.5)
    variances = np.diag(half @ correlation @ half.T)
    assert variances[0] > variances[1] > variances[2] and np.isclose(variances.mean(), 1.0)
    np.testing.assert_allclose(half @ correlation @ half.T, np.diag(variances), atol=1e-10)
    # duplicated bands: finite, no division by a zero eigenvalue
    assert np.isfinite(band_whitening(np.ones((2, 2)))).all()


def test_autoencoder_works_in_mixed_bands_and_decodes_to_input_bands():
    mixing = band_whitening(np.array([[1.0, 0.8], [0.8, 1.0]]))
    model = DiffusionAutoencoder((2, 8, 8), n_latents=2, patch_size=4, width=8,
                                 encoder_depth=1, decoder_depth=1, n_heads=2,
                                 diffusion_steps=10, band_mixing=mixing)
    x = torch.randn(3, 2, 8, 8)
    mixed = torch.einsum("dc,bchw->bdhw", torch.as_tensor(mixing, dtype=torch.float32), x)
    torch.testing.assert_close(model.encode(x), model.encoder(mixed))
    # decode undoes the mixing of whatever DDIM draws in the mixed bands
    model.diffusion.sample = lambda *args, **kwargs: mixed
    torch.testing.assert_close(model.decode(torch.zeros(3, 2)), x, atol=1e-5, rtol=1e-5)
    # a pixel missing in one band drops out of the loss of every mixed band
    weights = torch.ones_like(x)
    weights[:, 0, 0, 0] = 0.0
    seen = {}
    model.diffusion.loss = lambda fn, target, t, noise, w, reduction: seen.update(w=w)
    model.loss(x, x, torch.tensor([1, 2, 3]), torch.randn_like(x), weights)
    assert seen["w"].shape == (3, 1, 8, 8) and (seen["w"][:, 0, 0, 0] == 0).all()
    assert seen["w"].sum() == 3 * 63


def test_feed_forward_width_and_dropout_keep_the_state_dict_names():
    from minuet_sk.nn.layers import FeedForward

    plain, narrow = FeedForward(16), FeedForward(16, hidden=8, dropout=0.5)
    assert plain[0].out_features == 64 and narrow[0].out_features == 8
    assert set(plain.state_dict()) == set(narrow.state_dict())  # old weights still load
    narrow.eval()
    x = torch.randn(4, 16)
    torch.testing.assert_close(narrow(x), narrow(x))  # no dropout in evaluation
    narrow.train()
    assert not torch.equal(narrow(x), narrow(x))


def test_attention_dropout_only_in_training():
    from minuet_sk.nn.layers import Attention

    attn = Attention(8, 2, dropout=0.5)
    q, c = torch.randn(2, 3, 8), torch.randn(2, 9, 8)
    attn.eval()
    torch.testing.assert_close(attn(q, c), attn(q, c))
    attn.train()
    assert not torch.equal(attn(q, c), attn(q, c))


def test_feed_forward_widths_reach_both_networks():
    model = DiffusionAutoencoder((3, 12, 12), 5, patch_size=4, width=16, encoder_depth=1,
                                 decoder_depth=1, n_heads=2, encoder_ff_width=8,
                                 decoder_ff_width=24, dropout=0.1)
    assert model.encoder.blocks[0].cross_ff[0].out_features == 8
    assert model.encoder.blocks[0].self_ff[0].out_features == 8
    assert model.denoiser.blocks[0].ff[0].out_features == 24
    assert model.denoiser.blocks[0].attn.dropout == 0.1
