"""Per-frame transport latency of the remote path, in one process: the time from the server's output
sink handing a frame to the WebRTC track until the client has decoded it (encode + RTP + jitter buffer
+ decode), and the laptop's playout depth (the remote path's only other added delay; the server's
playout exists locally too). The server's frame queue is FIFO and drops nothing here, so the i-th
frame put is the i-th frame decoded.

    python scripts/remote_transport_probe.py [WxH video size, default native 64x64] [seconds, default 45]
"""
import json
import os
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402
torch.set_num_threads(1)
from sfe_live.remote import media
puts, gets = [], []
orig_put = media.FrameTrack._put
def _put(self, frame):
    puts.append(time.monotonic()); orig_put(self, frame)
media.FrameTrack._put = _put
from sfe_live.app import App, AppSettings
from sfe_live.config import RemoteConfig
from sfe_live.remote.server import RemoteServer
from sfe_live.remote.client import RemoteApp
import asyncio

with socket.socket() as _s:
    _s.bind(("127.0.0.1", 0))
    PORT = _s.getsockname()[1]
size = tuple(int(v) for v in sys.argv[1].split("x")) if len(sys.argv) > 1 else None
app = App(AppSettings(model="demo", osc=False, threads=1)).load()
srv = RemoteServer(app, "t" * 16); srv.attach_outputs(size)
ready = threading.Event(); state = {}
async def main():
    state["loop"], state["stop"] = asyncio.get_running_loop(), asyncio.Event()
    await srv.run("127.0.0.1", PORT, None, state["stop"], lambda p: ready.set())
app.start(); threading.Thread(target=lambda: asyncio.run(main()), daemon=True).start(); ready.wait(20)
c = RemoteApp(AppSettings(osc=False, remote=RemoteConfig(url=f"http://127.0.0.1:{PORT}", token="t" * 16)))
c.load(); orig = c.link.on_frame
def on_frame(rgb):
    gets.append(time.monotonic()); orig(rgb)
c.link.on_frame = on_frame
c.start()
depth = []
t_end = time.monotonic() + float(sys.argv[2] if len(sys.argv) > 2 else 45)
while time.monotonic() < t_end:
    time.sleep(0.5); depth.append(c.status()["outputs"]["playout"]["latency_s"])
n = min(len(puts), len(gets))
# the first put before the client attached its on_frame wrapper: align from the end (FIFO, no loss)
lat = [g - p for p, g in zip(puts[len(puts) - n:], gets[len(gets) - n:])][20:]
print(json.dumps({"size": sys.argv[1] if len(sys.argv) > 1 else "64x64", "frames": n, "puts": len(puts), "gets": len(gets),
                  "transport_ms_median": round(1000 * statistics.median(lat), 1),
                  "transport_ms_p90": round(1000 * sorted(lat)[int(0.9 * len(lat))], 1),
                  "client_playout_s_median": round(statistics.median(depth), 3), "client_playout_s_max": round(max(depth), 3),
                  "server_playout_s": app.status()["outputs"]["playout"]["latency_s"],
                  "loadavg": os.getloadavg()}))
c.stop(); state["loop"].call_soon_threadsafe(state["stop"].set); time.sleep(1); app.stop()
