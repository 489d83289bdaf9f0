"""Where the tests find the CLI and the data sets, and the rule for what is missing.

``$CARGO_TARGET_DIR/debug/da3d`` (``DA3D_CLI`` to name another binary) and ``$DA3D_DATA_DIR``
(default ``../shared/datasets`` beside the repository). A missing binary or data file fails its
test unless ``DA3D_ALLOW_SKIP=1`` (as the Rust tests).
"""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache" / "da3d-target"))


def missing(what):
    """Fail, or skip with DA3D_ALLOW_SKIP=1, for a missing binary or data file."""
    if os.environ.get("DA3D_ALLOW_SKIP") == "1":
        pytest.skip(f"{what} (DA3D_ALLOW_SKIP=1)")
    pytest.fail(f"{what}; set DA3D_ALLOW_SKIP=1 to skip this test")


@pytest.fixture(scope="package")
def cli():
    """A function running the da3d binary with arguments; returns its stdout."""
    path = Path(os.environ.get("DA3D_CLI", _target_dir() / "debug" / "da3d"))
    if not path.is_file():
        missing(f"the da3d binary {path} is missing (cargo build -p da3d-cli)")

    def run(*args):
        done = subprocess.run([str(path), *map(str, args)], capture_output=True, text=True)
        if done.returncode != 0:
            raise AssertionError(f"da3d {' '.join(map(str, args))} failed ({done.returncode}):\n{done.stderr}")
        return done.stdout

    return run


@pytest.fixture(scope="package")
def data_dir():
    return Path(os.environ.get("DA3D_DATA_DIR", ROOT.parent / "shared" / "datasets"))
