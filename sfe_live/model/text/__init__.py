"""Text encoders: prompts in, the DiT's context rows ``[B, text_len, dim]`` out.

One module per job:

* :mod:`~sfe_live.model.text.base`: the :class:`TextEncoder` interface and :func:`clean_prompt`
  (Wan's ``clean='whitespace'``, with ftfy);
* :mod:`~sfe_live.model.text.umt5`: Wan's umT5-XXL (:class:`UMT5TextEncoder`, key renames, config
  inference, tokenizer search);
* :mod:`~sfe_live.model.text.minilm`: the demo model's MiniLM-L6 (:class:`MiniLMTextEncoder`);
* :mod:`~sfe_live.model.text.hashed`: the tiny-random model's :class:`RandomTextEncoder`;
* :mod:`~sfe_live.model.text.cache`: :class:`CachedTextEncoder` (LRU, the public
  ``encode_prompt`` / ``is_cached`` calls) and :class:`DiskEmbeddingCache`;
* :mod:`~sfe_live.model.text.loader`: :func:`load_text_encoder`, one factory for all of them.

Nothing here reaches a model hub: every ``from_pretrained`` gets a local folder and
``local_files_only=True``, and ``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` default to 1.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from sfe_live.model.text.base import TextEncoder, clean_prompt  # noqa: E402
from sfe_live.model.text.cache import (CachedTextEncoder, DiskEmbeddingCache, default_cache_dir,  # noqa: E402
                                       weights_fingerprint)
from sfe_live.model.text.hashed import RandomTextEncoder  # noqa: E402
from sfe_live.model.text.loader import load_text_encoder  # noqa: E402
from sfe_live.model.text.minilm import (MINILM_DIM, MINILM_MAX_TOKENS, MINILM_TEXT_LEN,  # noqa: E402
                                        MiniLMTextEncoder, minilm_path)
from sfe_live.model.text.umt5 import (UMT5_TEXT_LEN, WAN_T5_FILENAME, WAN_T5_TO_UMT5,  # noqa: E402
                                      WAN_TOKENIZER_SUBDIR, UMT5TextEncoder, infer_umt5_config,
                                      umt5_to_wan_t5_keys, wan_t5_to_umt5_keys)

__all__ = ["TextEncoder", "clean_prompt", "CachedTextEncoder", "DiskEmbeddingCache", "default_cache_dir",
           "weights_fingerprint", "RandomTextEncoder", "load_text_encoder", "MINILM_DIM", "MINILM_MAX_TOKENS",
           "MINILM_TEXT_LEN", "MiniLMTextEncoder", "minilm_path", "UMT5_TEXT_LEN", "WAN_T5_FILENAME",
           "WAN_T5_TO_UMT5", "WAN_TOKENIZER_SUBDIR", "UMT5TextEncoder", "infer_umt5_config",
           "umt5_to_wan_t5_keys", "wan_t5_to_umt5_keys"]
