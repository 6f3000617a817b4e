"""OSC over real UDP loopback: the address tree, bundles, replies, aliases, push, learn, fuzz, flood."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient

from sfe_live.controls.driver import Learner
from sfe_live.controls.osc import DEFAULT_OSC_PORT, OscServer, build_message
from sfe_live.engine import commands as C

from .conftest import wait_for

COMMON_PORTS = {7000, 7001, 8000, 9000, 9001, 11000, 11001, 6454, 1111}


@pytest.fixture
def server(router):
    srv = OscServer(router, port=0, learner=Learner(router.registry))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server):
    c = SimpleUDPClient("127.0.0.1", server.port)
    yield c
    c.close()


def replies(client, n, timeout=2.0):
    out = []
    end = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < end:
        data = client.receive(0.2)
        if data:
            m = OscMessage(data)
            out.append((m.address, list(m.params)))
    return out


def test_default_port_avoids_common_ones():
    assert DEFAULT_OSC_PORT not in COMMON_PORTS and 1024 < DEFAULT_OSC_PORT < 32768


def test_binds_loopback_with_big_buffer(server):
    assert server.host == "127.0.0.1" and server.running
    assert server.rcvbuf >= 4 * 1024 * 1024


def test_address_tree_drives_engine(server, client, engine):
    sends = [("/sfe/prompt", "a cat walking"), ("/sfe/purge", None), ("/sfe/purge", 2), ("/sfe/reactivity", 1),
             ("/sfe/reactivity", 2.0), ("/sfe/memory", 0.25), ("/sfe/memory", 1), ("/sfe/seed/new", None),
             ("/sfe/pause", True), ("/sfe/pause", False), ("/sfe/pause", 1), ("/sfe/pause", 0.2), ("/sfe/pause", None)]
    for addr, v in sends:
        client.send_message(addr, v)
    assert wait_for(lambda: len(engine.commands) == len(sends))
    assert engine.commands == [C.SetPrompt("a cat walking"), C.Purge(None), C.Purge(2), C.SetReactivity(1),
                               C.SetReactivity(2), C.SetMemory(0.25), C.SetMemory(1.0), C.NewSeed(),
                               C.SetPaused(True), C.SetPaused(False), C.SetPaused(True), C.SetPaused(False),
                               C.TogglePause()]


def test_button_release_does_not_fire(server, client, engine):
    client.send_message("/sfe/seed/new", 0.0)
    client.send_message("/sfe/seed/new", False)
    client.send_message("/sfe/seed/new", 1.0)
    assert wait_for(lambda: len(engine.commands) == 1)
    time.sleep(0.05)
    assert engine.commands == [C.NewSeed()]


def test_bundles_including_nested(server, client, engine):
    inner = OscBundleBuilder(IMMEDIATELY)
    inner.add_content(build_msg("/sfe/memory", 0.5))
    b = OscBundleBuilder(IMMEDIATELY)
    b.add_content(build_msg("/sfe/transition", "purge"))
    b.add_content(build_msg("/sfe/prompt", "rocket launches"))
    b.add_content(inner.build())
    client.send(b.build())
    assert wait_for(lambda: len(engine.commands) == 2)
    assert engine.commands == [C.SetPrompt("rocket launches", "purge"), C.SetMemory(0.5)]


def build_msg(addr, *args):
    m = OscMessageBuilder(address=addr)
    for a in args:
        m.add_arg(a)
    return m.build()


def test_get_replies_to_sender(server, client, router, engine):
    client.send_message("/sfe/prompt", "a woman walking")
    client.send_message("/sfe/reactivity", 2)
    assert wait_for(lambda: len(engine.commands) == 2)
    router.add_state_provider("cues", lambda: {"cue": 3})
    for name in ("prompt", "cue", "strength", "memory", "fps", "block"):
        client.send_message(f"/sfe/get/{name}", None)
    got = dict((a, p[0]) for a, p in replies(client, 6))
    assert got == {"/sfe/prompt": "a woman walking", "/sfe/cue": 3, "/sfe/strength": 2, "/sfe/memory": 1.0,
                   "/sfe/fps": pytest.approx(16.0), "/sfe/block": 0}
    client.send_message("/sfe/get/nonsense", None)
    (addr, params), = replies(client, 1)
    assert addr == "/sfe/error" and "nonsense" in params[0] and "memory" in params[0]
    client.send_message("/sfe/get", None)
    assert {a for a, _ in replies(client, 8)} >= {"/sfe/prompt", "/sfe/memory", "/sfe/paused"}


def test_get_never_replies_to_a_port_named_in_the_request(server, client):
    """A reply port taken from the request would reflect replies at any port (issue 11 item 5)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(0.5)
        client.send_message("/sfe/get/memory", rx.getsockname()[1])
        assert replies(client, 1) == [("/sfe/memory", [1.0])]      # to the sender, not to rx
        with pytest.raises(socket.timeout):
            rx.recv(4096)


def test_get_replies_to_the_configured_reply_port(router):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(2)
        srv = OscServer(router, port=0, reply_port=rx.getsockname()[1])
        srv.start()
        try:
            c = SimpleUDPClient("127.0.0.1", srv.port)
            c.send_message("/sfe/get/memory", None)
            m = OscMessage(rx.recv(4096))
            assert (m.address, m.params) == ("/sfe/memory", [1.0])
            c.close()
        finally:
            srv.stop()


def _get_bundle(limit=65_000):
    bb = OscBundleBuilder(IMMEDIATELY)
    size, n = 16, 0
    names = ["", "/prompt", "/block", "/memory"]
    while True:
        m = OscMessageBuilder("/sfe/get" + names[n % 4]).build()
        if size + 4 + m.size > limit:
            return bb.build().dgram, n
        bb.add_content(m)
        size += 4 + m.size
        n += 1


def test_a_bundle_of_gets_is_answered_within_bounds(server, client, engine):
    """One 65 KB bundle of /sfe/get (the issue's attack) against a 60,000-character prompt."""
    engine.state["prompt"] = "x" * 60_000
    bundle, n = _get_bundle()
    assert n > 2000 and len(bundle) > 60_000
    client._sock.sendto(bundle, ("127.0.0.1", server.port))
    got, nbytes = 0, 0
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        data = client.receive(0.3)
        if data:
            got += 1
            nbytes += len(data)
    assert got <= 32, got
    assert nbytes <= len(bundle) // 2, nbytes       # never louder than asked
    # the server is not stuck: a second client's command and query go through at once
    engine.commands.clear()
    other = SimpleUDPClient("127.0.0.1", server.port)
    t = time.monotonic()
    other.send_message("/sfe/memory", 0.25)
    other.send_message("/sfe/get/block", None)
    assert other.receive(2.0) and time.monotonic() - t < 1.0
    assert engine.commands == [C.SetMemory(0.25)]
    other.close()


def test_replies_per_second_are_bounded(server, client):
    for _ in range(300):
        client.send_message("/sfe/get", None)           # 15 replies asked each: 4,500 in all
    got = len(replies(client, 5000, timeout=1.5))
    assert 15 <= got <= 400, got


def test_commands_in_a_packet_are_not_delayed_by_its_queries(router, engine):
    """Queries are answered after (and apart from) the commands of the same packet."""
    order = []
    slow_state = {"n": 0}

    def status():
        slow_state["n"] += 1
        time.sleep(0.05)                                  # a slow status() (the engine is busy)
        order.append("status")
        return engine.status()

    r = type(router)(lambda c: (order.append("cmd"), engine.submit(c)), status)
    srv = OscServer(r, port=0)
    srv.start()
    try:
        bb = OscBundleBuilder(IMMEDIATELY)
        for i in range(8):
            bb.add_content(OscMessageBuilder("/sfe/get/block").build())
        m = OscMessageBuilder("/sfe/memory")
        m.add_arg(0.5)
        bb.add_content(m.build())
        c = SimpleUDPClient("127.0.0.1", srv.port)
        c._sock.sendto(bb.build().dgram, ("127.0.0.1", srv.port))
        assert wait_for(lambda: engine.commands == [C.SetMemory(0.5)], 2)
        assert order[0] == "cmd", order[:3]
        c.close()
    finally:
        srv.stop()


def test_scope_aliases(server, client, engine):
    client.send_message("/scope/prompt", "neon city")
    client.send_message("/scope/reset_cache", False)
    client.send_message("/scope/reset_cache", True)
    assert wait_for(lambda: len(engine.commands) == 2)
    assert engine.commands == [C.SetPrompt("neon city"), C.Purge(3)]


def test_push_state_changes(router, engine):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(2)
        srv = OscServer(router, port=0, push_to=rx.getsockname())
        srv.start()
        try:
            first = {}
            end = time.monotonic() + 2
            while "/sfe/memory" not in first and time.monotonic() < end:
                m = OscMessage(rx.recv(4096))
                first[m.address] = m.params[0]
            assert first["/sfe/memory"] == 1.0
            router.trigger("memory.set", 0.3)
            got = None
            while got is None:
                m = OscMessage(rx.recv(4096))
                if m.address == "/sfe/memory":
                    got = m.params[0]
            assert got == pytest.approx(0.3)
        finally:
            srv.stop()


def test_learn_and_monitor(server, client, engine):
    server.learner.arm("memory.set")
    client.send_message("/td/fader1", 0.99)
    assert wait_for(lambda: server.bindings())
    assert engine.commands == []
    client.send_message("/td/fader1", 0.99)  # picked up near the current 1.0
    client.send_message("/td/fader1", 0.5)
    assert wait_for(lambda: len(engine.commands) == 2)
    assert [round(c.value, 2) for c in engine.commands] == [0.99, 0.5]
    addrs = [a for a, n, args in server.recent_addresses()]
    assert addrs[0] == "/td/fader1"


def test_malformed_and_unknown_are_counted_not_fatal(server, client, engine):
    s = client._sock
    dest = ("127.0.0.1", server.port)
    for junk in (b"garbage", b"/sfe/memory\x00", b"#bundle\x00\x01", b"/sfe/memory\x00,x\x00\x00abcd"):
        s.sendto(junk, dest)
    client.send_message("/no/such/address", 1)
    client.send_message("/sfe/memory", "loud")
    client.send_message("/sfe/prompt", None)
    client.send_message("/sfe/get/block", None)
    assert replies(client, 1)[0][0] == "/sfe/block"
    st = server.status()
    assert st["malformed"] >= 2 and st["unknown"] == 1 and st["errors"] == 0
    assert st["malformed"] + st["bad_args"] == 6  # 4 junk packets + 2 bad arguments, each counted once
    assert engine.commands == []


def _mutations(rng: random.Random, n: int) -> list[bytes]:
    valid = [build_message("/sfe/memory", 0.5), build_message("/sfe/prompt", "a cat"),
             build_message("/sfe/cue/go", 3), build_message("/sfe/pause", True), build_message("/sfe/purge", 2)]
    b = OscBundleBuilder(IMMEDIATELY)
    b.add_content(build_msg("/sfe/memory", 0.1))
    b.add_content(build_msg("/sfe/reactivity", 1))
    valid.append(b.build().dgram)
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            out.append(rng.randbytes(rng.randrange(0, 512)))
        elif kind == 1:
            out.append(b"/" + rng.randbytes(rng.randrange(0, 128)))
        elif kind == 2:
            out.append(b"#bundle\x00" + rng.randbytes(rng.randrange(0, 128)))
        else:
            d = bytearray(rng.choice(valid))
            for _ in range(rng.randrange(1, 6)):
                op = rng.randrange(3)
                if op == 0 and d:
                    d[rng.randrange(len(d))] = rng.randrange(256)
                elif op == 1 and d:
                    del d[rng.randrange(len(d)):]
                else:
                    d += rng.randbytes(rng.randrange(1, 16))
            out.append(bytes(d))
    return out


def test_fuzz_10k_random_packets(server, client, engine, capsys):
    rng = random.Random(1234)
    packets = _mutations(rng, 10_000)
    s = client._sock
    dest = ("127.0.0.1", server.port)
    t0 = time.monotonic()
    for i, p in enumerate(packets):
        s.sendto(p, dest)
        if i % 500 == 499:
            time.sleep(0.005)
    client.send_message("/sfe/get/block", None)
    assert replies(client, 1, timeout=10)[0][0] == "/sfe/block"
    assert server.running
    st = server.status()
    # rejected = not even shaped like OSC (never parsed); coalesced = a fader value a later one replaced
    seen = st["packets"] + st["rejected"] + st["coalesced"]
    with capsys.disabled():
        print(f"\n[osc fuzz] 10,000 packets in {time.monotonic() - t0:.2f}s: parsed {st['packets']}, "
              f"rejected {st['rejected']}, malformed {st['malformed']}, unknown {st['unknown']}, "
              f"bad args {st['bad_args']}, handler errors {st['errors']}, commands {len(engine.commands)}")
    assert st["errors"] == 0
    assert seen == 10_001  # every packet accounted for (+ the get)
    engine.commands.clear()
    client.send_message("/sfe/memory", 0.5)
    assert wait_for(lambda: engine.commands == [C.SetMemory(0.5)]), engine.commands[-5:]


FLOOD_SENDER = r"""
import socket, sys, time
from pythonosc.osc_message_builder import OscMessageBuilder
def msg(addr, arg):
    b = OscMessageBuilder(address=addr); b.add_arg(arg); return b.build().dgram
port, rate, seconds, every = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
mem = [msg('/sfe/memory', i / 100.0) for i in range(101)]
total = int(rate * seconds); discrete = 0; start = time.monotonic()
for i in range(total):
    if i % every == 0:
        d = msg('/sfe/prompt', f'p{discrete}') if discrete % 2 == 0 else msg('/sfe/purge', discrete % 4)
        discrete += 1
    else:
        d = mem[i % 101]
    s.sendto(d, ('127.0.0.1', port))
    if i % 20 == 19:
        lag = start + (i + 1) / rate - time.monotonic()
        if lag > 0:
            time.sleep(lag)
print(total, discrete, round(time.monotonic() - start, 3))
"""


@pytest.mark.slow
def test_flood_10k_per_second_for_10s_loses_no_discrete_command(server, engine, capsys, tmp_path):
    rate, seconds, every = 10_000, 10.0, 10
    cpu0, wall0 = time.process_time(), time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", FLOOD_SENDER, str(server.port), str(rate), str(seconds),
                             str(every)], stdout=subprocess.PIPE, text=True)
    rtts = []
    probe = SimpleUDPClient("127.0.0.1", server.port)
    try:
        while proc.poll() is None:  # responsiveness: query while the flood runs
            t = time.monotonic()
            probe.send_message("/sfe/get/block", None)
            data = probe.receive(2.0)
            if data:
                rtts.append(time.monotonic() - t)
            time.sleep(0.1)
        total, discrete, send_wall = proc.communicate(timeout=30)[0].split()
        total, discrete = int(total), int(discrete)
        def n_discrete():
            return len(engine.of(C.SetPrompt)) + len(engine.of(C.Purge))
        wait_for(lambda: n_discrete() >= discrete, timeout=10)
    finally:
        probe.close()
        if proc.poll() is None:
            proc.kill()
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    prompts = [c.text for c in engine.of(C.SetPrompt)]
    n_cont = len(engine.of(C.SetMemory))
    rtts.sort()
    fig = {"sent": total, "sent_discrete": discrete, "got_discrete": n_discrete(),
           "sent_continuous": total - discrete, "got_continuous": n_cont,
           "send_wall_s": float(send_wall), "test_wall_s": round(wall, 2), "server_process_cpu_s": round(cpu, 2),
           "probe_rtt_ms_median": round(1000 * rtts[len(rtts) // 2], 2) if rtts else None,
           "probe_rtt_ms_max": round(1000 * rtts[-1], 2) if rtts else None, "probes": len(rtts),
           "rcvbuf": server.rcvbuf, "server": server.status()}
    (tmp_path / "flood.json").write_text(json.dumps(fig))
    with capsys.disabled():
        print(f"\n[osc flood] {json.dumps(fig)}")
    assert total == int(rate * seconds) and discrete == total // every
    assert n_discrete() == discrete
    assert prompts == [f"p{i}" for i in range(0, discrete, 2)]  # in order, none lost
    assert rtts and rtts[len(rtts) // 2] < 0.25
    assert server.status()["errors"] == 0
    if os.environ.get("SFE_STRICT_FLOOD"):
        assert n_cont == total - discrete


def test_a_long_batch_coalesces_fader_values_and_keeps_every_command(server):
    """When the server is behind (a batch of 64 datagrams or more), a fader's older values in the
    batch are dropped before parsing; discrete commands, queries and the last value stay, in order.
    A short batch is handled whole."""
    from pythonosc.osc_message_builder import OscMessageBuilder

    def dg(addr, arg):
        b = OscMessageBuilder(address=addr)
        b.add_arg(arg)
        return b.build().dgram
    a, b = ("127.0.0.1", 1), ("127.0.0.1", 2)
    batch = [(dg("/sfe/memory", i / 100), a) for i in range(70)]
    batch[10] = (dg("/sfe/prompt", "p0"), a)
    batch[40] = (dg("/sfe/memory", 0.5), b)                    # another sender's fader: its own last value
    kept = server.coalesce(batch)
    assert [d for d, _ in kept] == [dg("/sfe/prompt", "p0"), dg("/sfe/memory", 0.5), dg("/sfe/memory", 0.69)]
    assert server.stats["coalesced"] == 67
    short = batch[:20]
    assert server.coalesce(short) == short
