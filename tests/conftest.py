"""Suite-wide settings: offline model hub, offscreen Qt, few threads, fixture paths."""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SFE_LIVE_CONFIG_DIR", str(Path(__file__).parent / ".tmp-config"))
os.environ.setdefault("SFE_LIVE_CACHE", str(Path(__file__).parent / ".tmp-cache"))

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, os.cpu_count() or 1))

REPO = Path(__file__).resolve().parents[1]
# The golden fixtures live in the repository (tests/fixtures/, copied from ../shared/fixtures/, which
# stays the source: see tests/fixtures/SOURCE.md) so a fresh clone with nothing beside it passes.
FIXTURES = Path(os.environ.get("SFE_LIVE_FIXTURES", REPO / "tests" / "fixtures"))
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.exists():
        pytest.fail(f"golden fixtures not found at {FIXTURES} (set SFE_LIVE_FIXTURES)")
    return FIXTURES
