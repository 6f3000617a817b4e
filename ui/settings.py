"""The GUI's persistent settings: one JSON file with a schema version, migrations and recovery.

Where: ``$SFE_LIVE_CONFIG_DIR`` when set (tests point it at a temporary folder), else the
platform's user config folder (``platformdirs.user_config_dir("sfe-live")``). The file is
``ui-settings.json``. Key bindings are the control hub's (``bindings.toml`` in the same folder,
saved with ``ControlHub.save_bindings``).

* Every file carries ``"schema"``. Older schemas are migrated step by step by the functions in
  :data:`MIGRATIONS` (bump :data:`SCHEMA` and add one function when a field changes meaning).
* A file that cannot be read (bad JSON, not an object, a schema from the future, a migration
  that fails) is renamed to ``ui-settings.json.corrupt-<time>`` and replaced by defaults; the
  caller gets a message to show. It never raises.
* Saving is atomic (temporary file + rename).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from sfe_live.io import atomic_write_text, config_dir

log = logging.getLogger(__name__)

SCHEMA = 2
FILE_NAME = "ui-settings.json"
PREVIEW_PATHS = ("auto", "gl", "raster")


@dataclass
class UiSettings:
    """Everything the window remembers between runs (schema :data:`SCHEMA`)."""

    geometry: str = ""                  # QWidget.saveGeometry(), base64
    window_state: str = ""              # QMainWindow.saveState(), base64
    splitters: dict[str, str] = field(default_factory=dict)   # name -> QSplitter.saveState(), base64
    last_model: str = ""                # "" = the built-in default; "demo", "tiny-random" or a folder
    last_checkpoint: str = ""
    last_cue_list: str = ""
    output_screen: str = ""             # QScreen.name() of the output window ("" = the last screen)
    output_open_on_start: bool = False
    preview_path: str = "auto"          # auto | gl | raster
    prompt_history: list[str] = field(default_factory=list)
    transition: str = "cut"
    blend_blocks: int = 4
    reactivity: int = 3
    show_log: bool = True
    controls: dict[str, Any] = field(default_factory=dict)   # ControlSettings fields (Settings dialog)
    record_dir: str = ""                # "" = <the user's video folder>/sfe-live
    low_latency: bool = False           # applies at the next model load
    command_log: str = ""               # "" = none; else the replayable command log, written when the show stops

    HISTORY_MAX = 100

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["schema"] = SCHEMA
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "UiSettings":
        """Build from a migrated dict; unknown keys are ignored, wrong types fall back to defaults."""
        out = cls()
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            v = data[f.name]
            default = getattr(out, f.name)
            if isinstance(default, bool):
                ok = isinstance(v, bool)
            elif isinstance(default, int):
                ok = isinstance(v, int) and not isinstance(v, bool)
            elif isinstance(default, str):
                ok = isinstance(v, str)
            elif isinstance(default, list):
                ok = isinstance(v, list) and all(isinstance(x, str) for x in v)
            elif f.name == "controls":
                ok = isinstance(v, dict)
                if ok:
                    v = _control_fields(v)
            elif isinstance(default, dict):
                ok = isinstance(v, dict) and all(isinstance(x, str) for x in v.values())
            else:  # pragma: no cover
                ok = True
            if ok:
                setattr(out, f.name, v)
            else:
                log.warning("settings: %s has the wrong type (%r); using the default", f.name, v)
        if out.preview_path not in PREVIEW_PATHS:
            out.preview_path = "auto"
        out.prompt_history = out.prompt_history[-cls.HISTORY_MAX:]
        return out


def _control_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Keep the known ControlSettings fields whose values have the field's type (others are logged)."""
    from sfe_live.controls.settings import ControlSettings
    defaults = ControlSettings()
    out: dict[str, Any] = {}
    for k, v in data.items():
        if not hasattr(defaults, k):
            log.warning("settings: unknown control setting %r ignored", k)
            continue
        d = getattr(defaults, k)
        if d is None or isinstance(v, type(d)) and not (isinstance(v, bool) and not isinstance(d, bool)):
            if isinstance(v, (str, int, float, bool, type(None))) or (
                    isinstance(v, list) and all(isinstance(x, str) for x in v)):
                out[k] = v
                continue
        if isinstance(d, float) and isinstance(v, int) and not isinstance(v, bool):
            out[k] = float(v)
            continue
        log.warning("settings: control setting %s has the wrong type (%r); using the default", k, v)
    return out


# ------------------------------------------------------------------------------- migrations
def _v1_to_v2(d: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 kept ``model`` / ``cue_list`` / ``output`` ({"screen", "fullscreen"}) / ``history``."""
    d = dict(d)
    if "model" in d:
        d["last_model"] = d.pop("model")
    if "cue_list" in d:
        d["last_cue_list"] = d.pop("cue_list")
    out = d.pop("output", None)
    if isinstance(out, dict):
        d["output_screen"] = out.get("screen", "") or ""
        d["output_open_on_start"] = bool(out.get("fullscreen", False))
    if "history" in d:
        d["prompt_history"] = d.pop("history")
    d["schema"] = 2
    return d


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}
"""``MIGRATIONS[n]`` turns a schema-``n`` dict into a schema-``n+1`` dict."""


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring a parsed settings dict up to :data:`SCHEMA` (raises ValueError if impossible)."""
    schema = data.get("schema", 1)
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
        raise ValueError(f"bad schema {schema!r}")
    if schema > SCHEMA:
        raise ValueError(f"schema {schema} is newer than this version understands ({SCHEMA})")
    while schema < SCHEMA:
        data = MIGRATIONS[schema](data)
        schema = data["schema"]
    return data


# ------------------------------------------------------------------------------- the store
class SettingsStore:
    """Loads and saves :class:`UiSettings` in ``folder / ui-settings.json``."""

    def __init__(self, folder: Optional[Path] = None) -> None:
        self.folder = Path(folder) if folder is not None else config_dir()
        self.path = self.folder / FILE_NAME

    def load(self) -> tuple[UiSettings, Optional[str]]:
        """(settings, message): the message is set when a broken file was set aside."""
        if not self.path.exists():
            return UiSettings(), None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            before = data.get("schema", 1)
            data = migrate(data)
            s = UiSettings.from_dict(data)
            if before != SCHEMA:
                log.info("settings migrated from schema %s to %s", before, SCHEMA)
            return s, None
        except Exception as exc:  # never crash on a settings file
            backup = self._backup()
            msg = (f"The settings file {self.path} could not be read ({exc}); it was saved as "
                   f"{backup.name if backup else '(no backup)'} and defaults are used.")
            log.warning(msg)
            return UiSettings(), msg

    def _backup(self) -> Optional[Path]:
        target = self.path.with_name(f"{FILE_NAME}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        n = 1
        while target.exists():
            target = self.path.with_name(f"{FILE_NAME}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
            n += 1
        try:
            self.path.replace(target)
            return target
        except OSError:
            log.exception("could not back up %s", self.path)
            return None

    def save(self, settings: UiSettings) -> None:
        """Write atomically; an unwritable folder is logged, not raised."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, json.dumps(settings.to_dict(), indent=2, sort_keys=True))
        except OSError:
            log.exception("could not save settings to %s", self.path)
