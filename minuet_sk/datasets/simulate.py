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

__all__ = ["make_galaxies", "reobserve", "reobserve_pairs"]

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
    catalog_ss, _, vote_ss = np.random.SeedSequence(seed).spawn(3)
    catalog_rng = np.random.default_rng(catalog_ss)
    frame = pd.DataFrame(_physics.sample_catalog(n_samples, catalog_rng, r_mag_limit))
    rows = frame.to_dict("records")
    seeds = _galaxy_seeds(seed, n_samples)
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


def _galaxy_seeds(seed, n_samples):
    """One seed per galaxy, fixed before chunking: the images ignore n_jobs and chunking,
    (with the catalogue's fixed batches) a smaller sample is a prefix of a larger one, and
    :func:`reobserve` finds each galaxy again."""
    render_ss = np.random.SeedSequence(seed).spawn(3)[1]
    return [int(s.generate_state(1, np.uint64)[0]) for s in render_ss.spawn(n_samples)]


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
        params : dict
            The simulation's settings and seed, with which :func:`reobserve` renders the
            same galaxies again.
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
        params=params,
        DESCR=DESCR,
    )


def _per_galaxy(value, n, rng, draw, name):
    """``value`` for each of ``n`` galaxies: a scalar repeated, an array of length n, or
    ``"random"`` (``draw(rng, n)``, where ``draw`` is given); None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        if value != "random" or draw is None:
            allowed = "a number, one per galaxy" + (", or 'random'" if draw else "")
            raise ValueError(f"{name} must be {allowed}; got {value!r}.")
        return draw(rng, n)
    value = np.asarray(value, dtype=np.float64)
    if value.ndim == 0 or (name == "shift" and value.shape == (2,)):
        return np.broadcast_to(value, (n, *value.shape)).copy()
    if len(value) != n:
        raise ValueError(f"{name} has {len(value)} entries for {n} galaxies.")
    return value


def reobserve(galaxies, *, conditions="same", depth_shift=0.0, seeing=None, rotation=0.0,
              shift=None, noiseless=False, rows=None, n_jobs=None, random_state=None):
    """Observe the same simulated galaxies again, under other conditions.

    Every galaxy of ``galaxies`` (what :func:`make_galaxies` returned) is rendered again
    with its own intrinsic light (the same bulge, disk, arms, knots, companion and
    neighbours) and, by default, its own conditions, but a new noise draw; the keywords
    change the observation. At the same conditions and offset, the noiseless image is the
    original's exactly (``noiseless=True`` returns it).

    Parameters
    ----------
    galaxies : Bunch
        A simulation of :func:`make_galaxies` (it needs ``truth`` and ``params``).
    conditions : {"same", "new"}, default="same"
        The galaxies' own seeing and depth, or new ones drawn from the simulator's
        distribution of nights (``truth``'s ``seeing``, ``psf_fwhm_*``, ``psf_depth_*``).
    depth_shift : float or array of shape (n,), default=0.0
        Magnitudes added to every band's 5-sigma depth: +0.5 is half a magnitude deeper
        (the sky noise per pixel falls by ``10**(-0.2)``).
    seeing : float, array of shape (n,) or None, default=None
        The r-band FWHM in arcsec (the other bands' follow the simulator's ratios, and the
        noise per pixel follows the PSF's noise-equivalent area at the same depth). None:
        as ``conditions`` says.
    rotation : float, array of shape (n,) or "random", default=0.0
        Degrees by which each galaxy (with its companion) turns about its centre; the
        truth's ``position_angle`` follows. ``"random"``: uniform on [0, 360).
    shift : (float, float), array of shape (n, 2), "random" or None, default=None
        The galaxy's centre within the central pixel, in pixels from the stamp's centre
        (``"random"``: uniform in [-0.5, 0.5) each way); None: its own.
    noiseless : bool, default=False
        Render without sky noise (the galaxy at these conditions, as it is).
    rows : array-like of int or None, default=None
        Observe only these galaxies (positions in the simulation), in this order; per-galaxy
        arrays then have one entry per row. None: all.
    n_jobs : int or None, default=None
        Parallel joblib workers, as in :func:`make_galaxies`.
    random_state : int, RandomState instance or None, default=None
        Seeds the noise and any new or random conditions.

    Returns
    -------
    Bunch
        ``images``, ``data``, ``masks``, ``target`` and ``truth`` (the original's, with
        the conditions, ``noise_sigma_*`` and ``position_angle`` of this observation, and
        ``shift_x``/``shift_y``), ``bands``, ``pixel_scale``, ``params``.

    Examples
    --------
    >>> from minuet_sk.datasets import make_galaxies, reobserve
    >>> galaxies = make_galaxies(4, image_size=32, cache=False, random_state=0)
    >>> deeper = reobserve(galaxies, depth_shift=0.5, random_state=1)
    >>> ratio = deeper.truth["noise_sigma_r"] / galaxies.truth["noise_sigma_r"]
    >>> bool(np.allclose(ratio, 10 ** -0.2))
    True
    """
    params = galaxies.get("params") if hasattr(galaxies, "get") else None
    if not params:
        raise ValueError("galaxies must be what make_galaxies returned (with its params): "
                         "only the simulator's own galaxies can be observed again.")
    if conditions not in ("same", "new"):
        raise ValueError(f"conditions must be 'same' or 'new'; got {conditions!r}.")
    bands, pixel_scale = params["bands"], params["pixel_scale"]
    truth = galaxies.truth.reset_index(drop=True)
    if len(truth) != params["n_samples"]:
        raise ValueError(f"galaxies holds {len(truth)} of the simulation's "
                         f"{params['n_samples']} galaxies: pass the whole simulation, and "
                         "rows= for the ones to observe again.")
    rows = np.arange(len(truth)) if rows is None else np.asarray(rows, dtype=int)
    truth = truth.iloc[rows].reset_index(drop=True)
    n = len(truth)
    rng = check_random_state(random_state)
    rng = np.random.default_rng(rng.randint(0, 2**31 - 1, 4))
    observed = truth.copy()
    if conditions == "new":
        drawn = _render.observing_conditions(rng, n, bands, pixel_scale)
        for key, value in drawn.items():
            observed[key] = value
    fwhm_r = _per_galaxy(seeing, n, rng, None, "seeing")
    if fwhm_r is not None:
        observed["seeing"] = fwhm_r
        for b in bands:
            observed[f"psf_fwhm_{b}"] = fwhm_r * _render.SEEING_RATIO[b]
    shifts = _per_galaxy(depth_shift, n, rng, None, "depth_shift")
    for b in bands:
        observed[f"psf_depth_{b}"] = observed[f"psf_depth_{b}"] + shifts
        observed[f"noise_sigma_{b}"] = _render.noise_sigma(
            observed[f"psf_depth_{b}"], observed[f"psf_fwhm_{b}"], pixel_scale)
    turns = _per_galaxy(rotation, n, rng, lambda r, k: r.uniform(0.0, 360.0, k), "rotation")
    observed["position_angle"] = (observed["position_angle"] + turns) % 180.0
    offsets = _per_galaxy(shift, n, rng, lambda r, k: r.uniform(-0.5, 0.5, (k, 2)), "shift")
    noise_seeds = rng.integers(0, 2**63 - 1, n)
    columns = ["seeing", "psf_beta", "psf_e1", "psf_e2",
               *(f"{kind}_{b}" for b in bands for kind in ("psf_fwhm", "psf_depth",
                                                          "noise_sigma"))]
    observations = [
        {"conditions": {c: float(observed[c].iloc[i]) for c in columns},
         "render": {"noise_seed": int(noise_seeds[i]), "rotation": float(turns[i]),
                    "offset": None if offsets is None else tuple(offsets[i]),
                    "noiseless": bool(noiseless)}}
        for i in range(n)]
    if offsets is not None:
        observed["shift_x"], observed["shift_y"] = offsets[:, 0], offsets[:, 1]
    every_seed = _galaxy_seeds(params["seed"], params["n_samples"])
    seeds = [every_seed[i] for i in rows]
    rows = truth.to_dict("records")
    chunks = [slice(i, i + _CHUNK) for i in range(0, n, _CHUNK)]
    colours = _physics.field_galaxy_colours()
    tasks = (delayed(_render.rerender_chunk)(rows[c], seeds[c], bands, params["image_size"],
                                             pixel_scale, params["neighbors"], colours,
                                             observations[c]) for c in chunks)
    results = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
    images = np.empty((n, len(bands), params["image_size"], params["image_size"]), np.float32)
    masks = np.empty((n, params["image_size"], params["image_size"]), bool)
    for c, (im, mk) in zip(chunks, results):
        images[c], masks[c] = im, mk
    return Bunch(images=images, data=images.reshape(n, -1), masks=masks,
                 target=observed[["redshift", "log_mstar", "log_sfr"]].copy(),
                 truth=observed, bands=bands, pixel_scale=float(pixel_scale), params=params)


def reobserve_pairs(galaxies, n_views=3, *, reference_seeing=1.28, depth_range=0.5,
                    n_jobs=None, random_state=None):
    """Each simulated galaxy observed on ``n_views`` random nights, each observation paired
    with the galaxy at reference conditions: what a Minuet whose latents describe the galaxy,
    not the night, trains on (``fit(pairs.images, reference=pairs.reference)``).

    A view is :func:`reobserve` with ``conditions="new"`` (seeing and depth drawn from the
    simulator's nights), the depth then moved by a shift uniform in ``[-depth_range,
    depth_range]`` magnitudes, a random sub-pixel shift and a random angle. Its reference is
    the same galaxy turned by the same angle, noiseless, at ``reference_seeing``, centred on
    its pixel: the encoder sees the night, the decoder rebuilds what does not depend on it,
    and the two stay aligned (so are loss masks computed from the view).

    Parameters
    ----------
    galaxies : Bunch
        A simulation of :func:`make_galaxies`.
    n_views : int, default=3
        Observations of each galaxy.
    reference_seeing : float, default=1.28
        The reference's r-band FWHM in arcsec (the simulator's median seeing).
    depth_range : float, default=0.5
        The largest depth shift of a view, in magnitudes, either way.
    n_jobs : int or None, default=None
        Parallel joblib workers, as in :func:`make_galaxies`.
    random_state : int, RandomState instance or None, default=None
        Seeds the views' nights, angles, shifts and noise.

    Returns
    -------
    Bunch
        ``images`` and ``reference``, arrays of shape ``(n_views * n, C, H, W)`` (view
        after view: row ``k * n + i`` is galaxy ``i``'s ``k``-th view); ``rows``, the
        galaxy of each (for a split that keeps a galaxy's views together, e.g.
        ``GroupKFold``); ``truth``, the conditions of each view (:func:`reobserve`'s, and
        ``rotation``, the degrees by which the view and its reference turned).

    Examples
    --------
    >>> from minuet_sk.datasets import make_galaxies, reobserve_pairs
    >>> galaxies = make_galaxies(4, image_size=32, cache=False, random_state=0)
    >>> pairs = reobserve_pairs(galaxies, n_views=2, random_state=1)
    >>> pairs.images.shape, pairs.reference.shape, pairs.rows.tolist()
    ((8, 3, 32, 32), (8, 3, 32, 32), [0, 1, 2, 3, 0, 1, 2, 3])
    """
    if not isinstance(n_views, numbers.Integral) or n_views < 1:
        raise ValueError(f"n_views must be a positive integer; got {n_views!r}.")
    if not np.isfinite(depth_range) or depth_range < 0:
        raise ValueError(f"depth_range must be a non-negative number; got {depth_range!r}.")
    n = len(galaxies.truth)
    rng = np.random.default_rng(check_random_state(random_state).randint(0, 2**31 - 1, 4))
    images, references, truths = [], [], []
    for _ in range(n_views):
        angle = rng.uniform(0.0, 360.0, n)
        depth = rng.uniform(-depth_range, depth_range, n)
        seed = int(rng.integers(2**31 - 1))
        view = reobserve(galaxies, conditions="new", depth_shift=depth, rotation=angle,
                         shift="random", n_jobs=n_jobs, random_state=seed)
        images.append(view.images)
        truths.append(view.truth.assign(rotation=angle))
        references.append(reobserve(galaxies, noiseless=True, seeing=reference_seeing,
                                    rotation=angle, shift=(0.0, 0.0), n_jobs=n_jobs,
                                    random_state=seed).images)
    return Bunch(images=np.concatenate(images), reference=np.concatenate(references),
                 rows=np.tile(np.arange(n), n_views),
                 truth=pd.concat(truths, ignore_index=True))
