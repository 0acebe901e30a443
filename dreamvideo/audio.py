"""Audio features per video frame, for audio-reactive dreaming: rms, onset, beat, bass, mid, high, each
scaled to [0,1] over the track and smoothed with attack and release times. Audio is decoded by ffmpeg."""
from __future__ import annotations

import subprocess
from fractions import Fraction

import numpy as np

from . import video
from .errors import UserError
from .schedule import FEATURES

RATE = 22050
BANDS = {"bass": (20, 150), "mid": (150, 2000), "high": (2000, 11025)}


def read_audio(path: str, rate: int = RATE) -> np.ndarray:
    """The first audio stream as mono float32 samples at `rate`."""
    r = subprocess.run([video.ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", path, "-map", "0:a:0",
                        "-ac", "1", "-ar", str(rate), "-f", "f32le", "-"], capture_output=True, stdin=subprocess.DEVNULL)
    if r.returncode != 0 or not r.stdout:
        raise UserError(f"{path} has no audio ffmpeg can read: give a file with sound, or --audio FILE")
    return np.frombuffer(r.stdout, np.float32)


def smooth(x: np.ndarray, fps: float, attack: float, release: float) -> np.ndarray:
    """Envelope follower: rises with time constant `attack`, falls with `release` (seconds)."""
    up, down = (1 - np.exp(-1 / (fps * max(tau, 1e-6))) for tau in (attack, release))
    out, y = np.empty_like(x), 0.0
    for i, v in enumerate(x):
        y += (up if v > y else down) * (v - y)
        out[i] = y
    return out


def _scale(x: np.ndarray, top: float | None = None) -> np.ndarray:
    top = np.percentile(x, 99) if top is None else top
    return np.clip(x / top, 0, 1) if top > 1e-9 else np.zeros_like(x)


def features(samples: np.ndarray, fps: Fraction, frames: int, start: int = 0, rate: int = RATE,
             attack: float = 0.01, release: float = 0.25) -> dict[str, np.ndarray]:
    """{name: [frames] in [0,1]} for video frames start .. start+frames-1 (frame i shows time i/fps)."""
    n_fft, fps_f = 2048, float(fps)
    window = np.hanning(n_fft).astype(np.float32)
    freqs = np.fft.rfftfreq(n_fft, 1 / rate)
    padded = np.concatenate([np.zeros(n_fft, np.float32), samples, np.zeros(n_fft, np.float32)])
    rms, bands, flux, prev = [], {b: [] for b in BANDS}, [], None
    for i in range(start, start + frames):
        a, b = int(i / fps_f * rate), int((i + 1) / fps_f * rate)
        mid = n_fft + (a + b) // 2
        chunk = samples[a:max(b, a + 1)]
        rms.append(float(np.sqrt(np.mean(chunk ** 2))) if chunk.size else 0.0)
        mag = np.abs(np.fft.rfft(padded[mid - n_fft // 2: mid + n_fft // 2] * window))
        for name, (lo, hi) in BANDS.items():
            bands[name].append(float(np.sqrt(np.sum(mag[(freqs >= lo) & (freqs < hi)] ** 2))))
        logmag = np.log1p(mag)
        flux.append(0.0 if prev is None else float(np.maximum(logmag - prev, 0).sum()))
        prev = logmag
    flux = np.array(flux)
    peaks = np.zeros_like(flux)
    for k in range(len(flux)):
        left, right = flux[k - 1] if k else 0.0, flux[k + 1] if k + 1 < len(flux) else 0.0
        peaks[k] = float(flux[k] > left and flux[k] >= right and flux[k] > flux.mean() + flux.std())
    band_top = max(np.percentile(v, 99) for v in bands.values())  # bands share one scale: relative levels stay
    raw = {"rms": _scale(np.array(rms)), "onset": _scale(flux), "beat": peaks,
           **{name: _scale(np.array(v), band_top) for name, v in bands.items()}}
    return {name: smooth(raw[name], fps_f, attack, release) for name in FEATURES}


def frame_timing(path: str, samples: np.ndarray, fps_text: str | None) -> tuple[Fraction, int]:
    """(fps, frames) for the features of `path`: a video's own rate (or `fps_text`) and frame count; an audio
    file's length at `fps_text` (default 24)."""
    from .values import parse_fps

    try:
        info = video.count_frames(video.probe(path))
        fps, frames = (parse_fps(fps_text) if fps_text else info.fps), info.frames
    except UserError:  # an audio file: frames at the rate asked for over its length
        fps = parse_fps(fps_text or "24")
        frames = max(1, int(len(samples) / RATE * fps))
    if not 1 <= fps <= 1000:
        raise UserError(f"bad --fps {fps_text}: give a frame rate from 1 to 1000")
    return fps, frames


def plot(feats: dict[str, np.ndarray], fps: Fraction, path: str, start: int = 0) -> None:
    """Draw the features over time (one row each, frame ticks and seconds marked) into a PNG."""
    import cv2

    from .images import write_image

    n = len(next(iter(feats.values())))
    width, row, left = max(600, min(2400, n * 4)), 70, 60
    img = np.full((row * len(feats) + 30, width + left + 10, 3), 255, np.uint8)
    x = left + np.arange(n) * width / max(n - 1, 1)
    for r, (name, values) in enumerate(feats.items()):
        top = r * row + 8
        cv2.rectangle(img, (left, top), (left + width, top + row - 12), (230, 230, 230), 1)
        pts = np.stack([x, top + (row - 12) * (1 - values)], 1).astype(np.int32)
        cv2.polylines(img, [pts], False, (40, 90, 200), 1, cv2.LINE_AA)
        cv2.putText(img, name, (4, top + row // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    base = row * len(feats)
    if n < width // 3:  # one tick per frame when they fit
        for xi in x:
            cv2.line(img, (int(xi), base - 2), (int(xi), base + 2), (150, 150, 150), 1)
    fps_f = float(fps)
    for s in range(int(np.ceil(start / fps_f)), int((start + n) / fps_f) + 1):
        xs = int(left + (s * fps_f - start) * width / max(n - 1, 1))
        cv2.line(img, (xs, 0), (xs, base), (200, 200, 200), 1)
        cv2.putText(img, f"{s}s", (xs - 8, base + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    write_image(path, img)
