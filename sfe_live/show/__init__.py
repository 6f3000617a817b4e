"""The show: cue lists (TOML, validated, saved atomically), the cue player and where presets live."""
