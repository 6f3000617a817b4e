"""Text encoders: umT5 loaders (Wan .pth and diffusers layouts), MiniLM, random, LRU cache, factory."""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from sfe_live.config import TextConfig, tiny_random  # noqa: E402
from sfe_live.model.files import ModelLoadError  # noqa: E402
from sfe_live.model.text import (  # noqa: E402
    CachedTextEncoder, MiniLMTextEncoder, RandomTextEncoder, TextEncoder, UMT5TextEncoder, clean_prompt,
    load_text_encoder, umt5_to_wan_t5_keys, wan_t5_to_umt5_keys)

_spec = importlib.util.spec_from_file_location("tiny_text", Path(__file__).with_name("tiny_text.py"))
tt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tt)

TEXT_LEN = 24
PROMPTS = ["a red ball moving left across a dark stage", "", "green lasers sweep   over a crowd"]
LONG = "neon fog and chrome shapes " * 20


def _valid_counts(x: torch.Tensor) -> list[int]:
    """Number of leading rows that are not all zero, per batch item."""
    nonzero = x.abs().sum(-1) != 0
    return [int(n.nonzero().max()) + 1 if n.any() else 0 for n in nonzero]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny model + tokenizer, saved once in both layouts."""
    model, tokenizer = tt.build_tiny_umt5(seed=0)
    root = tmp_path_factory.mktemp("umt5")
    diff = tt.save_diffusers_layout(root / "diffusers", model, tokenizer)
    pth = tt.save_wan_layout(root / "wan", model, tokenizer)
    return {"model": model, "tokenizer": tokenizer, "diffusers": diff, "pth": pth, "root": root}


# --- umT5 -------------------------------------------------------------------------------------


def test_wan_key_names_match_wan_t5_encoder(tiny):
    wan = umt5_to_wan_t5_keys(tiny["model"].state_dict())
    expected = {"token_embedding.weight", "norm.weight"}
    for i in range(2):
        expected |= {f"blocks.{i}.{n}.weight" for n in
                     ("norm1", "attn.q", "attn.k", "attn.v", "attn.o", "norm2", "ffn.gate.0", "ffn.fc1",
                      "ffn.fc2", "pos_embedding.embedding")}
    assert set(wan) == expected
    back = wan_t5_to_umt5_keys(wan)
    assert set(back) == set(tiny["model"].state_dict())
    assert back["shared.weight"] is back["encoder.embed_tokens.weight"]


def test_both_layouts_give_identical_embeddings_equal_to_transformers(tiny):
    a = load_text_encoder(tiny["diffusers"], text_len=TEXT_LEN)
    b = load_text_encoder(tiny["pth"], text_len=TEXT_LEN)
    assert isinstance(a, TextEncoder) and isinstance(b, UMT5TextEncoder)
    assert a.config == b.config == TextConfig(kind="umt5", dim=32, text_len=TEXT_LEN)
    ea, eb = a.encode(PROMPTS), b.encode(PROMPTS)
    assert ea.shape == (3, TEXT_LEN, 32) and ea.dtype == torch.float32
    assert torch.equal(ea, eb)

    ids, mask = a.tokenize(PROMPTS)
    counts = mask.sum(1).tolist()
    assert counts[1] == 1                        # empty prompt: only </s>
    assert _valid_counts(ea) == counts
    for i, n in enumerate(counts):
        assert torch.count_nonzero(ea[i, n:]) == 0   # pad rows exactly zero
    with torch.no_grad():
        ref = tiny["model"](input_ids=ids, attention_mask=mask).last_hidden_state
    for i, n in enumerate(counts):
        torch.testing.assert_close(ea[i, :n], ref[i, :n], rtol=1e-5, atol=1e-6)
    a.trim_padding = False                       # a full text_len run is bit-identical
    full = a.encode(PROMPTS)
    for i, n in enumerate(counts):
        assert torch.equal(full[i, :n], ref[i, :n])


def test_tokenisation_is_wan_like(tiny):
    enc = load_text_encoder(tiny["diffusers"], text_len=TEXT_LEN)
    assert clean_prompt("  a &amp;amp; b\n\t c  ") == "a & b c"
    i1, _ = enc.tokenize(["a red  ball\n moving"])
    i2, _ = enc.tokenize(["a red ball moving"])
    assert torch.equal(i1, i2)
    assert i1.shape == (1, TEXT_LEN) and int(i1[0, 0]) != 0


def test_truncation_warns_and_keeps_eos(tiny, caplog):
    enc = load_text_encoder(tiny["pth"], text_len=TEXT_LEN)
    with caplog.at_level(logging.WARNING, logger="sfe_live.model.text"):
        out = enc.encode([LONG, "a cat"])
    assert any("truncated to 24 tokens" in r.getMessage() for r in caplog.records)
    ids, mask = enc.tokenize([LONG])
    assert int(mask.sum()) == TEXT_LEN and int(ids[0, -1]) == tiny["tokenizer"].eos_token_id
    assert torch.count_nonzero(out[0].abs().sum(-1)) == TEXT_LEN


def test_loader_builds_on_meta_with_tied_embeddings(tiny):
    enc = load_text_encoder(tiny["root"] / "wan", text_len=TEXT_LEN)   # a model folder, Wan layout
    m = enc.model
    assert m.shared.weight is m.encoder.embed_tokens.weight
    assert not any(t.is_meta for t in list(m.parameters()) + list(m.buffers()))
    assert not m.training and not any(p.requires_grad for p in m.parameters())


def test_bf16_wan_file_loads_to_requested_dtype(tiny, tmp_path):
    pth = tt.save_wan_layout(tmp_path, tiny["model"], tiny["tokenizer"], dtype=torch.bfloat16)
    enc = load_text_encoder(pth, text_len=TEXT_LEN, dtype=torch.float32)
    w = enc.model.shared.weight
    assert w.dtype == torch.float32
    assert torch.equal(w, tiny["model"].shared.weight.detach().bfloat16().float())
    half = load_text_encoder(pth, text_len=TEXT_LEN, dtype=torch.bfloat16)
    assert half.encode(["a cat"]).dtype == torch.bfloat16


def test_folder_detection(tiny):
    ref = load_text_encoder(tiny["diffusers"], text_len=TEXT_LEN).encode(["a cat"])
    for src in (tiny["diffusers"] / "text_encoder", tiny["diffusers"] / "text_encoder" / "model.safetensors",
                tiny["root"] / "wan", str(tiny["pth"])):
        assert torch.equal(load_text_encoder(src, text_len=TEXT_LEN).encode(["a cat"]), ref), src


def _one_line_naming(exc: pytest.ExceptionInfo, name: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg and name in msg, msg


def test_bad_inputs_raise_one_line_errors(tiny, tmp_path):
    import shutil
    # missing tokenizer
    lone = tmp_path / "lone" / "models_t5_umt5-xxl-enc-bf16.pth"
    lone.parent.mkdir()
    shutil.copy(tiny["pth"], lone)
    with pytest.raises(ModelLoadError, match="no umT5 tokenizer") as e:
        load_text_encoder(lone)
    _one_line_naming(e, str(lone))
    # truncated .pth (tokenizer present)
    cut = tmp_path / "cut"
    shutil.copytree(tiny["pth"].parent, cut)
    data = (cut / lone.name).read_bytes()
    (cut / lone.name).write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="truncated") as e:
        load_text_encoder(cut / lone.name)
    _one_line_naming(e, str(cut / lone.name))
    # wrong kind of weights (a DiT-like dict)
    wrong = tmp_path / "cut" / "dit.pth"
    torch.save({"patch_embedding.weight": torch.zeros(2, 2),
                "blocks.0.self_attn.q.weight": torch.zeros(2, 2)}, wrong)
    with pytest.raises(ModelLoadError, match="not a umT5 text encoder") as e:
        load_text_encoder(wrong)
    _one_line_naming(e, str(wrong))
    # Wan keys with a missing tensor
    sd = torch.load(tiny["pth"], weights_only=True)
    del sd["blocks.1.ffn.fc2.weight"]
    part = tmp_path / "cut" / "partial_t5.pth"
    torch.save(sd, part)
    with pytest.raises(ModelLoadError, match="missing") as e:
        load_text_encoder(part)
    _one_line_naming(e, str(part))
    # a text_encoder folder of another model type
    other = tmp_path / "other"
    shutil.copytree(tiny["diffusers"], other)
    cfg = other / "text_encoder" / "config.json"
    cfg.write_text(cfg.read_text().replace('"umt5"', '"bert"'))
    with pytest.raises(ModelLoadError, match="expected 'umt5'") as e:
        load_text_encoder(other)
    _one_line_naming(e, str(cfg))
    # empty folder, missing path, bad spec, umt5 config without weights
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.json").write_text('{"_class_name": "WanModel", "model_type": "t2v"}')
    with pytest.raises(ModelLoadError, match="no text encoder found") as e:
        load_text_encoder(tmp_path / "empty")   # a Wan DiT folder without the T5 file
    _one_line_naming(e, str(tmp_path / "empty"))
    with pytest.raises(ModelLoadError, match="file not found"):
        load_text_encoder(tmp_path / "nope.pth")
    for spec in ("random:x", "random:0:4", "random:1:2:3", "minilm:a"):
        with pytest.raises(ModelLoadError, match="bad text encoder source"):
            load_text_encoder(spec)
    with pytest.raises(ModelLoadError, match="needs weights"):
        load_text_encoder(TextConfig(kind="umt5"))


def test_tokenizer_bigger_than_vocab_is_rejected(tiny, tmp_path):
    model, tokenizer = tt.build_tiny_umt5(vocab_size=40)
    root = tt.save_diffusers_layout(tmp_path, model, tokenizer)
    with pytest.raises(ModelLoadError, match="tokenizer has"):
        load_text_encoder(root)


# --- random -------------------------------------------------------------------------------------


def test_random_encoder_is_deterministic_and_distinct():
    enc = load_text_encoder("random:32:16")
    assert isinstance(enc, RandomTextEncoder) and enc.config == TextConfig(kind="random", dim=32, text_len=16)
    a = enc.encode(["a red ball", "a blue ball", ""])
    assert a.shape == (3, 16, 32)
    assert _valid_counts(a) == [4, 4, 1]
    assert torch.count_nonzero(a[:, 4:]) == 0
    assert not torch.equal(a[0], a[1])
    again = load_text_encoder(tiny_random().text).encode(["a red ball"])
    assert torch.equal(again[0], a[0])
    assert not torch.equal(RandomTextEncoder(32, 16, seed=1).encode(["a red ball"])[0], a[0])


def test_random_encoder_truncates_with_warning(caplog):
    enc = RandomTextEncoder(8, 5)
    with caplog.at_level(logging.WARNING, logger="sfe_live.model.text"):
        out = enc.encode(["one two three four five six seven"])
    assert "truncated to 5 tokens" in caplog.text
    assert _valid_counts(out) == [5]
    assert enc.encode([]).shape == (0, 5, 8)


# --- cache -----------------------------------------------------------------------------------


class _Counting:
    def __init__(self) -> None:
        self.inner = RandomTextEncoder(8, 6)
        self.config, self.device, self.dtype = self.inner.config, self.inner.device, self.inner.dtype
        self.calls: list[list[str]] = []

    def encode(self, prompts):
        self.calls.append(list(prompts))
        return self.inner.encode(prompts)


def test_cache_counts_hits_and_evicts_lru():
    base = _Counting()
    cache = CachedTextEncoder(base, size=2)
    assert isinstance(cache, TextEncoder)
    x = cache.get("a")
    assert x.shape == (1, 6, 8) and torch.equal(x[0], base.inner.encode(["a"])[0])
    cache.get("a")
    assert (cache.hits, cache.misses) == (1, 1)
    x.fill_(7.0)                                   # callers get copies
    assert not torch.equal(cache.get("a"), x)
    cache.get("b")
    cache.get("c")                                 # evicts the least recently used ("a")
    assert "a" not in cache and "b" in cache and "c" in cache and len(cache) == 2
    out = cache.encode(["c", "d", "d", "b"])
    assert out.shape == (4, 6, 8) and base.calls[-1] == ["d"]
    assert cache.stats() == {"hits": 5, "misses": 4, "size": 2, "capacity": 2, "disk_hits": 0}


def test_cache_is_thread_safe():
    base = _Counting()
    cache = CachedTextEncoder(base, size=8)
    prompts = [f"p{i}" for i in range(6)]
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for j in range(40):
                p = prompts[(j + k) % len(prompts)]
                assert torch.equal(cache.get(p), base.inner.encode([p]))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert cache.hits + cache.misses == 160 and len(cache) == 6


# --- MiniLM ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm():
    t0 = time.perf_counter()
    enc = load_text_encoder("minilm:32")
    logging.getLogger(__name__).info("MiniLM load %.2f s", time.perf_counter() - t0)
    return enc


def test_minilm_per_token_rows_and_pooled(minilm):
    assert isinstance(minilm, MiniLMTextEncoder)
    assert minilm.config == TextConfig(kind="minilm", dim=384, text_len=32)
    prompts = ["a red ball moving left", "a crimson sphere travelling to the left",
               "a city skyline at night with rain", ""]
    t0 = time.perf_counter()
    rows = minilm.encode(prompts)
    logging.getLogger(__name__).info("MiniLM encode of 4 prompts %.1f ms", 1e3 * (time.perf_counter() - t0))
    assert rows.shape == (4, 32, 384)
    counts = [len(minilm.tokenizer(p)["input_ids"]) for p in prompts]   # [CLS] ... [SEP]
    assert _valid_counts(rows) == counts and counts[3] == 2
    for i, n in enumerate(counts):
        assert torch.count_nonzero(rows[i, n:]) == 0
    pooled = minilm.encode_pooled(prompts[:3])
    assert pooled.shape == (3, 384)
    torch.testing.assert_close(pooled.norm(dim=1), torch.ones(3))
    sim = pooled @ pooled.T
    assert sim[0, 1] > sim[0, 2] + 0.2 and sim[0, 1] > sim[1, 2] + 0.2
    # the pooled vector is the mean of the per-token rows (for prompts within text_len)
    mean = rows[0, :counts[0]].mean(0)
    torch.testing.assert_close(pooled[0], mean / mean.norm(), rtol=1e-4, atol=1e-5)


def test_minilm_truncates_with_warning(minilm, caplog):
    with caplog.at_level(logging.WARNING, logger="sfe_live.model.text"):
        rows = minilm.encode([LONG])
    assert "truncated to 32 tokens" in caplog.text
    assert _valid_counts(rows) == [32]


def test_minilm_config_dim_checked():
    with pytest.raises(ModelLoadError, match="384"):
        load_text_encoder(TextConfig(kind="minilm", dim=512, text_len=8))


@pytest.mark.parametrize("raw,want", [
    ("\u201ca red ball\u201d", '"a red ball"'),                        # curly quotes
    ("\ufb01re and \ufb02owers", "fire and flowers"),                   # ligatures
    ("\uff21\uff22\uff23 neon", "ABC neon"),                            # full-width forms
    ("cafe\u0301 lights", "caf\u00e9 lights"),                          # NFD -> NFC
    ("rock &amp;amp; roll\n\t  stage ", "rock & roll stage"),           # HTML twice, whitespace
    ("sch\u00c3\u00b6n", "sch\u00f6n"),                                 # mojibake
])
def test_clean_prompt_is_wans_whitespace_clean(raw, want):
    assert clean_prompt(raw) == want


class CountingEncoder:
    def __init__(self, inner):
        self.inner, self.calls = inner, 0
        self.config, self.device, self.dtype = inner.config, inner.device, inner.dtype

    def encode(self, prompts):
        self.calls += 1
        return self.inner.encode(prompts)


def test_disk_cache_survives_sessions_and_is_keyed_by_weights_and_cleaned_prompt(tmp_path):
    from sfe_live.model.text import DiskEmbeddingCache
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"weights v1" * 1000)
    enc = CountingEncoder(RandomTextEncoder(32, 16, seed=1))
    first = CachedTextEncoder(enc, 8, DiskEmbeddingCache.for_encoder(enc, [weights], folder=tmp_path / "c"))
    a = first.encode_prompt("a red  ball")
    assert enc.calls == 1 and first.is_cached("a red ball")
    # a new session: memory is empty, the disk answers (also for the same prompt spelled differently)
    second = CachedTextEncoder(enc, 8, DiskEmbeddingCache.for_encoder(enc, [weights], folder=tmp_path / "c"))
    assert second.is_cached("a red ball ") and not second.is_cached("a blue ball")
    assert torch.equal(second.encode_prompt(" a red ball"), a) and enc.calls == 1
    assert second.stats()["disk_hits"] == 1
    # other weights: another key, so the encoder runs again
    weights.write_bytes(b"weights v2" * 1000)
    third = CachedTextEncoder(enc, 8, DiskEmbeddingCache.for_encoder(enc, [weights], folder=tmp_path / "c"))
    assert not third.is_cached("a red ball")
    third.encode_prompt("a red ball")
    assert enc.calls == 2
    # a truncated entry is re-encoded and rewritten, never an error
    path = third.disk.path("a red ball")
    path.write_bytes(path.read_bytes()[:40])
    fourth = CachedTextEncoder(enc, 8, third.disk)
    assert torch.equal(fourth.encode_prompt("a red ball"), a) and enc.calls == 3
    assert third.disk.load("a red ball") is not None
