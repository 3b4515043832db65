"""Radial power spectra of images, and how far a reconstruction's spectrum is from its
input's (the statistic of Gagliano, Shen & Villar 2025)."""

from __future__ import annotations

import numpy as np

__all__ = ["power_spectrum_error", "radial_power_spectrum"]


def radial_power_spectrum(images, *, n_bins=None, return_frequencies=False):
    """Azimuthally averaged power spectrum of each band of each image.

    ``P(k) = < |FFT(image)|^2 > / (H W)`` averaged over the annulus ``|k|`` in each radial
    bin, with ``|k| = sqrt(k_x^2 + k_y^2)`` in cycles per pixel and ``n_bins`` equal bins
    on [0, 0.5] (the Nyquist frequency; corners beyond it are left out). This is the
    statistic Gagliano, Shen & Villar (2025, arXiv:2512.04145) compare between
    reconstructions and truth per band. NaN (missing) pixels count as zero.

    Parameters
    ----------
    images : array-like of shape (n, C, H, W)
    n_bins : int, optional
        Number of radial bins; default ``min(H, W) // 2``.
    return_frequencies : bool, default=False
        Also return the bin centres (cycles per pixel).

    Returns
    -------
    power : ndarray of shape (n, C, n_bins)
    frequencies : ndarray of shape (n_bins,)
        Only when ``return_frequencies``.

    Examples
    --------
    >>> import numpy as np
    >>> images = np.random.default_rng(0).standard_normal((2, 3, 16, 16))
    >>> radial_power_spectrum(images).shape
    (2, 3, 8)
    """
    images = np.nan_to_num(np.asarray(images, dtype=np.float64), nan=0.0)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (n, C, H, W); got {images.shape}.")
    height, width = images.shape[-2:]
    n_bins = min(height, width) // 2 if n_bins is None else int(n_bins)
    power = np.abs(np.fft.fft2(images)) ** 2 / (height * width)
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(height), np.fft.fftfreq(width), indexing="ij"))
    edges = np.linspace(0.0, 0.5, n_bins + 1)
    index = np.digitize(k.ravel(), edges[1:-1])
    inside = k.ravel() <= 0.5
    one_hot = np.zeros((height * width, n_bins))
    one_hot[np.flatnonzero(inside), index[inside]] = 1.0
    counts = np.maximum(one_hot.sum(axis=0), 1.0)
    radial = power.reshape(*images.shape[:2], -1) @ one_hot / counts
    if return_frequencies:
        return radial, 0.5 * (edges[1:] + edges[:-1])
    return radial


def power_spectrum_error(truth, recon, *, n_bins=None):
    """Fractional error of the mean radial power spectrum of reconstructions, per band.

    ``<P_recon(k)> / <P_truth(k)> - 1``, the averages over galaxies of
    :func:`radial_power_spectrum` per band and radial bin: 0 where the reconstructions
    have the right power at that scale, -1 where they have none (blurry reconstructions
    lose the high-k power).

    Parameters
    ----------
    truth, recon : array-like of shape (n, C, H, W)
    n_bins : int, optional
        As in :func:`radial_power_spectrum`.

    Returns
    -------
    ndarray of shape (C, n_bins)

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.random.default_rng(0).standard_normal((4, 1, 8, 8))
    >>> np.allclose(power_spectrum_error(truth, 0.5 * truth), -0.75)
    True
    """
    if np.shape(truth) != np.shape(recon):
        raise ValueError(f"truth {np.shape(truth)} and recon {np.shape(recon)} differ.")
    p_truth = radial_power_spectrum(truth, n_bins=n_bins).mean(axis=0)
    p_recon = radial_power_spectrum(recon, n_bins=n_bins).mean(axis=0)
    return p_recon / np.where(p_truth > 0, p_truth, np.nan) - 1.0
