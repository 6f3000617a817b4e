"""MIDI: profiles and learn through mido port objects, raw byte streams, LEDs, clock, JACK end to end."""

from __future__ import annotations

import random
import time

import mido
import pytest

from sfe_live.controls.actions import DEFAULT_REGISTRY
from sfe_live.controls.bindings import Binding, Led
from sfe_live.controls.driver import Learner
from sfe_live.controls.midi import MidiService
from sfe_live.controls.profiles import Profile, load_profile, port_key, save_profile
from sfe_live.controls.tempo import TempoClock
from sfe_live.engine import commands as C

from .conftest import wait_for


class Loopback(mido.ports.BaseIOPort):
    """A mido port whose sent messages go to its callback (or its queue): a cable in a test."""

    def _open(self, **kwargs):
        self.callback = None
        self.sent: list[mido.Message] = []

    def _send(self, msg):
        self.sent.append(msg)
        if self.callback is not None:
            self.callback(msg)
        else:
            self._messages.append(msg)


@pytest.fixture
def cues(router):
    got = []
    router.register_handler("cue.go", got.append)
    return got


def make_service(router, *profiles, **kw):
    svc = MidiService(router, profiles=[load_profile(p, DEFAULT_REGISTRY) if isinstance(p, str) else p
                                        for p in profiles], **kw)
    return svc


def test_port_key_strips_alsa_numbers():
    assert port_key("APC mini mk2:APC mini mk2 MIDI 1 20:0") == "APC mini mk2:APC mini mk2 MIDI 1"


def test_profile_drives_actions_through_a_port(router, engine, cues):
    svc = make_service(router, "korg_nanokontrol2")
    port = Loopback("nanoKONTROL2:nanoKONTROL2 _ CTRL 24:0")
    svc.add_input_port(port.name, port)
    port.send(mido.Message("control_change", control=32, value=127))   # S1 → cue 1
    port.send(mido.Message("control_change", control=32, value=0))
    port.send(mido.Message("control_change", control=34, value=127))   # S3 → cue 3
    port.send(mido.Message("control_change", control=50, value=127))   # M3 → purge 2
    port.send(mido.Message("control_change", control=0, value=127))    # fader 1 at the top = memory 1.0 (picked up)
    port.send(mido.Message("control_change", control=0, value=32))
    port.send(mido.Message("control_change", control=42, value=127))   # stop → pause
    port.send(mido.Message("control_change", control=41, value=127))   # play → run
    assert svc.drain()                          # port callbacks hand messages to our input thread
    assert cues == [1, 3]
    got = engine.commands
    assert got[:2] == [C.Purge(2), C.SetMemory(1.0)] and got[3:] == [C.SetPaused(True), C.SetPaused(False)]
    assert isinstance(got[2], C.SetMemory) and got[2].value == pytest.approx(32 / 127)


def test_profile_ignores_other_ports(router, cues):
    svc = make_service(router, "korg_nanokontrol2")
    svc.handle(mido.Message("control_change", control=32, value=127), "Launch Control XL")
    assert cues == []


def test_note_on_velocity_zero_is_note_off(router):
    got = []
    router.register_handler("freeze", got.append)
    b = Binding("freeze", "midi", type="note", number=10, mode="momentary")
    svc = MidiService(router, user_bindings=[b])
    svc.handle(mido.Message("note_on", note=10, velocity=100))
    svc.handle(mido.Message("note_on", note=10, velocity=0))
    svc.handle(mido.Message("note_on", note=10, velocity=90))
    svc.handle(mido.Message("note_off", note=10))
    assert got == [True, False, True, False]


def test_apc_pads_and_faders(router, engine, cues):
    svc = make_service(router, "akai_apc_mini_mk2")
    port = "APC mini mk2:APC mini mk2 Control 20:0"
    svc.handle(mido.Message("note_on", note=56, velocity=127), port)   # top-left pad = cue 1
    svc.handle(mido.Message("note_on", note=56, velocity=0), port)
    svc.handle(mido.Message("note_on", note=0, velocity=127), port)    # bottom-left = cue 57
    svc.handle(mido.Message("note_on", note=103, velocity=127), port)  # track button 4 = purge 3
    svc.handle(mido.Message("control_change", control=48, value=127), port)  # reactivity fader at 3: pickup
    svc.handle(mido.Message("control_change", control=48, value=0), port)
    assert cues == [1, 57]
    assert engine.commands == [C.Purge(3), C.SetReactivity(3), C.SetReactivity(0)]


def test_midi_learn(router, engine):
    ln = Learner(DEFAULT_REGISTRY)
    svc = MidiService(router, learner=ln)
    ln.arm("reactivity.set")
    svc.handle(mido.Message("control_change", channel=2, control=21, value=127), "nanoKONTROL2 1 24:0")
    (b,) = svc.user_bindings()
    assert (b.type, b.channel, b.number, b.action) == ("cc", 3, 21, "reactivity.set")
    assert engine.commands == []
    svc.handle(mido.Message("control_change", channel=2, control=21, value=127), "nanoKONTROL2 1 24:0")
    svc.handle(mido.Message("control_change", channel=2, control=21, value=0), "nanoKONTROL2 1 28:0")
    svc.handle(mido.Message("control_change", channel=2, control=21, value=127), "other device")  # not learned
    assert engine.commands == [C.SetReactivity(3), C.SetReactivity(0)]
    ln.arm("seed.new")  # a note learns a trigger; learning the same control again replaces it
    svc.handle(mido.Message("note_on", note=5, velocity=80), "x")
    svc.handle(mido.Message("note_on", note=5, velocity=80), "x")
    assert engine.commands[-1] == C.NewSeed() and len(svc.user_bindings()) == 2


def test_learned_bindings_save_as_profile(tmp_path, router):
    ln = Learner(DEFAULT_REGISTRY)
    svc = MidiService(router, learner=ln)
    ln.arm("memory.set")
    svc.handle(mido.Message("control_change", control=7, value=3))
    p = tmp_path / "user.toml"
    save_profile(Profile("user", tuple(svc.user_bindings())), p)
    assert load_profile(p, DEFAULT_REGISTRY).bindings == tuple(svc.user_bindings())


def test_random_byte_streams_parse_without_harm(router, engine, cues):
    svc = make_service(router, "korg_nanokontrol2", tempo=TempoClock())
    rng = random.Random(7)
    n = svc.feed_bytes(rng.randbytes(100_000), port="nanoKONTROL2")
    assert svc.errors == 0 and n > 1000
    # valid messages between junk data bytes still arrive (data bytes without a status are dropped)
    before = len(cues)
    stream = bytes([0x12, 0x34]) + bytes([0xB0, 32, 127]) + bytes([0x55]) + bytes([0xB0, 32, 0, 0xB0, 33, 127])
    svc.feed_bytes(stream, port="nanoKONTROL2")
    assert cues[before:] == [1, 2]


def test_learn_from_random_stream():
    from sfe_live.controls.router import ActionRouter
    r = ActionRouter(lambda c: None)
    ln = Learner(DEFAULT_REGISTRY)
    svc = MidiService(r, learner=ln)
    ln.arm("memory.set")
    svc.feed_bytes(bytes([0xF8, 0xFE, 0x12, 0xB4, 9, 64, 0xB4, 9, 70]))  # clock/sense are not learned
    (b,) = svc.user_bindings()
    assert (b.type, b.channel, b.number) == ("cc", 5, 9)


def test_led_feedback(router):
    state = {"cue": 2, "cue_count": 3, "paused": True}
    router.add_state_provider("test", lambda: state)
    svc = make_service(router, "akai_apc_mini_mk2")
    out = Loopback("APC mini mk2:APC mini mk2 Control 20:0")
    svc.add_output_port(out.name, out)
    assert svc.refresh_leds() > 64
    leds = {(m.channel, m.note): m.velocity for m in out.sent if m.type == "note_on"}
    assert leds[(6, 57)] == 21   # cue 2 = current: green, full brightness (channel 7)
    assert leds[(6, 56)] == 45   # cue 1 loaded: blue
    assert leds[(6, 59)] == 0    # cue 4 does not exist
    assert leds[(0, 107)] == 1   # pause lit while paused
    assert leds[(0, 112)] == 1 and leds[(0, 113)] == 0   # transition radio: "cut" selected
    assert leds[(0, 100)] == 0
    assert svc.refresh_leds() == 0  # only changes are sent
    router.trigger("purge", 0, source="midi")
    svc.refresh_leds()
    assert out.sent[-1] == mido.Message("note_on", channel=0, note=100, velocity=1)  # purge flash
    time.sleep(0.2)
    svc.refresh_leds()
    assert out.sent[-1] == mido.Message("note_on", channel=0, note=100, velocity=0)
    state["cue"] = 3
    svc.refresh_leds()
    changed = {(m.note, m.velocity) for m in out.sent[-2:]}
    assert changed == {(57, 45), (58, 21)}


def test_encoder_ring_feedback(router):
    svc = make_service(router, "midi_fighter_twister")
    out = Loopback("Midi Fighter Twister")
    svc.add_output_port(out.name, out)
    router.trigger("memory.set", 0.5)
    svc.refresh_leds()
    ring = [m for m in out.sent if m.type == "control_change" and m.channel == 0 and m.control == 0]
    assert ring[-1].value == 64


def test_midi_clock_drives_tempo(router):
    t = [50.0]
    tc = TempoClock(clock=lambda: t[0])
    svc = MidiService(router, tempo=tc)
    svc.handle(mido.Message("start"))
    for _ in range(48):
        t[0] += 60.0 / 125 / 24
        svc.handle(mido.Message("clock"))
    assert tc.bpm == pytest.approx(125, rel=0.002) and tc.source == "midi"
    svc.handle(mido.Message("stop"))
    svc.handle(mido.Message("songpos", pos=16))


def test_no_backend_is_a_status_not_a_crash(router):
    svc = MidiService(router, backend="mido.backends.no_such_backend")
    svc.start()
    try:
        st = svc.status()
        assert st["ok"] is False and "no_such_backend" in st["error"]
        svc.rescan()
        svc.refresh_leds()
    finally:
        svc.stop()


@pytest.mark.slow
def test_jack_end_to_end_ports_leds_hotplug_clock(jack_server, router, engine, cues):
    be = mido.Backend("mido.backends.rtmidi/UNIX_JACK")
    prof = Profile("e2e", (
        *[Binding("cue.go", "midi", type="note", number=i, value=i + 1, led=Led(off=0, on=3, active=21))
          for i in range(4)],
        Binding("memory.set", "midi", type="cc", number=7, takeover="jump"),
    ), port="vj-ctl")
    tc = TempoClock()
    svc = MidiService(router, profiles=[prof], tempo=tc, backend="mido.backends.rtmidi/UNIX_JACK",
                      inputs=["vj-ctl"], rescan_interval=0.1)
    router.add_state_provider("cues", lambda: {"cue": cues[-1] if cues else 0, "cue_count": 4})
    leds: list[mido.Message] = []
    led_in = be.open_input("vj-ctl-leds", virtual=True, callback=leds.append)
    ctl = be.open_output("vj-ctl", virtual=True)
    svc.start()
    try:
        assert wait_for(lambda: any("vj-ctl" in n for n in svc.status()["inputs"]), 5), svc.status()
        assert wait_for(lambda: any("vj-ctl-leds" in n for n in svc.status()["outputs"]), 5), svc.status()
        time.sleep(0.3)      # a few rescans after our LED output opened: its own port is not an input
        assert [n.split(":")[-1] for n in svc.status()["inputs"]] == ["vj-ctl"], svc.status()["inputs"]
        ctl.send(mido.Message("note_on", note=1, velocity=100))
        ctl.send(mido.Message("note_on", note=1, velocity=0))
        assert wait_for(lambda: cues == [2], 3)
        assert wait_for(lambda: any(m.type == "note_on" and m.note == 1 and m.velocity == 21 for m in leds), 3)
        # unplug: the port disappears; replug: it is reopened and keeps working
        ctl.close()
        assert wait_for(lambda: not any(n.endswith("vj-ctl") for n in svc.status()["inputs"]), 5)
        ctl = be.open_output("vj-ctl", virtual=True)
        assert wait_for(lambda: any(n.endswith("vj-ctl") for n in svc.status()["inputs"]), 5)
        time.sleep(0.1)
        ctl.send(mido.Message("control_change", control=7, value=127))
        assert wait_for(lambda: engine.commands[-1:] == [C.SetMemory(1.0)], 3)
        ctl.send(mido.Message("start"))
        t0 = time.monotonic()
        for i in range(48):  # one second of MIDI clock at 120 BPM, on an absolute grid (a loaded
            ctl.send(mido.Message("clock"))   # machine oversleeps; the grid keeps the mean rate)
            time.sleep(max(0.0, t0 + (i + 1) * 60.0 / 120 / 24 - time.monotonic()))
        assert wait_for(lambda: tc.source == "midi", 2)
        assert tc.bpm == pytest.approx(120, rel=0.05)
    finally:
        svc.stop()
        ctl.close()
        led_in.close()


@pytest.mark.slow
def test_jack_burst_at_20k_per_second_fires_each_cue_once(jack_server, router, capsys):
    """2,000 note-ons (+ note-offs) at 20,000 messages/s over a real JACK port: every note-on that
    reaches our port fires exactly one cue GO, in order, on our own thread, never on JACK's
    (issue 11 item 9). JACK itself drops or repeats events when its process cycle runs late on a
    loaded machine (seen here at a load average of 15 on 2 cores), so the test compares cue GOs
    with the note-ons that reached the port and prints both figures."""
    import threading
    be = mido.Backend("mido.backends.rtmidi/UNIX_JACK")
    got: list[tuple[int, str]] = []
    router.register_handler("cue.go", lambda v: got.append((v, threading.current_thread().name)))
    prof = Profile("burst", tuple(Binding("cue.go", "midi", type="note", number=n, value=n + 1)
                                  for n in range(8)), port="vj-burst")
    svc = MidiService(router, profiles=[prof], backend="mido.backends.rtmidi/UNIX_JACK", inputs=["vj-burst"],
                      rescan_interval=0.1)
    arrived: list[int] = []
    handle = svc.handle

    def spy(msg, port="", t=None):
        if msg.type == "note_on" and msg.velocity:
            arrived.append(msg.note + 1)
        handle(msg, port, t)
    svc.handle = spy  # type: ignore[method-assign]
    ctl = be.open_output("vj-burst", virtual=True)
    svc.start()

    def burst(n: int, rate: float) -> tuple[float, int, int]:
        got.clear()
        arrived.clear()
        t0 = time.monotonic()
        for i in range(n):
            ctl.send(mido.Message("note_on", note=i % 8, velocity=100))
            ctl.send(mido.Message("note_off", note=i % 8))
            if i % 10 == 9:
                lag = t0 + (2 * i + 2) / rate - time.monotonic()
                if lag > 0:
                    time.sleep(lag)
        sent_rate = 2 * n / (time.monotonic() - t0)
        wait_for(lambda: len(got) >= n, 5)
        time.sleep(0.3)
        svc.drain()
        return sent_rate, len(arrived), len(got)

    try:
        assert wait_for(lambda: any("vj-burst" in n for n in svc.status()["inputs"]), 5), svc.status()
        svc.rescan_interval = 3600.0
        time.sleep(0.2)
        fast = burst(2000, 20_000.0)
        fast_ok = [v for v, _ in got] == arrived
        threads = {t for _, t in got}
        slow = burst(400, 2_000.0)
        with capsys.disabled():
            print(f"\n[midi burst] 2,000 note-ons + note-offs sent at {fast[0]:.0f} msg/s: {fast[1]} note-ons "
                  f"reached the port, {fast[2]} cue GOs; 400 at {slow[0]:.0f} msg/s: {slow[1]} arrived, "
                  f"{slow[2]} GOs")
        assert fast_ok                                     # one GO per note-on that arrived, in order
        assert threads == {"sfe-midi-in"}                  # our thread, not JACK's
        assert slow[2] == slow[1] and [v for v, _ in got] == arrived   # (JACK's own losses/repeats aside)
    finally:
        svc.stop()
        ctl.close()
