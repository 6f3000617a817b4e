"""The Outputs panel and menu on a live window: honest availability, live switching, counters,
and the v2v menu's network inputs."""

from __future__ import annotations

import logging
import sys

import pytest


def _pump(qtbot, window, ms: int = 300) -> None:  # type: ignore[no-untyped-def]
    qtbot.wait(ms)
    window._slow_tick(0.0)


def test_panel_lists_every_output_with_its_reason(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    _pump(qtbot, window)
    panel = window.outputs_panel
    assert list(panel.rows) == ["spout", "syphon", "ndi", "vcam", "record"]
    assert set(panel.actions) == set(panel.rows)  # the Output › Send to menu mirrors the rows
    if sys.platform.startswith("linux"):
        for key in ("spout", "syphon"):
            row = panel.rows[key]
            assert row.reason.text().startswith("not available on this OS")
            assert "not tested on hardware" in row.switch.toolTip()
            assert row.state.text() == "OFF"


def test_switching_ndi_live_counts_frames_and_menu_follows(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    from sfe_live.outputs.ndi import ndi_availability
    if not ndi_availability():
        pytest.skip(ndi_availability().reason)
    panel = window.outputs_panel
    row = panel.rows["ndi"]
    row.switch.setChecked(True)  # as a click does
    qtbot.waitUntil(lambda: (window._slow_tick(0.0), row.state.text())[1] == "RUNNING", timeout=20000)
    qtbot.waitUntil(lambda: (window._slow_tick(0.0), window.app.outputs.status().sink("ndi").sent)[1] >= 3,
                    timeout=20000)
    window._slow_tick(0.0)
    sent = window.app.outputs.status().sink("ndi").sent
    assert row.counts.text().startswith("sent ") and int(row.counts.text().split()[1]) >= 3
    assert sent >= 3
    assert panel.actions["ndi"].isChecked()
    panel.actions["ndi"].setChecked(False)  # the menu switches it off again
    qtbot.waitUntil(lambda: not window.app.outputs.wanted("ndi"), timeout=5000)
    qtbot.waitUntil(lambda: (window._slow_tick(0.0), row.state.text())[1] == "OFF", timeout=5000)
    assert not row.switch.isChecked()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Spout is absent on Linux")
def test_an_absent_output_cannot_be_switched_on_and_says_why(window, qtbot, caplog) -> None:  # type: ignore[no-untyped-def]
    _pump(qtbot, window)
    row = window.outputs_panel.rows["spout"]
    assert not row.switch.isEnabled() and not window.outputs_panel.actions["spout"].isEnabled()
    with caplog.at_level(logging.WARNING):
        window.app.set_output("spout", True)  # e.g. --spout on Linux, or OSC
    assert not window.app.outputs.wanted("spout")
    assert "Spout: not available on this OS" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_v2v_menu_offers_ndi_spout_syphon(window, qtbot, caplog) -> None:  # type: ignore[no-untyped-def]
    from ui.controls_panel import V2V_SOURCES
    assert {"NDI…", "Spout…", "Syphon…"} <= set(V2V_SOURCES)
    controls = window.controls
    if sys.platform.startswith("linux"):
        with caplog.at_level(logging.ERROR):
            assert controls._ask_network_source("syphon") is None
        assert "not available on this OS" in caplog.text
    from sfe_live.outputs.ndi import ndi_availability
    if ndi_availability():
        asked = {}

        def ask(title, label, items):  # type: ignore[no-untyped-def]
            asked["items"] = items
            return "some-stream", True

        controls.ask_item = ask
        src = controls._ask_network_source("ndi")
        assert type(src).__name__ == "NDISource" and src.source_name == "some-stream"
        assert isinstance(asked["items"], list)
