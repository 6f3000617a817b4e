"""The model dialog's GPU warning is shown whole (it was clipped to two lines)."""


def test_gpu_warning_is_not_clipped(qtbot) -> None:  # type: ignore[no-untyped-def]
    from ui.model_dialog import ModelDialog
    d = ModelDialog("", "")
    qtbot.addWidget(d)
    d.show()
    d.has_cuda = False
    d.folder_radio.setChecked(True)
    d._update()
    assert "No CUDA GPU" in d.warning.text()
    need = d.warning.heightForWidth(d.warning.width())
    assert d.warning.height() >= need > 2 * d.warning.fontMetrics().height()
