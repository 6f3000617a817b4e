"""Suite-wide settings: offline model hub, offscreen Qt, few threads, fixture paths."""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SFE_LIVE_CONFIG_DIR", str(Path(__file__).parent / ".tmp-config"))

# NDI (every test that sends or receives it, outputs/, sources/, ui/): only the loopback adapter and a
# unicast look-up on 127.0.0.1, no mDNS on the LAN. Must be set before the NDI runtime initialises.
if "NDI_CONFIG_DIR" not in os.environ:
    import json
    import tempfile

    _ndi_dir = tempfile.mkdtemp(prefix="sfe-ndi-")
    with open(os.path.join(_ndi_dir, "ndi-config.v1.json"), "w") as _fh:
        json.dump({"ndi": {"networks": {"ips": "127.0.0.1", "discovery": ""},
                           "adapters": {"allowed": ["127.0.0.1"]},
                           "multicast": {"send": {"enable": False}, "recv": {"enable": False}}}}, _fh)
    os.environ["NDI_CONFIG_DIR"] = _ndi_dir

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
