"""``fit(X, reference=...)``: the decoder rebuilds other images (the same galaxies at
reference conditions) from the latents of ``X``."""

import numpy as np
import pytest
import torch
from _helpers import TINY_MINUET, TINY_VAE, make_blobs_images

from minuet_sk import MinuetEncoder, VAEEncoder
from minuet_sk._training.losses import DenoisingLoss
from minuet_sk._training.sources import ImageSource
from minuet_sk._training.streaming import ImageBatches
from minuet_sk.nn.autoencoder import DiffusionAutoencoder

SHAPE = (3, 8, 8)
TINY = {**TINY_MINUET, "image_shape": SHAPE, "max_epochs": 2, "batch_size": 16,
        "diffusion_steps": 50, "sampling_steps": 3, "random_state": 0}


@pytest.fixture(scope="module")
def images():
    X = make_blobs_images(40, SHAPE, random_state=0)
    # the same blobs, noiseless and brighter: another version of each galaxy
    R = 2.0 * make_blobs_images(40, SHAPE, random_state=0) + 0.5
    return X, R


def _weights(model):
    return {k: v.clone() for k, v in model.net_.module_.state_dict().items()}


def _same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


class TestMinuetReference:
    def test_reference_equal_to_X_is_a_plain_fit(self, images):
        X, _ = images
        plain = MinuetEncoder(2, **TINY).fit(X)
        again = MinuetEncoder(2, **TINY).fit(X, reference=X.copy())
        assert _same(_weights(plain), _weights(again))
        assert plain.history_[-1]["valid_loss"] == again.history_[-1]["valid_loss"]

    def test_another_reference_trains_another_decoder(self, images):
        X, R = images
        plain = MinuetEncoder(2, **TINY).fit(X)
        other = MinuetEncoder(2, **TINY).fit(X, reference=R)
        assert not _same(_weights(plain), _weights(other))
        # the validation loss is that of rebuilding the reference
        assert plain.history_[0]["valid_loss"] != other.history_[0]["valid_loss"]

    def test_reference_out_of_core(self, images, tmp_path):
        X, R = images
        path = tmp_path / "reference.npy"
        np.save(path, R)
        in_memory = MinuetEncoder(2, **TINY).fit(X, reference=R)
        on_disk = MinuetEncoder(2, **TINY).fit(X, reference=np.load(path, mmap_mode="r"))
        assert _same(_weights(in_memory), _weights(on_disk))

    def test_partial_fit_takes_a_reference(self, images):
        X, R = images
        model = MinuetEncoder(2, **TINY)
        model.partial_fit(X, reference=R).partial_fit(X, reference=R)
        assert model.n_iter_ == 2

    @pytest.mark.parametrize("bad, match", [
        (lambda R: R[:10], "reference holds 10 images; X holds 40"),
        (lambda R: R[:, :2], "^reference: "),
    ])
    def test_mismatched_reference_is_refused(self, images, bad, match):
        X, R = images
        with pytest.raises(ValueError, match=match):
            MinuetEncoder(2, **TINY).fit(X, reference=bad(R))


def test_vae_reference_equal_to_X_is_a_plain_fit(images):
    X, R = images
    params = {**TINY_VAE, "image_shape": SHAPE, "max_epochs": 2, "random_state": 0}
    plain = VAEEncoder(2, **params).fit(X)
    again = VAEEncoder(2, **params).fit(X, reference=X.copy())
    other = VAEEncoder(2, **params).fit(X, reference=R)
    assert _same(_weights(plain), _weights(again))
    assert not _same(_weights(plain), _weights(other))


def test_batches_carry_the_reference_standardised_alike():
    X = np.arange(2 * 64, dtype=np.float32).reshape(2, 1, 8, 8)
    R = X + 10.0
    R[1, 0, 0, 0] = np.nan  # missing in the reference: weighs 0 as well
    batches = ImageBatches(ImageSource(X, (1, 8, 8), True), [(0, 2)], 2, np.array([5.0]),
                           np.array([2.0]), reference=ImageSource(R, (1, 8, 8), True))
    x, weight, goal = next(iter(batches))
    torch.testing.assert_close(goal[0], x[0] + 5.0)
    assert float(weight[1, 0, 0, 0]) == 0.0 and float(weight.sum()) == 2 * 64 - 1
    assert torch.isfinite(goal).all()


def test_batches_refuse_a_reference_of_other_length():
    source = ImageSource(np.zeros((3, 1, 2, 2), np.float32), (1, 2, 2), True)
    other = ImageSource(np.zeros((2, 1, 2, 2), np.float32), (1, 2, 2), True)
    with pytest.raises(ValueError, match="reference holds 2 images; X holds 3"):
        ImageBatches(source, [(0, 3)], 2, np.zeros(1), np.ones(1), reference=other)


def test_denoising_loss_rebuilds_the_reference():
    """With the reference equal to x the loss is the plain one; with another reference it
    is the loss of rebuilding that one (in validation: fixed noise and times)."""
    torch.manual_seed(0)
    module = DiffusionAutoencoder((1, 8, 8), n_latents=2, patch_size=4, width=16,
                                  encoder_depth=1, decoder_depth=1, n_heads=2,
                                  diffusion_steps=10, prediction="v")
    x, r = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)
    w = torch.ones_like(x)
    loss = DenoisingLoss(orientation_invariant=False)

    def value(training, *args):
        with torch.no_grad():
            return float(loss(module, *args[:2], torch.Generator().manual_seed(1), training,
                              *args[2:]))

    for training in (True, False):
        assert value(training, x, w, x) == value(training, x, w)
        assert value(training, x, w, r) != value(training, x, w)
    # in validation it is the loss of rebuilding r from the latents of x, at fixed noise
    n, steps = len(x), module.diffusion.diffusion_steps
    t = ((torch.arange(n) + 0.5) * steps / n).long()
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = float(module.loss(x, r, t, noise))
    assert value(False, x, w, r) == pytest.approx(expected, rel=1e-6)
