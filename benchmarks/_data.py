"""The galaxies and encoders benchmark scripts share, and the latent-quality measure several
of them report.

``load_data``: the simulated 72x72 grz split of the Minuet quality questions, the harness's
split (:func:`minuet_sk.evaluation.harness.simulated_split`: the last ``n_test`` galaxies held
out), or the analytic stand-in, stretched as asked. ``simulation_config`` and
``simulation_encoders``: the harness's encoders (:func:`minuet_sk.evaluation.harness.encoders`)
for the questions that set shipped Minuet weights against PCA-5 and a VAE fitted here.
``photometry_features``: the flow questions' true-photometry features (magnitudes, colours,
size) and ``stretched_pixels``: their asinh-stretched pixels for PCA. ``sampling_flow``: the
default flow fitted briefly on random features, for the questions that time its draws. ``latent_r2``: held-out
linear R^2 from latents to each truth. ``mirror_mean``: a Minuet module's latents averaged
over its canonical frame's mirror images (``MIRRORS``), for the screens of that candidate.
``analytic_galaxies``: analytic grz galaxies for
throughput and sanity benchmarks when the simulator is absent. Bulge (Sersic n=4) + disk (n=1)
profiles of random half-light radius, B/T, axis ratio, position angle, r magnitude and
colours, in nanomaggies on 0.262 arcsec pixels, blurred by a Gaussian PSF and with Gaussian
sky noise. Not physical: a stand-in with known truth.
"""

import numpy as np
import torch
from sklearn.linear_model import LinearRegression

from minuet_sk import FlowPropertyRegressor
from minuet_sk.evaluation import BenchmarkConfig
from minuet_sk.evaluation.harness import encoders, simulated_split
from minuet_sk.nn.augment import orient

PIXEL_SCALE = 0.262


def sampling_flow(seed=0, device="cpu"):
    """The default FlowPropertyRegressor fitted for two epochs on 600 rows of 6 random
    features and 3 targets (a draw's cost does not depend on the weights), and the
    generator that made them, to draw new features from."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((600, 6))
    y = X[:, :3] + 0.1 * rng.standard_normal((600, 3))
    return FlowPropertyRegressor(max_epochs=2, random_state=seed, device=device).fit(X, y), rng


def photometry_features(truth):
    """``(n, 6)``: g, r, z magnitudes, g-r, r-z and log10 half-light radius (arcsec) of a
    ``make_galaxies`` truth table (r magnitude in column 1)."""
    return np.c_[truth["mag_g"], truth["mag_r"], truth["mag_z"],
                 truth["mag_g"] - truth["mag_r"], truth["mag_r"] - truth["mag_z"],
                 np.log10(truth["half_light_radius_arcsec"])]


def stretched_pixels(images):
    """Flattened pixels after an asinh stretch softened near the sky noise (0.01
    nanomaggies), the input of the flow questions' PCA-5."""
    return np.arcsinh(np.asarray(images).reshape(len(images), -1) / 0.01)


def _sersic(r_over_re, n):
    b = 2.0 * n - 1.0 / 3.0
    return np.exp(-b * (r_over_re ** (1.0 / n) - 1.0))


def analytic_galaxies(n, size=72, random_state=0):
    """Images ``(n, 3, size, size)`` float32 and a dict of truth arrays.

    Truth: ``log_r_half`` (log10 arcsec), ``g_r``, ``r_mag``, ``position_angle`` (rad).
    """
    rng = np.random.default_rng(random_state)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    log_r_half = rng.uniform(np.log10(0.5), np.log10(3.0), n)
    r_mag = rng.uniform(16.0, 19.0, n)
    g_r = rng.uniform(0.2, 1.2, n)
    r_z = 0.5 * g_r + rng.normal(0, 0.1, n)
    bulge_fraction = np.clip(0.6 * (g_r - 0.2) + rng.normal(0, 0.1, n), 0, 1)
    q = rng.uniform(0.2, 1.0, n)
    angle = rng.uniform(0, np.pi, n)
    seeing = rng.uniform(1.2, 1.6, n) / 2.355 / PIXEL_SCALE  # Gaussian sigma, pixels
    freq = np.fft.fftfreq(size)
    k2 = freq[:, None] ** 2 + freq[None] ** 2
    images = np.empty((n, 3, size, size), np.float32)
    for i in range(n):
        re = 10 ** log_r_half[i] / PIXEL_SCALE
        c, s = np.cos(angle[i]), np.sin(angle[i])
        u, v = c * xx + s * yy, (-s * xx + c * yy) / q[i]
        r = np.hypot(u, v) / re
        profile = bulge_fraction[i] * _sersic(r, 4.0) / 22.7 + (1 - bulge_fraction[i]) * (
            _sersic(r, 1.0) / 5.36)
        profile = np.fft.ifft2(np.fft.fft2(profile) * np.exp(-2 * np.pi**2 * seeing[i] ** 2
                                                             * k2)).real
        profile /= profile.sum()
        flux_r = 10 ** ((22.5 - r_mag[i]) / 2.5)
        fluxes = flux_r * 10 ** (-0.4 * np.array([g_r[i], 0.0, -r_z[i]]))
        images[i] = fluxes[:, None, None] * profile[None]
    images += rng.normal(0, [[[0.004]], [[0.006]], [[0.015]]], images.shape).astype(np.float32)
    truth = {"log_r_half": log_r_half, "g_r": g_r, "r_mag": r_mag, "position_angle": angle}
    return images, truth


def load_data(n_train, n_test, analytic, stretch, softening=None, *, return_stretch=False):
    """(X_train, X_test, truth_train, truth_test) with truth as dicts of arrays, and the
    fitted stretch (None without one) when ``return_stretch``.

    Truth: log10 half-light radius (arcsec), g-r, r magnitude and, for the simulated
    galaxies, the axis ratio and bulge fraction of the issue-24 targets.

    The harness's split of ``make_galaxies(n_train + n_test, image_size=72, random_state=0)``
    (:func:`~minuet_sk.evaluation.harness.simulated_split`: the first ``n_train`` galaxies
    train, the last ``n_test`` are held out), or the analytic stand-in split alike; with
    ``stretch="asinh"``, ``AsinhStretch(softening=softening)`` (its default softening when
    None) fitted on the training part.
    """
    from minuet_sk import AsinhStretch

    config = BenchmarkConfig(n_galaxies=n_train + n_test, image_size=72,
                             test_fraction=n_test / (n_train + n_test), seed=0)
    if analytic:
        X, truth = analytic_galaxies(config.n_galaxies, size=config.image_size,
                                     random_state=config.seed)
        truth = {"log_r_half_arcsec": truth["log_r_half"], "g_r": truth["g_r"],
                 "r_mag": truth["r_mag"]}
        train, test = np.arange(n_train), np.arange(n_train, config.n_galaxies)
    else:
        galaxies, train, test = simulated_split(config)
        X, t = galaxies.images, galaxies.truth
        truth = {"log_r_half_arcsec": np.log10(t["half_light_radius_arcsec"].to_numpy()),
                 "g_r": (t["mag_g"] - t["mag_r"]).to_numpy(), "r_mag": t["mag_r"].to_numpy(),
                 "axis_ratio": t["axis_ratio"].to_numpy(),
                 "bulge_fraction": t["bulge_fraction"].to_numpy()}
    fitted = None
    if stretch == "asinh":
        fitted = (AsinhStretch() if softening is None
                  else AsinhStretch(softening=softening)).fit(X[train])
        X = fitted.transform(X).reshape(X.shape)
    out = (X[train], X[test], {k: v[train] for k, v in truth.items()},
           {k: v[test] for k, v in truth.items()})
    return (*out, fitted) if return_stretch else out


def latent_r2(est, X_train, X_test, truth_train, truth_test):
    """Held-out R^2 of a linear regression from the latents to each truth column."""
    Z_train, Z_test = est.transform(X_train), est.transform(X_test)
    return {k: float(LinearRegression().fit(Z_train, truth_train[k])
                     .score(Z_test, truth_test[k])) for k in truth_train}


def simulation_config(weights, vae_epochs, seed):
    """The harness's settings for the shipped Minuet ``weights`` against PCA-5 and a VAE
    trained for ``vae_epochs`` epochs: 72x72 grz cutouts, 5 latents, the estimators seeded
    with ``seed``, on the CPU (a :class:`~minuet_sk.evaluation.BenchmarkConfig`)."""
    return BenchmarkConfig(image_size=72, minuet={"pretrained": weights},
                           vae={"max_epochs": vae_epochs}, seed=seed, device="cpu")


def simulation_encoders(config, n_train):
    """The harness's encoders for ``config`` (:func:`~minuet_sk.evaluation.harness.encoders`),
    those not shipped fitted on ``make_galaxies(n_train, random_state=0)`` as the harness
    fits them: ``(encoders, stretch)``, ``{"minuet": ..., "vae": ..., "pca": ...}`` and the
    fitted ``AsinhStretch()`` whose output they all take (the stretch the shipped weights
    carry; images in nanomaggies go in as ``stretch.transform(images)``)."""
    from minuet_sk import AsinhStretch
    from minuet_sk.datasets import make_galaxies

    train = make_galaxies(n_train, image_size=config.image_size, random_state=0).images
    stretch = AsinhStretch(image_shape=train.shape[1:]).fit(train)
    X_train = stretch.transform(train).reshape(train.shape)
    models, prefitted = encoders(config)
    for name, model in models.items():
        if name not in prefitted:
            model.fit(X_train)
    return models, stretch


#: Mirror images of the canonical frame, ``(x sign, y sign)``, by how many are averaged.
MIRRORS = {1: ((1, 1),), 2: ((1, 1), (1, -1)), 4: ((1, 1), (1, -1), (-1, 1), (-1, -1))}


def mirror_mean(module, images, mirrors=MIRRORS[4]):
    """Latents ``(B, n_latents)`` of standardised ``images``: the mean of the encoder's over
    the canonical frame mirrored by each ``(x sign, y sign)`` of ``mirrors``, in one pass."""
    frame = module.frame_matrices(images)
    views = []
    for sign_x, sign_y in mirrors:
        mirrored = frame.clone()
        mirrored[:, :, 0] *= sign_x
        mirrored[:, :, 1] *= sign_y
        views.append(orient(images, mirrored))
    latents = module.encoder(module._mix(module.band_mixing, torch.cat(views)))
    return latents.reshape(len(mirrors), len(images), -1).mean(0)
