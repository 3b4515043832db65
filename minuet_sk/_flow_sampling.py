"""Drawing from a fitted :class:`~minuet_sk.flow.FlowPropertyRegressor`: posterior samples
in the targets' units, seeded per galaxy by its feature row, and exact log densities."""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from sklearn.utils import check_random_state

from ._flow_support import from_unbounded, log_abs_det, to_unbounded
from ._training.flow_loop import ROWS_PER_BATCH
from ._validation import iter_batches
from .nn.flows import flow_sample

__all__ = ["SEED_MAX", "FlowSamplingMixin"]

SEED_MAX = 2**31 - 1


def _row_seed(row):
    """A 64-bit seed from the bytes of one feature row (same row, same draws)."""
    return int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little")


class FlowSamplingMixin:
    """Draws and log densities of the fitted flow (``flow_``, ``x_mean_``, ``y_mean_``...)."""

    def _noise(self, X, n_samples, random_state):
        """Base noise (n, n_samples, k): seeded per galaxy by its feature row."""
        base = self._sample_seed
        if random_state is not None:
            base = [base, int(check_random_state(random_state).randint(0, SEED_MAX))]
        base = list(np.atleast_1d(base))
        noise = np.empty((len(X), n_samples, self.n_outputs_), dtype=np.float32)
        for i, row in enumerate(X):
            rng = np.random.default_rng(base + [_row_seed(row)])
            noise[i] = rng.standard_normal((n_samples, self.n_outputs_), dtype=np.float32)
        return noise

    @torch.no_grad()
    def _draw(self, X, n_samples, random_state=None, return_log_prob=False):
        """Samples (n, s, k) in original units, float32; optionally their log densities."""
        n_samples = self.n_samples if n_samples is None else int(n_samples)
        if n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer; got {n_samples}.")
        samples = np.empty((len(X), n_samples, self.n_outputs_), dtype=np.float32)
        log_prob = np.empty((len(X), n_samples), dtype=np.float32) if return_log_prob else None
        scale = torch.as_tensor(self.y_scale_, dtype=torch.float32, device=self.device_)
        mean = torch.as_tensor(self.y_mean_, dtype=torch.float32, device=self.device_)
        log_jacobian = float(np.log(self.y_scale_).sum())
        self.flow_.eval()
        # about 2**13 draws per thread: each elementwise op of a batch then spans every
        # thread (torch splits an op into chunks of 2**15 elements), yet stays in cache
        draws_per_batch = ROWS_PER_BATCH * max(1, torch.get_num_threads())
        for start, stop in iter_batches(X, max(1, draws_per_batch // n_samples)):
            context = self._standardise_x(X[start:stop]).to(self.device_)
            noise = torch.from_numpy(self._noise(X[start:stop], n_samples, random_state))
            out = flow_sample(
                self.flow_, context, noise.to(self.device_), return_log_prob=return_log_prob
            )
            draws = out[0] if return_log_prob else out
            u = (draws * scale + mean).cpu().numpy()
            samples[start:stop] = from_unbounded(u, self.target_low_, self.target_high_)
            if return_log_prob:
                log_prob[start:stop] = (out[1] - log_jacobian).cpu().numpy() - log_abs_det(
                    u, self.target_low_, self.target_high_)
        return (samples, log_prob) if return_log_prob else samples

    def _log_prob_validated(self, X, y):
        """Exact log density in y's units; -inf where ``y`` lies outside its support."""
        u = to_unbounded(y, self.target_low_, self.target_high_)
        outside = np.isnan(u).any(axis=1)
        u[outside] = 0.0
        x_std = self._standardise_x(X)
        y_std = torch.as_tensor((u - self.y_mean_) / self.y_scale_, dtype=torch.float32)
        out = np.empty(len(X), dtype=np.float64)
        self.flow_.eval()
        with torch.no_grad():
            for start, stop in iter_batches(X, ROWS_PER_BATCH):
                out[start:stop] = (
                    self.flow_.log_prob(
                        y_std[start:stop].to(self.device_),
                        context=x_std[start:stop].to(self.device_),
                    )
                    .cpu()
                    .numpy()
                )
        out = out - np.log(self.y_scale_).sum() - log_abs_det(u, self.target_low_,
                                                             self.target_high_)
        out[outside] = -np.inf
        return out
