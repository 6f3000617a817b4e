"""The user's own bindings in one TOML file: keys, OSC addresses, audio features, learned MIDI.

::

    schema = 1
    [[key]]                     # present → replaces the default key map
    key = "Ctrl+P"
    action = "purge"
    value = 3

    [[osc]]
    address = "/td/fader1"
    action = "memory.set"

    [[audio]]
    feature = "onset"
    action = "purge"
    value = 2
    cooldown = 0.5

    [[midi]]                    # what MIDI learn made
    cc = 21
    channel = 1
    action = "reactivity.set"
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Union

from sfe_live.io import key_line, load_toml, save_toml, table_lines

from .actions import ActionRegistry
from .bindings import SOURCES, Binding, BindingError, binding_to_table, parse_tables

SCHEMA = 1


def load_user_bindings(path: Union[str, Path], registry: ActionRegistry) -> dict[str, list[Binding]]:
    """Source → bindings (a missing file is empty). Errors name the file and line."""
    p = Path(path)
    if not p.exists():
        return {}
    data, text = load_toml(p)
    unknown = sorted(set(data) - {"schema", *SOURCES})
    if unknown:
        line = key_line(text, None, unknown[0])
        if line is None:
            tables = table_lines(text, unknown[0])
            line = tables[0] if tables else None
        raise BindingError(f"unknown top-level field(s) {', '.join(unknown)}; valid: schema, "
                           f"{', '.join(f'[[{s}]]' for s in SOURCES)}", p, line)
    if data.get("schema", SCHEMA) != SCHEMA:
        raise BindingError(f"schema {data.get('schema')!r} is not supported (this version reads {SCHEMA})", p)
    return {s: parse_tables(data, s, registry, p, text) for s in SOURCES if s in data}


def save_user_bindings(path: Union[str, Path], by_source: Mapping[str, Iterable[Binding]]) -> None:
    data: dict = {"schema": SCHEMA}
    for s in SOURCES:
        if s in by_source:
            data[s] = [binding_to_table(b) for b in by_source[s]]
    save_toml(path, data, header="sfe-live user bindings (keys, OSC, audio, learned MIDI)")
