import os
from pathlib import Path

import numpy as np
import pytest

SHARED_ROOT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SHARED_DATA = SHARED_ROOT / "tiktok-136"


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def shared_data(name, inside="images"):
    """../shared/data/<name>, the real data the tests read (found by its folder `inside`);
    missing it fails under CI (CI=true) and skips elsewhere."""
    folder = SHARED_ROOT / name
    if not (folder / inside).is_dir():
        message = (f"needs the real data set {name} at {folder.resolve()}: its licence keeps it "
                   f"out of this repository (its README there says where to download it)")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI must have it (CI=true)")
        pytest.skip(f"{message}; skipped here, a failure under CI=true")
    return folder.resolve()


@pytest.fixture
def frames(tmp_path):
    """A folder of 6 synthetic frames on disk, as a user would have them."""
    from npcae.data import save_record, synthetic_record
    folder = tmp_path / "frames"
    save_record(synthetic_record(n_frames=6, size=(64, 32), seed=1), folder)
    return folder


@pytest.fixture
def tiktok_dir():
    return shared_data("tiktok-136")


@pytest.fixture
def human_seg_dir():
    return shared_data("human-seg-290")


# Rows of the gradient-check catalogue, computed once per (case, precision, tolerance) in this
# process: test_gradcheck.py checks each case, test_gradcheck_cli.py prints the whole table from
# the same rows through the command's code path (the catalogue took 28 s a second time).
GRADCHECK_ROWS = {}


def gradcheck_rows(check, case, precision, tolerance):
    key = (id(case), str(precision.dtype), float(tolerance))
    if key not in GRADCHECK_ROWS:
        GRADCHECK_ROWS[key] = list(check(case, precision, tolerance))
    return GRADCHECK_ROWS[key]
