"""Analytic grz galaxies for throughput and sanity benchmarks when the simulator is absent.

Bulge (Sersic n=4) + disk (n=1) profiles of random half-light radius, B/T, axis ratio,
position angle, r magnitude and colours, in nanomaggies on 0.262 arcsec pixels, blurred by
a Gaussian PSF and with Gaussian sky noise. Not physical: a stand-in with known truth.
"""

import numpy as np

PIXEL_SCALE = 0.262


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
