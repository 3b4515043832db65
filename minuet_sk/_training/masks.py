"""The pixel weights of Minuet's masked loss: 0.9 on the central galaxy's segmentation mask,
0.1 elsewhere (the authors' recipe), computed once per fit and kept as bits."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from ..preprocessing import central_source_masks
from .streaming import MaskWeights, expand_blocks

__all__ = ["BACKGROUND_WEIGHT", "MASK_WEIGHT", "central_mask_weights", "mask_loss_weights"]

#: Pixel weights of the masked loss: on the central galaxy's segmentation mask, elsewhere.
MASK_WEIGHT, BACKGROUND_WEIGHT = 0.9, 0.1


def mask_loss_weights(images):
    """The masked loss's pixel weights of ``images`` ``(n, C, H, W)``: ``(n, 1, H, W)``
    float32, 0.9 on each image's central-source segmentation mask and 0.1 elsewhere."""
    masks = central_source_masks(images)[:, None]
    return np.where(masks, MASK_WEIGHT, BACKGROUND_WEIGHT).astype(np.float32)


def _packed_central_masks(batches, verbose):
    """:func:`central_source_masks` of the standardised ``(x, weight)`` batches (missing
    pixels, weight 0, left out), packed 8 pixels a byte: ``(n, ceil(H W / 8))`` uint8."""
    packed = []
    for x, weight in tqdm(batches, total=batches.n_batches(), disable=not verbose,
                          desc="masks", leave=False):
        masks = central_source_masks(torch.where(weight > 0, x, torch.nan).numpy())
        packed.append(np.packbits(masks.reshape(len(masks), -1), axis=1))
    return np.concatenate(packed)


def central_mask_weights(batches, n_images, pixel_weight, verbose=False):
    """The masked loss's weights of the images of unshuffled ``batches`` (an
    :class:`~minuet_sk._training.streaming.ImageBatches` of ``n_images`` rows), times
    ``pixel_weight``: segmented once, kept as bits; rows the batches do not hold (the
    validation images: training never reads them) stay empty."""
    shape = batches.image_shape
    packed = np.zeros((n_images, -(-shape[1] * shape[2] // 8)), np.uint8)
    # unshuffled batches hold the blocks' images in order
    packed[expand_blocks(batches.blocks)] = _packed_central_masks(batches, verbose)
    return MaskWeights(packed, shape, MASK_WEIGHT, BACKGROUND_WEIGHT, pixel_weight)
