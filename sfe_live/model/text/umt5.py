"""Wan2.1's umT5-XXL encoder through transformers' ``UMT5EncoderModel``, from local files only.

Wan's original ``models_t5_umt5-xxl-enc-bf16.pth`` (Wan T5 key names, renamed on load by
:data:`WAN_T5_TO_UMT5`, config inferred from the tensor shapes) with ``google/umt5-xxl/``
beside it, or a diffusers ``text_encoder/`` + ``tokenizer/`` pair. The model is built on the
meta device and loaded strictly with ``assign`` (no second copy of 5.7 B parameters).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import torch

from sfe_live.config import TextConfig
from sfe_live.model.files import ModelLoadError, load_strict, read_json, read_state_dict, rename_keys
from sfe_live.model.text.base import PathLike, _as_list, _pad_rows, _warn_truncated, clean_prompt, log

WAN_T5_FILENAME = "models_t5_umt5-xxl-enc-bf16.pth"
WAN_TOKENIZER_SUBDIR = Path("google") / "umt5-xxl"
UMT5_TEXT_LEN = 512          # Wan / Self-Forcing pad every prompt to 512 rows

# Wan T5 encoder names -> transformers UMT5EncoderModel names: ordered substring replacements
# applied to every key (see ``rename_keys``); the final norm is an exact-key rule below.
WAN_T5_TO_UMT5: list[tuple[str, str]] = [
    ("token_embedding.", "shared."),
    ("blocks.", "encoder.block."),
    (".attn.", ".layer.0.SelfAttention."),
    (".pos_embedding.embedding.", ".layer.0.SelfAttention.relative_attention_bias."),
    (".norm1.", ".layer.0.layer_norm."),
    (".norm2.", ".layer.1.layer_norm."),
    (".ffn.gate.0.", ".layer.1.DenseReluDense.wi_0."),   # the GELU branch
    (".ffn.fc1.", ".layer.1.DenseReluDense.wi_1."),      # the linear branch
    (".ffn.fc2.", ".layer.1.DenseReluDense.wo."),
]
_WAN_FINAL_NORM = ("norm.weight", "encoder.final_layer_norm.weight")
_SHARED = "shared.weight"
_EMBED = "encoder.embed_tokens.weight"

_TOKENIZER_FILES = ("tokenizer.json", "spiece.model", "tokenizer_config.json")
_HF_WEIGHT_FILES = ("model.safetensors.index.json", "model.safetensors",
                    "pytorch_model.bin.index.json", "pytorch_model.bin")


def wan_t5_to_umt5_keys(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a Wan T5 encoder state dict to transformers ``UMT5EncoderModel`` names.

    Adds ``encoder.embed_tokens.weight`` as the same tensor as ``shared.weight`` (they are tied).
    """
    out = rename_keys(sd, WAN_T5_TO_UMT5,
                      extra=lambda k: _WAN_FINAL_NORM[1] if k == _WAN_FINAL_NORM[0] else k)
    return _tie_embeddings(out)


def umt5_to_wan_t5_keys(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of :func:`wan_t5_to_umt5_keys` (drops the tied ``encoder.embed_tokens``)."""
    inverse = [(new, old) for old, new in reversed(WAN_T5_TO_UMT5)]
    sd = dict(sd)
    if _SHARED not in sd and _EMBED in sd:
        sd[_SHARED] = sd[_EMBED]
    sd.pop(_EMBED, None)
    return rename_keys(sd, inverse,
                       extra=lambda k: _WAN_FINAL_NORM[0] if k == _WAN_FINAL_NORM[1] else k)


def _tie_embeddings(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Both tied embedding keys present, sharing one tensor; decoder / LM-head keys dropped."""
    out = {k: v for k, v in sd.items() if not k.startswith(("decoder.", "lm_head."))}
    if len(out) != len(sd):
        log.info("ignoring %d decoder / lm_head tensors (only the encoder is used)", len(sd) - len(out))
    if _SHARED in out and _EMBED not in out:
        out[_EMBED] = out[_SHARED]
    elif _EMBED in out and _SHARED not in out:
        out[_SHARED] = out[_EMBED]
    return out


def _block_indices(sd: Mapping[str, torch.Tensor], prefix: str) -> list[int]:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    return sorted({int(m.group(1)) for k in sd for m in [pat.match(k)] if m})


def infer_umt5_config(sd: Mapping[str, torch.Tensor], source: PathLike) -> Any:
    """A ``UMT5Config`` read off the shapes of a state dict in transformers names.

    vocab and width from the embedding, layers from the block indices, heads and buckets from
    the per-layer relative position bias, attention width from ``q``, FFN width from ``wi_1``.
    Wan's fixed choices fill the rest (gated tanh-GELU, max distance 128, eps 1e-6).
    """
    from transformers import UMT5Config

    def need(key: str) -> torch.Tensor:
        if key not in sd:
            raise ModelLoadError(f"{source}: not a umT5 text encoder (no {key})")
        return sd[key]

    vocab, d_model = need(_SHARED).shape
    layers = _block_indices(sd, "encoder.block.")
    if not layers or layers != list(range(len(layers))):
        raise ModelLoadError(f"{source}: not a umT5 text encoder (no consecutive encoder blocks)")
    bias = "encoder.block.{}.layer.0.SelfAttention.relative_attention_bias.weight"
    buckets, heads = need(bias.format(0)).shape
    if len(layers) > 1 and bias.format(1) not in sd:
        raise ModelLoadError(f"{source}: a T5 encoder with one shared position bias, not umT5 "
                             "(which has one per layer)")
    dim_attn = need("encoder.block.0.layer.0.SelfAttention.q.weight").shape[0]
    if "encoder.block.0.layer.1.DenseReluDense.wi.weight" in sd:
        raise ModelLoadError(f"{source}: a T5 encoder with a plain (ungated) FFN, not umT5")
    d_ff = need("encoder.block.0.layer.1.DenseReluDense.wi_1.weight").shape[0]
    if dim_attn % heads:
        raise ModelLoadError(f"{source}: attention width {dim_attn} is not a multiple of {heads} heads")
    return UMT5Config(vocab_size=int(vocab), d_model=int(d_model), d_kv=int(dim_attn // heads),
                      d_ff=int(d_ff), num_layers=len(layers), num_heads=int(heads),
                      relative_attention_num_buckets=int(buckets), relative_attention_max_distance=128,
                      feed_forward_proj="gated-gelu", layer_norm_epsilon=1e-6, dropout_rate=0.0,
                      is_encoder_decoder=False, use_cache=False, pad_token_id=0, eos_token_id=1)


def _is_tokenizer_dir(path: Path) -> bool:
    return path.is_dir() and any((path / f).is_file() for f in _TOKENIZER_FILES)


def _find_tokenizer(candidates: Sequence[Path], weights: Path) -> Path:
    for c in candidates:
        if _is_tokenizer_dir(c):
            return c
    looked = ", ".join(str(c) for c in candidates)
    raise ModelLoadError(f"{weights}: no umT5 tokenizer found (looked in {looked})")


def _load_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except Exception as exc:  # many failure types: bad json, missing spiece, wrong class
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelLoadError(f"{path}: unreadable tokenizer folder ({first[:160]})") from None
    tokenizer.padding_side = "right"   # valid rows first, zero rows after
    return tokenizer


def _hf_weight_file(folder: Path) -> Path:
    for name in _HF_WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    raise ModelLoadError(f"{folder}: no weights (expected one of {', '.join(_HF_WEIGHT_FILES)})")


def _classify_keys(sd: Mapping[str, torch.Tensor], source: PathLike) -> str:
    """``"wan"`` or ``"transformers"``; anything else is the wrong kind of weights."""
    if "token_embedding.weight" in sd and any(k.startswith("blocks.") for k in sd):
        if "pos_embedding.embedding.weight" in sd:
            raise ModelLoadError(f"{source}: a Wan T5 with a shared position bias, not the umT5 encoder")
        if any(k.startswith("decoder.") for k in sd):
            raise ModelLoadError(f"{source}: a full Wan T5 (encoder + decoder), expected the encoder only")
        return "wan"
    if _SHARED in sd or _EMBED in sd or any(k.startswith("encoder.block.") for k in sd):
        return "transformers"
    example = next(iter(sd), "<empty>")
    raise ModelLoadError(
        f"{source}: not a umT5 text encoder (found keys like {example!r}; expected Wan T5 "
        "'token_embedding.weight' / 'blocks.N...' or transformers 'shared.weight' / 'encoder.block.N...')")


class UMT5TextEncoder:
    """Wan2.1's umT5 encoder (transformers ``UMT5EncoderModel``) with Wan's tokenisation.

    Prompts are cleaned (:func:`clean_prompt`), tokenised with special tokens (``</s>`` appended),
    padded to ``text_len`` and truncated; rows past the token count are exactly zero. With
    ``trim_padding`` (default) the model runs only on the batch's longest prompt and the rest is
    zero-filled: the valid rows equal a full ``text_len`` run up to float rounding (the padded
    keys get zero attention weight either way), at a fraction of the cost.
    """

    def __init__(self, model: Any, tokenizer: Any, text_len: int = UMT5_TEXT_LEN,
                 source: str = "", trim_padding: bool = True) -> None:
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        param = next(model.parameters())
        self.device = param.device
        self.dtype = param.dtype
        self.config = TextConfig(kind="umt5", dim=int(model.config.d_model), text_len=int(text_len))
        self.source = source
        self.trim_padding = trim_padding
        vocab = int(model.config.vocab_size)
        if len(tokenizer) > vocab:
            raise ModelLoadError(f"{source}: tokenizer has {len(tokenizer)} tokens but the encoder only "
                                 f"{vocab} embeddings (tokenizer of another model?)")

    # -- loading --------------------------------------------------------------------------

    @classmethod
    def from_state_dict(cls, sd: Mapping[str, torch.Tensor], tokenizer: Any, source: PathLike,
                        config: Any = None, device: Union[str, torch.device] = "cpu",
                        dtype: torch.dtype = torch.float32, text_len: int = UMT5_TEXT_LEN,
                        trim_padding: bool = True) -> "UMT5TextEncoder":
        """Build on the meta device, load ``sd`` (either key layout) strictly, move to ``device``."""
        from transformers import UMT5EncoderModel

        kind = _classify_keys(sd, source)
        sd = wan_t5_to_umt5_keys(sd) if kind == "wan" else _tie_embeddings(sd)
        if config is None:
            config = infer_umt5_config(sd, source)
        if len(tokenizer) > int(config.vocab_size):  # checked before the (slow) weight load
            raise ModelLoadError(f"{source}: tokenizer has {len(tokenizer)} tokens but the encoder only "
                                 f"{config.vocab_size} embeddings (tokenizer of another model?)")
        with torch.device("meta"):
            model = UMT5EncoderModel(config)
        model = model.to(dtype)
        load_strict(model, sd, source, "a umT5 text encoder", dtype=dtype)
        model.tie_weights()
        leftover = [n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_meta]
        if leftover:
            raise ModelLoadError(f"{source}: {leftover[0]} was not loaded")
        model = model.to(device)
        return cls(model, tokenizer, text_len=text_len, source=str(source), trim_padding=trim_padding)

    @classmethod
    def from_file(cls, pth: PathLike, tokenizer_dir: Optional[PathLike] = None,
                  device: Union[str, torch.device] = "cpu", dtype: torch.dtype = torch.float32,
                  text_len: int = UMT5_TEXT_LEN) -> "UMT5TextEncoder":
        """One weight file: Wan's ``models_t5_umt5-xxl-enc-bf16.pth`` (or a file in transformers
        names), config inferred from the shapes; the tokenizer defaults to ``google/umt5-xxl/``
        (or ``tokenizer/``, or the file's own folder) beside it."""
        pth = Path(pth)
        if not pth.is_file():
            raise ModelLoadError(f"{pth}: file not found")
        tok_dir = Path(tokenizer_dir) if tokenizer_dir is not None else _find_tokenizer(
            [pth.parent / WAN_TOKENIZER_SUBDIR, pth.parent / "tokenizer", pth.parent], pth)
        tokenizer = _load_tokenizer(tok_dir)
        sd = read_state_dict(pth)
        return cls.from_state_dict(sd, tokenizer, pth, device=device, dtype=dtype, text_len=text_len)

    @classmethod
    def from_transformers(cls, folder: PathLike, tokenizer_dir: Optional[PathLike] = None,
                          device: Union[str, torch.device] = "cpu", dtype: torch.dtype = torch.float32,
                          text_len: int = UMT5_TEXT_LEN) -> "UMT5TextEncoder":
        """A transformers / diffusers ``text_encoder/`` folder (``config.json`` + weights); the
        tokenizer defaults to ``tokenizer/`` beside it (or the folder itself)."""
        from transformers import UMT5Config

        folder = Path(folder)
        cfg_path = folder / "config.json"
        if not cfg_path.is_file():
            raise ModelLoadError(f"{cfg_path}: file not found (not a text_encoder folder)")
        cfg_dict = read_json(cfg_path, "text encoder config")
        model_type = cfg_dict.get("model_type") if isinstance(cfg_dict, dict) else None
        if model_type != "umt5":
            raise ModelLoadError(f"{cfg_path}: model_type is {model_type!r}, expected 'umt5' "
                                 "(Wan's text encoder)")
        weights = _hf_weight_file(folder)
        tok_dir = Path(tokenizer_dir) if tokenizer_dir is not None else _find_tokenizer(
            [folder.parent / "tokenizer", folder, folder.parent / WAN_TOKENIZER_SUBDIR], folder)
        tokenizer = _load_tokenizer(tok_dir)
        config = UMT5Config.from_dict(cfg_dict)
        config.dropout_rate = 0.0
        sd = read_state_dict(weights)
        return cls.from_state_dict(sd, tokenizer, weights, config=config, device=device, dtype=dtype,
                                   text_len=text_len)

    # -- encoding -------------------------------------------------------------------------

    def tokenize(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(input_ids, attention_mask)``, both ``[B, text_len]``, as Wan tokenises."""
        texts = [clean_prompt(p) for p in _as_list(prompts)]
        length = self.config.text_len
        full = self.tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        _warn_truncated(texts, [len(ids) for ids in full], length)
        enc = self.tokenizer(texts, padding="max_length", truncation=True, max_length=length,
                             add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
        return enc["input_ids"], enc["attention_mask"]

    def encode(self, prompts: Sequence[str]) -> torch.Tensor:
        prompts = _as_list(prompts)
        if not prompts:
            return torch.zeros(0, self.config.text_len, self.config.dim, device=self.device, dtype=self.dtype)
        ids, mask = self.tokenize(prompts)
        n = max(1, int(mask.sum(dim=1).max())) if self.trim_padding else ids.shape[1]
        ids, mask = ids[:, :n].to(self.device), mask[:, :n].to(self.device)
        with torch.no_grad():
            hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
        return _pad_rows(hidden.to(self.dtype), mask, self.config.text_len)
