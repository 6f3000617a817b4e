"""--decoder / --taehv on the command line: bench reports the decoder, mistakes are one line."""

import json

from safetensors.torch import load_file, save_file

from sfe_live.cli import main
from sfe_live.model.files import strip_prefix


def test_bench_with_taehv_reports_decoder_and_state_bytes(tmp_path, fixtures_dir, capsys):
    path = tmp_path / "taew2_1.safetensors"
    save_file(strip_prefix(load_file(str(fixtures_dir / "taehv_tiny.safetensors")), "taehv."), str(path))
    assert main(["bench", "--model", "tiny-random", "--blocks", "2", "--json", "--decoder", "taehv",
                 "--taehv", str(path)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["decoder"] == "taehv" and out["frames"] == 9 + 12 and out["decode_s_median"] > 0
    # one remembered frame per MemBlock at 64x64: 3 x (32 @ 8x8 + 16 @ 16x16 + 8 @ 32x32) floats
    assert out["decode_state_bytes"] == 4 * 3 * (32 * 64 + 16 * 256 + 8 * 1024)
    assert main(["bench", "--model", "tiny-random", "--blocks", "1", "--json"]) == 0
    wan = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert wan["decoder"] == "wan" and wan["decode_state_bytes"] > 0


def test_taehv_without_weights_is_one_line(capsys):
    assert main(["bench", "--model", "tiny-random", "--blocks", "1", "--decoder", "taehv"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--taehv PATH" in err and len(err.splitlines()) == 1
    assert main(["bench", "--model", "demo", "--blocks", "1", "--taehv", "/x/taew2_1.pth"]) == 2
    err = capsys.readouterr().err.strip()
    assert "pixel codec" in err and len(err.splitlines()) == 1
