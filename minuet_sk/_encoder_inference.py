"""What a fitted image encoder does with images and latents after ``fit``, without gradients:
batches through the network, latents through the decoder, and back to the input units.

:class:`EncoderInferenceMixin` serves :class:`~minuet_sk._encoder_base.BaseImageEncoder`; it
reads the fitted state (``net_``, ``band_median_``, ``band_scale_``, ``stretch_``,
``device_``) and never changes it.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array
from tqdm.auto import tqdm

from ._training.net import autocast
from ._training.streaming import ImageBatches

__all__ = ["EncoderInferenceMixin"]


class EncoderInferenceMixin:
    """Inference helpers and the model's own stretch, for the image encoders."""

    def _fit_stretch(self, shape):
        """``stretch_``: the ``stretch`` parameter fitted to images of ``shape`` (an
        ``AsinhStretch`` takes its per-band scales from ``bands``, not from the pixels)."""
        self.stretch_ = None
        if self.stretch is not None:
            self.stretch_ = clone(self.stretch).set_params(image_shape=tuple(shape))
            self.stretch_.fit(np.zeros((1, *shape), np.float32))

    def _stretched(self, source):
        """The :class:`~minuet_sk._training.sources.ImageSource` ``source`` through
        ``stretch_``: at once in memory, slice by slice out of core (each slice checked as it
        is read, so the stretch does not check it again)."""
        return source if self.stretch_ is None else source.map(self.stretch_._stretch)

    def _predict_batches(self, fn, X):
        """Apply ``fn(module, x, weight)`` batch by batch without gradients.

        ``x`` are standardised images (missing pixels 0), ``weight`` the pixel weights.
        ``fn`` returns a tensor or a tuple of tensors; the result is the matching array (or
        tuple of arrays), concatenated over batches, as float32 NumPy.
        """
        source = self._input_source(X, reset=False)
        batches = ImageBatches(source, [(0, len(source))], self.batch_size, self.band_median_,
                               self.band_scale_, pin_memory=self._pin_memory())
        return self._collect(
            fn, (self.net_._to_device(b) for b in batches), batches.n_batches()
        )

    def _map_latents(self, fn, Z):
        """Apply ``fn(module, z)`` to latent rows of ``Z`` batch by batch (no gradients)."""
        Z = check_array(Z, dtype=np.float32)
        if Z.shape[1] != self.n_components:
            raise ValueError(
                f"Z has {Z.shape[1]} columns but the encoder has "
                f"n_components={self.n_components}."
            )
        Zt = torch.from_numpy(Z)
        starts = range(0, len(Z), self.batch_size)
        batches = ([Zt[s : s + self.batch_size].to(self.device_)] for s in starts)
        return self._collect(fn, batches, len(starts))

    def _collect(self, fn, batches, total):
        module = self.net_.inference_module()
        module.eval()
        outputs = []
        with torch.no_grad(), autocast(self.device_, self.mixed_precision):
            for batch in tqdm(batches, total=total, disable=not self.verbose, leave=False):
                out = fn(module, *batch)
                out = out if isinstance(out, tuple) else (out,)
                outputs.append([o.float().cpu().numpy() for o in out])
        result = tuple(np.concatenate(parts) for parts in zip(*outputs))
        for part in result:
            self._check_finite_output(part)
        return result if len(result) > 1 else result[0]

    def _check_finite_output(self, values):
        """Refuse to return NaN or inf: float32 overflow inside the network, never silent."""
        bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
        if bad.any():
            rows = np.flatnonzero(bad).tolist()
            shown = ", ".join(map(str, rows[:10])) + (", ..." if len(rows) > 10 else "")
            raise ValueError(
                f"{type(self).__name__} computed non-finite values for {len(rows)} row(s) "
                f"({shown}): their values are so far from what the model was fitted on "
                f"(per-band pixel median {np.round(self.band_median_, 4).tolist()}, scale "
                f"{np.round(self.band_scale_, 4).tolist()}) that float32 arithmetic "
                "overflows. Check the units and the preprocessing (e.g. AsinhStretch), or "
                "replace flag values with NaN to treat those pixels as missing."
            )

    def _sampling_seed(self, random_state):
        """Seed of a sampling call: the fit's own for None (reproducible, and NumPy's global
        generator is never drawn from), else one drawn from ``random_state``."""
        if random_state is None:
            return self._seeds[2]
        return int(check_random_state(random_state).randint(0, 2**31 - 1))

    def _destandardise(self, images):
        """Standardised ``(n, C, H, W)`` images back to the input units (unstretched)."""
        images = images * self.band_scale_.reshape(1, -1, 1, 1) + self.band_median_.reshape(
            1, -1, 1, 1
        )
        if self.stretch_ is None:
            return images
        return self.stretch_.inverse_transform(images).reshape(images.shape)
