"""Per-frame settings: keyframed and audio-reactive values resolved at each frame's time."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

from . import schedule
from .config import Config, animatable, schema
from .values import short
from .errors import UserError


@dataclass(frozen=True)
class FrameSettings:
    dream: object  # DreamConfig with numbers for this frame
    video: object  # VideoConfig
    zoom: object  # ZoomConfig
    objective: object  # Objective for this frame


def objective_keyframes(spec: str) -> schedule.Keyframes | None:
    """'0s:mixed4, 30s:mixed6' -> keyframes of objective specs; a plain spec -> None."""
    return schedule.parse_keyframes(spec, number_values=False) if schedule._KEY.match(spec or "") else None


_WEIGHT = re.compile(r"\[([^\[\]]*)\]")  # "[0.5 + bass]*mixed4": an animated weight in an objective spec


def animated_values(cfg: Config) -> dict[str, schedule.Animated]:
    """The settings that are animated (keyframes or expressions), as loaded: key -> schedule.Animated."""
    values = {key: _get(cfg, key) for key in animatable()}
    return {key: v for key, v in values.items() if isinstance(v, schedule.Animated)}


def animated_pan(cfg: Config) -> tuple | None:
    pan = cfg.zoom.pan
    return pan if any(isinstance(v, schedule.Animated) for v in pan) else None


def needs_audio(cfg: Config) -> bool:
    animated = list(animated_values(cfg).values()) + list(animated_pan(cfg) or ())
    animated += [schedule.parse(text) for text in _WEIGHT.findall(cfg.objective.spec or "")]
    return any(a.uses_audio for a in animated)


def soundtrack_features(cfg: Config, src: str, fps: Fraction, frames: int, first: int) -> dict | None:
    """Audio features for animated settings, one row per frame of a video job that dreams input frames first ..
    first + frames - 1: from --audio FILE (aligned with the output: row 0 is its first frame) or from the
    input `src`'s own soundtrack (aligned with the input); None when nothing reacts. Scaled and smoothed over
    the whole soundtrack, so a frame reacts the same in a render of a part (--start, --frames, a still) as in
    the whole one."""
    from . import audio

    if not needs_audio(cfg):
        return None
    a = cfg.audio
    samples = audio.read_audio(a.file or src)
    skip = 0 if a.file else first
    whole = max(skip + frames, int(len(samples) / audio.RATE * fps))
    feats = audio.features(samples, fps, whole, attack=a.attack, release=a.release)
    return {name: v[skip:skip + frames] for name, v in feats.items()}


def _get(cfg: Config, key: str):
    section, name = key.split(".")
    return getattr(getattr(cfg, section), name)


class Animator:
    """Resolves every animated setting at a frame: time = frame / fps, features[frame - first]."""

    def __init__(self, cfg: Config, dreamer, fps: Fraction, features: dict[str, np.ndarray] | None = None,
                 first: int = 0):
        self.cfg, self.dreamer, self.fps, self.features, self.first = cfg, dreamer, float(fps), features, first
        self.values = animated_values(cfg)
        self.specs = objective_keyframes(cfg.objective.spec)
        self.pan = animated_pan(cfg)

    @property
    def active(self) -> bool:
        return bool(self.values or self.specs or self.pan or _WEIGHT.search(self.cfg.objective.spec or ""))

    def _one(self, spec: str, t: float, frame: int, feats: dict):
        """The objective of `spec` at this moment: parsed once; animated weights evaluated, nothing re-parsed."""
        obj = self.dreamer.objective_for(spec)
        return obj.at(t, frame, feats, self.fps) if obj.animated else obj

    def _objective(self, t: float, frame: int, feats: dict):
        if not self.specs:
            return self._one(self.cfg.objective.spec, t, frame, feats) if "[" in (self.cfg.objective.spec or "") \
                else self.dreamer.objective
        times, specs = zip(*self.specs.timeline(self.fps))
        k = max([i for i, when in enumerate(times) if when <= t] or [0])
        current = self._one(specs[k], t, frame, feats)
        w = min(1.0, (t - times[k]) / self.cfg.objective.crossfade) if k and self.cfg.objective.crossfade > 0 else 1.0
        if w >= 1.0:
            return current
        return (1 - w) * self._one(specs[k - 1], t, frame, feats) + w * current

    def check(self, frames) -> None:
        """Evaluate every animated value at every frame once, before rendering: a value that is not finite or
        passes its setting's upper limit is refused, naming the setting, the text and the frame."""
        texts = {key: a for key, a in self.values.items()}
        texts.update({f"zoom.pan ({'xy'[i]})": side for i, side in enumerate(self.pan or [])})
        texts.update({f"objective weight [{w}]": schedule.parse(w) for w in _WEIGHT.findall(self.cfg.objective.spec or "")})
        limits = {k: s.meta.limits for k, s in schema().items()}
        for frame in frames:
            t, feats = frame / self.fps, self._features(frame)
            for key, animated in texts.items():
                v = animated.value(t, frame, feats, self.fps)
                hi = (limits.get(key) or (0, 1e6))[1]
                if not math.isfinite(v) or v > hi:
                    raise UserError(f"{key} = '{short(animated.text)}' gives {v} at frame {frame} (t = {t:.2f}s): "
                                    f"keep it finite and at most {hi}")

    def _features(self, frame: int) -> dict:
        if self.features is None:
            return {}
        k = min(max(frame - self.first, 0), len(self.features["rms"]) - 1)
        return {name: float(v[k]) for name, v in self.features.items()}

    def at(self, frame: int) -> FrameSettings:
        t, feats = frame / self.fps, self._features(frame)
        sections = {"dream": self.cfg.dream, "video": self.cfg.video, "zoom": self.cfg.zoom}
        if self.pan:
            x, y = (side.value(t, frame, feats, self.fps) for side in self.pan)
            sections["zoom"] = replace(sections["zoom"], pan=(x, y))
        for key, animated in self.values.items():
            section, name = key.split(".")
            v = animated.value(t, frame, feats, self.fps)
            v = max(1, round(v)) if name == "steps" else max(v, 1.0001) if name == "octave_scale" else max(v, 0.0)
            sections[section] = replace(sections[section], **{name: v})
        return FrameSettings(sections["dream"], sections["video"], sections["zoom"], self._objective(t, frame, feats))
