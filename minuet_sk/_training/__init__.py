"""The training layer of the image encoders, below the estimators and above ``nn``.

``net`` (the skorch net, callbacks, autocast, devices), ``sources`` (in-memory and
out-of-core image arrays), ``streaming`` (standardised batches, the split, pixel weights),
``checkpoint`` (resumable fits) and ``distributed`` (DDP through accelerate, on ``net``).
"""
