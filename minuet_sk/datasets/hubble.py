"""Real HST galaxies: cutouts from the Hubble Deep Field image shipped with scikit-image.

``skimage.data.hubble_deep_field()`` is a 872 x 1000 colour JPEG of part of the Hubble
Deep Field (WFPC2). It is an **8-bit RGB display image**, not calibrated flux: each
channel is a stretched, clipped and JPEG-compressed rendering of a filter image, so pixel
values are not proportional to flux (bright cores flatten near 255, faint outskirts are
lifted), the background carries JPEG block noise, and no zero point or pixel scale comes
with it. Shapes, sizes, orientations, ellipticities and relative positions are real; the
fluxes and colours reported here are display-unit sums, useful for ranking and not for
photometry. Every detected source is returned: the few stars of the field (diffraction
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
from sklearn.utils import Bunch

from minuet_sk.datasets._cutouts import center_crop

__all__ = ["load_hubble_deep_field"]


def load_hubble_deep_field(
    *, image_size=72, min_area=20, n_sigma=3.0, deblend=True, subtract_background=True
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

    Returns
    -------
    Bunch
        ``images`` float32 (n, 3, image_size, image_size), channels red, green, blue;
        ``data`` DataFrame with ``label``, ``x``, ``y`` (centroid, pixels), ``area``
        (pixels), ``flux`` (summed display units above background), ``ellipticity``,
        ``orientation`` (degrees), ``fwhm`` (circularised, pixels) and ``touches_edge``;
        ``segmentation`` (872, 1000) int label image; ``bands`` ``("R", "G", "B")``;
        ``pixel_scale`` None.

    Raises
    ------
    ImportError
        scikit-image is not installed.

    Examples
    --------
    >>> hdf = load_hubble_deep_field(image_size=32, min_area=200)
    >>> hdf.images.shape[1:], len(hdf.data) == len(hdf.images)
    ((3, 32, 32), True)
    """
    if not (isinstance(image_size, (int, np.integer)) and image_size > 0):
        raise ValueError(f"image_size must be a positive integer; got {image_size!r}.")
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
    source = rgb - sky[:, None, None] if subtract_background else rgb
    half = image_size // 2
    padded = np.pad(source, ((0, 0), (half, half + 1), (half, half + 1)), constant_values=np.nan)
    images = np.empty((len(centroids), 3, image_size, image_size), dtype=np.float32)
    for i, (x, y) in enumerate(np.rint(centroids).astype(int)):
        window = padded[:, y : y + 2 * half + 1, x : x + 2 * half + 1]
        images[i] = center_crop(window, image_size)
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
    return Bunch(
        images=images,
        data=data,
        segmentation=np.asarray(segmentation.data),
        bands=("R", "G", "B"),
        pixel_scale=None,
    )
