"""GalSim rendering of one galaxy stamp: profiles, PSF, neighbours, noise and mask.

A galaxy is a sum of unit-flux shapes (bulge, inclined disk, spiral arms with knots, bar,
merger companion and tidal tail) that share their geometry across bands; each band
rescales the shapes by its fluxes, convolves with that band's Moffat PSF and draws once
with GalSim's FFT method (pixel response included). Neighbours are drawn separately so
that the central galaxy's segmentation mask comes from the noiseless models.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["draw_bands", "moffat_nea", "noise_sigma", "observing_conditions", "render_galaxy"]

PSF_BETA = 3.5
#: Median DECaLS-like seeing FWHM (arcsec) and 5-sigma point-source depths (AB).
SEEING_R = 1.3
SEEING_RATIO = {"g": 1.08, "r": 1.0, "i": 0.97, "z": 0.95}
PSF_DEPTH = {"g": 24.6, "r": 24.0, "i": 23.6, "z": 23.1}
_SEGMENT_THRESHOLD = 1.0  # isophote of the central model, in combined noise sigmas
_ARM_SEGMENTS = 7  # Gaussian segments per spiral arm
# Sersic bulges are truncated at this many half-light radii (flux and half-light radius
# kept): the de Vaucouleurs wing beyond is >4 mag below the effective surface brightness,
# far under the sky noise, but would otherwise need FFTs of 500+ pixels. A fixed ratio
# keeps GalSim's per-index Sersic cache valid.
_SERSIC_TRUNCATION = 5.0


@functools.lru_cache(maxsize=1)
def _gsparams():
    import galsim

    # Looser folding/maxk thresholds than GalSim's defaults keep FFTs small; the errors
    # (~1e-3 of the flux) sit far below the sky noise of the stamps.
    return galsim.GSParams(folding_threshold=1e-2, maxk_threshold=5e-3,
                           kvalue_accuracy=1e-4, maximum_fft_size=4096)


def moffat_nea(fwhm, pixel_scale, beta=PSF_BETA):
    """Noise-equivalent area (pixels) of a Moffat PSF, 1 / sum(p^2) for a unit-flux PSF."""
    r_d = np.asarray(fwhm) / (2 * np.sqrt(2 ** (1 / beta) - 1)) / pixel_scale
    return np.pi * r_d**2 * (2 * beta - 1) / (beta - 1) ** 2


def noise_sigma(psf_depth, fwhm, pixel_scale):
    """Per-pixel sky noise (nanomaggies) giving a 5-sigma PSF-photometry depth."""
    flux_5sigma = 10 ** (-0.4 * (np.asarray(psf_depth) - 22.5))
    return flux_5sigma / (5 * np.sqrt(moffat_nea(fwhm, pixel_scale)))


def observing_conditions(rng, n, bands, pixel_scale):
    """Per-galaxy seeing, PSF shape, depth and pixel noise for each band (dict of arrays).

    ``seeing`` is the night's r-band FWHM (arcsec); each band's PSF scales it.
    """
    seeing = np.clip(SEEING_R * np.exp(0.12 * rng.standard_normal(n)), 0.9, 2.0)
    out = {"seeing": seeing, "psf_beta": np.full(n, PSF_BETA)}
    for b in bands:
        fwhm = seeing * SEEING_RATIO[b] * (1 + 0.03 * rng.standard_normal(n))
        depth = PSF_DEPTH[b] + 0.2 * rng.standard_normal(n)
        out[f"psf_fwhm_{b}"] = fwhm
        out[f"psf_depth_{b}"] = depth
        out[f"noise_sigma_{b}"] = noise_sigma(depth, fwhm, pixel_scale)
    out["psf_e1"] = 0.02 * rng.standard_normal(n)
    out["psf_e2"] = 0.02 * rng.standard_normal(n)
    return out


def psf_profile(row, band):
    """The band's Moffat PSF for one galaxy."""
    import galsim

    psf = galsim.Moffat(beta=row["psf_beta"], fwhm=row[f"psf_fwhm_{band}"], gsparams=_gsparams())
    return psf.shear(e1=row["psf_e1"], e2=row["psf_e2"])


def _project(face_on, inclination, position_angle):
    """Incline a thin in-plane profile (squash by cos i) and rotate it to the position angle.

    GalSim's ``transform`` keeps surface brightness, so the flux is restored afterwards.
    """
    import galsim

    cos_i = max(np.cos(np.radians(inclination)), 0.05)
    return face_on.transform(1.0, 0.0, 0.0, cos_i).withFlux(face_on.flux).rotate(
        position_angle * galsim.degrees)


def _arms_shape(row, rng):
    """Face-on spiral arms (elongated Gaussian segments along logarithmic spirals) and knots.

    Returns a list of (profile, x, y) in the disk plane, or None for a galaxy without them.
    """
    import galsim

    gsp = _gsparams()
    h = row["re_disk_arcsec"] / 1.678  # exponential scale length
    n_arms = int(row["n_arms"])
    pieces = []
    if n_arms:
        pitch = np.radians(row["pitch_angle"])
        # Segments equally spaced in log r along r = r0 exp(theta tan(pitch)), from 0.5 h
        # to 3 h; each is stretched along the arm to bridge the gap to the next one.
        radii = 0.5 * h * 6.0 ** np.linspace(0, 1, _ARM_SEGMENTS)
        gap = radii * np.log(6.0) / (_ARM_SEGMENTS - 1) / np.sin(pitch)  # arc length
        across = np.maximum(0.12 * h, 0.08)
        along = np.maximum(0.5 * gap, across)
        flux = radii**2 * np.exp(-radii / h)  # exponential disk light per log r
        flux = flux / flux.sum() * row["arm_fraction"] / n_arms
        phase0 = rng.uniform(0, 2 * np.pi)
        for k in range(n_arms):
            theta = np.log(radii / radii[0]) / np.tan(pitch) + phase0 + 2 * np.pi * k / n_arms
            # The arm's tangent is the pitch angle away from the azimuthal direction.
            tangent = theta + np.pi / 2 - pitch
            for r, t, tan_dir, a, f in zip(radii, theta, tangent, along, flux):
                seg = galsim.Gaussian(sigma=np.sqrt(a * across), flux=f, gsparams=gsp)
                seg = seg.shear(q=across / a, beta=tan_dir * galsim.radians)
                pieces.append((seg, r * np.cos(t), r * np.sin(t)))
    if row["knot_fraction"] > 0:
        n_knots = 2 + int(rng.poisson(3))
        r = rng.gamma(2.0, h, n_knots)  # exponential disk light: r e^(-r/h)
        phi = rng.uniform(0, 2 * np.pi, n_knots)
        knot = galsim.Gaussian(sigma=max(0.1 * h, 0.06),
                               flux=row["knot_fraction"] / n_knots, gsparams=gsp)
        pieces += [(knot, ri * np.cos(p), ri * np.sin(p)) for ri, p in zip(r, phi)]
    return pieces or None


def galaxy_shapes(row, rng):
    """Unit-geometry GalSim profiles of one galaxy keyed by component (flux in r-fractions).

    Returns
    -------
    dict
        component name -> GalSim profile whose flux is 1 (the band fluxes rescale it).
    """
    import galsim

    gsp = _gsparams()
    pa = row["position_angle"] * galsim.degrees
    shapes = {}
    shapes["bulge"] = galsim.Sersic(
        n=row["sersic_n"], half_light_radius=row["re_bulge_arcsec"],
        trunc=_SERSIC_TRUNCATION * row["re_bulge_arcsec"], flux_untruncated=False, gsparams=gsp,
    ).shear(q=row["bulge_axis_ratio"], beta=pa)
    disk = galsim.InclinedExponential(
        row["inclination"] * galsim.degrees, half_light_radius=row["re_disk_arcsec"],
        scale_h_over_r=row["disk_thickness"], gsparams=gsp).rotate(pa)
    if row["is_merger"]:  # tidal disturbance: a sheared disk
        disk = disk.shear(g=rng.uniform(0.1, 0.3), beta=rng.uniform(0, np.pi) * galsim.radians)
    shapes["disk"] = disk
    pieces = _arms_shape(row, rng)
    if pieces:
        arms = galsim.Add([obj.shift(x, y) for obj, x, y in pieces])
        shapes["arms"] = _project(arms.withFlux(1.0), row["inclination"], row["position_angle"])
    if row["has_bar"]:
        bar_len = row["re_disk_arcsec"] * 0.6
        bar = galsim.Gaussian(sigma=bar_len / 2, gsparams=gsp).shear(
            q=0.3, beta=row["bar_angle"] * galsim.degrees)
        shapes["bar"] = _project(bar, row["inclination"], row["position_angle"])
    return shapes


def _merger_companion(row, rng):
    """Companion of a merger: a smaller bulge + disk pair with a faint tidal tail."""
    import galsim

    gsp = _gsparams()
    ratio = row["merger_mass_ratio"]
    hlr = max(row["half_light_radius_arcsec"] * ratio**0.3, 0.3)
    sep = rng.uniform(0.8, 1.8) * (row["half_light_radius_arcsec"] + hlr)
    phi = rng.uniform(0, 2 * np.pi)
    comp = galsim.Add([
        galsim.DeVaucouleurs(half_light_radius=0.4 * hlr, trunc=_SERSIC_TRUNCATION * 0.4 * hlr,
                             flux_untruncated=False, flux=0.4, gsparams=gsp),
        galsim.Exponential(half_light_radius=hlr, flux=0.6, gsparams=gsp).shear(
            q=rng.uniform(0.4, 1.0), beta=rng.uniform(0, np.pi) * galsim.radians),
    ]).shift(sep * np.cos(phi), sep * np.sin(phi))
    # Tail: knots along an arc bending away from the companion.
    t = np.linspace(0.2, 1.0, 5)
    bend = rng.choice([-1, 1]) * rng.uniform(0.6, 1.2)
    tail_xy = np.stack([sep * (1 + 1.2 * t) * np.cos(phi + bend * t),
                        sep * (1 + 1.2 * t) * np.sin(phi + bend * t)], 1)
    blob = galsim.Gaussian(sigma=max(0.4 * hlr, 0.2), flux=0.2, gsparams=gsp)
    tail = galsim.Add([blob.shift(x, y) for x, y in tail_xy])
    return comp, tail


def _neighbours(rng, row, half_size_arcsec, field_colours):
    """Random stars and field galaxies in the stamp: a list of dicts."""
    out = []
    n_gal, n_star = rng.poisson(1.5), rng.poisson(0.3)
    min_sep = 1.5 * row["half_light_radius_arcsec"] + 1.0
    for kind in ["galaxy"] * n_gal + ["star"] * n_star:
        for _ in range(20):
            pos = rng.uniform(-half_size_arcsec, half_size_arcsec, 2)
            if np.hypot(*pos) > min_sep:
                break
        else:
            continue
        if kind == "star":
            mag_r = rng.uniform(15.0, 22.5)
            gr = rng.uniform(0.3, 1.4)
            colour = {"g": gr, "r": 0.0, "i": -0.35 * gr - 0.05, "z": -0.55 * gr - 0.1}
            out.append({"kind": kind, "mag_r": mag_r, "colour": colour, "pos": pos})
        else:
            # Galaxy counts rise ~10^(0.4 m): draw r in [17, 23.5] by inverse CDF.
            lo, hi = 10 ** (0.4 * 17.0), 10 ** (0.4 * 23.5)
            mag_r = 2.5 * np.log10(lo + rng.random() * (hi - lo))
            template = rng.integers(len(field_colours))
            colour = field_colours[template][rng.integers(len(field_colours[template]))]
            hlr = np.clip(0.8 * 10 ** (-0.12 * (mag_r - 20)) * np.exp(0.3 * rng.normal()),
                          0.2, 4.0)
            out.append({"kind": kind, "mag_r": mag_r, "colour": colour, "pos": pos, "hlr": hlr,
                            "n": 4.0 if template == 0 else 1.0, "q": rng.uniform(0.3, 1.0),
                            "beta": rng.uniform(0, np.pi)})
    return out


def _neighbour_components(nbs, bands):
    """Neighbours as unit-flux shifted profiles and their (n, n_bands) fluxes."""
    import galsim

    profiles, fluxes = [], []
    for nb in nbs:
        if nb["kind"] == "star":
            prof = galsim.DeltaFunction(gsparams=_gsparams())
        else:
            prof = galsim.Sersic(
                n=nb["n"], half_light_radius=nb["hlr"], trunc=_SERSIC_TRUNCATION * nb["hlr"],
                flux_untruncated=False, gsparams=_gsparams(),
            ).shear(q=nb["q"], beta=nb["beta"] * galsim.radians)
        profiles.append(prof.shift(*nb["pos"]))
        fluxes.append([10 ** (-0.4 * (nb["mag_r"] + nb["colour"][b] - 22.5)) for b in bands])
    return profiles, np.array(fluxes).reshape(len(nbs), len(bands))


def draw_bands(groups, psfs, image_size, pixel_scale, offset):
    """GalSim FFT drawing of every band at once, sharing the band-independent work.

    Band b of group g is ``sum_c fluxes[c, b] * component_c``, convolved with ``psfs[b]``
    and the pixel, and sampled like ``drawImage(method="fft", offset=offset)`` would do
    it. Each component's k-space image is drawn once on a grid that suits every band
    and then only rescaled per band, so three bands cost little more than one.

    Parameters
    ----------
    groups : list of (list of GSObject, ndarray of shape (n_components, n_bands))
    psfs : list of GSObject
    image_size : int
    pixel_scale : float
    offset : (float, float)
        Offset of the profile centre from the image's true centre, in pixels.

    Returns
    -------
    ndarray of shape (len(groups), len(psfs), image_size, image_size)
    """
    import galsim

    gsp = _gsparams()
    pixel = galsim.Pixel(pixel_scale, gsparams=gsp)
    drawn = [(comps, fluxes) for comps, fluxes in groups if comps]
    # k grid as GalSim's drawFFT_makeKImage chooses it, for the most demanding band.
    convolved = [galsim.Convolve(galsim.Add(comps), psf, pixel)
                 for comps, _ in drawn for psf in psfs] or [galsim.Convolve(psfs[0], pixel)]
    n = max([c.getGoodImageSize(pixel_scale) for c in convolved] + [image_size])
    n = max(galsim.Image.good_fft_size(n), gsp.minimum_fft_size)
    dk = 2 * np.pi / (n * pixel_scale)
    maxk = max(c.maxk for c in convolved)
    nk = n if n * dk / 2 > maxk else int(np.ceil(maxk / dk)) * 2
    kimage = galsim.ImageCD(bounds=galsim.BoundsI(0, nk // 2, -nk // 2, nk // 2), scale=dk)

    def kvalues(obj):
        obj.drawKImage(image=kimage, recenter=False)
        return kimage.array.copy()

    # drawImage centres even-sized stamps half a pixel off the central pixel.
    shift = (np.asarray(offset, float) - 0.5 * (1 - image_size % 2)) * pixel_scale
    psf_k = [kvalues(galsim.Convolve(psf, pixel).shift(*shift)) for psf in psfs]
    image = galsim.ImageD(image_size, image_size, scale=pixel_scale)
    image.setCenter(0, 0)
    out = np.zeros((len(groups), len(psfs), image_size, image_size))
    for g, (comps, fluxes) in enumerate(groups):
        if not comps:
            continue
        comp_k = np.stack([kvalues(c) for c in comps])
        for b, pk in enumerate(psf_k):
            # einsum rather than tensordot: a BLAS call here would spawn threads per galaxy.
            kimage.array[...] = np.einsum("c,cij->ij", fluxes[:, b], comp_k) * pk
            # The inverse FFT and wrapping of GalSim's own drawFFT (it uses no state).
            convolved[0].drawFFT_finish(image, kimage, n, add_to_image=False)
            out[g, b] = image.array
    return out


def render_galaxy(row, bands, image_size, pixel_scale, neighbors, seed, field_colours=None,
                  *, noise_seed=None, offset=None, rotation=0.0, noiseless=False):
    """Draw one galaxy in every band.

    ``seed`` fixes the galaxy (its geometry, companion, neighbours, and by default its
    position within the central pixel and its noise); the keywords re-observe it: another
    noise draw (``noise_seed``), another sub-pixel ``offset`` (pixels), the galaxy and its
    companion turned by ``rotation`` degrees about its centre, or no noise at all. The
    observing conditions are the row's (``psf_fwhm_{b}``, ``noise_sigma_{b}``...).

    Parameters
    ----------
    row : dict
        Catalogue entry (physics + observing conditions).
    bands : str
    image_size : int
    pixel_scale : float
    neighbors : bool
    seed : int or numpy.random.SeedSequence
        Seeds every random choice of this galaxy (geometry, neighbours, noise).
    field_colours : list of list of dict
        Per template (E first), colours ``m_band - m_r`` of field galaxies at a few
        redshifts (from :func:`minuet_sk.datasets._physics.field_galaxy_colours`).

    Returns
    -------
    images : ndarray of shape (len(bands), image_size, image_size), float32
    mask : ndarray of shape (image_size, image_size), bool
    info : dict
        Neighbour summary for the truth table.
    """

    import galsim

    rng = np.random.default_rng(seed)
    shapes = galaxy_shapes(row, rng)
    companion = _merger_companion(row, rng) if row["is_merger"] else None
    centre = tuple(rng.uniform(-0.5, 0.5, 2))  # catalogue position within the central pixel
    if offset is not None:  # drawn all the same: the draws after it stay the galaxy's own
        centre = (float(offset[0]), float(offset[1]))
    half = image_size * pixel_scale / 2
    nbs = _neighbours(rng, row, half, field_colours) if neighbors else []

    names = list(shapes)
    comps = [shapes[k] for k in names]
    fluxes = np.array([[row[f"flux_{k}_{b}"] for b in bands] for k in names])
    if companion is not None:
        main_flux = fluxes.sum(axis=0)
        comps += list(companion)
        fluxes = np.vstack([fluxes, main_flux * row["merger_mass_ratio"], 0.1 * main_flux])
    if rotation:
        comps = [c.rotate(float(rotation) * galsim.degrees) for c in comps]
    groups = [(comps, fluxes), _neighbour_components(nbs, bands)]
    psfs = [psf_profile(row, b) for b in bands]
    central, neighbours = draw_bands(groups, psfs, image_size, pixel_scale, centre)
    sigma = np.array([row[f"noise_sigma_{b}"] for b in bands])[:, None, None]
    noise_rng = rng if noise_seed is None else np.random.default_rng(noise_seed)
    noise = sigma * noise_rng.standard_normal(central.shape)
    images = (central + neighbours + (0.0 if noiseless else noise)).astype(np.float32)
    central_snr = (central / sigma).sum(axis=0) / np.sqrt(len(bands))
    neighbour_snr = (neighbours / sigma).sum(axis=0) / np.sqrt(len(bands))
    mask = (central_snr > _SEGMENT_THRESHOLD) & (central_snr >= neighbour_snr)
    mid = image_size // 2
    mask[mid - 1: mid + 1, mid - 1: mid + 1] = True

    seps = [np.hypot(*nb["pos"]) for nb in nbs]
    info = {
        "n_neighbors": len(nbs),
        "has_neighbor": bool(nbs),
        "n_neighbor_stars": sum(nb["kind"] == "star" for nb in nbs),
        "nearest_neighbor_arcsec": min(seps) if nbs else np.nan,
        "brightest_neighbor_mag_r": min(nb["mag_r"] for nb in nbs) if nbs else np.nan,
    }
    return images, mask, info


def rerender_chunk(rows, seeds, bands, image_size, pixel_scale, neighbors, field_colours,
                   observations):
    """Render a list of galaxies again, each under its ``observations`` entry (its new
    conditions merged into its row, and :func:`render_galaxy`'s keywords), with its own
    galaxy seed (the one :func:`render_chunk` drew it with). One joblib task."""
    images, masks = [], []
    for row, seed, seen in zip(rows, seeds, observations):
        _, draw_seed = np.random.SeedSequence(seed).spawn(2)
        image, mask, _ = render_galaxy({**row, **seen["conditions"]}, bands, image_size,
                                       pixel_scale, neighbors, draw_seed, field_colours,
                                       **seen["render"])
        images.append(image)
        masks.append(mask)
    return np.stack(images), np.stack(masks)


def render_chunk(rows, seeds, bands, image_size, pixel_scale, neighbors, field_colours):
    """Observe and render a list of galaxies (one joblib task).

    Each galaxy's seed draws its observing conditions, then everything in its stamp, so a
    galaxy's image depends on nothing but its catalogue entry and its seed.

    Returns
    -------
    images, masks : stacked arrays
    infos : list of dict
        Observing conditions and neighbour summary of each galaxy.
    """
    images, masks, infos = [], [], []
    for row, seed in zip(rows, seeds):
        observe_seed, draw_seed = np.random.SeedSequence(seed).spawn(2)
        conditions = observing_conditions(np.random.default_rng(observe_seed), 1, bands,
                                          pixel_scale)
        conditions = {k: float(v[0]) for k, v in conditions.items()}
        image, mask, info = render_galaxy({**row, **conditions}, bands, image_size,
                                          pixel_scale, neighbors, draw_seed, field_colours)
        images.append(image)
        masks.append(mask)
        infos.append({**conditions, **info})
    return np.stack(images), np.stack(masks), infos
