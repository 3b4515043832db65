"""Galaxy population physics for the simulator: who is in the sample and what they are.

Everything here is vectorised numpy over a catalogue; no image is drawn. The relations:

- stellar mass function: Baldry et al. (2012) double Schechter (z ~ 0, no evolution),
  times the comoving volume element of Planck18 (astropy), kept when r < ``r_mag_limit``;
- star-forming main sequence: Speagle et al. (2014) with t = ``Planck18.age(z)``, 0.3 dex
  scatter; a logistic quenched fraction in mass, quenched galaxies ~1.5 dex below;
- sizes: van der Wel et al. (2014) mass-size relations for late and early types;
  angles from ``Planck18.arcsec_per_kpc_proper``;
- colours: the CWW templates shipped with GalSim, redshifted with ``SED.atRedshift`` and
  integrated through GalSim's LSST g, r, i, z bandpasses (stand-ins for DECam), normalised
  by the Bell et al. (2003) r-band mass-to-light ratio and ``Planck18.distmod``.

Band magnitudes are tabulated once on a redshift grid per template and interpolated, so
a catalogue of 10^5 candidates costs milliseconds.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.special import expit, gammainc, gammaincinv

__all__ = [
    "BAND_NAMES",
    "TEMPLATES",
    "field_galaxy_colours",
    "main_sequence",
    "mass_size",
    "sample_catalog",
]

#: CWW templates in GalSim's share/SEDs, from old/red to young/blue.
TEMPLATES = ("E", "Sbc", "Scd", "Im")
#: Bands with a GalSim LSST bandpass, PSF and depth model.
BAND_NAMES = ("g", "r", "i", "z")

Z_MIN, Z_MAX = 0.02, 1.0
LOGM_MIN, LOGM_MAX = 8.0, 12.2
_Z_GRID = np.linspace(Z_MIN, Z_MAX, 400)
_LOGM_GRID = np.linspace(LOGM_MIN, LOGM_MAX, 211)
_KCORR_Z_GRID = np.linspace(0.0, Z_MAX, 101)  # SED integrals: smooth in z, a coarse grid

M_SUN_R = 4.65  # absolute AB magnitude of the Sun in r (Willmer 2018)
BELL_R = (-0.306, 1.097)  # log10(M/L_r) = a + b (g - r), Bell et al. 2003 table 7
# log sSFR at which the disk light is pure E, Sbc, Scd, Im (linear mixtures between).
_SSFR_ANCHORS = (-11.0, -10.3, -9.8, -9.2)
_SERSIC_GRID = np.array([1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0])  # GalSim caches per index
# van der Wel et al. (2014) table 1: z, log10 A [kpc], alpha, sigma(log R).
_VDW = {
    "late": np.array([[0.25, 0.86, 0.25, 0.16], [0.75, 0.78, 0.22, 0.16], [1.25, 0.70, 0.22, 0.17]]),
    "early": np.array([[0.25, 0.60, 0.75, 0.10], [0.75, 0.42, 0.71, 0.11], [1.25, 0.22, 0.76, 0.12]]),
}
_CANDIDATES_PER_BATCH = 20000


def baldry_smf(log_mstar):
    """Baldry et al. (2012) double-Schechter number density per dex per Mpc^3 (h=0.7)."""
    m = 10.0 ** (np.asarray(log_mstar) - 10.66)
    return np.log(10) * np.exp(-m) * (3.96e-3 * m ** (1 - 0.35) + 0.79e-3 * m ** (1 - 1.47))


def main_sequence(log_mstar, redshift):
    """Speagle et al. (2014) main sequence, log SFR [Msun/yr], with t = Planck18.age(z)."""
    t = _tables()["age"](redshift)
    return (0.84 - 0.026 * t) * np.asarray(log_mstar) - (6.51 - 0.11 * t)


def quenched_fraction(log_mstar):
    """Fraction of quenched galaxies at fixed mass (logistic, 50% at 10^10.6 Msun)."""
    return expit((np.asarray(log_mstar) - 10.6) / 0.25)


def mass_size(log_mstar, redshift, kind):
    """van der Wel et al. (2014) median effective radius [kpc] and scatter [dex].

    Parameters are interpolated linearly in z between the table's bins and held fixed
    outside them (the z < 0.25 sample uses the z = 0.25 relation).
    """
    tab = _VDW[kind]
    z = np.clip(redshift, tab[0, 0], tab[-1, 0])
    log_a, alpha, sigma = (np.interp(z, tab[:, 0], tab[:, i]) for i in (1, 2, 3))
    return 10.0 ** (log_a + alpha * (np.asarray(log_mstar) - np.log10(5e10))), sigma


@functools.lru_cache(maxsize=1)
def _tables():
    """Cosmology and SED tables on the redshift grid (computed once per process)."""
    import galsim
    from astropy.cosmology import Planck18

    z = _Z_GRID
    bandpasses = {
        b: galsim.Bandpass(f"LSST_{b}.dat", wave_type="nm").withZeropoint("AB")
        for b in BAND_NAMES
    }
    seds = {t: galsim.SED(f"CWW_{t}_ext.sed", wave_type="Ang", flux_type="flambda")
            for t in TEMPLATES}
    rest_r = {t: seds[t].calculateMagnitude(bandpasses["r"]) for t in TEMPLATES}
    # kcorr[t][b](z) = m_b(SED at z) - M_r(SED at rest): with GalSim's atRedshift (photon
    # density at the rest wavelength) this is the K-correction from rest r to observed b.
    kcorr = np.empty((len(TEMPLATES), len(BAND_NAMES), _KCORR_Z_GRID.size))
    for i, t in enumerate(TEMPLATES):
        for k, zz in enumerate(_KCORR_Z_GRID):
            shifted = seds[t].atRedshift(zz)
            for j, b in enumerate(BAND_NAMES):
                kcorr[i, j, k] = shifted.calculateMagnitude(bandpasses[b]) - rest_r[t]
    rest_gr = np.array([seds[t].calculateMagnitude(bandpasses["g"]) - rest_r[t]
                        for t in TEMPLATES])

    def interp(values):
        return functools.partial(np.interp, xp=z, fp=values)

    return {
        "kcorr": kcorr,
        "rest_gr": rest_gr,
        "age": interp(Planck18.age(z).value),
        "distmod": interp(Planck18.distmod(z).value),
        "arcsec_per_kpc": interp(Planck18.arcsec_per_kpc_proper(z).value),
        "dvdz": Planck18.differential_comoving_volume(z).value,
    }


def kcorrection(redshift):
    """K-corrections (n, n_templates, n_bands) from rest-frame r to observed bands."""
    kc = _tables()["kcorr"]
    grid = _KCORR_Z_GRID
    z = np.asarray(redshift, dtype=float)
    idx = np.clip(np.searchsorted(grid, z) - 1, 0, grid.size - 2)
    w = (z - grid[idx]) / (grid[idx + 1] - grid[idx])
    return np.moveaxis(kc[:, :, idx] * (1 - w) + kc[:, :, idx + 1] * w, 2, 0)


def field_galaxy_colours(redshifts=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)):
    """Observed colours ``m_b - m_r`` of each template at a few redshifts (for neighbours).

    Returns
    -------
    list (per template) of list (per redshift) of dict band -> colour
    """
    kc = kcorrection(np.asarray(redshifts))  # (z, template, band)
    r = BAND_NAMES.index("r")
    return [[{b: float(kc[k, t, j] - kc[k, t, r]) for j, b in enumerate(BAND_NAMES)}
             for k in range(len(redshifts))] for t in range(len(TEMPLATES))]


def _disk_template_weights(log_ssfr):
    """r-band light weights over TEMPLATES, piecewise linear in log sSFR."""
    x = np.clip(log_ssfr, _SSFR_ANCHORS[0], _SSFR_ANCHORS[-1])
    return np.stack([np.interp(x, _SSFR_ANCHORS, np.eye(len(TEMPLATES))[i])
                     for i in range(len(TEMPLATES))], axis=1)


def _mass_threshold(r_mag_limit):
    """Lowest log M* that can pass the magnitude limit at each z of the grid (a bound)."""
    tab = _tables()
    log_ml = BELL_R[0] + BELL_R[1] * tab["rest_gr"]  # per template
    # r magnitude of 10^10 Msun for each template; the brightest one bounds them all.
    m_r = (M_SUN_R - 2.5 * (10.0 - log_ml[:, None]) + tab["distmod"](_Z_GRID)
           + kcorrection(_Z_GRID)[:, :, BAND_NAMES.index("r")].T)
    # 0.5 dex margin covers the 0.1 dex M/L scatter and template mixtures.
    return 10.0 + (m_r.min(axis=0) - r_mag_limit) / 2.5 - 0.5


def _candidates(rng, size, r_mag_limit):
    """(z, log M*) drawn from SMF x dV/dz on the part of the grid that can pass the limit."""
    tab = _tables()
    dz, dm = _Z_GRID[1] - _Z_GRID[0], _LOGM_GRID[1] - _LOGM_GRID[0]
    weight = tab["dvdz"][:, None] * baldry_smf(_LOGM_GRID)[None, :]
    weight = weight * (_LOGM_GRID[None, :] + dm >= _mass_threshold(r_mag_limit)[:, None])
    p = (weight / weight.sum()).ravel()
    cell = rng.choice(p.size, size=size, p=p)
    iz, im = np.unravel_index(cell, weight.shape)
    z = np.clip(_Z_GRID[iz] + (rng.random(size) - 0.5) * dz, Z_MIN, Z_MAX)
    log_m = np.clip(_LOGM_GRID[im] + (rng.random(size) - 0.5) * dm, LOGM_MIN, LOGM_MAX)
    return z, log_m


def _half_light_radius(fractions, radii, indices):
    """Half-light radius of concentric circular Sersic components (bisection)."""
    b = gammaincinv(2 * indices, 0.5)
    lo, hi = np.zeros(radii.shape[0]), radii.max(axis=1) * 10
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        x = b * (mid[:, None] / radii) ** (1.0 / indices)
        enclosed = (fractions * gammainc(2 * indices, x)).sum(axis=1)
        lo, hi = np.where(enclosed < 0.5, mid, lo), np.where(enclosed < 0.5, hi, mid)
    return 0.5 * (lo + hi)


def _properties(rng, z, log_m):
    """Every physical choice for candidates at (z, log M*); returns a dict of arrays."""
    n = z.size
    tab = _tables()
    u = rng.random((n, 8))
    quenched = u[:, 0] < quenched_fraction(log_m)
    ms = main_sequence(log_m, z)
    log_sfr = np.where(quenched, ms - 1.5 + 0.4 * rng.standard_normal(n),
                       ms + 0.3 * rng.standard_normal(n))
    log_ssfr = log_sfr - log_m

    # Structure: B/T (rest r light) high for quenched galaxies, rising with mass otherwise.
    mean_bt = np.where(quenched, 0.65, 0.05 + 0.3 * expit((log_m - 10.4) / 0.3))
    conc = 8.0
    bulge_fraction = rng.beta(mean_bt * conc, (1 - mean_bt) * conc)
    sersic_n = np.where(
        quenched, rng.choice(_SERSIC_GRID[4:], n, p=[0.15, 0.25, 0.6]),
        rng.choice(_SERSIC_GRID[:5], n, p=[0.25, 0.25, 0.2, 0.15, 0.15]))
    re_late, sig_late = mass_size(log_m, z, "late")
    re_early, sig_early = mass_size(log_m, z, "early")
    re_disk = re_late * 10 ** (sig_late * rng.standard_normal(n)) * np.where(quenched, 0.8, 1.0)
    re_bulge = np.where(quenched, re_early * 10 ** (sig_early * rng.standard_normal(n)),
                        re_disk * rng.uniform(0.15, 0.35, n))
    cos_i = u[:, 1]
    inclination = np.degrees(np.arccos(cos_i))
    disk_thickness = np.where(quenched, 0.2, 0.1)  # scale height / scale radius
    q_disk = np.sqrt(cos_i**2 + disk_thickness**2 * (1 - cos_i**2))
    q_bulge = rng.uniform(0.55, 1.0, n)
    position_angle = rng.uniform(0.0, 180.0, n)

    disky = ~quenched & (bulge_fraction < 0.6) & (log_m > 9.0)
    has_arms = disky & (u[:, 2] < 0.85)
    n_arms = np.where(has_arms, rng.choice([1, 2, 3, 4], n, p=[0.05, 0.55, 0.25, 0.15]), 0)
    pitch_angle = np.where(
        has_arms, np.clip(30 - 25 * bulge_fraction + 4 * rng.standard_normal(n), 6, 40), 0.0)
    arm_fraction = np.where(has_arms, rng.uniform(0.2, 0.45, n), 0.0)
    knot_fraction = np.where(~quenched, rng.uniform(0.04, 0.15, n), 0.0)
    bar_prob = np.where(quenched, 0.1 * (bulge_fraction < 0.7), 0.3 * disky * (log_m > 9.8))
    has_bar = u[:, 3] < bar_prob
    bar_fraction = np.where(has_bar, rng.uniform(0.05, 0.15, n), 0.0)
    bar_angle = rng.uniform(0.0, 180.0, n)
    is_merger = u[:, 4] < 0.04
    merger_mass_ratio = np.where(is_merger, rng.uniform(0.25, 1.0, n), 0.0)

    # Light: component r-band fractions, template mixtures, Bell M/L, distance modulus.
    disk_fraction = 1 - bulge_fraction
    disk_w = _disk_template_weights(log_ssfr)
    # Old populations are E with up to 20% Sbc light (an age/metallicity spread): it gives
    # the red sequence its width.
    old = np.zeros((n, len(TEMPLATES)))
    old[:, 0], old[:, 1] = 1 - 0.2 * u[:, 5], 0.2 * u[:, 5]
    weights = {  # (light fraction, template weights) per component
        "bulge": (bulge_fraction, old),
        "disk": (np.clip(disk_fraction * (1 - arm_fraction - knot_fraction) - bar_fraction,
                         0.0, None), disk_w),
        "arms": (disk_fraction * (arm_fraction + knot_fraction), np.eye(4)[np.full(n, 3)]),
        "bar": (bar_fraction, old),
    }
    rest_g_over_r = 10 ** (-0.4 * tab["rest_gr"])
    lum_g = sum(f * (w @ rest_g_over_r) for f, w in weights.values())
    lum_r = sum(f for f, _ in weights.values())
    rest_gr = -2.5 * np.log10(lum_g / lum_r)
    log_ml = BELL_R[0] + BELL_R[1] * rest_gr + 0.1 * rng.standard_normal(n)
    abs_mag_r = M_SUN_R - 2.5 * (log_m - log_ml)
    flux_r0 = 10 ** (-0.4 * (abs_mag_r + tab["distmod"](z) - 22.5))  # nanomaggies if K=0
    kc = 10 ** (-0.4 * kcorrection(z))  # (n, template, band)
    out = {}
    for comp, (frac, w) in weights.items():
        band_flux = flux_r0[:, None] * (frac / lum_r)[:, None] * np.einsum("nt,ntb->nb", w, kc)
        for j, b in enumerate(BAND_NAMES):
            out[f"flux_{comp}_{b}"] = band_flux[:, j]
    for j, b in enumerate(BAND_NAMES):
        total = sum(out[f"flux_{c}_{b}"] for c in weights)
        out[f"mag_{b}"] = 22.5 - 2.5 * np.log10(total)

    arcsec = tab["arcsec_per_kpc"](z)
    hlr_kpc = _half_light_radius(
        np.stack([bulge_fraction, disk_fraction], 1), np.stack([re_bulge, re_disk], 1),
        np.stack([sersic_n, np.ones(n)], 1))
    hlr = hlr_kpc * arcsec
    axis_ratio = bulge_fraction * q_bulge + disk_fraction * q_disk
    out.update(
        redshift=z, log_mstar=log_m, log_sfr=log_sfr, log_ssfr=log_ssfr, quenched=quenched,
        bulge_fraction=bulge_fraction, sersic_n=sersic_n, re_bulge_kpc=re_bulge,
        re_disk_kpc=re_disk, re_bulge_arcsec=re_bulge * arcsec, re_disk_arcsec=re_disk * arcsec,
        half_light_radius_kpc=hlr_kpc, half_light_radius_arcsec=hlr,
        surface_brightness_r=out["mag_r"] + 2.5 * np.log10(2 * np.pi * hlr**2),
        axis_ratio=axis_ratio, bulge_axis_ratio=q_bulge, disk_axis_ratio=q_disk,
        disk_thickness=disk_thickness, inclination=inclination, position_angle=position_angle,
        n_arms=n_arms, pitch_angle=pitch_angle, arm_fraction=arm_fraction,
        knot_fraction=knot_fraction, has_bar=has_bar, bar_fraction=bar_fraction,
        bar_angle=bar_angle, is_merger=is_merger, merger_mass_ratio=merger_mass_ratio,
        sed_bulge=np.full(n, "E"), sed_disk=np.asarray(TEMPLATES)[disk_w.argmax(axis=1)],
        rest_g_minus_r=rest_gr, log_mass_to_light_r=log_ml, abs_mag_r=abs_mag_r,
    )
    return out


def sample_catalog(n_samples, rng, r_mag_limit):
    """Draw ``n_samples`` galaxies brighter than ``r_mag_limit``.

    Candidates come in fixed-size batches from one generator and the first
    ``n_samples`` that pass are kept, so a smaller sample is a prefix of a larger one.

    Returns
    -------
    dict of ndarray of shape (n_samples,)
    """
    parts, kept = [], 0
    while kept < n_samples:
        z, log_m = _candidates(rng, _CANDIDATES_PER_BATCH, r_mag_limit)
        props = _properties(rng, z, log_m)
        passed = props["mag_r"] < r_mag_limit
        parts.append({k: v[passed] for k, v in props.items()})
        kept += int(passed.sum())
    return {k: np.concatenate([p[k] for p in parts])[:n_samples] for k in parts[0]}
