"""Fixtures of the report tests: a benchmark folder of the right form, without a benchmark."""

import json

import numpy as np
import pytest

TASKS = ("merger", "spiral", "edge_on", "round", "smooth", "bar")
TARGETS = ("redshift", "log_mstar", "log_sfr")
CONDITIONS = [f"{c}_{b}" for c in ("noise_sigma", "psf_fwhm") for b in "grz"]


def _encoder(name, mse, top1):
    """One encoder's results; its latents' correlations are named as results.json names them
    (``latent0``...), its conditions' as ``get_feature_names_out`` does (``minuet0``...)."""
    corr = {"pearson": {f"latent{i}": {"redshift": 0.1 * i, "log_mstar": -0.2}
                        for i in range(5)},
            "spearman": {f"latent{i}": {"redshift": 0.1 * i, "log_mstar": -0.2,
                                        "mag_g": 0.5, "mag_r": -0.7} for i in range(5)}}
    post = {"redshift": {"sigma_nmad": 0.05, "outlier_fraction": 0.01, "bias": 0.0},
            "crps": dict.fromkeys(TARGETS, 0.1), "coverage_68": dict.fromkeys(TARGETS, 0.68),
            "coverage_95": dict.fromkeys(TARGETS, 0.95), "fit_seconds": 1.0,
            "samples_per_s": 1e4}
    results = {
        "reconstruction": {"mse_per_band": [mse] * 3,
                           "power_spectrum_log_error_per_band": [0.1, 0.2, 0.3]},
        "latent_factors": {"r magnitude": 0.9, "axis ratio": 0.5},
        "probes": {t: {"logistic": 0.8, "mlp": 0.85} for t in TASKS},
        "posteriors": post, "similarity": {"gz_spiral": 0.7}, "orientation": {"mean": 0.1},
        "correlations": {"properties": corr, "galaxy_zoo": corr},
        "cost": {"fit_seconds": 3.0},
    }
    spearman = {f"{name}{i}": dict.fromkeys(CONDITIONS, 0.01) for i in range(5)}
    spearman[f"{name}0"].update(noise_sigma_r=-0.55, psf_fwhm_r=0.57, psf_fwhm_g=0.3)
    again = {"conditions": {"spearman": spearman, "r2": dict.fromkeys(CONDITIONS, 0.1),
                            "max_abs_spearman": 0.57},
             "stability": {"new noise": {"shift_nn": 0.3, "top1": top1}},
             "factor_bias": {}}
    return results, again


@pytest.fixture
def benchmark_folder(tmp_path):
    """A ``results.json`` of the right form, with the re-observation question, and small
    PNG figures of the harness's names (the report only renders them)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    (tmp_path / "figures").mkdir()
    for stem in ("1_reconstructions", "2_power_spectra", "3_latents_by_redshift",
                 "5_neighbours_minuet", "9_reobserved"):
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.imshow(rng.random((8, 8)))
        fig.savefig(tmp_path / "figures" / f"{stem}.png")
        plt.close(fig)
    encoders, reobservation = {}, {}
    for name, mse, top1 in (("minuet", 2.0, 0.9), ("vae", 1.0, 0.6), ("pca", 3.0, 0.7)):
        encoders[name], reobservation[name] = _encoder(name, mse, top1)
    results = {"package_version": "0", "seed": 0,
               "settings": {"n_components": 5, "cv_folds": 5,
                            "minuet": {"max_epochs": 7, "width": 16}, "vae": {}},
               "machine": {"platform": "test"}, "data": {"n_train": 10, "n_test": 5,
                                                         "image_shape": [3, 8, 8]},
               "encoders": encoders, "reobservation": reobservation,
               "pixel_probes": {t: {"logistic": 0.7} for t in TASKS},
               "oracle_posteriors": encoders["pca"]["posteriors"], "peak_memory_mb": 1.0,
               "simulate_seconds": 1.0}
    (tmp_path / "results.json").write_text(json.dumps(results))
    return tmp_path
