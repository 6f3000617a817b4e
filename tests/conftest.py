"""Suite-wide settings: offline model hub, offscreen Qt, few threads, fixture paths."""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SFE_LIVE_CONFIG_DIR", str(Path(__file__).parent / ".tmp-config"))

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


@pytest.fixture
def make_video():
    """``make_video(path, n, width, height, colour, start)``: an H.264 file of n frames whose
    coloured band widens by a pixel per frame (a moving input for video-to-video)."""
    import av
    import numpy as np

    def make(path, n=24, width=64, height=64, colour=(255, 40, 40), start=10):
        with av.open(str(path), "w") as c:
            s = c.add_stream("libx264", rate=16)
            s.width, s.height, s.pix_fmt = width, height, "yuv420p"
            for i in range(n):
                f = np.zeros((height, width, 3), np.uint8)
                f[:, : start + i] = colour
                for pkt in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    c.mux(pkt)
            for pkt in s.encode():
                c.mux(pkt)
        return path
    return make
