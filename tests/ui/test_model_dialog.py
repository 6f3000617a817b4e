"""The model dialog chooses the decoder too: Wan VAE or TAEHV (found in the folder or picked)."""

from sfe_live.model.decoders.options import DecoderChoice


def test_decoder_choice(qtbot, tmp_path):
    from ui.model_dialog import ModelDialog
    dlg = ModelDialog("tiny-random", has_cuda=False)
    qtbot.addWidget(dlg)
    assert dlg.choice().decoder == DecoderChoice()
    dlg.dec_taehv.setChecked(True)
    assert "TAEHV: no taew2_1" in dlg.warning.text()
    dlg.taehv.setText(str(tmp_path / "taew2_1.pth"))
    assert dlg.warning.text() == ""
    assert dlg.choice().decoder == DecoderChoice("taehv", str(tmp_path / "taew2_1.pth"))
    # a folder that holds taew2_1 needs no path
    folder = tmp_path / "Wan"
    folder.mkdir()
    (folder / "taew2_1.safetensors").write_bytes(b"")
    dlg.taehv.setText("")
    dlg.folder.setText(str(folder))
    dlg.folder_radio.setChecked(True)
    assert "TAEHV" not in dlg.warning.text()
    c = dlg.choice()
    assert c.spec == str(folder) and c.decoder == DecoderChoice("taehv")
    # the demo model has its own pixel codec: no decoder choice
    if dlg.demo.isEnabled():
        dlg.demo.setChecked(True)
        assert not dlg.dec_taehv.isEnabled() and dlg.choice().decoder == DecoderChoice()


def test_dialog_starts_from_the_current_decoder(qtbot):
    from ui.model_dialog import ModelDialog
    dlg = ModelDialog("tiny-random", has_cuda=False, decoder=DecoderChoice("taehv", "/x/taew2_1.pth"))
    qtbot.addWidget(dlg)
    assert dlg.dec_taehv.isChecked() and dlg.taehv.text() == "/x/taew2_1.pth"
