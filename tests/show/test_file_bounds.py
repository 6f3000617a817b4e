"""Hostile data files are refused with one line before they cost memory or the process
(issue 11, item 8): TOML nested 100,000 deep, endless or huge inputs (``/dev/zero``)."""

from __future__ import annotations

import time

import pytest

from sfe_live import io as tomlio
from sfe_live.show.cues import CueListError, load_cue_list
from sfe_live.io import DataFileError

DEEP = 100_000


def _deep_texts():
    yield "arrays", "x = " + "[" * DEEP + "]" * DEEP + "\n"
    yield "inline tables", "x = " + "{a=" * DEEP + "1" + "}" * DEEP + "\n"
    yield "dotted keys", "a." * DEEP + "b = 1\n"
    yield "table header", "[" + "a." * DEEP + "b]\n"


@pytest.mark.parametrize("kind,text", list(_deep_texts()), ids=[k for k, _ in _deep_texts()])
def test_deep_nesting_is_one_line(tmp_path, kind, text):
    p = tmp_path / "deep.toml"
    p.write_text(text)
    with pytest.raises(CueListError) as e:
        load_cue_list(p)
    msg = str(e.value)
    assert "\n" not in msg and str(p) in msg and "nest" in msg, msg


def test_nesting_inside_strings_and_comments_is_fine(tmp_path):
    p = tmp_path / "ok.toml"
    p.write_text('schema = 1\n# [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n'
                 '[[cue]]\nprompt = "' + "[" * 500 + '"\n[[cue]]\nprompt = \'' + "{" * 500 + "'\n"
                 '[[cue]]\nprompt = """\n' + "[" * 500 + '\n"""\n')
    cl = load_cue_list(p)
    assert [c.prompt.strip() for c in cl.cues] == ["[" * 500, "{" * 500, "[" * 500]


def test_modest_nesting_still_parses():
    data = tomlio.parse_toml("x = " + "[" * 20 + "1" + "]" * 20 + "\n")
    assert data["x"][0][0][0][0] is not None


def test_dev_zero_is_refused_quickly():
    t = time.monotonic()
    with pytest.raises(CueListError) as e:
        load_cue_list("/dev/zero")
    assert time.monotonic() - t < 2.0
    assert "/dev/zero" in str(e.value) and "\n" not in str(e.value)


def test_a_huge_regular_file_is_refused_before_reading(tmp_path):
    p = tmp_path / "huge.toml"
    with open(p, "wb") as f:
        f.truncate(3 << 30)   # 3 GiB sparse: reading it would take seconds and gigabytes
    t = time.monotonic()
    with pytest.raises(DataFileError) as e:
        tomlio.load_toml(p)
    assert time.monotonic() - t < 1.0 and "too large" in str(e.value) and str(p) in str(e.value)


def test_cli_cues_dev_zero_exits_2_with_one_line(tmp_path, capsys):
    from sfe_live.cli import main
    rc = main(["render", "--model", "tiny-random", "--cues", "/dev/zero", "--blocks", "1",
               "--out", str(tmp_path / "o.mp4")])
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = [ln for ln in err.splitlines() if "error" in ln.lower()]
    assert len(lines) == 1 and "/dev/zero" in lines[0] and "too large" in lines[0], err


def test_app_starts_with_a_deeply_nested_bindings_file(tmp_path, caplog):
    from sfe_live.controls.hub import ControlHub
    bad = tmp_path / "bindings.toml"
    bad.write_text("[[key]]\nkey = " + "[" * DEEP + "]" * DEEP + "\n")
    hub = ControlHub(lambda c: None, None, {"osc_enabled": False, "midi_enabled": False,
                                            "bindings_file": str(bad)})
    hub.start()
    try:
        err = hub.status()["errors"]["bindings"]
        assert str(bad) in err and "\n" not in err
        assert hub.keys.lookup("Space") is not None   # the default key map is in use
    finally:
        hub.stop()
