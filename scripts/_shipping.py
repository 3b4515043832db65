"""What the scripts that train shipped weights share: fit, time, and save for users."""

import time


def fit_and_ship(model, out, *fit_args, **fit_kwargs):
    """Fit ``model`` on ``fit_args`` and ``fit_kwargs``, then save it to ``out`` as users get
    it: no progress bars, and the GPU where there is one. Returns the fit's wall seconds."""
    start = time.perf_counter()
    model.fit(*fit_args, **fit_kwargs)
    seconds = time.perf_counter() - start
    model.set_params(verbose=0, device="auto", checkpoint_dir=None)
    # what a user's fit of these weights does: load them, not fine-tune those they came from
    params = model.get_params(deep=False)
    model.set_params(**{k: v for k, v in {"pretrained": None, "warm_start": False}.items()
                        if k in params})
    model.save(out)
    return seconds
