"""sfe-live: endless, live-steerable Self-Forcing video for performers.

The core package: model layer, streaming engine, controls, outputs. It never imports Qt;
the PySide6 front end lives in the separate ``ui`` package.
"""

__version__ = "0.1.0"
