"""Settings given as text that are not plain numbers: frame rates, lanes, pairs (sizes, pans, centres),
each parsed to its typed value with a one-line error for a bad one, and shown back as text."""
from __future__ import annotations

import math
import re
from fractions import Fraction

from .errors import UserError
from .rates import exact_fps  # 29.97 means 30000/1001

MAX_LANES = 64


def pair_text(sep: str):
    def text(pair) -> str:
        if pair is None:
            return ""
        if any(hasattr(v, "text") for v in pair):  # an animated pan
            return " ; ".join(v.text for v in pair)
        return sep.join(repr(v).removesuffix(".0") for v in pair)
    return text


def parse_lanes(text: str) -> str:
    text = str(text).strip()
    if not (text == "auto" or (re.fullmatch(r"[0-9]{1,3}", text) and 1 <= int(text) <= MAX_LANES)):
        raise UserError(f"bad value for video.lanes: '{short(text)}'; give a whole number from 1 to {MAX_LANES}, or auto")
    return text


def parse_fps(text: str) -> Fraction:
    try:
        fps = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise UserError(f"bad fps '{text}': give a number such as 24 or 29.97, or a fraction such as 30000/1001") from None
    if not 0 < fps <= 1000:
        raise UserError(f"bad fps '{short(text)}': give a rate above 0 and at most 1000")
    return exact_fps(text.strip()) if "/" not in text else fps


def parse_pan(text: str) -> tuple:
    """'x,y' -> two numbers (empty: no pan); an animated pan 'X ; Y' -> two schedule.Animated (each side a
    number, keyframes or an expression), resolved frame by frame (reactive.Animator)."""
    if ";" not in text:
        return parse_pair(text, "pan") or (0.0, 0.0)
    from .schedule import parse

    sides = text.split(";")
    if len(sides) != 2:
        raise UserError(f"bad pan '{text}': give 'X ; Y', each a number, keyframes or an expression")
    return tuple(parse(side) for side in sides)


def parse_pair(text: str, what: str, positive: bool = False) -> tuple[float, float] | None:
    """'x,y' (or 'WxH' when positive) -> two numbers; empty -> None."""
    if not text.strip():
        return None
    parts = text.lower().replace("x", ",").split(",") if positive else text.split(",")
    try:
        a, b = (float(p) for p in parts)
    except ValueError:
        raise UserError(f"bad {what} '{text}': give two numbers, e.g. {'512x512' if positive else '10,-5'}") from None
    if not (math.isfinite(a) and math.isfinite(b)) or max(abs(a), abs(b)) > 1e6:
        raise UserError(f"bad {what} '{text}': give two finite numbers of at most a million")
    if positive and (a < 16 or b < 16 or a > 16384 or b > 16384 or a != int(a) or b != int(b)):
        raise UserError(f"bad {what} '{text}': give whole pixel sizes from 16 to 16384, e.g. 512x512")
    return (int(a), int(b)) if positive else (a, b)


def short(text: str, limit: int = 60) -> str:
    """A value as it is echoed in a message: cut to `limit` characters."""
    text = str(text)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"
