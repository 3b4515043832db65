import pytest
import torch

from minuet_sk.nn.denoiser import ConditionalDenoiser
from minuet_sk.nn.layers import PatchEmbedding, PatchUnembedding, padded_size
from minuet_sk.nn.perceiver import PerceiverEncoder

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
    z.sum().backward()
    assert images.grad.abs().sum() > 0
    assert all(p.grad is not None for p in encoder.parameters())


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
