"""The exponential moving average of a torch module's weights, with a warm-up: what the image
encoders (``ema_decay``) and the flow's training loop encode, decode and keep. Pure torch."""

from __future__ import annotations

import torch

__all__ = ["MovingAverage"]


class MovingAverage:
    """Exponential moving average of a module's weights and buffers
    (:class:`torch.optim.swa_utils.AveragedModel`), started from the module as it is.

    The decay warms up as diffusers' ``EMAModel`` does: after ``n`` updates it is
    ``min(decay, (1 + n) / (10 + n))``, so that a short run's average is not dominated by
    the untrained weights it started from (with a fixed 0.999, the first weights would still
    hold a third of the average after 1,000 steps).

    A plain holder, not a torch module: skorch would register a module set on the net as
    one more to train.

    Examples
    --------
    >>> import torch
    >>> layer = torch.nn.Linear(1, 1, bias=False)
    >>> average = MovingAverage(layer, decay=0.999)
    >>> with torch.no_grad():
    ...     _ = layer.weight.fill_(average.model.module.weight.item() + 2.0)
    >>> average.update(layer)  # second update: decay (1 + 1) / (10 + 1), not 0.999
    >>> round((average.model.module.weight - layer.weight).item(), 4)
    -0.3636
    """

    def __init__(self, module, decay):
        from torch.optim.swa_utils import AveragedModel

        self.decay = float(decay)
        self.model = AveragedModel(module, multi_avg_fn=self._update, use_buffers=True)
        self.model.requires_grad_(False)
        self.model.update_parameters(module)  # the first update copies

    @torch.no_grad()
    def _update(self, averaged, current, n_averaged):
        decay = min(self.decay, (1.0 + float(n_averaged)) / (10.0 + float(n_averaged)))
        if torch.is_floating_point(averaged[0]) or torch.is_complex(averaged[0]):
            torch._foreach_lerp_(averaged, current, 1.0 - decay)
        else:  # integer buffers
            for a, c in zip(averaged, current, strict=True):
                a.copy_(a * decay + c * (1.0 - decay))

    def update(self, module):
        self.model.update_parameters(module)
