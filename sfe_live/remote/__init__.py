"""Remote engine: ``sfe-live serve`` on a GPU machine, the performer's app on a laptop.

* :mod:`.server` — the headless app plus the signalling endpoint and WebRTC peers;
* :mod:`.media` — frames from the outputs into a WebRTC video track;
* :mod:`.link` — the laptop's self-reconnecting session (video in, actions out, status in);
* :mod:`.client` — ``RemoteApp``, the laptop's ``App`` with the engine replaced by the link;
* :mod:`.protocol` — the data-channel messages; :mod:`.auth` — the token; :mod:`.signalling` — HTTP;
* :mod:`.cli` — the command-line options.

Needs the optional extra ``remote`` (aiortc). See docs/remote.md.
"""

NO_EXTRA = "the remote engine needs aiortc: pip install 'sfe-live[remote]'"
