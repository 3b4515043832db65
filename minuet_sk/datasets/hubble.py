"""Real HST galaxies: cutouts from the Hubble Deep Field image shipped with scikit-image.

``skimage.data.hubble_deep_field()`` is a 872 x 1000 colour JPEG of the Hubble eXtreme Deep
Field (the 2012 release: ACS and WFC3 images). It is an **8-bit RGB display image**, not
calibrated flux: each channel is a stretched, clipped and JPEG-compressed rendering of a
filter image, so pixel values are not proportional to flux (bright cores flatten near 255,
faint outskirts are lifted), the background carries JPEG block noise, and no zero point or
pixel scale comes with it. Shapes, sizes, orientations, ellipticities and relative positions
are real; the fluxes and colours reported here are display-unit sums, useful for ranking and
not for photometry. Every detected source is returned: the few stars of the field (diffraction
spikes) come along, and there is no star-galaxy separation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from astropy.convolution import convolve
from astropy.stats import sigma_clipped_stats
from photutils.segmentation import (
    SourceCatalog,
    deblend_sources,
    detect_sources,
    make_2dgaussian_kernel,
)
from scipy.ndimage import binary_dilation
from sklearn.utils import Bunch, check_random_state

from minuet_sk.datasets._cutouts import center_crop

__all__ = ["XDF_BAND_GAINS", "load_hubble_deep_field"]


#: Approximate pixel scale (arcsec) of scikit-image's Hubble eXtreme Deep Field picture: the
#: XDF's 2.3 x 2.0 arcmin over its 1000 x 872 pixels.
XDF_PIXEL_SCALE = 0.14

#: Pixels (of the picture) by which ``isolate`` grows the other sources' segments.
NEIGHBOUR_MARGIN = 3

#: The simulator's median colours for the picture's galaxies (``minuet_sk.datasets.XDF_BAND_GAINS``).
XDF_BAND_GAINS = (0.445, 1.0, 1.355)


def load_hubble_deep_field(
    *, image_size=72, min_area=20, n_sigma=3.0, deblend=True, subtract_background=True,
    isolate=False, as_survey=None, source_pixel_scale=XDF_PIXEL_SCALE,
    mag_range=(16.0, 19.0), band_gains=None, random_state=None,
):
    """Galaxy cutouts detected in the Hubble Deep Field image of scikit-image.

    Detection runs on the sum of the three channels (background-subtracted with a
    sigma-clipped median, smoothed by a 3-pixel FWHM Gaussian): photutils
    ``detect_sources`` at ``n_sigma`` times the clipped noise with at least ``min_area``
    connected pixels, then ``deblend_sources`` to split blended neighbours. Each source
    gets a cutout centred on its centroid (nearest pixel); pixels beyond the image edge
    are NaN (missing data). See the module notes: these are 8-bit display values, not
    calibrated flux, and the pixel scale is not known (``pixel_scale`` is None).

    Parameters
    ----------
    image_size : int, default=72
        Side of the square cutouts in pixels.
    min_area : int, default=20
        Minimum number of connected pixels of a source (detection and deblending).
    n_sigma : float, default=3.0
        Detection threshold in units of the background noise.
    deblend : bool, default=True
        Split blended sources with ``deblend_sources``.
    subtract_background : bool, default=True
        Subtract each channel's sigma-clipped median sky level from the cutouts.
    isolate : bool, default=False
        Show each galaxy alone: the pixels of every other source (any detection of 5
        pixels or more, whatever ``min_area``), and of a ``NEIGHBOUR_MARGIN``-pixel band
        around them (their faint outskirts), are set to the sky level (0 once it is
        subtracted). Useful with ``as_survey``: the XDF's
        neighbours are scaled with the galaxy, so without it many stamps hold neighbours
        as bright as the galaxy, which survey stamps of bright galaxies rarely do.
    as_survey : {"decals"}, optional
        Render each galaxy as the survey would see it
        (:func:`~minuet_sk.datasets.observe_as_survey`: its seeing, pixels and sky noise),
        in ``image_size`` survey pixels. The assumptions, all approximate: the picture's
        pixel scale is ``source_pixel_scale``; its red, green and blue channels stand for
        z, r and g; display values are proportional to flux (they are not: cores are
        flattened, outskirts lifted); the HST PSF is negligible. The galaxies of the XDF
        are far too faint for DECaLS: each is scaled to an r magnitude drawn uniformly
        from ``mag_range``, as if it were a nearby galaxy of the same apparent size.
    source_pixel_scale : float, default=XDF_PIXEL_SCALE
        Arcsec per pixel assumed for the picture, with ``as_survey`` (0.14, the XDF's own).
        A larger value places the galaxies nearer: larger on the sky, more pixels in the
        survey's stamps.
    mag_range : (float, float), default=(16.0, 19.0)
        With ``as_survey``, the range of the r magnitudes the galaxies are scaled to.
    band_gains : (float, float, float), optional
        With ``as_survey``, multipliers of the g, r and z images (the picture's blue, green
        and red channels) before rendering. None keeps the picture's colour balance, chosen
        for display: its galaxies come out far bluer (median g - r about -0.2) than
        galaxies of r < 19 (0.66 in the simulator). :data:`XDF_BAND_GAINS` gives them the
        simulator's median g - r and r - z instead.
    random_state : int, RandomState instance or None, default=None
        With ``as_survey``: magnitudes, seeing and noise.

    Returns
    -------
    Bunch
        ``images`` float32 (n, 3, image_size, image_size), channels red, green, blue;
        ``data`` DataFrame with ``label``, ``x``, ``y`` (centroid, pixels), ``area``
        (pixels), ``flux`` (summed display units above background), ``ellipticity``,
        ``orientation`` (degrees), ``fwhm`` (circularised, pixels) and ``touches_edge``;
        ``segmentation`` (872, 1000) int label image; ``bands`` ``("R", "G", "B")``;
        ``pixel_scale`` None. With ``as_survey``: ``images`` in nanomaggies, ``bands``
        ``("g", "r", "z")``, ``pixel_scale`` 0.262, ``data`` adds ``mag_r`` (the magnitude
        each galaxy was scaled to) and ``blank_fraction`` (the share of the stamp beyond the
        picture or in its blank border, rendered as empty sky: select stamps without it),
        and ``conditions`` holds each galaxy's seeing, PSF and
        noise (as :func:`~minuet_sk.datasets.make_galaxies`' truth does).

    Raises
    ------
    ImportError
        scikit-image is not installed.

    The settings closest to the simulator's galaxies of r = 16-19 (sizes, colours and
    uncrowded stamps, measured with :func:`~minuet_sk.metrics.central_source_morphology`):
    ``isolate=True, source_pixel_scale=0.45, band_gains=XDF_BAND_GAINS``, so that the
    centrals' median half-light radius (6.3 survey pixels), g - r (0.66) and r - z (0.51)
    are the simulator's; their concentration stays lower (2.2 against 2.6: the picture's
    stretch flattens cores).

    Examples
    --------
    >>> hdf = load_hubble_deep_field(image_size=32, min_area=200)
    >>> hdf.images.shape[1:], len(hdf.data) == len(hdf.images)
    ((3, 32, 32), True)
    >>> seen = load_hubble_deep_field(image_size=32, min_area=200, as_survey="decals",
    ...                               random_state=0)
    >>> seen.bands, seen.pixel_scale, seen.images.shape == hdf.images.shape
    (('g', 'r', 'z'), 0.262, True)
    """
    if not (isinstance(image_size, (int, np.integer)) and image_size > 0):
        raise ValueError(f"image_size must be a positive integer; got {image_size!r}.")
    if as_survey is not None:  # before the detection, which takes seconds
        _check_rendering(as_survey, source_pixel_scale, mag_range, band_gains)
    from skimage import data as skimage_data  # imported when used: it is slow to import

    rgb = np.moveaxis(skimage_data.hubble_deep_field().astype(np.float32), -1, 0)  # (3, H, W)
    sky = np.array([sigma_clipped_stats(band, sigma=3.0)[1] for band in rgb], np.float32)
    summed = (rgb - sky[:, None, None]).sum(axis=0)
    noise = sigma_clipped_stats(summed, sigma=3.0)[2]
    smoothed = convolve(summed, make_2dgaussian_kernel(3.0, size=5))
    segmentation = detect_sources(smoothed, n_sigma * noise, min_area)
    if segmentation is None:
        raise ValueError(f"No sources above {n_sigma} sigma with {min_area} pixels.")
    if deblend:
        segmentation = deblend_sources(smoothed, segmentation, min_area, progress_bar=False)
    catalog = SourceCatalog(summed, segmentation, convolved_data=smoothed)
    centroids = np.asarray(catalog.centroid)  # (n, 2) x, y
    height, width = summed.shape
    level = np.zeros(3, np.float32) if subtract_background else sky
    source = rgb - sky[:, None, None] if subtract_background else rgb
    labels = np.asarray(catalog.label)
    images = _cutouts(source, centroids, image_size)
    others = None
    if isolate:  # every detection, however small, with its own segment's label or 0
        detected = detect_sources(smoothed, n_sigma * noise, 5).data != 0
        others = np.where(segmentation.data != 0, segmentation.data, -detected.astype(int))
        images = _isolated(images, others, centroids, labels, level)
    bbox = catalog.bbox
    touches = np.array(
        [b.ixmin == 0 or b.iymin == 0 or b.ixmax == width or b.iymax == height for b in bbox]
    )
    data = pd.DataFrame(
        {
            "label": np.asarray(catalog.label),
            "x": centroids[:, 0],
            "y": centroids[:, 1],
            "area": np.asarray(catalog.area.value),
            "flux": np.asarray(catalog.segment_flux),
            "ellipticity": np.asarray(catalog.ellipticity.value),
            "orientation": np.asarray(catalog.orientation.to_value("deg")),
            "fwhm": np.asarray(catalog.fwhm.value),
            "touches_edge": touches,
        }
    )
    found = Bunch(images=images, data=data, segmentation=np.asarray(segmentation.data),
                  bands=("R", "G", "B"), pixel_scale=None)
    if as_survey is None:
        return found
    green = np.asarray(SourceCatalog(rgb[1] - sky[1], segmentation).segment_flux)
    return _as_survey(found, rgb, sky, centroids, green, as_survey, source_pixel_scale,
                      mag_range, band_gains, random_state, others, labels)


def _check_rendering(survey, source_pixel_scale, mag_range, band_gains):
    from .survey import _survey_settings

    _survey_settings(survey)
    if not (np.isscalar(source_pixel_scale) and source_pixel_scale > 0):
        raise ValueError(
            f"source_pixel_scale must be a positive number; got {source_pixel_scale!r}."
        )
    low, high = mag_range
    if not low <= high:
        raise ValueError(f"mag_range must be (low, high); got {mag_range!r}.")
    if band_gains is not None and not (
        np.shape(band_gains) == (3,) and np.all(np.asarray(band_gains, float) > 0)
    ):
        raise ValueError(f"band_gains must be 3 positive numbers (g, r, z); got {band_gains!r}.")


def _cutouts(source, centroids, size):
    """``(n, C, size, size)`` float32 cutouts of ``source`` centred on ``centroids`` (x, y;
    nearest pixel), NaN beyond its edges."""
    half = size // 2
    padded = np.pad(source, ((0, 0), (half, half + 1), (half, half + 1)), constant_values=np.nan)
    images = np.empty((len(centroids), len(source), size, size), dtype=np.float32)
    for i, (x, y) in enumerate(np.rint(centroids).astype(int)):
        images[i] = center_crop(padded[:, y : y + 2 * half + 1, x : x + 2 * half + 1], size)
    return images


def _isolated(images, segmentation, centroids, labels, level):
    """``images`` with the pixels of every source but their own set to ``level``.

    ``segmentation``: each source's label in its own segment, -1 where another detection
    lies, 0 on sky. The others are grown by :data:`NEIGHBOUR_MARGIN` pixels, never into
    the source's own segment."""
    size = images.shape[-1]
    seg = _cutouts(segmentation[None].astype(np.float32), centroids, size)[:, 0]
    seg = np.nan_to_num(seg, nan=0.0).astype(np.int64)
    grow = np.ones((2 * NEIGHBOUR_MARGIN + 1,) * 2, bool)
    out = images.copy()
    for i, label in enumerate(labels):
        own = seg[i] == label
        out[i][:, binary_dilation((seg[i] != 0) & ~own, grow) & ~own] = level[:, None]
    return out


def _as_survey(found, rgb, sky, centroids, green, survey, source_pixel_scale, mag_range,
               band_gains, random_state, others=None, labels=None):
    """``found`` with its galaxies rendered as ``survey`` sees them (see
    :func:`load_hubble_deep_field`)."""
    from .survey import _survey_settings, observe_as_survey

    size = found.images.shape[-1]
    # the sharp stamp covers the survey's, with a pixel to spare each side
    side = int(np.ceil(size * _survey_settings(survey)["pixel_scale"] / source_pixel_scale)) + 2
    raw = _cutouts(rgb, centroids, side)
    # pixels beyond the picture, or in its blank (0 in every channel) border
    blank = (np.isnan(raw) | (raw == 0)).all(axis=1).mean(axis=(1, 2))
    sharp = raw - sky[:, None, None]
    if others is not None:
        sharp = _isolated(sharp, others, centroids, labels, np.zeros(3))
    sharp = sharp[:, ::-1]  # red, green, blue -> z, r, g: channels g, r, z
    if band_gains is not None:
        sharp = sharp * np.asarray(band_gains, np.float32)[:, None, None]
    rng = check_random_state(random_state)
    mag_r = rng.uniform(*mag_range, len(centroids))
    green = np.where(green > 0, green, np.asarray(found.data["flux"]) / 3)  # rare: no green
    flux_scale = 10 ** (-0.4 * (mag_r - 22.5)) / np.maximum(green, 1e-6)
    seen = observe_as_survey(sharp, source_pixel_scale, survey=survey, flux_scale=flux_scale,
                             image_size=size, random_state=rng)
    data = found.data.assign(mag_r=mag_r, blank_fraction=blank)
    return Bunch(images=seen.images, data=data, segmentation=found.segmentation,
                 bands=seen.bands, pixel_scale=seen.pixel_scale, conditions=seen.conditions)
