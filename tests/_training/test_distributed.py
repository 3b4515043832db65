"""Data-parallel training with accelerate: two CPU processes (DDP over gloo) train the model
that one process trains.

Every process reads the same global batch, makes the same random draws as one process, and
computes the loss of its half of the rows; DDP averages the gradients. The two fits then
differ from the one-process fit only by float rounding (a sum of two half-batch gradients
instead of one whole-batch sum): measured relative differences of the losses are about
1e-7 after two epochs, so the test asks for 1e-5. Latents differ by 2e-5 to 5e-5 for
MinuetEncoder (Adam's first steps are +-lr for any weight whose gradient is at the level of
rounding, e.g. the self-attention queries of near-identical latent tokens), so they are
compared to 1e-4; an independently seeded fit differs by order 1. A weight with an exactly
zero gradient (a bias the latents' batch standardisation removes) made them differ by 1e-4
and more: there must be none.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _helpers import TINY_MINUET, make_blobs_images
from sklearn.base import clone

accelerate = pytest.importorskip("accelerate")

from minuet_sk import MinuetEncoder, VAEEncoder
from minuet_sk._persistence import json_params

COMMON = {"image_shape": None, "n_components": 2, "max_epochs": 2, "batch_size": 8,
          "validation_fraction": 0.25, "random_state": 0}
# sigma=1.0: a learned sigma is estimated from each process's rows, so it is not exact.
ESTIMATORS = {
    "VAEEncoder": {**COMMON, "channels": [4, 8], "sigma": 1.0},
    # COMMON's max_epochs=2 over TINY_MINUET's 1; masked_loss=False: exact only where the
    # loss is a mean over images, the mask weights weigh each process's rows by their own
    # sum (docs: scale.rst)
    "MinuetEncoder": {**TINY_MINUET, **COMMON, "masked_loss": False},
}
CLASSES = {"VAEEncoder": VAEEncoder, "MinuetEncoder": MinuetEncoder}

# Run by each of the two processes; rank 0 writes the histories and the saved models.
SCRIPT = """
import json, sys
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator

import minuet_sk

torch.set_num_threads(1)
folder = Path(sys.argv[1])
X = np.load(folder / "X.npy")
accelerator = Accelerator(cpu=True)
assert accelerator.num_processes == 2
histories = {}
for name, params in json.loads((folder / "estimators.json").read_text()).items():
    est = getattr(minuet_sk, name)(**params, accelerator=accelerator).fit(X)
    est.partial_fit(X)  # training goes on, still data-parallel
    est.save(folder / name)
    histories[name] = est.history_
if accelerator.is_main_process:
    (folder / "histories.json").write_text(json.dumps(histories))
"""

# 47 images, a quarter held out: 35 training images in batches of 8 (the last one of 3
# images is shared unevenly, 1 + 2) and 12 validation images (one batch per process).
N_IMAGES = 47


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch_two_processes(folder):
    """What ``accelerate launch --num_processes 2 --cpu`` does, without its extra
    interpreter: two processes with the torch.distributed environment variables."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(_free_port()), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    (folder / "train.py").write_text(SCRIPT)
    procs = [subprocess.Popen([sys.executable, str(folder / "train.py"), str(folder)],
                              env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for r in range(2)]
    try:
        outputs = [p.communicate(timeout=240)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]


def test_two_processes_train_the_one_process_model(tmp_path, monkeypatch):
    """One test (not one per estimator) so that pytest-xdist launches the processes once."""
    X = make_blobs_images(N_IMAGES, (1, 16, 16), random_state=0)
    np.save(tmp_path / "X.npy", X)
    (tmp_path / "estimators.json").write_text(json.dumps(ESTIMATORS))
    _launch_two_processes(tmp_path)
    histories = json.loads((tmp_path / "histories.json").read_text())
    for name, params in ESTIMATORS.items():
        one = CLASSES[name](**params).fit(X).partial_fit(X)
        two = histories[name]
        assert len(two) == len(one.history_) == 3
        for key in ("train_loss", "valid_loss"):
            np.testing.assert_allclose([h.get(key, 0.0) for h in two],
                                       [h.get(key, 0.0) for h in one.history_], rtol=1e-5)
        # saved by the main process, without the accelerator; loads without accelerate
        config = json.loads((tmp_path / name / "config.json").read_text())
        assert config["params"]["accelerator"] is None
        with monkeypatch.context() as m:
            m.setitem(sys.modules, "accelerate", None)  # importing it would fail
            m.setitem(sys.modules, "skorch.hf", None)
            loaded = CLASSES[name].load(tmp_path / name)
        np.testing.assert_allclose(loaded.transform(X), one.transform(X), atol=1e-4)


class TestAcceleratorParameter:
    def test_clone_and_json_params(self):
        vae = VAEEncoder(accelerator=accelerate.Accelerator(cpu=True))
        assert clone(vae).accelerator is not None
        assert json_params(vae)["accelerator"] is None

    def test_rejects_other_objects(self):
        X = make_blobs_images(8, (1, 8, 8), random_state=0)
        with pytest.raises(ValueError, match="accelerator"):
            VAEEncoder(image_shape=None, accelerator="cuda").fit(X)
