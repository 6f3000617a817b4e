"""doctor lines for sources and outputs: one line each, ok/-- and a reason."""

from __future__ import annotations


def test_doctor_lines_name_every_source_and_sink():
    from sfe_live.outputs import doctor_lines as out_lines
    from sfe_live.sources import doctor_lines as src_lines

    outs = out_lines()
    srcs = src_lines()
    text = "\n".join(outs + srcs)
    for name in ("recording (mp4)", "recording (png)", "virtual camera", "NDI out", "scaling",
                 "video file", "still image", "camera", "NDI in"):
        assert name in text
    assert all(line[:3] in ("ok ", "-- ") for line in outs + srcs)
    assert outs[0].startswith("ok recording (mp4)")
