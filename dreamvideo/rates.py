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
