import os
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "tiktok-136"


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def tiktok_dir():
    """The shared tiktok-136 record; missing it fails under CI (CI=true) and skips elsewhere."""
    if not (SHARED_DATA / "images").is_dir():
        message = f"shared data not found at {SHARED_DATA.resolve()}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_DATA.resolve()
