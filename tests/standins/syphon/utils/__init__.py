"""Stand-in for ``syphon.utils``."""
