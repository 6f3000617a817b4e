"""The in-repository fixture copies are the shared source's bytes, and the suite never needs ../shared."""

import hashlib
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"

NAMES = ["self_forcing_tiny.safetensors", "wan_vae_tiny.safetensors", "taehv_tiny.safetensors", "README.md"]


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fixtures_live_in_the_repository(fixtures_dir):
    if "SFE_LIVE_FIXTURES" not in os.environ:
        assert fixtures_dir.resolve() == (REPO / "tests" / "fixtures").resolve()
    for name in NAMES:
        assert (REPO / "tests" / "fixtures" / name).stat().st_size > 0


@pytest.mark.skipif(not SHARED_FIXTURES.exists(), reason="no ../shared/fixtures beside this checkout")
def test_copies_equal_the_shared_source():
    for name in NAMES:
        assert _sha(REPO / "tests" / "fixtures" / name) == _sha(SHARED_FIXTURES / name), name
