"""glibc's malloc thresholds for streaming work (minuet_sk._allocator)."""

import platform

import numpy as np
import pytest

from minuet_sk import FlowPropertyRegressor
from minuet_sk._allocator import keep_freed_memory

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
set_thresholds = keep_freed_memory.__wrapped__  # the call itself, not its cached result


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt")
def test_glibc_takes_the_thresholds(monkeypatch):
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    assert set_thresholds() is True


@pytest.mark.parametrize("name", ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"])
def test_a_users_own_thresholds_are_left_alone(monkeypatch, name):
    monkeypatch.setenv(name, "131072")
    assert set_thresholds() is False


def test_other_c_libraries_are_left_alone(monkeypatch):
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    assert set_thresholds() is False


def test_draws_do_not_depend_on_the_thresholds(monkeypatch):
    # the thresholds decide where memory comes from, never a number: draws made before and
    # after they are set (and in batches of another size) are the same
    import minuet_sk.flow._regressor as regressor

    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 3))
    y = X[:, :2] + 0.1 * rng.standard_normal((80, 2))
    reg = FlowPropertyRegressor(max_epochs=1, random_state=0).fit(X, y)
    calls = []
    monkeypatch.setattr(regressor, "keep_freed_memory", lambda: calls.append(1))
    monkeypatch.setattr(regressor, "DRAWS_PER_THREAD", 64)
    small = reg.sample(X[:20], n_samples=50)
    assert calls  # sampling asks for the thresholds
    monkeypatch.undo()
    keep_freed_memory()
    np.testing.assert_array_equal(reg.sample(X[:20], n_samples=50), small)
