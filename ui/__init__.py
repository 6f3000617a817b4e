"""sfe-live's desktop window (PySide6). Thin: everything it does goes through ``sfe_live.app.App``.

Entry point: :func:`ui.main.run_gui`. Modules, one job each:

* ``main_window`` — the window, its 16 ms pull timer, keys, lock, output window management;
* ``preview`` — GL texture / raster preview and the automatic choice between them;
* ``prompt_bar``, ``cue_panel``, ``controls_panel``, ``status_panel``, ``logpanel`` — the panels;
* ``output_window`` — the borderless fullscreen audience window;
* ``model_dialog`` — choosing a model; ``controller`` — actions, cue player, background loading;
* ``settings`` — persistent settings with schema version, migrations and corrupt-file backup;
* ``keymap`` — QKeyEvent → the controls' key names; ``meters`` — latency / rate meters (Qt-free);
* ``theme`` — the dark stage theme.

The core (``sfe_live``) never imports this package or Qt.
"""
