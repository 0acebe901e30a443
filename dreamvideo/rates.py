"""Frame rates as exact fractions (shared by settings and I/O; imports nothing of either)."""
from __future__ import annotations

from fractions import Fraction


def exact_fps(text: str) -> Fraction:
    """A rate as printed (ffmpeg rounds to 2 decimals) -> the exact rate: 29.97 is 30000/1001, 23.98 is
    24000/1001, 25 is 25."""
    value = Fraction(text)
    if value.denominator != 1:
        ntsc = Fraction(round(value * Fraction(1001, 1000)) * 1000, 1001)
        if abs(float(ntsc) - float(value)) < 0.006:
            return ntsc
    return value


def _counting(fps: Fraction) -> tuple[int, int]:
    """Timecode's frames a second at `fps` (the rate rounded) and the frame numbers drop-frame timecode skips
    at each minute but every tenth (2 at 30000/1001, 4 at 60000/1001; 0: it has none)."""
    base = round(fps)
    return base, {Fraction(30000, 1001): 2, Fraction(60000, 1001): 4}.get(fps, 0)


def timecode_frame(tc: str, fps: Fraction) -> int | None:
    """'HH:MM:SS:FF' (';' before FF: drop-frame) at `fps` -> the frame number it names; None if it cannot be
    at that rate."""
    base, drop = _counting(fps)
    parts = tc.replace(";", ":").replace(".", ":").split(":")
    if len(parts) != 4 or not all(p.isdigit() for p in parts) or (";" in tc and not drop):
        return None
    h, m, s, f = (int(p) for p in parts)
    if m > 59 or s > 59 or f >= base:
        return None
    minutes = 60 * h + m
    skipped = drop * (minutes - minutes // 10) if ";" in tc else 0
    return (3600 * h + 60 * m + s) * base + f - skipped


def frame_timecode(n: int, fps: Fraction, drop_frame: bool) -> str:
    """Frame number n at `fps` -> 'HH:MM:SS:FF' (';' before FF for drop-frame), wrapping at 24 hours."""
    base, drop = _counting(fps)
    drop = drop if drop_frame else 0
    if drop:  # put back the numbers drop-frame skips: `drop` at each minute but every tenth
        ten, minute = base * 600 - 9 * drop, base * 60 - drop
        tens, rest = divmod(n, ten)
        n += 9 * drop * tens + (drop * ((rest - drop) // minute) if rest > drop else 0)
    s, f = divmod(n % (base * 86400), base)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{';' if drop else ':'}{f:02d}"


def shift_timecode(tc: str, frames: int, fps: Fraction) -> str:
    """The timecode `frames` frames after `tc` at `fps` (the output's first frame when a job starts `frames`
    into its input); "" for no timecode or one that cannot be at that rate."""
    n = timecode_frame(tc, fps) if tc else None
    return "" if n is None else frame_timecode(n + frames, fps, ";" in tc)
