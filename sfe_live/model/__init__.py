"""The model layer: the causal Wan DiT, the streaming VAE, text encoders, and their loaders.

Public API (import from here): :func:`load_model` (a whole bundle by name or folder),
:func:`load_dit`, :func:`load_vae`, :func:`load_text_encoder`, :class:`ModelBundle` and
:class:`ModelLoadError`. Imports are lazy, so ``import sfe_live.model`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sfe_live.model.bundle import ModelBundle, load_model
    from sfe_live.model.checkpoints import load_dit
    from sfe_live.model.files import ModelLoadError
    from sfe_live.model.text import load_text_encoder
    from sfe_live.model.vae_loading import load_vae

_WHERE = {"load_model": "sfe_live.model.bundle", "ModelBundle": "sfe_live.model.bundle",
          "load_dit": "sfe_live.model.checkpoints", "load_vae": "sfe_live.model.vae_loading",
          "load_text_encoder": "sfe_live.model.text", "ModelLoadError": "sfe_live.model.files"}

__all__ = ["ModelBundle", "ModelLoadError", "load_dit", "load_model", "load_text_encoder", "load_vae"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'sfe_live.model' has no attribute {name!r}")
