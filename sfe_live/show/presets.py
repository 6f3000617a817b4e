"""Where cue lists and controller profiles live, and how to find them by name.

Shipped files are in the repository's ``presets/`` folder (cue lists) and
``presets/controllers/`` (MIDI controller profiles); the user's own are in
``<config dir>/cues`` and ``<config dir>/controllers`` (config dir: ``$SFE_LIVE_CONFIG_DIR``
or the platform's user config folder). A user file with the same name wins.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

from sfe_live.io import config_dir

SHIPPED_DIR = Path(__file__).resolve().parents[2] / "presets"


def shipped_cue_dir() -> Path:
    return Path(os.environ.get("SFE_LIVE_PRESETS", SHIPPED_DIR))


def shipped_profile_dir() -> Path:
    return shipped_cue_dir() / "controllers"


def user_cue_dir() -> Path:
    return config_dir() / "cues"


def user_profile_dir() -> Path:
    return config_dir() / "controllers"


def _listing(*dirs: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in dirs:  # later dirs win
        if d.is_dir():
            for p in sorted(d.glob("*.toml")):
                found[p.stem] = p
    return found


def list_cue_lists() -> dict[str, Path]:
    """Name (file stem) → path of every shipped and user cue list."""
    return _listing(shipped_cue_dir(), user_cue_dir())


def list_profiles() -> dict[str, Path]:
    """Name (file stem) → path of every shipped and user controller profile."""
    return _listing(shipped_profile_dir(), user_profile_dir())


def resolve(name_or_path: Union[str, Path], kind: str = "cues") -> Optional[Path]:
    """A path as given if it exists, else a shipped/user file of that name (``kind``: cues|profiles)."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    listing = list_cue_lists() if kind == "cues" else list_profiles()
    stem = p.stem if p.suffix == ".toml" else str(name_or_path)
    if stem in listing:
        return listing[stem]
    low = stem.lower().replace(" ", "_").replace("-", "_")
    for k, v in listing.items():
        if k.lower().replace("-", "_") == low:
            return v
    return None
