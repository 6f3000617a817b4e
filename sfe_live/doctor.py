"""``sfe-live doctor``: what works on this machine (versions, GPU, model folder, outputs, sources, controls)."""

from __future__ import annotations

from typing import Any, Callable, Optional


def doctor_lines(model: str, load: Optional[Callable[[], Any]] = None) -> list[str]:
    """Human lines: versions, GPU, the model folder, and each part's own checks."""
    import platform
    import torch
    lines = [f"sfe-live {__import__('sfe_live').__version__} on Python {platform.python_version()} "
             f"({platform.system()} {platform.machine()})",
             f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            lines.append(f"GPU {i}: {p.name}, {p.total_memory / 2 ** 30:.1f} GiB VRAM")
    else:
        lines.append("GPU: none, CPU only: the real model needs an NVIDIA GPU (the built-in vj, demo and tiny-random models run here)")
    from sfe_live.model.bundle import BUILTIN
    if model and model not in BUILTIN:
        from sfe_live.model.bundle import check_model_folder
        lines += check_model_folder(model)
        if load is not None:
            try:
                load()
                lines.append("model: loads OK")
            except Exception as exc:
                lines.append(f"model: does not load: {str(exc).splitlines()[0]}")
    else:
        from sfe_live.model.bundle import default_model_spec
        lines.append(f"model: built-in default is '{default_model_spec()}'")
    for mod in ("sfe_live.model.runtime", "sfe_live.outputs", "sfe_live.sources", "sfe_live.controls"):
        try:
            lines += __import__(mod, fromlist=["doctor_lines"]).doctor_lines()
        except Exception as exc:  # a doctor never crashes on one part
            lines.append(f"{mod.split('.')[-1]}: check failed ({exc})")
    return lines
