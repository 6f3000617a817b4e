"""Audio reactivity on synthesized signals, bindings, missing PortAudio, and JACK end to end."""

from __future__ import annotations

import shutil
import subprocess
import time

import numpy as np
import pytest

from sfe_live.controls import audio as audio_mod
from sfe_live.controls.audio import AudioAnalyzer, AudioBindings, AudioFeatures, AudioInput, estimate_bpm
from sfe_live.controls.bindings import Binding
from sfe_live.engine import commands as C

from .conftest import wait_for

SR = 48000


def clicks(bpm: float, seconds: float, sr: int = SR, amp: float = 0.8, noise: float = 0.01, seed: int = 0):
    n = int(sr * seconds)
    x = np.zeros(n)
    length = int(0.01 * sr)
    k = np.arange(length)
    click = amp * np.sin(2 * np.pi * 1500 * k / sr) * np.exp(-k / (0.002 * sr))
    t = 0.05
    while t < seconds:
        i = int(t * sr)
        m = min(length, n - i)
        x[i:i + m] += click[:m]
        t += 60.0 / bpm
    return x + noise * np.random.default_rng(seed).standard_normal(n)


def run(an: AudioAnalyzer, x: np.ndarray, block: int = 512) -> list[AudioFeatures]:
    out = []
    for i in range(0, len(x), block):
        out += an.process(x[i:i + block])
    return out


@pytest.mark.parametrize("bpm", [120.0, 128.0, 90.0, 140.0, 174.0])
def test_click_track_bpm_within_one_percent(bpm):
    an = AudioAnalyzer(SR)
    feats = run(an, clicks(bpm, 10.0))
    assert an.bpm == pytest.approx(bpm, rel=0.01)
    onsets = sum(f.onset for f in feats)
    assert abs(onsets - int(10.0 / (60 / bpm))) <= 1


def test_kick_and_offbeat_hats_read_as_the_kick_tempo():
    x = clicks(128.0, 8.0)
    rng = np.random.default_rng(3)
    t = 0.05 + 60.0 / 128 / 2
    while t < 8.0:  # noise hats half-way between the kicks
        i = int(t * SR)
        x[i:i + 240] += 0.3 * rng.standard_normal(len(x[i:i + 240]))
        t += 60.0 / 128
    an = AudioAnalyzer(SR)
    run(an, x)
    assert an.bpm == pytest.approx(128.0, rel=0.01)


def test_beats_follow_the_clicks():
    an = AudioAnalyzer(SR)
    feats = run(an, clicks(120.0, 10.0))
    beat_t = np.array([f.time for f in feats if f.beat])
    assert len(beat_t) >= 10
    click_phase = ((beat_t - 0.05) % 0.5)
    err = np.minimum(click_phase, 0.5 - click_phase)
    assert np.median(err) < 0.03  # predicted beats land within 30 ms of the clicks


def test_bass_sine_lights_the_bass_band():
    t = np.arange(SR * 2) / SR
    f = run(AudioAnalyzer(SR), 0.5 * np.sin(2 * np.pi * 60 * t))[-1]
    assert f.bass > 0.75 and f.mid < 0.2 and f.high < 0.1 and f.level > 0.8
    f = run(AudioAnalyzer(SR), 0.5 * np.sin(2 * np.pi * 6000 * t))[-1]
    assert f.high > 0.75 and f.bass < 0.1
    f = run(AudioAnalyzer(SR), np.zeros(SR))[-1]
    assert f.level == 0 and f.bass == 0 and f.bpm == 0


def test_gain_and_falloff():
    t = np.arange(SR) / SR
    quiet = 0.05 * np.sin(2 * np.pi * 60 * t)
    base = run(AudioAnalyzer(SR), quiet)[-1].bass
    boosted = run(AudioAnalyzer(SR, gain_db=12.0), quiet)[-1].bass
    assert boosted == pytest.approx(base + 0.2, abs=0.03)
    an = AudioAnalyzer(SR, falloff_per_s=2.0)
    run(an, 0.5 * np.sin(2 * np.pi * 60 * t))
    peak = an.features.bass
    after = run(an, np.zeros(SR // 4))[-1].bass   # 0.25 s of silence at 2 per second
    assert after == pytest.approx(peak - 0.5, abs=0.06)


def test_estimator_edge_cases():
    assert estimate_bpm(np.zeros(1000), 93.75) == (0.0, 0.0)
    assert estimate_bpm(np.ones(10), 93.75) == (0.0, 0.0)


def test_stereo_and_nan_input():
    an = AudioAnalyzer(SR)
    x = np.zeros((4096, 2))
    x[100, 0] = np.nan
    assert len(an.process(x)) == 8


def test_bindings_threshold_cooldown_range(router, engine):
    ab = AudioBindings(router, [
        Binding("purge", "audio", feature="onset", value=2, cooldown=0.35),
        Binding("memory.set", "audio", feature="bass", min=0.2, max=0.9, rate=1000),
        Binding("seed.new", "audio", feature="level", threshold=0.8),
    ])
    t = 0.0
    for i in range(20):  # an onset every 0.1 s for 2 s, cooldown 0.35 s → every 4th fires
        ab.apply(AudioFeatures(onset=True, bass=0.5, level=0.9 if i == 5 else 0.1), now=t)
        ab.apply(AudioFeatures(onset=False, bass=0.5, level=0.1), now=t + 0.05)
        t += 0.1
    assert len(engine.of(C.Purge)) == 5 and engine.of(C.Purge)[0] == C.Purge(2)
    assert engine.of(C.SetMemory)[0].value == pytest.approx(0.55)  # 0.2 + 0.5 * 0.7, no soft takeover
    assert len(engine.of(C.SetMemory)) == 1  # unchanged values are not resent
    assert len(engine.of(C.NewSeed)) == 1


def test_bpm_feature_sets_tempo(router):
    got = []
    router.register_handler("tempo.set", got.append)
    ab = AudioBindings(router, [Binding("tempo.set", "audio", feature="bpm")])
    ab.apply(AudioFeatures(bpm=0.0), now=0)
    ab.apply(AudioFeatures(bpm=127.9), now=1)
    assert got == [pytest.approx(127.9)]


def test_no_portaudio_is_a_status(router, monkeypatch):
    def missing():
        raise OSError("PortAudio library not found")
    monkeypatch.setattr(audio_mod, "_sd", missing)
    ai = AudioInput(router)
    assert ai.start() is False and "libportaudio2" in ai.error
    assert ai.status()["ok"] is False
    names, err = audio_mod.list_input_devices()
    assert names == [] and "PortAudio" in err
    ai.stop()


def test_no_such_device_is_a_status(router):
    ai = AudioInput(router, device="no such device 1234")
    assert ai.start() is False and ai.error
    ai.stop()


def test_feed_without_stream(router, engine):
    ai = AudioInput(router, bindings=[Binding("purge", "audio", feature="onset", value=1, cooldown=0.2)])
    x = clicks(120, 2.0)
    for i in range(0, len(x), 512):
        ai.feed(x[i:i + 512])
    assert 3 <= len(engine.of(C.Purge)) <= 4


def _detach_portaudio_from_jack(sd, monkeypatch) -> None:
    """Re-initialise PortAudio without JACK: its JACK host API asserts at exit once jackd is gone."""
    sd._terminate()
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "sfe-test-no-such-server")
    sd._initialize()


@pytest.mark.slow
def test_jack_end_to_end_audio(jack_server, router, engine, monkeypatch):
    try:
        import sounddevice as sd
    except OSError as e:  # the PortAudio library is missing
        pytest.skip(f"sounddevice unusable: {e} (apt-get install libportaudio2)")
    if shutil.which("jack_connect") is None:
        pytest.skip("jack_connect missing")
    sd._terminate()
    sd._initialize()  # PortAudio lists JACK devices only if the server ran at initialisation
    if not any("JACK" in a["name"] for a in sd.query_hostapis()):
        pytest.skip("PortAudio built without JACK")
    signal = clicks(120.0, 6.0) * 0.5 + 0.3 * np.sin(2 * np.pi * 60 * np.arange(int(SR * 6.0)) / SR)
    pos = [0]

    def play(out, frames, t, status):
        chunk = signal[pos[0]:pos[0] + frames]
        out[:, 0] = 0.0
        out[:len(chunk), 0] = chunk
        pos[0] += frames

    ai = AudioInput(router, device="system", samplerate=SR, bindings=[
        Binding("purge", "audio", feature="onset", value=2, cooldown=0.3),
        Binding("memory.set", "audio", feature="bass", min=0.2, max=0.9)])
    feats = []
    ai.on_features = feats.append
    assert ai.start(), ai.error
    out = sd.OutputStream(device=ai.device_name, channels=1, samplerate=SR, blocksize=512,
                          callback=play)
    try:
        out.start()
        ports = subprocess.run(["jack_lsp"], capture_output=True, text=True).stdout.split()
        src = [p for p in ports if p.startswith("PortAudio") and "out" in p][0]
        dst = [p for p in ports if p.startswith("PortAudio") and "in" in p][0]
        subprocess.run(["jack_connect", src, dst], check=True)
        assert wait_for(lambda: pos[0] >= len(signal), 10)
        time.sleep(0.2)
    finally:
        out.stop()
        out.close()
        ai.stop()
        _detach_portaudio_from_jack(sd, monkeypatch)
    bass = np.array([f.bass for f in feats[-200:]])
    assert np.median(bass) > 0.6
    assert 8 <= sum(f.onset for f in feats) <= 14
    assert ai.analyzer.bpm == pytest.approx(120.0, rel=0.02)
    assert 6 <= len(engine.of(C.Purge)) <= 13
    assert max(c.value for c in engine.of(C.SetMemory)) > 0.6
