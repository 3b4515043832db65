"""Image preprocessing: an invertible asinh stretch, photutils segmentation masks, and each
cutout's own sky level and noise."""

from __future__ import annotations

import warnings
import zlib
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from astropy.stats import sigma_clipped_stats
from photutils.segmentation import deblend_sources, detect_sources
from photutils.utils.exceptions import NoDetectionsWarning
from scipy import ndimage
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from minuet_sk._validation import validate_images

__all__ = ["LEGACY_SURVEY_SCALES", "AsinhStretch", "SegmentationMasker", "background_noise",
           "central_source_masks"]

#: Per-band flux scales of the Legacy Survey RGB images (legacypipe ``sdss_rgb``).
LEGACY_SURVEY_SCALES = {"g": 6.0, "r": 3.4, "i": 3.0, "z": 2.2}
# photutils' deblending settings of every central-source segmentation (masks, masker,
# morphology)
_DEBLEND_LEVELS, _DEBLEND_CONTRAST = 32, 0.001


class AsinhStretch(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Invertible per-band asinh stretch, after the Legacy Survey RGB mapping.

    ``y = arcsinh(Q * s_b * x) / Q`` for band ``b`` with flux scale ``s_b`` and softening
    ``Q`` (Lupton et al. 2004): linear for faint pixels, logarithmic for bright cores, so that
    networks see the outskirts and the bulge alike. NaN pixels stay NaN.

    Parameters
    ----------
    softening : float, default=100.0
        ``Q``: larger values compress bright pixels more and give the faint outskirts,
        where a galaxy's size shows, more of the pixel variance. 100 by measurement on
        simulated DECaLS-like cutouts (``benchmarks/quality_pca_r2.py``): five PCA components
        explain R^2 0.51 of log half-light radius after Q=100 against 0.39 after Q=10, and
        the latents of :class:`~minuet_sk.MinuetEncoder` (masked loss, 20 minutes of CPU
        training) 0.58-0.74 over six seeds against 0.24-0.65; brightness pays (PCA's R^2 of
        r magnitude 0.78 against 0.92). Q=10 is closer to the Legacy Survey's RGB images.
    scales : sequence of float or None, default=None
        Per-band multipliers ``s_b``; None uses the Legacy Survey values for ``bands``
        (g 6.0, r 3.4, i 3.0, z 2.2; 1.0 for other bands).
    bands : str, default="grz"
        Band names, in the order of the image channels.
    image_shape : tuple of int or None, default=(3, 72, 72)
        ``(C, H, W)``; None takes it from 4-D input.

    Attributes
    ----------
    scales_ : ndarray of shape (C,)
        The per-band scales used.
    image_shape_ : tuple of int
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from minuet_sk import AsinhStretch
    >>> X = np.random.default_rng(0).normal(size=(4, 3, 8, 8)).astype("float32")
    >>> stretch = AsinhStretch(image_shape=(3, 8, 8)).fit(X)
    >>> Y = stretch.transform(X)
    >>> Y.shape
    (4, 192)
    >>> bool(np.allclose(stretch.inverse_transform(Y), X.reshape(4, -1), rtol=1e-5, atol=1e-6))
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "softening": [Interval(Real, 0, None, closed="neither")],
        "scales": ["array-like", None],
        "bands": [str],
        "image_shape": [tuple, list, None],
    }

    def __init__(self, *, softening=100.0, scales=None, bands="grz", image_shape=(3, 72, 72)):
        self.softening = softening
        self.scales = scales
        self.bands = bands
        self.image_shape = image_shape

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the images and fix the per-band scales.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, C*H*W)
        y : None
            Ignored.

        Returns
        -------
        self : AsinhStretch
        """
        images, _ = validate_images(self, X, reset=True)
        self.image_shape_ = images.shape[1:]
        n_bands = self.image_shape_[0]
        if self.scales is not None:
            scales = np.asarray(self.scales, dtype=np.float64).ravel()
            if scales.size != n_bands or not np.all(scales > 0):
                raise ValueError(
                    f"scales must hold {n_bands} positive values (one per band); got {scales}."
                )
        elif len(self.bands) == n_bands:
            scales = np.array([LEGACY_SURVEY_SCALES.get(b, 1.0) for b in self.bands])
        else:
            scales = np.ones(n_bands)
        self.scales_ = scales
        return self

    def _factor(self):
        return (self.softening * self.scales_).reshape(1, -1, 1, 1)

    def transform(self, X):
        """Stretch the images.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, C*H*W)

        Returns
        -------
        ndarray of shape (n_samples, C*H*W)
        """
        check_is_fitted(self)
        images, _ = validate_images(self, X, reset=False)
        return self._stretch(images).reshape(len(images), -1)

    def _stretch(self, images):
        """The stretch of already validated ``(n, C, H, W)`` images, as float32 (the
        encoders apply their own ``stretch_`` so, after checking the images once)."""
        out = np.arcsinh(self._factor() * images.astype(np.float64)) / self.softening
        return out.astype(np.float32)

    def inverse_transform(self, X):
        """Undo the stretch (to float32 precision).

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, C*H*W)

        Returns
        -------
        ndarray of shape (n_samples, C*H*W)
        """
        check_is_fitted(self)
        images, _ = validate_images(self, X, reset=False)
        with np.errstate(over="ignore"):
            out = np.sinh(self.softening * images.astype(np.float64)) / self._factor()
        too_big = np.abs(out) > np.finfo(np.float32).max
        if too_big.any():
            limit = np.arcsinh(np.finfo(np.float32).max * self._factor().min()) / self.softening
            raise ValueError(
                f"{int(too_big.sum())} stretched value(s) (up to "
                f"{float(np.nanmax(np.abs(images))):.3g}) map to fluxes beyond float32's range; "
                f"with softening={self.softening} stretched values stay within about "
                f"{limit:.3g}. Were these images stretched with these settings?"
            )
        return out.astype(np.float32).reshape(len(images), -1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def background_noise(images, *, outer=0.25, sigma=3.0, maxiters=5):
    """Sky level and noise of each band of each cutout, robustly from its own background.

    The background is the ``outer`` share of each band's finite pixels farthest from the
    cutout's centre (where the centred galaxy's light is faintest, whatever part of the
    stamp is missing), and the estimates its sigma-clipped median and MAD standard deviation
    (astropy's ``sigma_clipped_stats``), so that neighbours in it are clipped away. Missing
    (NaN) pixels are ignored.

    Parameters
    ----------
    images : array-like of shape (n, C, H, W)
    outer : float in (0, 1], default=0.25
        Share of the finite pixels, the farthest from the centre, taken as background.
    sigma : float, default=3.0
        Clipping threshold, in standard deviations.
    maxiters : int, default=5
        Clipping iterations.

    Returns
    -------
    level, noise : ndarray of shape (n, C), float64
        The sky level and its standard deviation per pixel, in the images' units; NaN for a
        band without a finite pixel.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> sky = 0.01 + 0.003 * rng.standard_normal((2, 3, 64, 64))
    >>> sky[:, :, 16:48, 16:48] += 1.0  # a bright galaxy fills the middle
    >>> level, noise = background_noise(sky)
    >>> np.round(level, 3).tolist()[0], np.round(noise, 3).tolist()[0]
    ([0.01, 0.01, 0.01], [0.003, 0.003, 0.003])
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (n, C, H, W); got {images.shape}.")
    if not 0 < outer <= 1:
        raise ValueError(f"outer must be in (0, 1]; got {outer!r}.")
    height, width = images.shape[2:]
    y, x = np.ogrid[:height, :width]
    radius = np.hypot(y - (height - 1) / 2, x - (width - 1) / 2)
    finite = np.isfinite(images)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # bands without a finite pixel give NaN
        distance = np.where(finite, radius, np.nan)
        inner_edge = np.nanquantile(distance, 1.0 - outer, axis=(2, 3), keepdims=True)
        background = np.where(finite & (distance >= inner_edge), images, np.nan)
        _, level, noise = sigma_clipped_stats(background, sigma=sigma, maxiters=maxiters,
                                              axis=(2, 3), stdfunc="mad_std")
    return np.asarray(level, np.float64), np.asarray(noise, np.float64)


def _segment(image, missing, threshold_sigma, min_pixels, deblend, n_levels, contrast):
    """Segmentation map of one (C, H, W) image and the label of its central source."""
    valid = ~missing.any(axis=0)
    detection = np.zeros(image.shape[1:])
    for band in np.where(missing, np.nan, image):
        if not valid.any():
            break
        _, median, std = sigma_clipped_stats(band[valid], stdfunc="mad_std")
        if std > 0 and np.isfinite(std):
            detection += np.nan_to_num((band - median) / std)
    detection /= np.sqrt(len(image))  # unit noise per pixel in the band sum
    with warnings.catch_warnings():  # an empty stamp is a result here, not a problem
        warnings.simplefilter("ignore", NoDetectionsWarning)
        segm = detect_sources(detection, threshold_sigma, min_pixels, mask=~valid)
    if segm is None:
        return np.zeros(detection.shape, dtype=int), 0
    if deblend and min(detection.shape) >= 3:
        segm = deblend_sources(
            detection, segm, min_pixels, n_levels=n_levels, contrast=contrast,
            progress_bar=False,
        )
    labels = segm.data
    h, w = labels.shape
    centre = ((h - 1) / 2, (w - 1) / 2)
    ys, xs = np.nonzero(labels)
    dist = np.hypot(ys - centre[0], xs - centre[1])
    # The central galaxy is the source that covers (or comes nearest to) the centre, if it
    # comes within a tenth of the stamp; otherwise the stamp has no central source.
    nearest = np.argmin(dist)
    if dist[nearest] > max(2.0, 0.1 * min(h, w)):
        return labels, 0
    return labels, int(labels[ys[nearest], xs[nearest]])


def central_source_masks(
    images, *, threshold_sigma=1.5, min_pixels=5, deblend=True, n_levels=_DEBLEND_LEVELS,
    contrast=_DEBLEND_CONTRAST,
):
    """Segmentation masks of the central source of each image (photutils).

    Sources are detected on the noise-normalised band sum with
    :func:`photutils.segmentation.detect_sources` and split with
    :func:`~photutils.segmentation.deblend_sources`; the central source is the one that
    covers, or comes nearest to, the stamp centre.

    Parameters
    ----------
    images : ndarray of shape (n, C, H, W)
        Images; NaN pixels are excluded from detection.
    threshold_sigma : float, default=1.5
        Detection threshold in units of the background noise.
    min_pixels : int, default=5
        Minimum connected pixels of a source.
    deblend : bool, default=True
        Split blended sources.
    n_levels, contrast : int, float
        Deblending parameters of photutils.

    Returns
    -------
    ndarray of bool of shape (n, H, W)

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:32, :32]
    >>> img = np.exp(-((xx - 15.5) ** 2 + (yy - 15.5) ** 2) / 8.0)
    >>> img = img + 0.01 * np.random.default_rng(0).normal(size=(3, 32, 32))
    >>> mask = central_source_masks(img[None])
    >>> bool(mask[0, 16, 16]), bool(mask[0, 0, 0])
    (True, False)
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4:
        raise ValueError(
            f"central_source_masks needs images of shape (n, C, H, W); got {images.shape}. "
            "Reshape flattened rows first, e.g. X.reshape(-1, 3, 72, 72)."
        )
    masks = np.zeros((len(images),) + images.shape[2:], dtype=bool)
    for i, image in enumerate(images):
        labels, central = _segment(
            image, np.isnan(image), threshold_sigma, min_pixels, deblend, n_levels, contrast
        )
        if central:
            masks[i] = labels == central
    return masks


class SegmentationMasker(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Remove neighbouring sources from cutouts, keep the central galaxy.

    Each image is segmented with photutils (see :func:`central_source_masks`); pixels of every
    source but the central one (grown by ``dilate`` pixels to cover their wings) are replaced
    by background noise drawn with the band's robust sky level and scatter, or by zeros. The
    noise for an image is seeded by ``random_state`` and the image's own pixels, so the
    result does not depend on batching.

    Parameters
    ----------
    threshold_sigma : float, default=1.5
        Detection threshold in units of the background noise.
    min_pixels : int, default=5
        Minimum connected pixels of a source.
    deblend : bool, default=True
        Split blended sources before picking the central one.
    n_levels : int, default=32
        Deblending levels.
    contrast : float, default=0.001
        Deblending contrast.
    dilate : int, default=2
        Pixels by which neighbour masks are grown.
    fill : {"noise", "zeros"}, default="noise"
        What replaces neighbour pixels.
    image_shape : tuple of int or None, default=(3, 72, 72)
        ``(C, H, W)``; None takes it from 4-D input.
    random_state : int or None, default=None
        Seed of the replacement noise, combined with a checksum of each image's pixels
        (None counts as 0): the same image is always cleaned the same way.

    Attributes
    ----------
    image_shape_ : tuple of int
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from minuet_sk import SegmentationMasker
    >>> yy, xx = np.mgrid[:32, :32]
    >>> blob = lambda x0, y0: np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / 6.0)
    >>> rng = np.random.default_rng(0)
    >>> img = (blob(15.5, 15.5) + blob(4, 5)) + 0.01 * rng.normal(size=(3, 32, 32))
    >>> masker = SegmentationMasker(image_shape=(3, 32, 32), random_state=0)
    >>> clean = masker.fit_transform(img[None]).reshape(3, 32, 32)
    >>> bool(clean[0, 5, 4] < 0.1), bool(clean[0, 16, 16] > 0.5)
    (True, True)
    """

    _parameter_constraints: ClassVar[dict] = {
        "threshold_sigma": [Interval(Real, 0, None, closed="neither")],
        "min_pixels": [Interval(Integral, 1, None, closed="left")],
        "deblend": ["boolean"],
        "n_levels": [Interval(Integral, 1, None, closed="left")],
        "contrast": [Interval(Real, 0, 1, closed="both")],
        "dilate": [Interval(Integral, 0, None, closed="left")],
        "fill": [StrOptions({"noise", "zeros"})],
        "image_shape": [tuple, list, None],
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
    }

    def __init__(
        self, *, threshold_sigma=1.5, min_pixels=5, deblend=True, n_levels=_DEBLEND_LEVELS,
        contrast=_DEBLEND_CONTRAST, dilate=2, fill="noise", image_shape=(3, 72, 72), random_state=None,
    ):
        self.threshold_sigma = threshold_sigma
        self.min_pixels = min_pixels
        self.deblend = deblend
        self.n_levels = n_levels
        self.contrast = contrast
        self.dilate = dilate
        self.fill = fill
        self.image_shape = image_shape
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the images (the masker learns nothing from them).

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, C*H*W)
        y : None
            Ignored.

        Returns
        -------
        self : SegmentationMasker
        """
        images, _ = validate_images(self, X, reset=True)
        self.image_shape_ = images.shape[1:]
        return self

    def _segment_all(self, X):
        check_is_fitted(self)
        images, missing = validate_images(self, X, reset=False, dtype=np.float64)
        if missing is None:
            missing = np.zeros(images.shape, dtype=bool)
        for image, miss in zip(images, missing):
            labels, central = _segment(
                image, miss, self.threshold_sigma, self.min_pixels, self.deblend,
                self.n_levels, self.contrast,
            )
            yield image, miss, labels, central

    def central_masks(self, X):
        """Masks of the central source of each image.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, C*H*W)

        Returns
        -------
        ndarray of bool of shape (n_samples, H, W)
        """
        return np.stack([labels == c if c else np.zeros(labels.shape, bool)
                         for _, _, labels, c in self._segment_all(X)])

    def transform(self, X):
        """Replace the pixels of non-central sources.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, C*H*W)

        Returns
        -------
        ndarray of shape (n_samples, C*H*W)
            Cleaned images (float32); NaN pixels stay NaN.
        """
        seed = self.random_state or 0
        out = []
        for image, miss, labels, central in self._segment_all(X):
            neighbours = (labels > 0) & (labels != central)
            if self.dilate and neighbours.any():
                grown = ndimage.binary_dilation(neighbours, iterations=self.dilate)
                neighbours = grown & ~(labels == central) if central else grown
            clean = image.copy()
            if neighbours.any():
                rng = np.random.default_rng([seed, zlib.crc32(image.tobytes())])
                sky = ~(labels > 0) & ~miss.any(axis=0)
                for b in range(len(image)):
                    level, scatter = 0.0, 0.0
                    if self.fill == "noise" and sky.sum() > 2:
                        _, level, scatter = sigma_clipped_stats(
                            image[b][sky], stdfunc="mad_std"
                        )
                    clean[b][neighbours] = level + scatter * rng.standard_normal(
                        neighbours.sum()
                    )
            clean[miss] = np.nan
            out.append(clean)
        return np.asarray(out, dtype=np.float32).reshape(len(out), -1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
