"""The helper both morphology modules measure with: the photutils catalogue of an image's
central source, segmented as the masked loss segments it."""

from __future__ import annotations

import numpy as np

__all__ = ["central_catalog"]


def central_catalog(image, threshold_sigma, min_pixels):
    """(SourceCatalog of the band sum restricted to the central source, its segment mask,
    the other sources' mask, the background-subtracted bands), or None when there is no
    central source."""
    from photutils.segmentation import SegmentationImage, SourceCatalog

    from ..preprocessing import _DEBLEND_CONTRAST, _DEBLEND_LEVELS, _segment

    labels, central = _segment(image, np.isnan(image), threshold_sigma, min_pixels,
                               True, _DEBLEND_LEVELS, _DEBLEND_CONTRAST)
    if not central:
        return None
    segment = labels == central
    others = (labels > 0) & ~segment
    sky = ~(labels > 0)
    bands = np.empty_like(image)
    for b, band in enumerate(image):
        finite = np.isfinite(band) & sky
        bands[b] = band - (np.median(band[finite]) if finite.sum() > 10 else 0.0)
    bands = np.where(np.isfinite(bands), bands, 0.0)
    detection = bands.sum(axis=0)
    catalog = SourceCatalog(detection, SegmentationImage(segment.astype(np.int32)),
                            mask=others)
    return catalog, segment, others, bands
