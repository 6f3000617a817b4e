"""The remote parts one by one: the token file and gate, the message codec, and the link's policy for
commands issued while disconnected (a real in-process server around a real tiny-random app)."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from sfe_live.remote import protocol as P
from sfe_live.remote.auth import Decision, TokenGate, load_or_create_token

from .conftest import TOKEN, InProcessServer, free_port, wait_until


def test_token_is_created_owner_only_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "remote-token"
    token, created = load_or_create_token(path)
    assert created and len(token) >= 24
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, created2 = load_or_create_token(path)
    assert (again, created2) == (token, False)
    assert not list(path.parent.glob("*.tmp"))


def test_gate_refuses_and_rate_limits_per_address() -> None:
    now = [0.0]
    gate = TokenGate("s3cret-token", max_failures=3, window_s=60, clock=lambda: now[0])
    assert gate.check("Bearer s3cret-token", "10.0.0.1") == Decision.OK
    assert gate.check("bearer s3cret-token", "10.0.0.1") == Decision.OK
    assert gate.check(None, "10.0.0.1") == Decision.UNAUTHORIZED
    assert gate.check("Bearer s3cret", "10.0.0.1") == Decision.UNAUTHORIZED
    assert gate.check("Basic s3cret-token", "10.0.0.1") == Decision.UNAUTHORIZED
    # three failures: even the right token is now refused from that address, not from another
    assert gate.check("Bearer s3cret-token", "10.0.0.1") == Decision.TOO_MANY
    assert gate.check("Bearer s3cret-token", "10.0.0.2") == Decision.OK
    now[0] = 61.0
    assert gate.check("Bearer s3cret-token", "10.0.0.1") == Decision.OK
    with pytest.raises(ValueError):
        TokenGate("")


def test_messages_round_trip_and_bad_ones_are_named() -> None:
    for msg in (P.Action(3, "purge", 2, 1.5), P.Ping(1, 2.0), P.Ack(3, False, 7, "nope"),
                P.Status({"block": 4}, 10, [{"block": 1}], {}, 1.0, 12.5, {"name": "x"})):
        assert P.decode(P.encode(msg)) == msg
    with pytest.raises(ValueError, match="unknown message kind"):
        P.decode('{"kind": "shell"}')
    with pytest.raises(ValueError, match="unknown field"):
        P.decode('{"kind": "ping", "n": 1, "t": 0, "evil": 1}')
    with pytest.raises(ValueError, match="over the"):
        P.decode("x" * (P.MAX_MESSAGE + 1))
    with pytest.raises(ValueError, match="not JSON"):
        P.decode("{")
    assert P.is_discrete_action("cue.go") and P.is_discrete_action("prompt.set")
    assert not P.is_discrete_action("memory.set")


def test_commands_while_disconnected_follow_the_policy(tmp_path: Path) -> None:
    """Discrete actions wait ttl_s then are dropped *and reported*; fresh ones are sent in order on
    reconnect; a knob sends only its latest value; a resent seq is not applied twice."""
    from sfe_live.remote.link import RemoteLink
    port = free_port()
    messages: list[str] = []
    link = RemoteLink(f"http://127.0.0.1:{port}", TOKEN, lambda f: None, messages.append, ttl_s=2.0).start()
    server = None
    try:
        assert wait_until(lambda: link._loop is not None, 5)
        link.send_action("prompt.set", "too old: never fired")
        time.sleep(2.5)                                        # past the TTL while nobody listens
        assert wait_until(lambda: link.stats().expired == 1, 3)
        assert any("too old: never fired" in m and "dropped" in m for m in messages), messages
        server = InProcessServer(port)                         # loading takes a while: not timed below
        link.ttl_s = 30.0                                      # from here on, nothing may expire
        link.send_action("prompt.set", "fresh prompt")
        link.send_action("memory.set", 0.2)
        link.send_action("memory.set", 0.4)                     # continuous: only the latest is sent
        assert wait_until(lambda: link.stats().queued == 1, 3)
        assert any("fresh prompt" in m and "queued" in m for m in messages), messages
        server.start()
        assert link.wait_connected(30), link.error
        def both():  # type: ignore[no-untyped-def]
            got = [e for e in server.app.engine.log if e.command in ("SetPrompt", "SetMemory")]
            return got if len(got) >= 2 else None
        applied = wait_until(both, 20)
        assert applied, (server.app.engine.log, link.stats(), messages)
        # a continuous value never waits behind a prompt that is still being encoded: order free
        assert sorted((e.command, e.args.get("text", e.args.get("value"))) for e in applied) == \
            [("SetMemory", 0.4), ("SetPrompt", "fresh prompt")]
        st = link.stats()
        assert (st.expired, st.queued, st.state) == (1, 0, "connected")
        # the server never applies one seq twice (a resend after a lost ack)
        client = server.server.session.client
        ack = server.server.apply(client, P.Action(1, "purge", 1))
        assert ack.ok and "duplicate" in ack.error
        assert not [e for e in server.app.engine.log if e.command == "Purge"]
        # frames arrive; the status carries the engine's state
        assert wait_until(lambda: link.stats().frames > 3, 20)
        # the status travels on its own timer: frames can arrive before the first status does
        assert wait_until(lambda: "engine" in link.remote, 10), link.remote
        assert link.remote["engine"]["block"] >= 1
    finally:
        link.stop()
        if server is not None:
            server.stop()
