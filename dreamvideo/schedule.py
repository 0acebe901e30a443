"""Animated settings: a constant, keyframes over time, or a safe arithmetic expression over audio features.

    "0.02"                              a constant
    "0s:0.01, 12.5s:0.03, 20s:0.01"     keyframes in seconds (or frames: "300f:0.03"), linear in between
    "smooth 0s:0.01, 4s:0.03"           eased in and out; "hold 0s:0.01, 4s:0.03" steps
    "0.01 + 0.03*bass"                  an expression over rms, onset, beat, bass, mid, high and t (seconds)
Before the first keyframe the first value holds, after the last the last one.
"""
from __future__ import annotations

import ast
import math
import re
from typing import Mapping

from .errors import UserError

FEATURES = ("rms", "onset", "beat", "bass", "mid", "high")
NAMES = FEATURES + ("t",)
FUNCTIONS = {"min": min, "max": max, "abs": abs, "sin": math.sin, "cos": math.cos,
             "clip": lambda x, lo, hi: min(max(x, lo), hi)}
ARITY = {"min": (2, 8), "max": (2, 8), "abs": (1, 1), "sin": (1, 1), "cos": (1, 1), "clip": (3, 3)}
MAX_LENGTH, MAX_DEPTH = 1000, 60  # characters, and nesting of an expression
MODES = ("linear", "smooth", "hold")
_KEY = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([sf]?)\s*:")


class Animated:
    """A setting's value at a moment: value(t seconds, frame number, {feature: value in [0,1]}). Settings hold
    one where a value is animated; two are equal when their texts are (saved settings read back equal)."""

    text: str
    uses_audio = False

    def __eq__(self, other) -> bool:
        return isinstance(other, Animated) and type(other) is type(self) and other.text == self.text

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.text))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.text!r})"

    def value(self, t: float, frame: int, features: Mapping[str, float] = {}, fps: float = 25.0) -> float:
        """The value at t seconds (frame number `frame`, frame rate `fps` for keyframes given in frames)."""
        raise NotImplementedError


class Constant(Animated):
    def __init__(self, text: str, number: float):
        self.text, self.number = text, number

    def value(self, t, frame, features={}, fps=25.0):
        return self.number


class Keyframes(Animated):
    """Values at keyframes with linear, smooth or hold interpolation. Values may be text (objectives)."""

    def __init__(self, text: str, keys: list[tuple[float, bool, object]], mode: str):
        self.text, self.mode = text, mode
        self.keys = keys  # (time, in frames?, value), in the order written; timeline() sorts

    def timeline(self, fps: float) -> list[tuple[float, object]]:
        """(seconds, value) in time order, whatever order they were written in."""
        return sorted(((k / fps if frames else k, v) for k, frames, v in self.keys), key=lambda kv: kv[0])

    def locate(self, t: float, fps: float) -> tuple[object, object, float]:
        """(value before, value after, progress 0..1 between them) at time t."""
        times, values = zip(*self.timeline(fps))
        if t <= times[0]:
            return values[0], values[0], 0.0
        for i in range(1, len(times)):
            if t < times[i]:
                u = (t - times[i - 1]) / (times[i] - times[i - 1])
                u = 0.0 if self.mode == "hold" else u * u * (3 - 2 * u) if self.mode == "smooth" else u
                return values[i - 1], values[i], u
        return values[-1], values[-1], 0.0

    def value(self, t, frame, features={}, fps: float = 25.0):
        a, b, u = self.locate(t, fps)
        return float(a) + (float(b) - float(a)) * u


class Expression(Animated):
    """Arithmetic over the feature names and t; nothing else is allowed (no Python evaluation)."""

    def __init__(self, text: str):
        self.text = text
        if len(text) > MAX_LENGTH:
            raise UserError(f"expression '{text[:40]}...' is too long ({len(text)} characters; at most {MAX_LENGTH})")
        try:
            self.tree = ast.parse(text.strip(), mode="eval").body
        except (SyntaxError, RecursionError, MemoryError) as e:
            raise UserError(f"cannot parse '{text}' at position {max((e.offset or 1) - 1, 0)}: "
                            f"give a number, keyframes like '0s:0.01, 4s:0.03', or an expression like '0.01 + 0.03*bass'") from None
        used = set()
        for node in ast.walk(self.tree):
            self._check(node, used)
        if _depth(self.tree) > MAX_DEPTH:
            raise UserError(f"expression '{text[:40]}' nests too deeply (at most {MAX_DEPTH} levels)")
        self.uses_audio = bool(used & set(FEATURES))

    def _check(self, node, used: set) -> None:
        allowed = (ast.BinOp, ast.UnaryOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd, ast.Load)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return
        if isinstance(node, ast.Name) and node.id in NAMES:
            used.add(node.id)
            return
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS and \
                not node.keywords:
            lo, hi = ARITY[node.func.id]
            if not lo <= len(node.args) <= hi or any(isinstance(a, ast.Starred) for a in node.args):
                want = str(lo) if lo == hi else f"{lo} to {hi}"
                raise UserError(f"'{self.text}' at position {node.col_offset}: {node.func.id}() takes {want} "
                                f"arguments, got {len(node.args)}")
            return
        if isinstance(node, ast.Name) and node.id in FUNCTIONS:
            return  # the function name of an allowed call
        if isinstance(node, allowed):
            return
        where = getattr(node, "col_offset", 0)
        what = f"'{node.id}'" if isinstance(node, ast.Name) else type(node).__name__.lower()
        raise UserError(f"'{self.text}' at position {where}: {what} is not allowed; use numbers, + - * / **, "
                        f"the names {', '.join(NAMES)} and {', '.join(FUNCTIONS)}()")

    def value(self, t, frame, features={}, fps=25.0):
        """The value (nan where the arithmetic fails: Animator.check refuses it before rendering)."""
        try:
            return float(self._eval(self.tree, {**features, "t": t}))
        except (ArithmeticError, ValueError):
            return math.nan

    def _eval(self, node, env):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return env.get(node.id, 0.0)
        if isinstance(node, ast.UnaryOp):
            v = self._eval(node.operand, env)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.Call):
            return FUNCTIONS[node.func.id](*(self._eval(a, env) for a in node.args))
        a, b = self._eval(node.left, env), self._eval(node.right, env)
        op = type(node.op)
        if op is ast.Div:
            return a / b if b else 0.0
        if op is ast.Pow:
            return math.pow(abs(a), min(b, 64.0))
        return a + b if op is ast.Add else a - b if op is ast.Sub else a * b


def _depth(tree: ast.AST) -> int:
    """How deeply an expression nests (counted without recursion)."""
    deepest, todo = 0, [(tree, 1)]
    while todo:
        node, d = todo.pop()
        deepest = max(deepest, d)
        todo += [(child, d + 1) for child in ast.iter_child_nodes(node)]
    return deepest


def parse_keyframes(text: str, number_values: bool = True) -> Keyframes:
    """'[mode] KEY:VALUE, KEY:VALUE ...' with KEY like 12.5s or 300f (seconds by default)."""
    body, mode = text.strip(), "linear"
    first = body.split(None, 1)[0] if body else ""
    if first in MODES:
        mode, body = first, body[len(first):]
    keys, pos = [], 0
    for part in body.split(","):
        m = _KEY.match(part)
        offset = len(text) - len(body) + pos + len(part) - len(part.lstrip())  # where the token starts
        if not m or not part[m.end():].strip():
            raise UserError(f"cannot parse keyframes '{text}' at position {offset}: expected TIME:VALUE such as 2.5s:0.03")
        raw = part[m.end():].strip()
        if number_values:
            try:
                raw = float(raw)
            except ValueError:
                at = offset + m.end() - (len(part) - len(part.lstrip())) + len(part[m.end():]) - len(part[m.end():].lstrip())
                raise UserError(f"keyframes '{text}' at position {at}: '{raw}' is not a number") from None
        if number_values and not math.isfinite(raw):
            raise UserError(f"keyframes '{text[:60]}' at position {offset}: {raw} is not a finite number")
        keys.append((float(m.group(1)), m.group(2) == "f", raw))
        pos += len(part) + 1
    if len({(k, f) for k, f, _ in keys}) < len(keys):
        raise UserError(f"keyframes '{text[:60]}' give the same time twice: give each time once")
    return Keyframes(text, keys, mode)


def parse(text) -> Animated:
    """A setting's text (or number) -> Constant, Keyframes or Expression; a UserError names the position."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return Constant(str(text), float(text))
    s = str(text).strip()
    try:
        return Constant(s, float(s))
    except ValueError:
        pass
    if _KEY.match(s) or (s.split(None, 1)[0] in MODES if s else False):
        return parse_keyframes(s)
    return Expression(s)
