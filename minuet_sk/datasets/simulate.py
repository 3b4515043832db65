"""The default data set: physically simulated DECaLS-like galaxy cutouts (GalSim + astropy).

:func:`make_galaxies` draws a magnitude-limited galaxy population (``_physics``), renders
every galaxy in each band with GalSim (``_render``), lets simulated Galaxy Zoo volunteers
vote on it (``_volunteers``) and caches the result on disk (``_cache``).

What it is, honestly: a physically motivated toy universe, not a mock survey. The LSST
g, r, i, z bandpasses shipped with GalSim stand in for DECam's; the four CWW templates
(and mixtures of them) are the only SEDs, without emission lines, dust or evolution; the
mass function does not evolve with redshift; spiral arms are elongated Gaussian segments
along logarithmic spirals, knots are Gaussians, a bar is an elongated Gaussian; mergers
are a companion plus a tidal tail of blobs and a sheared disk; noise is Gaussian sky noise
only (no source shot noise, no cosmic rays, no bad columns); PSFs are Moffat profiles.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.utils import Bunch, check_random_state

from minuet_sk.datasets import _cache, _physics, _render, _volunteers

__all__ = ["make_galaxies"]

#: Part of the cache key: bump it whenever a change alters what the simulator draws.
SIMULATOR_VERSION = 1
_CHUNK = 16  # galaxies per joblib task
_PROGRESS_MIN = 1000  # show a progress bar from this many galaxies (on a terminal)

#: Documentation of the truth table (part of DESCR).
_TRUTH_DOC = """
    Truth columns (``truth``):

    - ``redshift``, ``log_mstar``, ``log_sfr``, ``log_ssfr``, ``quenched``: population draw.
    - ``bulge_fraction`` (B/T in rest-frame r light), ``sersic_n`` (bulge index; the disk is
      exponential), ``re_bulge_kpc``, ``re_disk_kpc``, ``re_bulge_arcsec``,
      ``re_disk_arcsec`` (component half-light radii), ``half_light_radius_kpc``,
      ``half_light_radius_arcsec`` (of the face-on bulge + disk, before the PSF),
      ``surface_brightness_r`` (mean within it, mag/arcsec^2).
    - ``inclination`` (deg, 0 = face-on), ``position_angle`` (deg), ``axis_ratio``
      (B/T-weighted apparent b/a of bulge and disk), ``bulge_axis_ratio``,
      ``disk_axis_ratio``, ``disk_thickness`` (scale height / scale length).
    - ``n_arms``, ``pitch_angle`` (deg), ``arm_fraction``, ``knot_fraction``, ``has_bar``,
      ``bar_fraction``, ``bar_angle``, ``is_merger``, ``merger_mass_ratio``.
    - ``sed_bulge``, ``sed_disk`` (dominant CWW template), ``rest_g_minus_r``,
      ``log_mass_to_light_r`` (Bell et al. 2003), ``abs_mag_r``.
    - ``mag_g``, ``mag_r``, ``mag_i``, ``mag_z`` (AB, total of the central galaxy, without a
      merger's companion, which adds ``merger_mass_ratio`` times its flux) and
      ``flux_{bulge,disk,arms,bar}_{band}`` (nanomaggies).
    - per band ``psf_fwhm_{b}`` (arcsec), ``psf_depth_{b}`` (5-sigma point source, AB),
      ``noise_sigma_{b}`` (sky noise per pixel, nanomaggies); ``seeing`` (r-band FWHM of
      the night, arcsec), ``psf_beta``, ``psf_e1``, ``psf_e2``.
    - ``n_neighbors``, ``has_neighbor``, ``n_neighbor_stars``, ``nearest_neighbor_arcsec``,
      ``brightest_neighbor_mag_r``; ``visibility`` (what the simulated volunteers see).
"""

DESCR = f"""Simulated DECaLS-like galaxy cutouts (minuet_sk.datasets.make_galaxies)
=====================================================================

Images: (n, bands, H, W) float32 in nanomaggies (AB zero point 22.5), DECaLS pixel scale
0.262 arcsec by default, galaxy centred within half a pixel.

Population: (z, M*) from the Baldry et al. (2012) stellar mass function times the
Planck18 comoving volume (astropy), 0.02 < z < 1, kept if r < r_mag_limit. log SFR from
the Speagle et al. (2014) main sequence with t = Planck18.age(z) and 0.3 dex scatter; a
logistic quenched fraction (50% at 10^10.6 Msun) sits 1.5 dex below it. Sizes from the van
der Wel et al. (2014) mass-size relations, arcsec from Planck18.arcsec_per_kpc_proper.

Light: Sersic bulge (truncated at 5 half-light radii) + GalSim InclinedExponential disk,
spiral arms and star-forming knots (Im template), bars, ~4% mergers (companion + tidal
tail). Colours from GalSim's CWW E/Sbc/Scd/Im templates (disks mix them by sSFR; bulges
and bars are E with up to 20% Sbc light), redshifted by GalSim and integrated through
GalSim's LSST g/r/i/z bandpasses, which stand in for DECam's; normalised with the Bell et
al. (2003) M/L_r and Planck18.distmod. All bands are drawn by GalSim's FFT method (pixel
response included), sharing each component's k-space image across bands.

Observing: per-galaxy Moffat PSF (beta 3.5, r FWHM ~1.3" with scatter; g broader, z
sharper), Gaussian sky noise from DECaLS-like 5-sigma depths (g 24.6, r 24.0, z 23.1),
optional neighbours (field galaxies and stars). masks: pixels where the central galaxy's
noiseless model is above 1 sigma of the combined noise and brighter than the neighbours.

Votes: ~40 simulated volunteers walk the GZ DECaLS (GZD-5) decision tree; their answers
follow the truth, blurred by visibility (size against seeing, surface brightness).

Not modelled: emission lines, dust, evolution of the mass function or SEDs, source shot
noise, artefacts, real DECam throughputs.
{_TRUTH_DOC}"""


def _check_params(n_samples, image_size, bands, pixel_scale, r_mag_limit):
    if not isinstance(n_samples, numbers.Integral) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
    if not isinstance(image_size, numbers.Integral) or image_size < 8:
        raise ValueError(f"image_size must be an integer >= 8, got {image_size!r}.")
    if (not isinstance(bands, str) or not bands
            or any(b not in _physics.BAND_NAMES for b in bands) or len(set(bands)) != len(bands)):
        raise ValueError(
            f"bands must be distinct letters among {''.join(_physics.BAND_NAMES)!r}, "
            f"got {bands!r}.")
    if not pixel_scale > 0:
        raise ValueError(f"pixel_scale must be positive, got {pixel_scale!r}.")
    if not 12.0 <= r_mag_limit <= 24.0:
        raise ValueError(f"r_mag_limit must lie in [12, 24], got {r_mag_limit!r}.")


def _simulate(n_samples, image_size, bands, pixel_scale, r_mag_limit, neighbors, n_jobs, seed):
    """Catalogue, observing conditions, images and votes for an integer seed sequence."""
    catalog_ss, render_ss, vote_ss = np.random.SeedSequence(seed).spawn(3)
    catalog_rng = np.random.default_rng(catalog_ss)
    frame = pd.DataFrame(_physics.sample_catalog(n_samples, catalog_rng, r_mag_limit))
    rows = frame.to_dict("records")
    # One seed per galaxy, fixed before chunking: the images ignore n_jobs and chunking, and
    # (with the catalogue's fixed batches) a smaller sample is a prefix of a larger one.
    seeds = [int(s.generate_state(1, np.uint64)[0]) for s in render_ss.spawn(n_samples)]
    chunks = [slice(i, i + _CHUNK) for i in range(0, n_samples, _CHUNK)]
    colours = _physics.field_galaxy_colours()
    tasks = (delayed(_render.render_chunk)(rows[c], seeds[c], bands, image_size, pixel_scale,
                                           neighbors, colours) for c in chunks)
    results = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
    images = np.empty((n_samples, len(bands), image_size, image_size), np.float32)
    masks = np.empty((n_samples, image_size, image_size), bool)
    infos = []
    progress = _progress(n_samples)
    for c, (im, mk, info) in zip(chunks, results):
        images[c], masks[c] = im, mk
        infos += info
        progress.update(len(info))
    progress.close()
    truth = pd.concat([frame, pd.DataFrame(infos)], axis=1)
    truth["visibility"] = _volunteers.visibility(truth)
    votes = _volunteers.simulate_votes(truth, np.random.default_rng(vote_ss))
    return images, masks, truth, votes


def _progress(n):
    from tqdm.auto import tqdm

    # disable=None hides the bar when stderr is not a terminal.
    return tqdm(total=n, desc="simulating galaxies", unit="gal",
                disable=None if n >= _PROGRESS_MIN else True)


def make_galaxies(n_samples=1000, *, image_size=72, bands="grz", pixel_scale=0.262,
                  r_mag_limit=19.0, neighbors=True, n_jobs=None, cache=True,
                  random_state=None):
    """Simulate DECaLS-like galaxy cutouts with physical properties and Galaxy Zoo votes.

    Galaxies are drawn from a stellar mass function with a magnitude limit, given star
    formation, structure and colours from empirical relations, rendered with GalSim
    (Moffat PSF, sky noise, optional neighbours) and voted on by simulated Galaxy Zoo
    volunteers. See ``DESCR`` of the result for the physics and what is simplified.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of galaxies.
    image_size : int, default=72
        Side of the square cutouts in pixels.
    bands : str, default="grz"
        Bands, in channel order, from ``"griz"`` (LSST filters stand in for DECam's).
    pixel_scale : float, default=0.262
        Arcsec per pixel (DECaLS).
    r_mag_limit : float, default=19.0
        Apparent r magnitude limit of the sample (``18.0`` gives a bright sample).
    neighbors : bool, default=True
        Add random field galaxies and stars to the cutouts.
    n_jobs : int, default=None
        Parallel joblib workers (``None``: 1 unless in a ``joblib.parallel_config``
        context, ``-1``: all cores). The result does not depend on it.
    cache : bool, default=True
        Read/write the data set in the cache folder (``$MINUET_SK_DATA`` or
        ``~/.cache/minuet_sk``). Only used when ``random_state`` is an integer.
    random_state : int, RandomState instance or None, default=None
        Seeds everything; the same integer gives the same arrays bit for bit.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        images : ndarray of shape (n_samples, n_bands, image_size, image_size), float32
            Flux in nanomaggies per pixel.
        data : ndarray of shape (n_samples, n_bands * image_size**2)
            The same images flattened (a view).
        masks : ndarray of shape (n_samples, image_size, image_size), bool
            Segmentation of the central galaxy.
        target : DataFrame
            Columns ``redshift``, ``log_mstar`` (log10 Msun), ``log_sfr`` (log10 Msun/yr).
        truth : DataFrame
            Every choice of the simulator (see ``DESCR``).
        votes : DataFrame
            Galaxy Zoo DECaLS vote counts, totals and fractions.
        bands : str
            Band names, in channel order.
        pixel_scale : float
            Arcsec per pixel.
        DESCR : str
            Description of the simulation, its physics and its limits.

    Examples
    --------
    >>> from minuet_sk.datasets import make_galaxies
    >>> galaxies = make_galaxies(8, image_size=32, cache=False, random_state=0)
    >>> galaxies.images.shape
    (8, 3, 32, 32)
    >>> list(galaxies.target.columns)
    ['redshift', 'log_mstar', 'log_sfr']
    >>> bool((galaxies.truth["mag_r"] < 19).all())
    True
    """
    _check_params(n_samples, image_size, bands, pixel_scale, r_mag_limit)
    if isinstance(random_state, numbers.Integral):
        seed = int(random_state)
    else:
        seed = [int(x) for x in check_random_state(random_state).randint(0, 2**31 - 1, 4)]
    params = {"version": SIMULATOR_VERSION, "n_samples": int(n_samples),
                  "image_size": int(image_size), "bands": bands, "pixel_scale": float(pixel_scale),
                  "r_mag_limit": float(r_mag_limit), "neighbors": bool(neighbors), "seed": seed}
    use_cache = cache and isinstance(random_state, numbers.Integral)
    path = _cache.cache_path("galaxies", params) if use_cache else None
    stored = _cache.load(path) if use_cache and path.exists() else None
    if stored is not None:
        arrays, tables = stored
        images, masks = arrays["images"], arrays["masks"]
        truth, votes = tables["truth"], tables["votes"]
    else:
        images, masks, truth, votes = _simulate(
            int(n_samples), int(image_size), bands, float(pixel_scale), float(r_mag_limit),
            bool(neighbors), n_jobs, seed)
        if use_cache:
            _cache.save(path, {"images": images, "masks": masks},
                        {"truth": truth, "votes": votes})
    return Bunch(
        images=images,
        data=images.reshape(len(images), -1),
        masks=masks,
        target=truth[["redshift", "log_mstar", "log_sfr"]].copy(),
        truth=truth,
        votes=votes,
        bands=bands,
        pixel_scale=float(pixel_scale),
        DESCR=DESCR,
    )
