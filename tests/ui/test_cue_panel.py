"""Cue list panel: editing, highlighting, and a round trip through save/load."""

import dataclasses

from sfe_live.show.cues import Cue, load_cue_list
from ui.controller import Controller
from ui.cue_panel import CuePanel


def _panel(qtbot):  # type: ignore[no-untyped-def]
    from sfe_live.show.cues import CuePlayer
    c = Controller()
    sent: list = []
    c.cues = CuePlayer(sent.append)
    p = CuePanel(c)
    qtbot.addWidget(p)
    return p, sent


def test_edit_and_round_trip(qtbot, cue_file, tmp_path) -> None:  # type: ignore[no-untyped-def]
    p, _ = _panel(qtbot)
    assert p.load_file(cue_file)
    assert p.table.rowCount() == 3 and p.name == "Test list"
    original = load_cue_list(cue_file)

    p.table.selectRow(0)
    p.duplicate_selected()                                   # one, one, two, blue sea
    assert [c.name for c in p.cues] == ["one", "one", "two", ""]
    p.table.selectRow(3)
    p.move_selected(-1)                                      # one, one, blue sea, two
    p.replace_cue(2, dataclasses.replace(p.cues[2], prompt="a blue sea at dawn", advance_blocks=12))
    p.table.selectRow(0)
    p.delete_selected()                                      # one, blue sea, two
    p.table.selectRow(2)
    p.add_cue(Cue(prompt="a white void", transition="recache"), ask=False)
    assert [c.prompt for c in p.cues] == ["a red ball", "a blue sea at dawn", "a green forest", "a white void"]
    assert p.dirty and p.title.text().startswith("Test list •")
    assert p.controller.cues.cue_list.cues == tuple(p.cues)      # the player sees every edit

    out = tmp_path / "saved.toml"
    assert p.save_file(out)
    back = load_cue_list(out)
    assert back.cues == tuple(p.cues) and back.name == "Test list"
    assert back.cues[1].advance_blocks == 12 and back.cues[1].strength == 2
    assert original.cues[0] == back.cues[0]
    p2, _ = _panel(qtbot)
    assert p2.load_file(out) and p2.cues == p.cues


def test_go_next_prev_and_highlight(qtbot, cue_file) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QColor
    from ui import theme
    p, sent = _panel(qtbot)
    p.load_file(cue_file)
    assert p.go()                                           # nothing selected: cue 1
    assert [c.text for c in sent] == ["a red ball"] and p.selected_row() == 1
    assert p.next() and p.controller.cues.index == 1
    assert p.prev() and p.controller.cues.index == 0
    p.highlight()
    assert p.table.item(0, 1).background().color() == QColor(theme.ACCENT)     # current
    assert p.table.item(1, 1).background().color() == QColor("#17345c")        # next
    assert [c.text for c in sent] == ["a red ball", "a green forest", "a red ball"]


def test_edits_keep_the_current_cue(qtbot, cue_file) -> None:  # type: ignore[no-untyped-def]
    p, _ = _panel(qtbot)
    p.load_file(cue_file)
    p.controller.cues.go(2)
    p.table.selectRow(1)
    p.move_selected(1)                       # the current cue moves with its row
    assert p.controller.cues.index == 2 and p.cues[2].name == "two"
    p.table.selectRow(0)
    p.delete_selected()
    assert p.controller.cues.index == 1


def test_bad_file_is_an_error_not_a_crash(qtbot, tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    p, _ = _panel(qtbot)
    bad = tmp_path / "bad.toml"
    bad.write_text('schema = 1\n[[cue]]\nprompt = "x"\ntransition = "wipe"\n')
    assert not p.load_file(bad)
    assert "transition must be one of" in caplog.text and "bad.toml:4" in caplog.text


def test_lock_disables_editing_only(qtbot, cue_file) -> None:  # type: ignore[no-untyped-def]
    p, _ = _panel(qtbot)
    p.load_file(cue_file)
    p.set_locked(True)
    assert not any(b.isEnabled() for b in p.edit_buttons)
    assert p.go_button.isEnabled() and p.next_button.isEnabled() and p.prev_button.isEnabled()


def _five(loop: bool = False):  # type: ignore[no-untyped-def]
    from sfe_live.show.cues import CueList
    return CueList(tuple(Cue(prompt=f"p{i}", name=f"c{i}") for i in range(1, 6)), name="five", loop=loop)


def test_standby_follows_any_fired_cue(qtbot) -> None:  # type: ignore[no-untyped-def]
    """Click row 1, press 3 (fires cue 3: cue 4 now stands by), GO -> cue 4 fires, not cue 1."""
    p, sent = _panel(qtbot)
    p.set_cue_list(_five())
    p.table.selectRow(0)
    p.controller.cues.go(3)                 # what number key 3, OSC /sfe/cue/go 3 or MIDI do
    p.highlight()                           # the GUI timer's pull
    assert p.selected_row() == 3
    assert p.go()
    assert [c.text for c in sent] == ["p3", "p4"] and p.selected_row() == 4


def test_go_on_the_last_cue_does_not_wrap(qtbot) -> None:  # type: ignore[no-untyped-def]
    p, sent = _panel(qtbot)
    p.set_cue_list(_five())
    p.table.selectRow(4)
    assert p.go() and p.selected_row() is None
    assert not p.go() and not p.go()        # no standby after the end: nothing fires
    assert [c.text for c in sent] == ["p5"]
    p.table.selectRow(1)                    # clicking a row stands it by
    assert p.go() and [c.text for c in sent] == ["p5", "p2"]


def test_looping_list_wraps_the_standby(qtbot) -> None:  # type: ignore[no-untyped-def]
    p, sent = _panel(qtbot)
    p.set_cue_list(_five(loop=True))
    p.table.selectRow(4)
    assert p.go() and p.selected_row() == 0
    assert p.go() and [c.text for c in sent] == ["p5", "p1"]
