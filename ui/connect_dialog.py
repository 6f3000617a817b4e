"""File › Connect…: run the engine on a remote ``sfe-live serve`` (URL and token), or go back to local."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QWidget

from sfe_live.config import RemoteConfig


class ConnectDialog(QDialog):
    def __init__(self, current: Optional[RemoteConfig], parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect to a remote engine")
        form = QFormLayout(self)
        self.url = QLineEdit(current.url if current else "http://127.0.0.1:8765")
        self.token = QLineEdit(current.token or "" if current else "")
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow(QLabel("The model runs on a machine started with 'sfe-live serve' (docs/remote.md)."))
        form.addRow("Server URL", self.url)
        form.addRow("Token", self.token)
        self.error = QLabel("")
        form.addRow(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.choice: Optional[RemoteConfig] = None

    def _accept(self) -> None:
        try:
            self.choice = RemoteConfig(url=self.url.text().strip(), token=self.token.text().strip() or None)
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        self.accept()
