"""Do eigengalaxies fitted on simulations organise real HST galaxies?

A worked example: if eigengalaxies (EigengalaxyPCA) are fitted on simulated galaxies only, do their
latents still organise *real* galaxies, i.e. the Hubble Deep Field cutouts of
``load_hubble_deep_field``? We measure it three ways on the HDF cutouts that do not touch
the image edge, against an in-domain PCA fitted on half of the HDF itself:

1. reconstruction: the fraction of the held-out HDF pixel variance in the central 16 x 16
   pixels that the 8 components explain (R^2; the outskirts are mostly noise);
2. nearest neighbours: Spearman correlation between a galaxy's measured property (log area,
   ellipticity, log FWHM, colour) and the mean property of its 5 latent-space neighbours
   (0 for random neighbours);
3. a picture: six HDF galaxies and their five nearest HDF neighbours in the simulation-trained
   latent space.

The training set is a small GalSim simulation drawn here (bulge + inclined exponential disk,
red bulge and blue disk colours, Gaussian PSF, sky noise) rather than
``minuet_sk.datasets.make_galaxies``: that one draws DECaLS stamps at 0.262"/pixel and 1.2-1.6"
seeing, while the HDF galaxies span 1.5-10 pixels of an image without a pixel scale, so the
sizes here are drawn in HDF pixels to match.
Both sets get the same preprocessing, which discards what cannot transfer: each cutout is
divided by its central flux (8-bit display units and nanomaggies do not share a scale) and
asinh-stretched; the HDF channels are put in blue, green, red order to match g, r, z.

Run: ``python benchmarks/quality_hubble_neighbors.py`` (about 30 s on one core). Results in
``benchmarks/results/quality_hubble_neighbors/`` (the picture: ``hubble_neighbors.png``).
"""

from __future__ import annotations

import argparse
import json
import time

import galsim
import matplotlib
import numpy as np
from scipy.stats import spearmanr
from sklearn.neighbors import NearestNeighbors

from minuet_sk import EigengalaxyPCA
from minuet_sk.datasets import load_hubble_deep_field

from _common import record, results_dir

matplotlib.use("Agg")
import matplotlib.pyplot as plt

SIZE, N_SIM, N_COMPONENTS, K = 48, 1500, 8, 5


def toy_galsim_galaxies(n, size, seed):
    """Bulge + inclined disk galaxies in 3 bands (blue, green, red), pixel units."""
    rng = np.random.default_rng(seed)
    psf = galsim.Gaussian(fwhm=2.0)
    images = np.empty((n, 3, size, size), dtype=np.float32)
    bulge_colour, disk_colour = np.array([0.4, 0.7, 1.0]), np.array([0.9, 0.8, 0.7])
    for i in range(n):
        bt = rng.uniform(0, 1)
        disk = galsim.Exponential(half_light_radius=rng.uniform(1.5, 10.0)).shear(
            q=rng.uniform(0.15, 1.0), beta=rng.uniform(0, np.pi) * galsim.radians)
        bulge = galsim.DeVaucouleurs(half_light_radius=rng.uniform(0.8, 4.0)).shear(
            q=rng.uniform(0.6, 1.0), beta=rng.uniform(0, np.pi) * galsim.radians)
        offset = rng.normal(0, 0.5, 2)
        planes = [galsim.Convolve(p, psf).drawImage(nx=size, ny=size, scale=1.0,
                                                    offset=offset).array
                  for p in (bulge, disk)]
        colour_scatter = rng.normal(1.0, 0.1, 3)
        flux = 10 ** rng.uniform(3.4, 4.6) / 2  # HDF summed fluxes: 2.5e3-4e4 (display units)
        images[i] = flux * colour_scatter[:, None, None] * (
            bt * bulge_colour[:, None, None] * planes[0]
            + (1 - bt) * disk_colour[:, None, None] * planes[1])
    return images + rng.normal(0, 8.0, images.shape).astype(np.float32)  # HDF sky noise


def normalise(images):
    """Divide each cutout by its central flux, then asinh-stretch: shape and colour only."""
    c, half = images.shape[-1] // 2, 6
    centre = np.nansum(images[:, :, c - half : c + half, c - half : c + half], axis=(1, 2, 3))
    scaled = images / np.maximum(centre, 1e-6)[:, None, None, None]
    return np.arcsinh(scaled * 50.0).astype(np.float32)


def explained_variance(model, X, half=8):
    """R^2 of the reconstructions over the central 2*half pixels (the outskirts are noise)."""
    recon = model.inverse_transform(model.transform(X)).reshape(X.shape)
    c = X.shape[-1] // 2
    window = (..., slice(c - half, c + half), slice(c - half, c + half))
    X, recon = X[window], recon[window]
    return float(1 - np.sum((X - recon) ** 2) / np.sum((X - X.mean(axis=0)) ** 2))


def neighbour_consistency(latents, properties):
    """Spearman rho between each property and the mean over the K nearest neighbours."""
    idx = NearestNeighbors(n_neighbors=K + 1).fit(latents).kneighbors(latents)[1][:, 1:]
    return {name: float(spearmanr(values, values[idx].mean(axis=1))[0])
            for name, values in properties.items()}


def rgb(image):
    """Display a (3, H, W) blue/green/red cutout."""
    x = np.nan_to_num(image[::-1].transpose(1, 2, 0))
    return np.clip(x / np.percentile(x, 99.5), 0, 1)


def main():
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    hdf = load_hubble_deep_field(image_size=SIZE)
    interior = ~np.isnan(hdf.images).any(axis=(1, 2, 3))
    real = hdf.images[interior][:, ::-1]  # R, G, B -> B, G, R (the g, r, z order)
    data = hdf.data[interior].reset_index(drop=True)
    c = SIZE // 2
    centre = real[:, :, c - 4 : c + 4, c - 4 : c + 4].sum(axis=(2, 3))
    properties = {
        "log_area": np.log10(data["area"].to_numpy()),
        "ellipticity": data["ellipticity"].to_numpy(),
        "log_fwhm": np.log10(data["fwhm"].to_numpy()),
        "colour_blue_minus_red": -2.5 * np.log10(np.clip(centre[:, 0], 1, None)
                                                 / np.clip(centre[:, 2], 1, None)),
    }
    X_real = normalise(real)
    X_sim = normalise(toy_galsim_galaxies(N_SIM, SIZE, seed=1))

    half = rng.permutation(len(X_real))
    fit_half, test_half = half[: len(half) // 2], half[len(half) // 2 :]
    shape = (3, SIZE, SIZE)
    on_sims = EigengalaxyPCA(N_COMPONENTS, image_shape=shape, random_state=0).fit(X_sim)
    on_hdf = EigengalaxyPCA(N_COMPONENTS, image_shape=shape, random_state=0).fit(
        X_real[fit_half])

    results = {
        "n_hdf_sources_interior": len(X_real),
        "n_simulated_training": N_SIM,
        "n_components": N_COMPONENTS,
        "image_size": SIZE,
        "explained_variance_on_heldout_hdf": {
            "pca_fit_on_simulations": explained_variance(on_sims, X_real[test_half]),
            "pca_fit_on_hdf_half": explained_variance(on_hdf, X_real[test_half]),
        },
        "explained_variance_on_simulations_by_sim_pca": explained_variance(on_sims, X_sim),
        "neighbour_property_spearman": {
            "pca_fit_on_simulations": neighbour_consistency(on_sims.transform(X_real),
                                                            properties),
            "pca_fit_on_hdf_half": neighbour_consistency(on_hdf.transform(X_real), properties),
            "random_latents": neighbour_consistency(rng.normal(size=(len(X_real), 8)),
                                                    properties),
        },
    }

    latents = on_sims.transform(X_real)
    queries = np.argsort(data["flux"].to_numpy())[::-1][:6]
    idx = NearestNeighbors(n_neighbors=K + 1).fit(latents).kneighbors(latents[queries])[1]
    fig, axes = plt.subplots(len(queries), K + 1, figsize=(1.6 * (K + 1), 1.6 * len(queries)))
    for row, neighbours in enumerate(idx):
        for col, j in enumerate(neighbours):
            ax = axes[row, col]
            ax.imshow(rgb(real[j]), origin="lower")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title("query" if col == 0 else f"neighbour {col}", fontsize=8)
    fig.suptitle("HDF galaxies and nearest neighbours in eigengalaxy space fitted on "
                 "simulations", fontsize=9)
    fig.savefig(results_dir("quality_hubble_neighbors") / "hubble_neighbors.png", dpi=60,
                bbox_inches="tight")
    results["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(results, indent=2))
    record("quality_hubble_neighbors", figures=results, headline=headline(results), seed=0,
           settings={"n_simulated": N_SIM, "n_components": N_COMPONENTS, "size": SIZE, "k": K},
           target="neighbour Spearman above the in-domain PCA's and random latents' (0)")


def headline(results):
    """Neighbour Spearman of size and ellipticity, simulation-fitted vs in-domain PCA."""
    rho = results["neighbour_property_spearman"]
    sim, hdf = rho["pca_fit_on_simulations"], rho["pca_fit_on_hdf_half"]
    return (f"neighbour Spearman, sim-fitted vs HDF-fitted PCA: log area {sim['log_area']:.2f} "
            f"vs {hdf['log_area']:.2f}, ellipticity {sim['ellipticity']:.2f} vs "
            f"{hdf['ellipticity']:.2f}")


if __name__ == "__main__":
    main()
