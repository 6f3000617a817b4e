"""The core I/O module: atomic writes leave the old file or the new one, never half; TOML reads are
bounded and name the file and line."""

import os

import pytest

from sfe_live import io as sio


def test_atomic_text_and_bytes_replace_the_file_and_leave_no_temporary(tmp_path):
    p = tmp_path / "sub" / "a.txt"
    sio.atomic_write_text(p, "one\ntwo\n")
    assert p.read_bytes() == b"one\ntwo\n"
    sio.atomic_write_bytes(p, b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"
    assert sorted(os.listdir(p.parent)) == ["a.txt"]


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    p = tmp_path / "keep.toml"
    sio.save_toml(p, {"a": 1}, header="hello")
    before = p.read_text()

    def boom(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(sio.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        sio.save_toml(p, {"a": 2})
    assert p.read_text() == before and before.startswith("# hello\n")
    assert sorted(os.listdir(tmp_path)) == ["keep.toml"]


def test_an_error_inside_atomic_path_keeps_the_old_file(tmp_path):
    p = tmp_path / "w.bin"
    p.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with sio.atomic_path(p) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("writer failed")
    assert p.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["w.bin"]


def test_toml_read_is_bounded_before_reading(tmp_path):
    p = tmp_path / "huge.toml"
    p.write_text("a = 1\n" + "# padding\n" * 2000)
    with pytest.raises(sio.DataFileError) as err:
        sio.load_toml(p, max_bytes=1000)
    msg = str(err.value)
    assert msg.startswith(f"{p}: too large (19.5 KiB; the limit is 1000 bytes)") and "\n" not in msg
    data, text = sio.load_toml(p)
    assert data == {"a": 1} and text.startswith("a = 1")


def test_toml_errors_name_file_and_line(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("a = 1\nb = = 2\n")
    with pytest.raises(sio.DataFileError) as err:
        sio.load_toml(p)
    assert err.value.line == 2 and str(err.value).startswith(f"{p}:2: TOML syntax error")
    p.write_bytes(b"a = '\xff'\n")
    with pytest.raises(sio.DataFileError, match="not UTF-8"):
        sio.load_toml(p)
    with pytest.raises(sio.DataFileError, match="cannot read"):
        sio.load_toml(tmp_path / "missing.toml")


def test_config_dir_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SFE_LIVE_CONFIG_DIR", str(tmp_path / "cfg"))
    assert sio.config_dir() == tmp_path / "cfg"
