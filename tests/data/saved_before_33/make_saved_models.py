"""Writes the folders of this directory: one small fitted model of every saved class, saved
by minuet_sk as it was before the "one class, one file" layout (commit c100b3e), with what
each computed then (``expected.npz``). ``tests/test_persistence.py`` loads them with today's
code and checks the same outputs, so that models users saved keep loading. Run once, with
that commit's package on the path::

    git worktree add /tmp/old c100b3e
    PYTHONPATH=/tmp/old python tests/data/saved_before_33/make_saved_models.py
"""

from pathlib import Path

import numpy as np
import torch

from minuet_sk import AsinhStretch, EigengalaxyPCA, FlowPropertyRegressor, MinuetEncoder, VAEEncoder

HERE = Path(__file__).parent


def main():
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = (0.05 * rng.random((24, 3, 8, 8)) + 0.01).astype(np.float32)
    tiny = {"image_shape": None, "max_epochs": 1, "device": "cpu", "random_state": 0}
    minuet = MinuetEncoder(3, **tiny, stretch=AsinhStretch(), patch_size=4, width=8,
                           encoder_depth=1, decoder_depth=1, n_heads=2, refiner_channels=4,
                           diffusion_steps=20, sampling_steps=3, batch_size=8,
                           ema_decay=0.9, target_frame="canonical",
                           encoder_frame="canonical").fit(X)
    vae = VAEEncoder(3, **tiny, channels=(4,), batch_size=8).fit(X)
    pca = EigengalaxyPCA(3, image_shape=None).fit(X)
    Z = minuet.transform(X)
    y = np.column_stack([Z[:, 0] + 0.1 * rng.standard_normal(24), Z[:, 1]])
    flow = FlowPropertyRegressor(n_transforms=2, hidden_features=8, max_epochs=2, n_samples=20,
                                 device="cpu", random_state=0).fit(Z, y)
    for name, model in {"minuet": minuet, "vae": vae, "pca": pca, "flow": flow}.items():
        model.save(HERE / name)
    np.savez(HERE / "expected.npz", X=X, y=y,
             minuet_transform=Z, minuet_inverse=minuet.inverse_transform(Z[:2]),
             vae_transform=vae.transform(X), pca_transform=pca.transform(X),
             flow_sample=flow.sample(Z[:3], 5, random_state=1), flow_log_prob=flow.log_prob(Z, y))


if __name__ == "__main__":
    main()
