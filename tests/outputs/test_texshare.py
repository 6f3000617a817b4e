"""Spout and Syphon: honest on Linux ("not available on this OS"), and end to end sink -> source
through stand-in modules with the real packages' API (tests/standins; not tested on hardware)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from sfe_live import texshare_runtime
from sfe_live.outputs import OutputManager, PlayoutConfig, SinkState
from sfe_live.outputs.texshare import SpoutSink, SyphonSink, spout_availability, syphon_availability
from sfe_live.sources.base import SourceState
from sfe_live.sources.texshare import SpoutSource, SyphonSource, list_syphon_servers

STANDINS = str(Path(__file__).resolve().parents[1] / "standins")


@pytest.mark.skipif(sys.platform != "linux", reason="checks the Linux answer")
def test_absent_on_linux_is_one_line_not_an_error():
    for avail in (spout_availability(), syphon_availability()):
        assert not avail and avail.reason.startswith("not available on this OS")
        assert "\n" not in avail.reason
    assert list_syphon_servers() == []
    with pytest.raises(Exception, match="not available on this OS"):
        SpoutSource().open(64, 32)


@pytest.fixture
def as_os(monkeypatch):
    """Pretend to be ``name`` with the stand-in packages importable."""

    def use(name: str) -> None:
        monkeypatch.setattr(texshare_runtime, "system", lambda: name)
        monkeypatch.syspath_prepend(STANDINS)
        for mod in [m for m in sys.modules if m.split(".")[0] in ("SpoutGL", "syphon")]:
            monkeypatch.delitem(sys.modules, mod)

    yield use
    for mod in [m for m in sys.modules if m.split(".")[0] in ("SpoutGL", "syphon")]:
        del sys.modules[mod]


def block(rgb, n=8, w=96, h=64):
    b = np.empty((n, h, w, 3), np.uint8)
    b[...] = rgb
    b[:, :, : w // 4] = 0  # a black stripe on the left: geometry and channel order survive
    return b


@pytest.mark.parametrize("kind", ["spout", "syphon"])
def test_sink_to_source_through_the_standin(as_os, until, kind):
    as_os("Windows" if kind == "spout" else "Darwin")
    sink = SpoutSink("sfe-live") if kind == "spout" else SyphonSink("sfe-live")
    src = SpoutSource("sfe-live", mode="stretch") if kind == "spout" else SyphonSource("sfe-live", mode="stretch")
    assert sink.is_available() and src.is_available()
    assert sink.name == kind
    om = OutputManager(fps=30.0, playout=PlayoutConfig(prebuffer=1, max_buffer=64))
    om.add_sink(sink, enabled=True)
    with om:
        om.on_block(0, block((200, 60, 20)))
        assert until(lambda: om.status().sink(kind).state is SinkState.RUNNING, 5)
        if kind == "syphon":
            assert list_syphon_servers() == ["python: sfe-live"]
        src.open(48, 32)
        try:
            assert until(lambda: src.status().state is SourceState.RUNNING, 5), src.status()
            om.on_block(1, block((30, 180, 90), n=30))
            assert until(lambda: src.latest(1) is not None and src.latest(1)[0, 16, 40, 1] == 180, 5)
            got = src.latest(1)[0]
        finally:
            src.close()
    assert np.array_equal(got[:, 30:].reshape(-1, 3).mean(0), [30, 180, 90])  # RGB, not BGR
    assert got[:, :10].max() == 0
    st = om.status().sink(kind)
    assert st.sent >= 8 and st.dropped == 0 and st.error == ""


def test_spout_source_waits_for_a_missing_sender(as_os, until):
    as_os("Windows")
    src = SpoutSource("nobody")
    src.open(32, 32)
    try:
        assert until(lambda: src.status().state is SourceState.WAITING, 2)
        assert src.latest(1) is None
    finally:
        src.close()
