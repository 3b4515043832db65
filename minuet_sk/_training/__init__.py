"""The training layer, below the estimators and above ``nn``; it knows the estimators only
by their hooks.

``net`` (the skorch net, callbacks, autocast), ``params`` (the training parameters' shared
constraints and the device), ``losses`` (Minuet's denoising loss, the VAE's ELBO), ``masks``
(the masked loss's pixel weights), ``sources`` (in-memory and out-of-core image arrays),
``streaming`` (standardised batches, the split, pixel weights), ``checkpoint`` (resumable
fits), ``distributed`` (DDP through accelerate, on ``net``) and ``flow_loop`` (the flow's
own training loop).
"""
