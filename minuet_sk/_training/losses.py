"""The training losses of the image encoders, as skorch criteria.

``ImageNet`` builds its criterion the skorch way (``criterion=DenoisingLoss``,
``criterion__orientation_invariant=True``, ...) and calls it with the module, a batch of
standardised images, their pixel weights and the generator that drives every random draw:
``criterion_(module, x, weight, generator, training)`` -> a scalar tensor. The data flow is
estimator -> net -> criterion -> module; nothing calls back into the estimator. The criteria
are parameterless ``torch.nn.Module`` s, which skorch registers as the net's criterion (and
accelerate leaves unwrapped: DDP wraps only modules with trainable parameters).
"""

import torch

from ..nn.augment import (
    canonical_orientation_matrices,
    orient,
    random_dihedral_matrices,
    random_orientation_matrices,
)

__all__ = ["DenoisingLoss", "NegativeELBO", "fixed_noise_loss", "residual_peak"]

# Seed of the fixed noise of the validation loss, ``score`` and ``score_samples``.
FIXED_NOISE_SEED = 0


def residual_peak(module, x, weight, fraction=0.005):
    """``(n,)`` how badly the latents alone describe the brightest misfit of each image.

    The denoiser's clean-image estimate at the last diffusion time, where the noisy image
    keeps nothing of the galaxy (``sqrt(alpha_bar) = 5e-5`` for the cosine schedule), is a
    reconstruction from the latents alone. Its squared residual against the image, summed
    over the (mixed) bands, is ranked over the pixels that are not missing; the result is the
    mean of the largest ``fraction`` of them (26 pixels of a 72 x 72 image: about a
    star's footprint in DECaLS seeing). A star, a companion or a spike that five
    latents cannot describe leaves a bright, compact residual; the diffuse misfit of an
    ordinary galaxy does not. The noise is seeded and the same for every image: the value
    depends on the image alone.

    Examples
    --------
    >>> import torch
    >>> from minuet_sk.nn.autoencoder import DiffusionAutoencoder
    >>> model = DiffusionAutoencoder((1, 8, 8), n_latents=2, patch_size=4, width=16,
    ...                              encoder_depth=1, decoder_depth=1, n_heads=2,
    ...                              diffusion_steps=10).eval()
    >>> x = torch.randn(3, 1, 8, 8)
    >>> alone = residual_peak(model, x[:1], torch.ones_like(x[:1]))
    >>> together = residual_peak(model, x, torch.ones_like(x))
    >>> together.shape, bool(torch.allclose(alone, together[:1]))
    (torch.Size([3]), True)
    """
    target = module._mix(module.band_mixing, x)
    valid = torch.broadcast_to(module.mixed_weights(weight, target.shape), target.shape)
    valid = (valid > 0).all(dim=1).flatten(1)  # (n, H*W)
    generator = torch.Generator(device=x.device).manual_seed(FIXED_NOISE_SEED)
    noise = torch.randn(tuple(x.shape[1:]), generator=generator, device=x.device)
    t = torch.full((len(x),), module.diffusion.diffusion_steps - 1, dtype=torch.long,
                   device=x.device)
    x_t = module.diffusion.q_sample(target, t, noise.expand_as(target))
    _, clean = module.diffusion.to_eps_and_x0(module.denoiser(x_t, t, module.encode(x)),
                                              x_t, t)
    squared = ((clean.float() - target.float()) ** 2).sum(dim=1).flatten(1)
    k = max(1, round(fraction * squared.shape[1]))
    top = torch.where(valid, squared, torch.full_like(squared, -1.0)).topk(k, dim=1).values
    counted = valid.sum(dim=1).clamp(max=k).clamp_min(1)
    return top.clamp_min(0).sum(dim=1) / counted


def fixed_noise_loss(module, x, weight, reference=None):
    """Per-pixel weighted denoising loss at evenly spread times and seeded noise (no rotation),
    and the weights it was weighed with: the same value for the same images every time.
    The denoiser rebuilds ``reference`` (default ``x``) from the latents of ``x``."""
    n, steps = len(x), module.diffusion.diffusion_steps
    t = ((torch.arange(n, device=x.device) + 0.5) * steps / n).long()
    generator = torch.Generator(device=x.device).manual_seed(FIXED_NOISE_SEED)
    noise = torch.randn(x.shape, generator=generator, device=x.device)
    goal = x if reference is None else reference
    per_pixel = module.loss(x, goal, t, noise, weight, reduction="none")
    return per_pixel, torch.broadcast_to(module.mixed_weights(weight, x.shape), x.shape)


class DenoisingLoss(torch.nn.Module):
    """Minuet's loss: denoise a randomly oriented copy of each galaxy from the latents of
    another (or the same) orientation, at a random diffusion time.

    Parameters
    ----------
    orientation_invariant : bool, default=True
        The encoder sees an independently rotated/mirrored copy of the image the denoiser
        reconstructs, so the latents cannot hold the orientation.
    target_frame : {"random", "canonical"}, default="random"
        The orientation of the image the denoiser rebuilds: a random rotation and mirror
        image, or its canonical frame (second-moment major axis along x, so that the
        denoiser need not average a galaxy over orientations the latents cannot know).

    Called with ``reference`` (images aligned with ``x``: the same galaxies at reference
    conditions), the denoiser rebuilds those, in the frame ``target_frame`` says, from the
    latents of ``x``: what the latents must carry is then the galaxy, not the conditions of
    ``x``.

    In validation (``training=False``) the loss is :func:`fixed_noise_loss`'s weighted mean:
    the same noise and times in every epoch, so epochs compare.
    """

    def __init__(self, orientation_invariant=True, target_frame="random"):
        super().__init__()
        self.orientation_invariant = orientation_invariant
        self.target_frame = target_frame

    def forward(self, module, x, weight, generator, training, reference=None):
        if not training:
            per_pixel, weight = fixed_noise_loss(module, x, weight, reference)
            return per_pixel.sum() / weight.sum().clamp_min(1e-12)
        n, device = len(x), x.device
        goal = x if reference is None else reference
        if self.target_frame == "canonical":
            theta_target = canonical_orientation_matrices(goal, weight)
        else:
            theta_target = random_orientation_matrices(n, generator, device)
        if not self.orientation_invariant:
            theta_encoder = theta_target
        elif module.encoder_frame == "canonical":
            # the encoder turns what it sees into its canonical frame: the symmetries of the
            # pixel grid (exact) vary what the canonical frame cannot fix, the four flips
            theta_encoder = random_dihedral_matrices(n, generator, device)
        else:
            theta_encoder = random_orientation_matrices(n, generator, device)
        t = torch.randint(module.diffusion.diffusion_steps, (n,), generator=generator,
                          device=device)
        noise = torch.randn(x.shape, generator=generator, device=device)
        one_band = weight[:, :1]
        alike = bool((weight == one_band).all())  # no missing pixels: masks or all ones
        if alike and bool((one_band == 1).all()):
            # equal weights stay equal under a rotation (reflection padding): no need to
            # rotate them, nor to weigh the loss (7% of a training step at the defaults)
            target, target_weight = orient(goal, theta_target), None
        else:
            # the weights ride with the image through one grid (the same values as rotating
            # them apart, for less); weights alike in every band as one band
            both = orient(torch.cat([goal, one_band if alike else weight], 1), theta_target)
            target, target_weight = both[:, : x.shape[1]], both[:, x.shape[1]:]
        return module.loss(orient(x, theta_encoder), target, t, noise, target_weight)


class NegativeELBO(torch.nn.Module):
    """The VAE's loss: the negative evidence lower bound per pixel, ``-(log p(x|z) - beta KL)``.

    Parameters
    ----------
    n_components : int
        Latent dimensions (the reparametrisation noise's width).
    beta : float, default=1.0
        Weight of the KL term.
    """

    def __init__(self, n_components, beta=1.0):
        super().__init__()
        self.n_components = n_components
        self.beta = beta

    def forward(self, module, x, weight, generator, training, reference=None):
        shape = (len(x), self.n_components)
        eps = torch.randn(shape, generator=generator, device=generator.device).to(x.device)
        log_lik, kl = module.elbo_terms(x, weight, eps, reference)
        return -(log_lik - self.beta * kl).mean() / x[0].numel()
