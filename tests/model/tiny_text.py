"""Offline builders for text-encoder tests: a tiny umT5 encoder and a tokenizer trained on the fly.

Nothing here touches the network. The tokenizer is a Unigram model trained with ``tokenizers``
on a few sentences and wrapped in transformers' T5 tokenizer (``<pad>`` = 0, ``</s>`` = 1,
``<unk>`` = 2, ``</s>`` appended), which is the structure of the real ``google/umt5-xxl`` one.
Writers save the pair in the two layouts the loaders accept: diffusers (``text_encoder/`` +
``tokenizer/``) and Wan's original (``models_t5_umt5-xxl-enc-bf16.pth`` + ``google/umt5-xxl/``).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

CORPUS = [
    "a red ball moving left across a dark stage",
    "a crimson sphere travelling to the left",
    "a blue square drifting up through neon fog",
    "green lasers sweep over a crowd at night",
    "slow motion smoke, purple light, strobe flashes",
    "an endless tunnel of glowing rings, camera flying forward",
    "ocean waves at sunset, cinematic, warm colours",
    "a cat walking on a wooden table, close up",
    "city lights reflected in rain puddles, night street",
    "abstract liquid metal shapes morphing, chrome, studio light",
    "a forest of tall trees in the morning mist",
    "fireworks exploding over a river, long exposure",
] * 4


def train_tokenizer(vocab_size: int = 160):
    """A T5-style tokenizer (Unigram, metaspace) trained on :data:`CORPUS`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)])
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "</s>", "<unk>"],
                                      unk_token="<unk>", show_progress=False)
    tok.train_from_iterator(CORPUS, trainer=trainer)
    vocab = [(piece, float(score)) for piece, score in json.loads(tok.to_str())["model"]["vocab"]]
    assert [p for p, _ in vocab[:3]] == ["<pad>", "</s>", "<unk>"], vocab[:3]
    try:  # transformers >= 5: T5Tokenizer builds the Unigram tokenizer from (piece, score) pairs
        from transformers import T5Tokenizer
        return T5Tokenizer(vocab=vocab, extra_ids=0)
    except TypeError:  # transformers 4.x
        from tokenizers import processors
        from transformers import T5TokenizerFast
        tok.post_processor = processors.TemplateProcessing(
            single=["$A", "</s>"], pair=["$A", "</s>", "$B", "</s>"], special_tokens=[("</s>", 1)])
        return T5TokenizerFast(tokenizer_object=tok, extra_ids=0)


def tiny_umt5_config(vocab_size: int, d_model: int = 32, num_layers: int = 2, num_heads: int = 4,
                     d_ff: int = 64, num_buckets: int = 32):
    from transformers import UMT5Config
    return UMT5Config(vocab_size=vocab_size, d_model=d_model, d_kv=d_model // num_heads, d_ff=d_ff,
                      num_layers=num_layers, num_heads=num_heads,
                      relative_attention_num_buckets=num_buckets, relative_attention_max_distance=128,
                      feed_forward_proj="gated-gelu", dropout_rate=0.0, is_encoder_decoder=False,
                      use_cache=False, pad_token_id=0, eos_token_id=1)


def build_tiny_umt5(seed: int = 0, vocab_size: int | None = None, **config_kw):
    """``(model, tokenizer)``: a randomly initialised tiny ``UMT5EncoderModel`` (float32, eval)."""
    from transformers import UMT5EncoderModel
    tokenizer = train_tokenizer()
    torch.manual_seed(seed)
    cfg = tiny_umt5_config(vocab_size or len(tokenizer) + 8, **config_kw)  # padded vocab, like umT5's
    model = UMT5EncoderModel(cfg).eval()
    with torch.no_grad():  # make the per-layer norms and position biases non-trivial
        for name, p in model.named_parameters():
            if name.endswith("layer_norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif "relative_attention_bias" in name:
                p.copy_(torch.randn_like(p))
    return model, tokenizer


def save_diffusers_layout(root: Path, model, tokenizer) -> Path:
    """``root/text_encoder`` (config.json + safetensors) and ``root/tokenizer``; returns ``root``."""
    root = Path(root)
    model.save_pretrained(root / "text_encoder")
    tokenizer.save_pretrained(root / "tokenizer")
    return root


def save_wan_layout(root: Path, model, tokenizer, dtype: torch.dtype = torch.float32,
                    name: str = "models_t5_umt5-xxl-enc-bf16.pth") -> Path:
    """Wan's layout: ``root/<name>`` (Wan T5 key names) and ``root/google/umt5-xxl``; returns the .pth."""
    from sfe_live.model.text import umt5_to_wan_t5_keys
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().to(dtype).clone() for k, v in model.state_dict().items()}
    wan = umt5_to_wan_t5_keys(sd)
    path = root / name
    torch.save(wan, path)
    tokenizer.save_pretrained(root / "google" / "umt5-xxl")
    return path
