"""What the scripts that train shipped weights share: fit, time, and save for users."""

import time


def fit_and_ship(model, out, *fit_args, **fit_kwargs):
    """Fit ``model`` on ``fit_args`` and ``fit_kwargs``, then save it to ``out`` as users get
    it: no progress bars, and the GPU where there is one. Returns the fit's wall seconds."""
    start = time.perf_counter()
    model.fit(*fit_args, **fit_kwargs)
    seconds = time.perf_counter() - start
    model.set_params(verbose=0, device="auto", checkpoint_dir=None)
    if "pretrained" in model.get_params(deep=False):
        # what a user's fit of these weights does: load them, not fine-tune those before
        model.set_params(pretrained=None, warm_start=False)
    model.save(out)
    return seconds
