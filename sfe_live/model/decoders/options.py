"""Which decoder turns Wan 2.1 latents into frames: the choice, its arguments and its loader.

``--decoder wan|taehv`` and ``--taehv PATH`` on every command (``add_decoder_arguments``);
the model dialog and ``AppSettings`` carry the same :class:`DecoderChoice`. With ``taehv`` and
no path, a ``taew2_1.safetensors`` / ``taew2_1.pth`` in the model folder is found by itself.
``--taehv random`` builds real-width random weights (benchmarks only: the frames are noise).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from sfe_live.model.decoders.protocol import DECODERS, StreamState, VideoDecoder
from sfe_live.model.decoders.taehv import TAEHV_FILENAMES, TAEHVConfig, find_taehv, load_taehv, random_taehv
from sfe_live.model.files import ModelLoadError

RANDOM = "random"


@dataclass(frozen=True)
class DecoderChoice:
    kind: str = "wan"                 # "wan" | "taehv"
    taehv: Optional[str] = None       # a taew2_1 file or folder, or "random"; None = look in the model folder

    def __post_init__(self) -> None:
        if self.kind not in DECODERS:
            raise ValueError(f"decoder {self.kind!r}: expected one of {', '.join(DECODERS)}")
        if self.taehv and self.kind != "taehv":
            object.__setattr__(self, "kind", "taehv")   # --taehv PATH alone means: use it


def add_decoder_arguments(parser: argparse.ArgumentParser) -> None:
    """``--decoder`` and ``--taehv`` (call from every command's argument setup)."""
    parser.add_argument("--decoder", choices=DECODERS, default="wan",
                        help="latents -> frames: the Wan VAE (default) or TAEHV (fast, small; needs taew2_1)")
    parser.add_argument("--taehv", metavar="PATH",
                        help=f"TAEHV weights ({' or '.join(TAEHV_FILENAMES)}); default: found in the model "
                             "folder; 'random' = real-size random weights for benchmarks")


def decoder_choice(args: argparse.Namespace) -> DecoderChoice:
    """The choice made by :func:`add_decoder_arguments`' flags (raises ValueError on a bad one)."""
    return DecoderChoice(args.decoder, args.taehv or None)


def load_taehv_for(choice: DecoderChoice, folder: Optional[Path], z_dim: int, device: torch.device,
                   dtype: torch.dtype) -> VideoDecoder:
    """The TAEHV a bundle uses, checked against the DiT's latent channels."""
    if choice.taehv == RANDOM:
        model = random_taehv(TAEHVConfig(latent_channels=z_dim), device=device, dtype=dtype)
    else:
        path = Path(choice.taehv).expanduser() if choice.taehv else (find_taehv(folder) if folder else None)
        if path is None:
            where = f"in {folder}" if folder else "beside a built-in model"
            raise ModelLoadError(f"--decoder taehv: no {' or '.join(TAEHV_FILENAMES)} {where}; "
                                 "pass --taehv PATH (the file is at github.com/madebyollin/taehv, MIT)")
        model = load_taehv(path, device=device, dtype=dtype)
        if model.config.latent_channels != z_dim:
            raise ModelLoadError(f"{path}: TAEHV has {model.config.latent_channels} latent channels, "
                                 f"the model's latents have {z_dim}")
    return model


def decoder_stats(decoder: VideoDecoder, state: StreamState) -> dict[str, object]:
    """What ``sfe-live bench`` reports about the decoder (add to its JSON)."""
    return {"decoder": decoder.name, "decoder_parameters": sum(p.numel() for p in decoder.parameters()),
            "decode_state_bytes": state.nbytes()}
