from fractions import Fraction

import numpy as np
import pytest

from dreamvideo import audio
from dreamvideo.cli import main
from dreamvideo.errors import UserError
from dreamvideo.images import read_image
from dreamvideo.synth import lavfi_clip

FPS = Fraction(25)


def click_track(times, seconds=3.0):
    x = np.zeros(int(seconds * audio.RATE), np.float32)
    for t in times:
        i = int(t * audio.RATE)
        x[i:i + 110] = np.hanning(110) * 0.9
    return x


def test_click_track_gives_onsets_at_the_clicks_within_one_frame():
    clicks = [0.5, 1.2, 2.0, 2.6]
    f = audio.features(click_track(clicks), FPS, 75)
    expected = [round(t * 25) for t in clicks]
    found = [k for k in range(75) if f["beat"][k] > 0.5 and f["beat"][k] >= f["beat"][max(k - 1, 0)]]
    assert len(found) == len(clicks)
    assert all(abs(a - b) <= 1 for a, b in zip(found, expected))
    peaks = [int(np.argmax(f["onset"][e - 3:e + 4])) + e - 3 for e in expected]
    assert all(abs(p - e) <= 1 for p, e in zip(peaks, expected))


def test_low_sine_raises_bass_not_high():
    t = np.arange(int(2 * audio.RATE)) / audio.RATE
    low = (0.5 * np.sin(2 * np.pi * 60 * t)).astype(np.float32)
    f = audio.features(low, FPS, 50)
    assert f["bass"][10:].mean() > 0.8 and f["high"][10:].mean() < 0.05 and f["mid"][10:].mean() < 0.2
    high = (0.5 * np.sin(2 * np.pi * 5000 * t)).astype(np.float32)
    g = audio.features(high, FPS, 50)
    assert g["high"][10:].mean() > 0.8 and g["bass"][10:].mean() < 0.05


def test_envelope_follows_loudness_with_attack_and_release():
    t = np.arange(int(2 * audio.RATE)) / audio.RATE
    x = (np.sin(2 * np.pi * 440 * t) * (t > 1.0)).astype(np.float32)  # silence, then a tone
    f = audio.features(x, FPS, 50, release=0.1)
    assert f["rms"][:24].max() < 0.05 and f["rms"][27:].min() > 0.9
    assert all(0 <= f[name].min() and f[name].max() <= 1 for name in f)


def test_audio_command_plots_features(tmp_path, capsys):
    clip = str(tmp_path / "c.mp4")
    lavfi_clip(clip, seconds=2.0)
    png = str(tmp_path / "features.png")
    assert main(["audio", clip, "--plot", png]) == 0
    assert read_image(png).shape[0] > 300
    assert "50 frames" in capsys.readouterr().out
    silent = str(tmp_path / "s.mp4")
    lavfi_clip(silent, seconds=1.0, audio=None)
    assert main(["audio", silent, "--plot", png, "--overwrite"]) == 2
    assert "has no audio" in capsys.readouterr().err


def test_read_audio(tmp_path):
    clip = str(tmp_path / "c.mp4")
    lavfi_clip(clip, seconds=1.0)
    x = audio.read_audio(clip)
    assert abs(len(x) - audio.RATE) < 2048 and 0.05 < np.abs(x).max() <= 1
    with pytest.raises(UserError):
        audio.read_audio(str(tmp_path / "missing.mp4"))
