"""Suite-wide settings: offline model hub, offscreen Qt, few threads, fixture paths."""

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("JACK_NO_START_SERVER", "1")  # never let a client autostart jackd
os.environ.setdefault("SFE_LIVE_CONFIG_DIR", str(Path(__file__).parent / ".tmp-config"))
os.environ.setdefault("SFE_LIVE_CACHE", str(Path(__file__).parent / ".tmp-cache"))
os.environ.setdefault("SFE_LIVE_RECORDINGS_DIR", str(Path(__file__).parent / ".tmp-config" / "recordings"))

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


@pytest.fixture(scope="session")
def jack_server() -> Iterator[str]:
    """A JACK dummy server (real virtual MIDI ports and an audio device); skipped without jackd."""
    jackd = shutil.which("jackd")
    if jackd is None:
        pytest.skip("jackd not installed (apt-get install --no-install-recommends jackd2)")
    name = f"sfe-test-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_AUDIO_RESERVATION="1")
    proc = subprocess.Popen([jackd, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "512"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    old = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name
    lsp = shutil.which("jack_lsp")
    ok = False
    for _ in range(100):
        if proc.poll() is not None:
            break
        if lsp and subprocess.run([lsp], env=env, capture_output=True).returncode == 0:
            ok = True
            break
        time.sleep(0.05)
    if not ok:
        proc.kill()
        pytest.skip("jackd did not start")
    try:
        yield name
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
        if old is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = old


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
