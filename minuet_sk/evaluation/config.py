"""The benchmark's settings: presets, and what is probed and predicted."""

from __future__ import annotations

import dataclasses

__all__ = ["DEMO_TRAINING", "PRESETS", "PROBE_TASKS", "TARGETS", "TRUTH_CLASSES",
           "BenchmarkConfig"]

#: Galaxy Zoo tasks probed, and truth classes used for similarity search.
PROBE_TASKS = ("merger", "spiral", "edge_on", "round", "smooth", "bar")
TRUTH_CLASSES = ("quenched", "spiral", "edge_on", "merger")
TARGETS = ("redshift", "log_mstar", "log_sfr")


@dataclasses.dataclass
class BenchmarkConfig:
    """Settings of one benchmark run (see :data:`PRESETS`).

    Parameters
    ----------
    n_galaxies : int
        Simulated galaxies in all (train + test).
    image_size : int
        Cutout side in pixels.
    test_fraction : float
        Held-out share, never seen in any fit: the last galaxies simulated
        (:func:`~minuet_sk.evaluation.harness.simulated_split`).
    n_components : int
        Latents of every encoder.
    minuet, vae, flow : dict
        Extra parameters of MinuetEncoder, VAEEncoder and FlowPropertyRegressor.
    cv_folds : int
        Folds of the stratified probes.
    n_posterior_samples : int
        Minuet posterior reconstructions per galaxy (the mean of these is scored too).
    n_reconstruct : int
        Held-out galaxies whose reconstructions are scored (DDIM decoding is the slow part).
    vae_study : bool
        Also fit a 2-latent VAE (the latent-space VAE study) for its correlation tables.
    real_galaxies : bool
        Also ask how the encoders, fitted or trained on simulations, organise real galaxies:
        the Hubble Deep Field's, rendered as DECaLS sees them
        (:func:`~minuet_sk.datasets.load_hubble_deep_field`).
    reobservation : bool
        Also ask whether the latents describe the galaxy or the night: the first
        ``n_reobserve`` held-out galaxies observed again under other conditions
        (:func:`~minuet_sk.evaluation.questions.reobservation`).
    n_reobserve : int
        Held-out galaxies observed again (re-identification is among them).
    seed : int
    device : str

    Examples
    --------
    >>> from minuet_sk.evaluation import PRESETS, BenchmarkConfig
    >>> BenchmarkConfig(n_galaxies=500, image_size=32).n_components
    5
    >>> PRESETS["quick"].n_galaxies, PRESETS["quick"].image_size
    (2000, 48)
    """

    n_galaxies: int = 3000
    image_size: int = 72
    test_fraction: float = 0.3
    n_components: int = 5
    minuet: dict = dataclasses.field(default_factory=dict)
    vae: dict = dataclasses.field(default_factory=dict)
    flow: dict = dataclasses.field(default_factory=dict)
    cv_folds: int = 5
    n_posterior_samples: int = 5
    n_reconstruct: int = 200
    vae_study: bool = True
    real_galaxies: bool = True
    reobservation: bool = True
    n_reobserve: int = 300
    seed: int = 0
    device: str = "auto"


#: Minuet's settings when ``minuet demo --train`` trains it instead of using the shipped
#: weights (small batches: a diffusion model needs optimizer steps more than epochs).
DEMO_TRAINING = {"max_epochs": 30, "batch_size": 32, "sampling_steps": 20}

#: ``tiny`` for tests, ``demo`` for ``minuet demo`` (minutes, the shipped Minuet weights), ``quick`` for ``--quick`` (a
#: few minutes on 2 CPU cores), ``full`` for a paper-style table (hours).
PRESETS = {
    "tiny": BenchmarkConfig(
        n_galaxies=120, image_size=24, cv_folds=2, n_posterior_samples=2, vae_study=False,
        minuet={"max_epochs": 1, "width": 16, "encoder_depth": 1, "decoder_depth": 1,
                "patch_size": 6, "sampling_steps": 2, "n_heads": 2},
        vae={"max_epochs": 1, "channels": (4, 8)},
        flow={"max_epochs": 2, "n_transforms": 2, "hidden_features": 8, "n_samples": 50},
    ),
    "demo": BenchmarkConfig(
        # Minuet: the shipped weights (72x72 cutouts); `minuet demo --train` trains it here
        # with DEMO_TRAINING instead
        n_galaxies=1000, image_size=72, n_reconstruct=100, n_posterior_samples=4, cv_folds=3,
        vae_study=False, minuet={"pretrained": "sim-grz-72-v4", "sampling_steps": 20},
        vae={"max_epochs": 6},
        flow={"n_transforms": 3, "hidden_features": 32, "max_epochs": 80, "n_samples": 500},
    ),
    "quick": BenchmarkConfig(
        n_galaxies=2000, image_size=48,
        minuet={"max_epochs": 30, "batch_size": 32, "sampling_steps": 20},
        vae={"max_epochs": 20},
        flow={"max_epochs": 200},
    ),
    "full": BenchmarkConfig(
        n_galaxies=50000, image_size=72, minuet={"preset": "paper", "max_epochs": 200},
        vae={"max_epochs": 200}, flow={"max_epochs": 500},
    ),
}
