"""How the model runs: dtype, text-encoder placement, compile, fp8, attention kernel.

``add_runtime_arguments(parser)`` adds the flags every command shares, ``runtime_options(args)``
turns them into a typed :class:`RuntimeOptions`, and ``load_for_stream(spec, ...)`` is the one
loader the commands and the app call: it plans memory first (``sfe_live.plan``) and refuses in
one line, before anything big loads, when the stream cannot fit the GPU; it places the text
encoder (``auto``: on the CPU when the plan needs it); it loads the bundle, chooses the
attention kernel once, applies fp8 and, with ``--compile``, compiles the DiT's blocks
(``warm_up`` runs them before the show, falling back to eager with a one-line reason).

``oom_message`` turns a CUDA out-of-memory error during the show into one line naming what to
change. Nothing here queries CUDA at import time.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import torch

from sfe_live.model.attention import BACKENDS, select_backend
from sfe_live.model.files import ModelLoadError

log = logging.getLogger(__name__)

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
TEXT_DEVICES = ("auto", "cuda", "cpu")


@dataclass(frozen=True)
class RuntimeOptions:
    dtype: str = "auto"            # auto | bf16 | fp16 | fp32 (auto: bf16 on CUDA, fp32 on CPU)
    text_device: str = "auto"      # auto | cuda | cpu (auto: CPU when the memory plan needs it)
    compile: bool = False          # torch.compile the DiT blocks (warm-up before going on air)
    fp8: bool = False              # fp8 weights of the DiT's block linears (torchao)
    attention: str = "auto"        # auto | sdpa | flash-attn | sage

    def __post_init__(self) -> None:
        if self.dtype != "auto" and self.dtype not in DTYPES:
            raise ValueError(f"--dtype {self.dtype!r}: expected auto, bf16, fp16 or fp32")
        if self.text_device not in TEXT_DEVICES:
            raise ValueError(f"--text-device {self.text_device!r}: expected auto, cuda or cpu")
        if self.attention not in BACKENDS:
            raise ValueError(f"--attention {self.attention!r}: expected one of {', '.join(BACKENDS)}")

    def torch_dtype(self, device: torch.device) -> torch.dtype:
        if self.dtype == "auto":
            return torch.bfloat16 if device.type == "cuda" else torch.float32
        return DTYPES[self.dtype]

    def dtype_name(self, device: torch.device) -> str:
        return {v: k for k, v in DTYPES.items()}[self.torch_dtype(device)]


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    """The runtime flags (every command that loads a model)."""
    g = parser.add_argument_group("runtime")
    g.add_argument("--dtype", default="auto", choices=("auto", *DTYPES),
                   help="weights and activations (default: bf16 on CUDA, fp32 on CPU)")
    g.add_argument("--text-device", default="auto", choices=TEXT_DEVICES,
                   help="where the text encoder runs (auto: the CPU when the GPU would not fit it)")
    g.add_argument("--compile", action="store_true", help="torch.compile the DiT (warm-up before going on air)")
    g.add_argument("--fp8", action="store_true", help="fp8 DiT weights (torchao; Ada/Hopper GPUs)")
    g.add_argument("--attention", default="auto", choices=BACKENDS,
                   help="attention kernel (auto: flash-attn, then SageAttention, then SDPA)")


def runtime_options(args: argparse.Namespace) -> RuntimeOptions:
    return RuntimeOptions(dtype=getattr(args, "dtype", "auto") or "auto",
                          text_device=getattr(args, "text_device", "auto") or "auto",
                          compile=bool(getattr(args, "compile", False)), fp8=bool(getattr(args, "fp8", False)),
                          attention=getattr(args, "attention", "auto") or "auto")


def gpu_memory_gib(device: torch.device) -> Optional[float]:
    """Total memory of a CUDA device in GiB (None for other devices)."""
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_properties(device).total_memory / 2 ** 30


def plan_placement(spec: str, stream: Any, device: torch.device, options: RuntimeOptions,
                   vram_gib: Optional[float]) -> tuple[torch.device, Any]:
    """(text device, memory plan). Raises ModelLoadError with the plan's one line when the
    stream cannot fit ``vram_gib``; no plan (None) off CUDA."""
    from sfe_live.plan import plan_memory, request_for
    if device.type != "cuda" or vram_gib is None:
        text_dev = torch.device("cpu") if options.text_device == "cpu" else device
        return text_dev, None
    dtype = options.dtype_name(device)

    def plan(on_gpu: bool) -> Any:
        return plan_memory(request_for(spec, stream, dtype, text_on_gpu=on_gpu, fp8=options.fp8), vram_gib)
    on_gpu = options.text_device != "cpu"
    p = plan(on_gpu)
    if not p.fits and options.text_device == "auto":
        alt = plan(False)
        if alt.fits:
            log.info("text encoder on the CPU: the GPU has %.1f GiB, text on the GPU would need %.1f GiB",
                     vram_gib, p.total_gib)
            on_gpu, p = False, alt
    if not p.fits:
        raise ModelLoadError(p.verdict())
    log.info("memory plan: %s", p.verdict())
    return (device if on_gpu else torch.device("cpu")), p


def load_for_stream(spec: str, stream: Any, options: Optional[RuntimeOptions] = None,
                    checkpoint: Optional[str] = None, device: Optional[str] = None, seed: int = 0,
                    decoder: Any = None) -> Any:
    """Plan, then load the bundle with these runtime options (the commands' and app's loader)."""
    from sfe_live.model.bundle import default_device, load_model
    options = options or RuntimeOptions()
    dev = torch.device(device) if device else default_device()
    if options.text_device == "cuda" and dev.type != "cuda":
        raise ModelLoadError(f"--text-device cuda: the model runs on {dev}; use --text-device cpu or auto")
    if options.fp8:
        refusal = fp8_unavailable(dev)
        if refusal:
            raise ModelLoadError(refusal)
    text_dev, _ = plan_placement(spec, stream, dev, options, gpu_memory_gib(dev))
    dtype = options.torch_dtype(dev)
    from sfe_live.model.decoders.options import DecoderChoice
    bundle = load_model(spec, checkpoint=checkpoint, device=dev, dtype=dtype, seed=seed, text_device=text_dev,
                        decoder=decoder if decoder is not None else DecoderChoice())
    try:
        select_backend(options.attention, dev, dtype)
    except ValueError as exc:
        raise ModelLoadError(str(exc)) from None
    if options.fp8:
        apply_fp8(bundle.dit)
    if options.compile:
        compile_dit(bundle.dit)
        compile_decoder(bundle.vae)
    return bundle


# -- fp8 --------------------------------------------------------------------------------------------
def fp8_unavailable(device: torch.device) -> str:
    """Why fp8 weights cannot run here ('' when they can)."""
    if device.type != "cuda":
        return f"--fp8: needs an NVIDIA GPU (Ada or Hopper, compute capability >= 8.9); the model runs on {device}"
    cap = torch.cuda.get_device_capability(device)
    if cap < (8, 9):
        return f"--fp8: this GPU has compute capability {cap[0]}.{cap[1]}; fp8 needs >= 8.9 (RTX 40xx, L40, H100)"
    if importlib.util.find_spec("torchao") is None:
        return "--fp8: torchao is not installed (pip install 'sfe-live[fp8]')"
    return ""


def apply_fp8(dit: torch.nn.Module) -> None:
    """fp8 weight-only quantisation of the linears inside the DiT's blocks (torchao)."""
    from torchao.quantization import quantize_  # type: ignore
    try:
        from torchao.quantization import Float8WeightOnlyConfig  # type: ignore
        config: Any = Float8WeightOnlyConfig()
    except ImportError:                                   # older torchao
        from torchao.quantization import float8_weight_only  # type: ignore
        config = float8_weight_only()
    quantize_(dit.blocks, config)
    log.info("fp8 weights: DiT block linears quantised (torchao)")


# -- compile ----------------------------------------------------------------------------------------
def _torch_default_cache_dir() -> str:
    """The temporary folder torch writes into ``$TORCHINDUCTOR_CACHE_DIR`` when nobody set it (any
    library that touches inductor does, e.g. while a model loads)."""
    try:
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir
        return os.path.abspath(default_cache_dir())
    except Exception:  # a torch without the helper: the folder it has always used
        import getpass
        import tempfile
        return os.path.abspath(os.path.join(tempfile.gettempdir(), "torchinductor_" + getpass.getuser()))


def compile_cache_dir() -> str:
    """Where torch.compile keeps its generated kernels between runs: ``$TORCHINDUCTOR_CACHE_DIR`` if
    the user set it, else ``torchinductor/`` in sfe-live's cache folder (``$SFE_LIVE_CACHE`` or the
    platform's user cache), not the system's temporary folder, which a reboot empties. Warm, the VJ
    model's compile takes seconds instead of about a minute on 2 cores."""
    env = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if env and os.path.abspath(env) != _torch_default_cache_dir():
        return env
    base = os.environ.get("SFE_LIVE_CACHE")
    if not base:
        from platformdirs import user_cache_dir
        base = user_cache_dir("sfe-live")
    return str(Path(base).expanduser() / "torchinductor")


def _use_compile_cache() -> None:
    """Point torch at ``compile_cache_dir()`` before anything compiles."""
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = compile_cache_dir()


def compile_dit(dit: Any, compiler: Callable[..., Any] = torch.compile) -> None:
    """Compile each DiT block's forward (``eager_dit(dit)`` undoes it); generated kernels are kept
    in ``compile_cache_dir()``."""
    _use_compile_cache()
    for blk in dit.blocks:
        blk.forward = compiler(blk.forward)
    dit._sfe_compiled = True


def eager_dit(dit: Any) -> None:
    for blk in dit.blocks:
        if "forward" in vars(blk):
            del blk.forward
    dit._sfe_compiled = False


def compile_decoder(vae: Any, compiler: Callable[..., Any] = torch.compile) -> bool:
    """Compile the network of a decoder that keeps no state between frames (``PerFrameCodec``: the
    learned codec of the VJ model; its decode is 2x faster on this CPU); a streaming decoder (Wan
    VAE, TAEHV) stays eager. ``eager_decoder`` undoes it. True if compiled."""
    from sfe_live.model.codec import PerFrameCodec
    net = getattr(vae, "decoder", None)
    if not isinstance(vae, PerFrameCodec) or not isinstance(net, torch.nn.Module):
        return False
    _use_compile_cache()
    net.forward = compiler(net.forward)
    return True


def eager_decoder(vae: Any) -> None:
    net = getattr(vae, "decoder", None)
    if isinstance(net, torch.nn.Module) and "forward" in vars(net):
        del net.forward


def warm_up(engine: Any, blocks: Optional[int] = None) -> str:
    """Run a compiled DiT through a throwaway stream of ``engine`` (its pipeline, a fresh state,
    a copy of its parameters) until the window is full, so every shape compiles before going
    on air; the engine's own state is untouched. On any failure the DiT goes back to eager and
    the one-line reason is returned ('' when compiled and warm, or not compiled)."""
    pipeline = engine.pipeline
    dit = pipeline.dit
    if not getattr(dit, "_sfe_compiled", False):
        return ""
    n = blocks if blocks is not None else pipeline.window_frames // pipeline.stream.frames_per_block + 1
    t0 = time.perf_counter()
    try:
        state = pipeline.new_state(engine.initial_prompt, 0)
        params = dataclasses.replace(engine.params)
        for _ in range(n):
            pipeline.step(state, params)
    except Exception as exc:  # compilers fail in many ways; the show goes on eagerly
        eager_dit(dit)
        eager_decoder(pipeline.vae)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        reason = f"--compile failed ({type(exc).__name__}: {first}); running eager"
        log.warning(reason)
        return reason
    log.info("compiled DiT warmed up: %d blocks in %.1f s", n, time.perf_counter() - t0)
    return ""


# -- out of memory ----------------------------------------------------------------------------------
def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError)


def oom_message(bundle: Any = None) -> str:
    """One line for a CUDA out-of-memory error during the show: what to change."""
    hints = ["a smaller --size", "a shorter --kv-window", "--fp8"]
    text = getattr(bundle, "text", None)
    if text is not None and getattr(text, "device", torch.device("cpu")).type == "cuda":
        hints.insert(0, "--text-device cpu")
    return ("GPU out of memory during generation: try " + ", ".join(hints)
            + " (see 'sfe-live doctor --plan'); retrying")


def free_accelerator_cache() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def doctor_lines() -> list[str]:
    """What ``sfe-live doctor`` reports about the runtime options on this machine."""
    from sfe_live.model.attention import available_backends
    have = available_backends()
    lines = ["attention: " + ", ".join(f"{k} {'yes' if v else 'not installed'}" for k, v in have.items())
             + " (auto picks flash-attn, then sage, on CUDA in bf16/fp16; else sdpa)"]
    if importlib.util.find_spec("torchao") is not None:
        lines.append("fp8: torchao installed (needs a GPU with compute capability >= 8.9)")
    else:
        lines.append("fp8: torchao not installed (pip install 'sfe-live[fp8]')")
    cxx = cpu_compiler()
    if cxx:
        lines.append(f"compile: C++ compiler {cxx} found: --compile runs the small models about 40 % faster on "
                     f"the CPU (warm-up ~1 min the first time; kernels kept in {compile_cache_dir()})")
    else:
        lines.append("compile: no C++ compiler on PATH (g++, clang++ or $CXX): --compile on the CPU falls back "
                     "to eager; on a GPU it needs Triton")
    return lines


def cpu_compiler() -> str:
    """The C++ compiler torch.compile would use for CPU kernels ($CXX, g++, clang++), or ''."""
    import shutil
    for name in (os.environ.get("CXX", ""), "g++", "clang++"):
        if name and shutil.which(name):
            return name
    return ""
