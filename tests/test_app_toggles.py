"""App toggles over real OSC: with an argument they SET (``/sfe/record T`` never stops a recording),
without one they flip (issue 11, item 4)."""

import time

import pytest
from pythonosc.udp_client import SimpleUDPClient

from sfe_live.controls.actions import TOGGLE


def _wait(pred, timeout=3.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


class _Cam:
    """A virtual camera that exists (the real one needs a v4l2loopback device)."""

    def is_available(self):  # type: ignore[no-untyped-def]
        from sfe_live.availability import Availability
        return Availability(True)

    def open(self, width, height, fps):  # type: ignore[no-untyped-def]
        pass

    def send(self, frame):  # type: ignore[no-untyped-def]
        pass

    def close(self):  # type: ignore[no-untyped-def]
        pass


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from sfe_live.app import App, AppSettings
    rec = tmp_path_factory.mktemp("rec")
    a = App(AppSettings(model="tiny-random", osc=True, osc_port=0, realtime=False)).load()
    a.set_record_dir(str(rec))
    a.outputs.remove_sink("vcam")              # no v4l2loopback here: a camera that exists
    a.outputs.add_sink(_Cam(), name="vcam")
    a.refresh_availability()
    a.hub.start()
    yield a
    a.hub.stop()
    a.outputs.stop()


def recording(app):
    return app.outputs.wanted("record")


def vcam_on(app):
    # the app is not started: an enabled sink waits for the first frame in "starting"
    return app.outputs.status().sink("vcam").state.value in ("running", "starting")


def test_record_with_an_argument_sets(app):
    c = SimpleUDPClient("127.0.0.1", app.hub.osc.port)
    for args, want in ((True, True), (True, True), ("T", True), (False, False), (False, False), (0, False),
                       (None, True), (None, False), ("F", False), (1.0, True)):
        c.send_message("/sfe/record", args)
        c.send_message("/sfe/get/block", None)
        c.receive(2.0)                          # the server has handled everything before the get
        assert recording(app) is want, (args, want)
        assert app.router.state()["recording"] is want
    c.close()


def test_vcam_with_an_argument_sets(app):
    c = SimpleUDPClient("127.0.0.1", app.hub.osc.port)
    for args, want in ((True, True), (True, True), ("T", True), (False, False), (False, False),
                       (None, True), (None, False), (None, True), (1, True), (0, False)):
        c.send_message("/sfe/vcam", args)
        c.send_message("/sfe/get/block", None)
        c.receive(2.0)
        assert vcam_on(app) is want, (args, want)
        assert app.router.state()["vcam"] is want
    c.close()


def test_every_app_toggle_sets_with_a_value(app):
    """blackout/freeze/record/vcam: the same value twice leaves the state where it was."""
    for spec in app.router.registry:
        if spec.kind != TOGGLE or spec.group != "app" or spec.id == "output.fullscreen":
            continue
        for v in (True, True, False, False):
            app.trigger(spec.id, v)
            assert app.router.state()[spec.state] is v, (spec.id, v)
