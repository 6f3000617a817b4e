"""The virtual camera through the real ``pyvirtualcam.Camera`` with an in-memory backend, and the
documented message when there is no device."""

from __future__ import annotations

import platform
import time

import numpy as np
import pytest

from sfe_live.outputs import OutputManager, PlayoutConfig, SinkState
from sfe_live.outputs.virtualcam import VirtualCamSink, no_device_message

pytest.importorskip("pyvirtualcam")


def test_frames_reach_the_camera_scaled_at_a_steady_rate_with_repeats(memory_cam, make_frame, until):
    om = OutputManager(fps=16.0, playout=PlayoutConfig(prebuffer=1))
    cam_sink = VirtualCamSink(size=(1280, 720), fps=30.0, backend="sfe-test-memory")
    om.add_sink(cam_sink, enabled=True)
    with om:
        om.on_block(0, np.stack([make_frame(i) for i in range(6)]))  # 6 frames = 0.375 s at 16 fps
        assert until(lambda: memory_cam.instances and len(memory_cam.instances[0].frames) >= 1)
        time.sleep(0.9)  # the model is silent now: the camera must keep its 30 fps
        cam = memory_cam.instances[0]
        st = om.status().sink("virtualcam")
    assert st.state is SinkState.OFF or st.state is SinkState.RUNNING
    assert (cam.width, cam.height, cam.fps) == (1280, 720, 30.0)
    assert cam.closed
    frames = [f.reshape(720, 1280, 3) for f in cam.frames]  # pyvirtualcam hands backends flat RGB
    times = np.array(cam.times)
    span = times[-1] - times[0]
    rate = (len(times) - 1) / span
    assert 26 <= rate <= 32, rate
    assert float(np.max(np.diff(times))) < 0.1  # no gap while the model was silent
    # letterboxed 832x480 -> 1248x720 centred: 16-px black bars each side
    assert (frames[0][:, :16] == 0).all() and (frames[0][:, 1264:] == 0).all()
    # each distinct model frame appears, in order, and the last one is repeated to fill the gap
    blues = [int(f[360, 640, 2]) for f in frames]
    distinct = [b for k, b in enumerate(blues) if k == 0 or b != blues[k - 1]]
    assert distinct == [(i * 37) % 256 for i in range(6)]
    assert st.repeated >= 20 and st.repeated == st.sent - 6


def test_no_device_gives_the_documented_message_here(until):
    if platform.system() != "Linux":
        pytest.skip("the no-device path checked here is Linux's")
    sink = VirtualCamSink()
    avail = sink.is_available()
    import glob

    if glob.glob("/dev/video*"):
        pytest.skip("this machine has video devices")
    assert not avail and "sudo apt install v4l2loopback-dkms" in avail.reason
    # the real Camera path with the real backend fails; the message says what to do
    from sfe_live.outputs import SinkError

    with pytest.raises(SinkError) as exc:
        VirtualCamSink(backend="v4l2loopback").open(1280, 720, 30.0)
    text = str(exc.value)
    assert 'sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="sfe-live"' in text
    assert "No v4l2 loopback device found" in text  # pyvirtualcam's own words are kept
    # through the manager it is a failed sink with that message, not a crash
    om = OutputManager(fps=50.0, playout=PlayoutConfig(prebuffer=1))
    om.add_sink(VirtualCamSink(), enabled=True)
    with om:
        om.on_block(0, np.zeros((2, 48, 64, 3), np.uint8))
        assert until(lambda: om.status().sink("virtualcam").state is SinkState.FAILED)
        assert "v4l2loopback-dkms" in om.status().sink("virtualcam").error


@pytest.mark.parametrize("system", ["Windows", "Darwin"])
def test_no_device_message_for_obs_systems(system):
    text = no_device_message(system)
    assert "OBS Studio 30 or newer" in text and '"Start Virtual Camera" once' in text


def test_missing_extra_message(monkeypatch):
    import builtins

    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "pyvirtualcam":
            raise ImportError("no pyvirtualcam")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    avail = VirtualCamSink().is_available()
    assert not avail and "pip install 'sfe-live[vcam]'" in avail.reason
