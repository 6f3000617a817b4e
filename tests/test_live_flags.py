"""The window and `run` take the same live-control flags (sfe-live --osc-port 9400 used to fail)."""

import pytest

from sfe_live import cli


@pytest.mark.parametrize("command", [[], ["gui"], ["run"], ["run", "--headless"]])
def test_same_flags_on_the_window_and_run(command) -> None:  # type: ignore[no-untyped-def]
    argv = [*command, "--osc-port", "9400", "--osc-host", "0.0.0.0", "--osc-push", "10.0.0.5:7000",
            "--midi", "Launch", "--audio-device", "2", "--bpm", "128", "--link", "--quantize", "bar", "--ndi",
            "--low-latency", "--record-dir", "/tmp/rec"]
    if not argv[0:1] or argv[0].startswith("-"):
        argv = ["gui", *argv]
    args = cli.build_parser().parse_args(argv)
    s = cli.settings_from(args)
    assert s.controls == {"osc_host": "0.0.0.0", "osc_port": 9400, "osc_push": "10.0.0.5:7000",
                          "midi_inputs": ["Launch"], "audio_device": 2, "audio_enabled": True, "bpm": 128.0,
                          "quantize": "bar"}
    assert s.low_latency and s.outputs.record_dir == "/tmp/rec" and s.outputs.ndi and s.link


def test_unset_flags_leave_saved_settings_alone() -> None:
    s = cli.settings_from(cli.build_parser().parse_args(["gui"]))
    assert s.controls == {} and not s.low_latency and s.outputs.record_dir is None and not s.link


@pytest.mark.parametrize("bad", [["--osc-port", "70000"], ["--osc-push", "nohost"], ["--bpm", "5"]])
def test_bad_flags_are_one_line_and_exit_2(bad, capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as e:
        cli.build_parser().parse_args(["run", *bad])
    assert e.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("sfe-live run: error:")
