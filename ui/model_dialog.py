"""Choose the model: the built-in demo, tiny-random, or a Wan2.1 folder (+ a Self-Forcing checkpoint),
and the decoder for Wan latents: the Wan VAE or TAEHV (``taew2_1``, found in the folder or chosen).

The dialog only chooses; loading happens in the background afterwards (a progress bar in the
main window). It says plainly when a real model is picked on a machine without a CUDA GPU:
the 1.3B model needs many minutes per block on a CPU.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from PySide6.QtWidgets import (QButtonGroup, QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QRadioButton, QVBoxLayout, QWidget)

from sfe_live.model.decoders.options import DecoderChoice
from sfe_live.model.decoders.taehv import TAEHV_FILENAMES, find_taehv

from . import theme

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelChoice:
    spec: str                         # "vj" | "demo" | "tiny-random" | a folder
    checkpoint: Optional[str] = None
    decoder: DecoderChoice = DecoderChoice()


def cuda_available() -> bool:
    try:
        import torch
        return bool(torch.cuda.is_available())
    except Exception:
        return False


def demo_available() -> bool:
    try:
        from sfe_live.model.bundle import DEMO_DIR
        return (DEMO_DIR / "model.json").exists()
    except Exception:
        return False


def vj_available() -> bool:
    try:
        from sfe_live.model.bundle import VJ_DIR
        return (VJ_DIR / "model.json").exists()
    except Exception:
        return False


class ModelDialog(QDialog):
    def __init__(self, current: str = "", checkpoint: str = "", parent: Optional[QWidget] = None,
                 has_cuda: Optional[bool] = None, decoder: DecoderChoice = DecoderChoice()) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose model — sfe-live")
        self.setMinimumWidth(560)
        self.has_cuda = cuda_available() if has_cuda is None else has_cuda
        lay = QVBoxLayout(self)
        lay.setSpacing(8)
        head = QLabel("MODEL")
        head.setProperty("role", "heading")
        lay.addWidget(head)
        self.group = QButtonGroup(self)
        self.vj = QRadioButton("Built-in VJ model — in training: palettes and motion, not yet shapes (96 x 96, CPU)")
        self.demo = QRadioButton("Built-in demo model (coloured shapes, 64 x 64; runs on a CPU)")
        self.tiny = QRadioButton("tiny-random (seeded random weights: noise-like pictures, for testing)")
        self.folder_radio = QRadioButton("Wan2.1 model folder (real Self-Forcing model; needs an NVIDIA GPU)")
        for i, b in enumerate((self.vj, self.demo, self.tiny, self.folder_radio)):
            self.group.addButton(b, i)
            lay.addWidget(b)
        for radio, ok in ((self.vj, vj_available()), (self.demo, demo_available())):
            if not ok:
                radio.setEnabled(False)
                radio.setText(radio.text() + " — not installed")

        self.folder = QLineEdit()
        self.folder.setPlaceholderText("folder with config.json + diffusion_pytorch_model.safetensors, or a "
                                       "diffusers folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_folder)
        row = QHBoxLayout()
        row.addSpacing(24)
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        lay.addLayout(row)
        self.checkpoint = QLineEdit(checkpoint)
        self.checkpoint.setPlaceholderText("optional Self-Forcing checkpoint (.pt / .safetensors)")
        browse2 = QPushButton("Browse…")
        browse2.clicked.connect(self._browse_checkpoint)
        row2 = QHBoxLayout()
        row2.addSpacing(24)
        row2.addWidget(self.checkpoint, 1)
        row2.addWidget(browse2)
        lay.addLayout(row2)
        self.folder_widgets = (self.folder, browse, self.checkpoint, browse2)

        dec_head = QLabel("DECODER")
        dec_head.setProperty("role", "heading")
        lay.addWidget(dec_head)
        self.decoder_group = QButtonGroup(self)
        self.dec_wan = QRadioButton("Wan VAE (the model's own decoder; heavy on memory)")
        self.dec_taehv = QRadioButton("TAEHV (tiny, fast, exact streaming; needs taew2_1 weights)")
        for i, b in enumerate((self.dec_wan, self.dec_taehv)):
            self.decoder_group.addButton(b, i)
            lay.addWidget(b)
        self.taehv = QLineEdit(decoder.taehv or "")
        self.taehv.setPlaceholderText(f"{' / '.join(TAEHV_FILENAMES)} (default: found in the model folder)")
        browse3 = QPushButton("Browse…")
        browse3.clicked.connect(self._browse_taehv)
        row3 = QHBoxLayout()
        row3.addSpacing(24)
        row3.addWidget(self.taehv, 1)
        row3.addWidget(browse3)
        lay.addLayout(row3)
        self.decoder_widgets = (self.dec_wan, self.dec_taehv, self.taehv, browse3)
        (self.dec_taehv if decoder.kind == "taehv" else self.dec_wan).setChecked(True)

        self.warning = QLabel("")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(f"color: {theme.WARN};")
        lay.addWidget(self.warning)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Load")
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)

        if current == "vj" and self.vj.isEnabled():
            self.vj.setChecked(True)
        elif current in ("", "demo") and self.demo.isEnabled():
            self.demo.setChecked(True)
        elif current in ("", "tiny-random", "demo", "vj"):
            self.tiny.setChecked(True)
        else:
            self.folder_radio.setChecked(True)
            self.folder.setText(current)
        self.group.idToggled.connect(lambda *_: self._update())
        self.folder.textChanged.connect(lambda *_: self._update())
        self.decoder_group.idToggled.connect(lambda *_: self._update())
        self.taehv.textChanged.connect(lambda *_: self._update())
        self._update()

    def _browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Wan2.1 model folder", self.folder.text() or str(Path.home()))
        if path:
            self.folder.setText(path)
            self.folder_radio.setChecked(True)

    def _browse_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Self-Forcing checkpoint", "",
                                              "Checkpoints (*.pt *.pth *.safetensors);;All files (*)")
        if path:
            self.checkpoint.setText(path)

    def _browse_taehv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "TAEHV weights (taew2_1)", "",
                                              "TAEHV weights (*.safetensors *.pth);;All files (*)")
        if path:
            self.taehv.setText(path)
            self.dec_taehv.setChecked(True)

    def _update(self) -> None:
        is_folder = self.folder_radio.isChecked()
        for w in self.folder_widgets:
            w.setEnabled(is_folder)
        wan_latents = not (self.demo.isChecked() or self.vj.isChecked())   # built-ins decode with their own codec
        for w in self.decoder_widgets:
            w.setEnabled(wan_latents)
        self.taehv.setEnabled(wan_latents and self.dec_taehv.isChecked())
        msgs = []
        if wan_latents and self.dec_taehv.isChecked() and not self.taehv.text().strip():
            folder = self.folder.text().strip() if is_folder else ""
            if not folder or find_taehv(folder) is None:
                msgs.append(f"TAEHV: no {' or '.join(TAEHV_FILENAMES)} "
                            + (f"in {folder}" if folder else "for a built-in model") + "; choose the file.")
        if is_folder and not self.has_cuda:
            msgs.append("No CUDA GPU found: a real Wan2.1 model on this CPU takes many minutes per block "
                        "(the 1.3B model needs an NVIDIA GPU with ≥ 24 GB). Use the demo model to try the app.")
        if is_folder and self.folder.text().strip():
            try:
                from sfe_live.model.bundle import check_model_folder
                problems = [line for line in check_model_folder(self.folder.text().strip())
                            if "MISSING" in line or "not" in line or "expected" in line]
                msgs += problems
            except Exception as exc:
                msgs.append(str(exc))
        self._set_warning("\n".join(msgs))

    def _set_warning(self, text: str) -> None:
        """Show ``text`` whole: the wrapped label gets the height its lines need and the dialog grows."""
        self.warning.setText(text)
        w = max(self.warning.width(), self.width() - 24, 300)
        self.warning.setMinimumHeight(self.warning.heightForWidth(w) if text else 0)
        self.adjustSize()

    def decoder_choice(self) -> DecoderChoice:
        if self.demo.isChecked() or self.vj.isChecked() or not self.dec_taehv.isChecked():
            return DecoderChoice()
        return DecoderChoice("taehv", self.taehv.text().strip() or None)

    def choice(self) -> ModelChoice:
        if self.vj.isChecked():
            return ModelChoice("vj")
        if self.demo.isChecked():
            return ModelChoice("demo")
        if self.tiny.isChecked():
            return ModelChoice("tiny-random", decoder=self.decoder_choice())
        return ModelChoice(self.folder.text().strip(), self.checkpoint.text().strip() or None, self.decoder_choice())

    def _accept(self) -> None:
        if self.folder_radio.isChecked() and not self.folder.text().strip():
            self._set_warning("Choose a model folder first.")
            return
        self.accept()
