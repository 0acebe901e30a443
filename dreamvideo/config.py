"""Settings: frozen dataclasses, TOML presets from configs/, --config FILE and --set section.key=value."""
from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from fractions import Fraction
from importlib import resources
from pathlib import Path

from .errors import UserError
from .rates import exact_fps  # 29.97 means 30000/1001


@dataclass(frozen=True)
class ModelConfig:
    name: str = "efficientnet_lite0"
    weights: str = ""  # a state-dict file; empty: the model's default source


@dataclass(frozen=True)
class ObjectiveConfig:
    spec: str = ""  # e.g. "blocks.10" or "0.5*mixed4 + 1.5*mixed5"; empty: the model's default
    border: int = 0  # activation cells ignored at each edge (Keras example)
    guide: str = ""  # guide image: layer terms then match its features
    crossfade: float = 1.0  # seconds over which keyframed objectives (spec = "0s:mixed4, 30s:mixed6") blend


@dataclass(frozen=True)
class DreamConfig:
    octaves: int = 4
    octave_scale: float = 1.4
    steps: int = 10  # per octave
    step_size: float = 0.015  # in [0,1] image units, per step, after gradient normalization
    jitter: int = 32  # max random roll in pixels
    normalize: str = "mean"  # mean | std  (per-sample gradient normalization)
    smooth: float = 0.0  # Gaussian sigma (px) applied to the gradient
    clip: bool = True  # clamp the image to [0,1] after every step
    max_loss: float = 0.0  # stop ascending a sample once its score passes this (0: never)
    optimizer: str = "ascent"  # ascent | lbfgs
    tile: int = 1024  # tile size for large frames (0: never tile)
    from_noise: bool = False  # start from noise instead of the input
    precision: str = "auto"  # auto (bf16 on CUDA, fp32 on CPU) | fp32 | bf16 | fp16
    microbatch: int = 0  # images/tiles per network call; 0 (auto): 1 on CPU (bit-exact lanes), all on CUDA


@dataclass(frozen=True)
class VideoConfig:
    start: float = 0.0  # seconds into the input
    frames: int = 0  # frames to render (0: to the end)
    duration: float = 0.0  # seconds to render (0: to the end); frames wins
    flow: str = "dis"  # dis | farneback | none
    flow_width: int = 0  # optical flow estimated on frames scaled to this width, then scaled back (0: full size)
    blend: float = 1.0  # weight of the carried dream detail on later frames
    light_steps: int = 1  # ascent steps per octave on later frames
    light_step: float = 0.25  # later frames' step size, relative to dream.step_size
    refresh_octaves: int = 2  # the finest octaves later frames are dreamed at
    coarse_every: int = 2  # ... all of them on every Nth frame, the finest alone on the others (cost)
    reveal_boost: float = 6.0  # step multiplier where the dream falls short of the keyframe's energy (x shortfall)
    evolve: float = 0.0  # step multiplier everywhere: 0 holds the dream locked to the scene, higher keeps it growing
    temporal: float = 0.5  # share of the previous output (warped) kept where tracked: less flicker, softer detail
    match_tolerance: float = 0.1  # detail is not carried where a frame differs from the previous one by more than this
    structure_tolerance: float = 0.05  # ... nor where the scene's structure differs from the keyframe's by more
    soften: float = 0.6  # Gaussian sigma (px) on each frame's new dream detail: pixel-fine texture no motion can carry
    light_smooth: float = 0.0  # Gaussian sigma (px) of the gradient on later frames
    light_jitter: int = 0  # max random roll (px) on later frames: 0 makes each frame's step follow the scene
    rekey: float = 0.5  # new keyframe when fewer pixels than this are still tracked
    rekey_every: int = 0  # also re-key (from the current output) every N frames (0: never)
    rekey_mode: str = "rebase"  # rebase: the current output becomes the keyframe | dream: dream the frame afresh
    cut_threshold: float = 0.25  # scene-cut score above which a new shot starts (lower: more cuts)
    lanes: str = "1"  # N or auto: contiguous segments dreamed in lockstep as one batch
    warmup: int = 12  # frames a lane starts early where it must split a shot; crossfaded
    chunk: int = 48  # frames per resumable chunk
    codec: str = ""  # ffmpeg video codec; empty: chosen by the output extension
    crf: int = 18
    preset: str = "medium"  # encoder speed preset
    audio: bool = True  # keep the input's audio streams


@dataclass(frozen=True)
class ZoomConfig:
    seconds: float = 4.0  # length (frames wins when set)
    frames: int = 0
    fps: str = "24"  # a number or a fraction such as 30000/1001
    size: str = ""  # WxH; empty: the start image's size, or 512x512 from noise
    zoom: float = 1.2  # factor per second (>1 zooms in)
    rotate: float = 0.0  # degrees per second, counter-clockwise
    pan: str = "0,0"  # x,y pixels per second
    center: str = ""  # x,y pixels; empty: the middle
    loop: bool = False  # make the last frame lead into the first
    loop_frames: int = 0  # crossfade length for --loop (0: a third of the animation, at most 1 s)
    octaves: int = 2  # per-frame dream (the first frame gets the full [dream] settings)
    steps: int = 3
    color: float = 0.5  # pull each frame's LAB mean/std toward the first frame's (0: off, 1: full)


@dataclass(frozen=True)
class AudioConfig:
    file: str = ""  # features (and, for videos, the soundtrack) from this file instead of the input's audio
    attack: float = 0.01  # seconds for features to rise
    release: float = 0.25  # seconds for features to fall


@dataclass(frozen=True)
class RunConfig:
    device: str = "auto"  # auto | cpu | cuda
    seed: int = 0
    width: int = 0  # resize the input to this width first, keeping the aspect ratio (0: as is)
    threads: int = 0  # CPU threads for the network and flow (0: the cores other programs leave idle)


@dataclass(frozen=True)
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    dream: DreamConfig = field(default_factory=DreamConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
    zoom: ZoomConfig = field(default_factory=ZoomConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    run: RunConfig = field(default_factory=RunConfig)


CHOICES = {
    "dream.normalize": ("mean", "std"),
    "dream.optimizer": ("ascent", "lbfgs"),
    "dream.precision": ("auto", "fp32", "bf16", "fp16"),
    "run.device": ("auto", "cpu", "cuda"),
    "video.flow": ("dis", "farneback", "none"),
    "video.rekey_mode": ("rebase", "dream"),
}
# Limits of each number: (lowest, highest); STRICT keys must be above their lowest. Every number is also finite.
LIMITS = {
    "dream.octaves": (1, 12), "dream.octave_scale": (1.0, 4.0), "dream.steps": (0, 1000),
    "dream.step_size": (0.0, 1.0), "dream.jitter": (0, 1024), "dream.smooth": (0.0, 50.0),
    "dream.max_loss": (0.0, 1e12), "dream.tile": (0, 8192), "dream.microbatch": (0, 4096),
    "objective.border": (0, 64), "objective.crossfade": (0.0, 3600.0),
    "run.width": (0, 16384), "run.seed": (0, 2**32 - 1), "run.threads": (0, 256),
    "video.start": (0.0, 1e6), "video.frames": (0, 10**7), "video.duration": (0.0, 1e6), "video.blend": (0.0, 4.0),
    "video.light_steps": (0, 100), "video.light_step": (0.0, 10.0), "video.reveal_boost": (0.0, 100.0),
    "video.refresh_octaves": (1, 12), "video.coarse_every": (1, 1000), "video.temporal": (0.0, 0.95), "video.rekey_every": (0, 100000), "video.light_jitter": (0, 1024), "video.evolve": (0.0, 10.0), "video.match_tolerance": (0.001, 10.0), "video.structure_tolerance": (0.001, 10.0),
    "video.light_smooth": (0.0, 50.0), "video.soften": (0.0, 5.0), "video.rekey": (0.0, 1.0), "video.cut_threshold": (0.0, 10.0),
    "video.warmup": (0, 1000), "video.flow_width": (0, 16384), "video.chunk": (1, 10000), "video.crf": (0, 51),
    "zoom.seconds": (0.0, 3600.0), "zoom.frames": (0, 10**6), "zoom.zoom": (0.0, 100.0), "zoom.rotate": (-3600.0, 3600.0),
    "zoom.loop_frames": (0, 10**5), "zoom.octaves": (1, 12), "zoom.steps": (0, 1000), "zoom.color": (0.0, 1.0),
    "audio.attack": (0.0, 10.0), "audio.release": (0.0, 10.0),
}
STRICT = ("dream.octave_scale", "dream.step_size", "zoom.zoom")
ZERO_OR_AT_LEAST = {"dream.tile": 64, "run.width": 16, "video.flow_width": 32}  # 0 means "off" / "as is"; otherwise at least this
MAX_LANES = 64


def check_number(key: str, value: float) -> None:
    """Refuse a number that is not finite or lies outside the setting's limits."""
    if not math.isfinite(value):
        raise UserError(f"bad value for {key}: {value}; give a finite number")
    if key not in LIMITS:
        return
    lo, hi = LIMITS[key]
    strict = key in STRICT
    if value < lo or value > hi or (strict and value == lo):
        raise UserError(f"bad value for {key}: {value}; it must be {'>' if strict else '>='} {lo} and <= {hi}")
    if key in ZERO_OR_AT_LEAST and 0 < value < ZERO_OR_AT_LEAST[key]:
        raise UserError(f"bad value for {key}: {value}; give 0 (off) or at least {ZERO_OR_AT_LEAST[key]}")


def parse_fps(text: str) -> Fraction:
    try:
        fps = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise UserError(f"bad fps '{text}': give a number such as 24 or 29.97, or a fraction such as 30000/1001") from None
    if not 0 < fps <= 1000:
        raise UserError(f"bad fps '{short(text)}': give a rate above 0 and at most 1000")
    return exact_fps(text.strip()) if "/" not in text else fps


def parse_pair(text: str, what: str, positive: bool = False) -> tuple[float, float] | None:
    """'x,y' (or 'WxH' when positive) -> two numbers; empty -> None. An animated pan 'X ; Y' (each side
    keyframes or an expression) is checked here and resolved frame by frame (reactive.Animator)."""
    if not text.strip():
        return None
    if what == "pan" and ";" in text:
        from .schedule import parse

        sides = text.split(";")
        if len(sides) != 2:
            raise UserError(f"bad pan '{text}': give 'X ; Y', each a number, keyframes or an expression")
        for side in sides:
            parse(side)
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
    return a, b


PARSERS = {
    "zoom.fps": parse_fps,
    "zoom.size": lambda v: parse_pair(v, "size", positive=True),
    "zoom.pan": lambda v: parse_pair(v, "pan"),
    "zoom.center": lambda v: parse_pair(v, "center"),
}


def keys(cfg: Config | None = None) -> dict[str, type]:
    """Every settable key as 'section.field' -> its type."""
    cfg = cfg or Config()
    return {f"{s.name}.{f.name}": type(getattr(getattr(cfg, s.name), f.name))
            for s in fields(cfg) for f in fields(getattr(cfg, s.name))}


def short(text: str, limit: int = 60) -> str:
    """A value as it is echoed in a message: cut to `limit` characters."""
    text = str(text)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


_KIND_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "text"}


# Settings that may be keyframes or expressions over audio features instead of numbers (schedule.py).
ANIMATABLE = ("dream.step_size", "dream.steps", "dream.octave_scale", "video.blend", "video.light_step",
              "zoom.zoom", "zoom.rotate")


def _convert(key: str, value, kind: type):
    if key in ANIMATABLE and isinstance(value, str):
        from .schedule import Constant, parse

        animated = parse(value)  # raises UserError naming the position
        if not isinstance(animated, Constant):
            return animated.text
        value = animated.number if kind is float else value
    if key == "video.lanes" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # TOML: lanes = 2
    if isinstance(value, str) and kind is not str:
        text = value.strip().lower()
        try:
            if kind is bool:
                if text not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                    raise ValueError
                return text in ("true", "1", "yes", "on")
            return kind(text)
        except ValueError:
            raise UserError(f"bad value for {key}: '{short(value)}' is not {_KIND_NAMES[kind]}") from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UserError(f"bad value for {key}: {short(repr(value))} is not {_KIND_NAMES[kind]}")
    return value


def set_value(cfg: Config, key: str, value) -> Config:
    """A copy of cfg with `key` ('section.field') set; the value is type-checked and validated."""
    kinds = keys(cfg)
    if key not in kinds:
        raise UserError(f"unknown setting '{short(key)}': valid keys are {', '.join(kinds)}")
    value = _convert(key, value, kinds[key])
    if key in CHOICES and value not in CHOICES[key]:
        raise UserError(f"bad value for {key}: '{short(value)}'; choose one of {', '.join(CHOICES[key])}")
    if isinstance(value, str) and key in ANIMATABLE:  # animated: checked frame by frame
        section, name = key.split(".")
        return replace(cfg, **{section: replace(getattr(cfg, section), **{name: value})})
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        check_number(key, value)
    if key == "video.lanes" and not (value == "auto" or (re.fullmatch(r"[0-9]{1,3}", value)
                                                         and 1 <= int(value) <= MAX_LANES)):
        raise UserError(f"bad value for video.lanes: '{short(value)}'; give a whole number from 1 to {MAX_LANES}, or auto")
    if key in PARSERS:
        PARSERS[key](value)  # raises UserError when malformed
    section, name = key.split(".")
    return replace(cfg, **{section: replace(getattr(cfg, section), **{name: value})})


def merge_table(cfg: Config, table: dict, source: str) -> Config:
    """Apply a parsed TOML table {section: {field: value}}."""
    for section, values in table.items():
        if not isinstance(values, dict):
            raise UserError(f"{source}: '{section}' must be a table such as [{section}]")
        for name, value in values.items():
            cfg = set_value(cfg, f"{section}.{name}", value)
    return cfg


def preset_dir() -> Path:
    return Path(str(resources.files("dreamvideo.configs")))


def presets() -> list[str]:
    return sorted(p.stem for p in preset_dir().glob("*.toml"))


def read_toml(path: Path, what: str) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise UserError(f"{what} not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as e:
        raise UserError(f"cannot read {what} {path}: {e}") from None


def load(preset: str = "default", config_file: str | None = None, sets: list[str] = (),
         overrides: dict | None = None) -> Config:
    """Defaults < preset < --config file < explicit flags (`overrides`) < --set."""
    if preset not in presets():
        raise UserError(f"unknown preset '{preset}': choose one of {', '.join(presets())}")
    cfg = merge_table(Config(), read_toml(preset_dir() / f"{preset}.toml", "preset"), f"preset {preset}")
    if config_file:
        cfg = merge_table(cfg, read_toml(Path(config_file), "config file"), config_file)
    for key, value in (overrides or {}).items():
        if value is not None:
            cfg = set_value(cfg, key, value)
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--set needs key=value, got '{item}' (e.g. --set dream.steps=20)")
        cfg = set_value(cfg, key.strip(), value)
    check_optimizer(cfg.dream)
    return cfg


# L-BFGS chooses its own step by line search and runs each sample whole in fp32: these settings would do nothing.
NOT_WITH_LBFGS = ("step_size", "normalize", "smooth", "clip", "max_loss", "tile")


def check_optimizer(dream: DreamConfig) -> None:
    """Refuse settings that dream.optimizer = "lbfgs" cannot honour (one line naming them)."""
    if dream.optimizer != "lbfgs":
        return
    default = DreamConfig()
    unused = [f"dream.{k}" for k in NOT_WITH_LBFGS if getattr(dream, k) != getattr(default, k)]
    if dream.precision not in ("auto", "fp32"):
        unused.append("dream.precision")
    if unused:
        raise UserError(f"{', '.join(unused)} {'has' if len(unused) == 1 else 'have'} no effect with dream.optimizer = "
                        "lbfgs (its line search sets the step; it runs whole images in fp32): leave "
                        f"{'it' if len(unused) == 1 else 'them'} out or use dream.optimizer = ascent")


def to_toml(cfg: Config) -> str:
    """The resolved settings as TOML text (readable back with --config)."""
    lines = []
    for section, values in dataclasses.asdict(cfg).items():
        lines.append(f"[{section}]")
        for name, value in values.items():
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, str):
                text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
            else:
                text = repr(value)
            lines.append(f"{name} = {text}")
        lines.append("")
    return "\n".join(lines)
