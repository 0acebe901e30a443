"""Settings: frozen dataclasses, TOML presets from configs/, --config FILE and --set section.key=value."""
from __future__ import annotations

import functools
import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Callable

from .errors import UserError
from .values import MAX_LANES, pair_text, parse_fps, parse_lanes, parse_pair, parse_pan, short


@dataclass(frozen=True)
class Meta:
    """How one setting is checked and shown: declared once, beside its default, with `setting`."""

    help: str
    limits: tuple | None = None  # (lowest, highest) of a number; every number must also be finite
    strict: bool = False  # must be above its lowest, not at it
    at_least: float | None = None  # 0 means off / as is; any other value at least this
    choices: tuple | None = None
    animated: bool = False  # may be keyframes or an expression over audio features (schedule.py), resolved per frame
    parse: Callable | None = None  # text -> the typed value (fps, pairs)
    text: Callable | None = None  # the typed value -> text (TOML, --config)


def setting(default, help: str, **meta):
    """A dataclass field with its default and its Meta."""
    return field(default=default, metadata={"meta": Meta(help, **meta)})




@dataclass(frozen=True)
class ModelConfig:
    name: str = setting("efficientnet_lite0", "the network (see `dreamvideo models`)")
    weights: str = setting("", "a state-dict file; empty: the model's default source")


@dataclass(frozen=True)
class ObjectiveConfig:
    spec: str = setting("", 'what to maximize, e.g. "blocks.10" or "0.5*mixed4 + 1.5*mixed5"; empty: the model\'s default')
    border: int = setting(0, "activation cells ignored at each edge", limits=(0, 64))
    guide: str = setting("", "guide image: layer terms then match its features")
    crossfade: float = setting(1.0, 'seconds over which keyframed objectives ("0s:mixed4, 30s:mixed6") blend',
                               limits=(0.0, 3600.0))


@dataclass(frozen=True)
class DreamConfig:
    octaves: int = setting(4, "scales the image is dreamed at", limits=(1, 12))
    octave_scale: float = setting(1.4, "size ratio between octaves", limits=(1.0, 4.0), strict=True, animated=True)
    steps: int = setting(10, "gradient ascent steps per octave", limits=(0, 1000), animated=True)
    step_size: float = setting(0.015, "step size in [0,1] image units, after gradient normalization",
                               limits=(0.0, 1.0), strict=True, animated=True)
    jitter: int = setting(32, "max random roll in pixels", limits=(0, 1024))
    normalize: str = setting("mean", "per-sample gradient normalization", choices=("mean", "std"))
    smooth: float = setting(0.0, "Gaussian sigma (px) applied to the gradient", limits=(0.0, 50.0))
    clip: bool = setting(True, "clamp the image to [0,1] after every step")
    max_loss: float = setting(0.0, "stop ascending a sample once its score passes this (0: never; in a video, "
                                   "keyframes only)", limits=(0.0, 1e12))
    optimizer: str = setting("ascent", "gradient ascent, or L-BFGS (line search)", choices=("ascent", "lbfgs"))
    tile: int = setting(1024, "tile size for large frames (0: never tile)", limits=(0, 8192), at_least=64)
    from_noise: bool = setting(False, "start from noise instead of the input")
    precision: str = setting("auto", "auto: bf16 on CUDA, fp32 on CPU", choices=("auto", "fp32", "bf16", "fp16"))
    microbatch: int = setting(0, "images/tiles per network call; 0 (auto): 1 on CPU (bit-exact lanes), all on CUDA",
                              limits=(0, 4096))


@dataclass(frozen=True)
class VideoConfig:
    start: float = setting(0.0, "seconds into the input", limits=(0.0, 1e6))
    frames: int = setting(0, "frames to render (0: to the end)", limits=(0, 10**7))
    duration: float = setting(0.0, "seconds to render (0: to the end); frames wins", limits=(0.0, 1e6))
    flow: str = setting("dis", "optical flow for temporal coherence (dis-fine: slower, OpenCV's MEDIUM preset)",
                        choices=("dis", "dis-fine", "farneback", "none"))
    flow_width: int = setting(0, "optical flow on frames scaled to this width, then scaled back (0: full size)",
                              limits=(0, 16384), at_least=32)
    consistency: bool = setting(False, "also stop carrying where the forward and backward flows disagree (a "
                                       "second optical flow per frame; measured to add flicker, see README)")
    blend: float = setting(1.0, "weight of the carried dream on later frames", limits=(0.0, 4.0), animated=True)
    light_steps: int = setting(1, "ascent steps per octave on later frames", limits=(0, 100))
    light_step: float = setting(0.25, "later frames' step size, relative to dream.step_size", limits=(0.0, 10.0),
                                animated=True)
    refresh_octaves: int = setting(0, "the finest octaves later frames are dreamed at (0: by the frame's longer "
                                      "side, 2 up to about 500 px, more above, at most dream.octaves)", limits=(0, 12))
    refresh_turns: bool = setting(True, "each later frame refreshes one of those octaves, in turn, with as many "
                                        "times the step (cost); false: all of them on every frame")
    reveal_boost: float = setting(8.0, "step multiplier where the dream falls short of the keyframe's energy "
                                       "(x shortfall)", limits=(0.0, 100.0))
    refind: bool = setting(True, "where a moving object uncovers the scene again, give it back the keyframe's "
                           "dream, found along the scene's global motion")
    anchor: bool = setting(True, "hold the carried dream on the scene: every other frame, nudge its map to the "
                                 "keyframe toward where the frame matches the keyframe (the chained flows' errors "
                                 "add up: without it the dream slides across the scene)")
    evolve: float = setting(0.0, "0 holds the dream locked to the scene; higher keeps it morphing", limits=(0.0, 10.0))
    temporal: float = setting(0.5, "share of the previous output (warped) kept where tracked: less flicker, softer "
                                   "detail", limits=(0.0, 0.95))
    match_tolerance: float = setting(0.1, "detail is not carried where a frame differs from the previous one by "
                                          "more than this", limits=(0.001, 10.0))
    structure_tolerance: float = setting(0.05, "... nor where the scene's structure differs from the keyframe's by "
                                               "more", limits=(0.001, 10.0))
    soften: float = setting(0.75, "Gaussian sigma (px) on each frame's new dream detail up to 360 px on its longer "
                                  "side, growing with its square root to 4/3 of it at 640 and above: texture finer "
                                  "than the flow's error cannot be carried", limits=(0.0, 5.0))
    soften_smooth: float = setting(1.5, "times that softening where the frame is smooth (sky, walls, smoke, scaled-up "
                                        "footage: the flow is least sure there), the dream's local energy kept: "
                                        "coarser, not weaker (1: off)", limits=(1.0, 5.0))
    refresh_soften: float = setting(1.0, "times video.soften on the detail later frames add (the refresh): more "
                                         "steadies big frames, at the cost of the finest detail (see README)",
                                    limits=(0.0, 5.0))
    refresh_ease: float = setting(0.5, "share of what the refresh adds to a frame that is held back and shown on the "
                                       "next frames, carried along the flow where its step is trusted (0: all at "
                                       "once): the refresh's frame-to-frame noise averaged out, less flicker",
                                  limits=(0.0, 0.95))
    fine_margin: float = setting(0.0, "how far past its keyframe's the finest texture of later frames may grow "
                                      "before it gives way to coarser patterns of the same strength (1: not at all; "
                                      "coarsest, least flicker; 0: by the frame's longer side, 1.25 up to 360 px, "
                                      "1 from 640 px; see README)", limits=(0.0, 100.0), at_least=1.0)
    light_smooth: float = setting(0.0, "Gaussian sigma (px) of the gradient on later frames", limits=(0.0, 50.0))
    light_jitter: int = setting(0, "max random roll (px) on later frames", limits=(0, 1024))
    repaint: float = setting(0.15, "when more than this share of a frame is drawn out past video.stretch (or, "
                                  "with video.repaint_lost, has lost its keyframe's dream), dream it there at every "
                                  "octave, a partial keyframe, and continue from the result (0: never)",
                             limits=(0.0, 1.0))
    repaint_lost: bool = setting(False, "a repaint also when more than video.repaint of a frame has lost its "
                                        "keyframe's dream (revealed or changed content, a figure passing); off: "
                                        "only what the scene draws out is repainted (video.stretch), the regrow "
                                        "and the refresh grow a dream where nothing is carried, and where a figure "
                                        "passed the scene's own dream comes back (README: Where a figure passed)")
    stretch: float = setting(1.6, "when a carried dream has been drawn out this many times more one way than the "
                                  "other (smoke, water, cloth, a turning face), a repaint dreams it afresh there "
                                  "(0: never)", limits=(0.0, 100.0), at_least=1.0)
    rekey: float = setting(0.5, "new keyframe when fewer pixels than this are still tracked", limits=(0.0, 1.0))
    rekey_every: int = setting(0, "also re-key (from the current output) every N frames (0: never)",
                               limits=(0, 100000))
    rekey_mode: str = setting("rebase", "rebase: the current output becomes the keyframe | dream: dream it afresh",
                              choices=("rebase", "dream"))
    cut_threshold: float = setting(0.25, "scene-cut score above which a new shot starts (lower: more cuts)",
                                   limits=(0.0, 10.0))
    lanes: str = setting("1", f"N (1 to {MAX_LANES}) or auto: segments dreamed in lockstep as one batch",
                         parse=lambda text: parse_lanes(text))
    warmup: int = setting(12, "frames a lane starts early where it must split a shot; crossfaded", limits=(0, 1000))
    chunk: int = setting(48, "frames per resumable chunk", limits=(1, 10000))
    codec: str = setting("", "ffmpeg video codec; empty: chosen by the output extension")
    crf: int = setting(18, "H.264/H.265/VP9 quality 0-51, lower is better", limits=(0, 51))
    preset: str = setting("medium", "x264/x265 speed preset")
    audio: bool = setting(True, "keep the input's audio streams")


@dataclass(frozen=True)
class ZoomConfig:
    seconds: float = setting(4.0, "length (frames wins when set)", limits=(0.0, 3600.0))
    frames: int = setting(0, "number of frames (wins over seconds)", limits=(0, 10**6))
    fps: Fraction = setting(Fraction(24), "frames per second, e.g. 24, 29.97 or 30000/1001", parse=lambda t: parse_fps(t),
                            text=str)
    size: tuple | None = setting(None, "WxH; empty: the start image's size, or 512x512 from noise",
                                 parse=lambda t: parse_pair(t, "size", positive=True), text=pair_text("x"))
    zoom: float = setting(1.2, "zoom factor per second (>1 zooms in)", limits=(0.0, 100.0), strict=True, animated=True)
    rotate: float = setting(0.0, "degrees per second, counter-clockwise", limits=(-3600.0, 3600.0), animated=True)
    pan: tuple | str = setting((0.0, 0.0), "x,y pixels per second, or 'X ; Y' animated",
                               parse=lambda t: parse_pan(t), text=pair_text(","))
    center: tuple | None = setting(None, "x,y pixels; empty: the middle", parse=lambda t: parse_pair(t, "center"),
                                   text=pair_text(","))
    loop: bool = setting(False, "make the last frame lead into the first")
    loop_frames: int = setting(0, "crossfade length for --loop (0: a third of the animation, at most 1 s)",
                               limits=(0, 10**5))
    octaves: int = setting(2, "octaves of each frame's dream (the first frame gets the full [dream] settings)",
                           limits=(1, 12))
    steps: int = setting(3, "steps per octave of each frame's dream", limits=(0, 1000))
    color: float = setting(0.5, "pull each frame's LAB mean/std toward the first frame's (0: off, 1: full)",
                           limits=(0.0, 1.0))


@dataclass(frozen=True)
class AudioConfig:
    file: str = setting("", "features (and, for videos, the soundtrack) from this file instead of the input's audio")
    attack: float = setting(0.01, "seconds for features to rise", limits=(0.0, 10.0))
    release: float = setting(0.25, "seconds for features to fall", limits=(0.0, 10.0))


@dataclass(frozen=True)
class RunConfig:
    device: str = setting("auto", "auto: cuda when PyTorch sees a GPU", choices=("auto", "cpu", "cuda"))
    seed: int = setting(0, "seed of all randomness", limits=(0, 2**32 - 1))
    width: int = setting(0, "resize the input to this width first, keeping the aspect ratio (0: as is)",
                         limits=(0, 16384), at_least=16)
    threads: int = setting(0, "CPU threads for the network and flow (0: the cores other programs leave idle)",
                           limits=(0, 256))


@dataclass(frozen=True)
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    dream: DreamConfig = field(default_factory=DreamConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
    zoom: ZoomConfig = field(default_factory=ZoomConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    run: RunConfig = field(default_factory=RunConfig)


@dataclass(frozen=True)
class Setting:
    """One setting of the schema: its key 'section.name', type, default and Meta."""

    key: str
    kind: type
    default: object
    meta: Meta


@functools.lru_cache(maxsize=1)
def schema() -> dict[str, Setting]:
    """Every setting, 'section.name' -> Setting, derived once from the dataclasses above (do not modify)."""
    out = {}
    for s in fields(Config):
        for f in fields(s.default_factory):
            kind = type(f.default) if f.metadata["meta"].parse is None else object
            out[f"{s.name}.{f.name}"] = Setting(f"{s.name}.{f.name}", kind, f.default, f.metadata["meta"])
    return out


def animatable() -> tuple[str, ...]:
    """The keys whose values may be keyframes or expressions (resolved per frame)."""
    return tuple(k for k, s in schema().items() if s.meta.animated)


def check_number(key: str, value: float) -> None:
    """Refuse a number that is not finite or lies outside the setting's limits."""
    if not math.isfinite(value):
        raise UserError(f"bad value for {key}: {value}; give a finite number")
    m = schema()[key].meta
    if m.limits is None:
        return
    lo, hi = m.limits
    if value < lo or value > hi or (m.strict and value == lo):
        raise UserError(f"bad value for {key}: {value}; it must be {'>' if m.strict else '>='} {lo} and <= {hi}")
    if m.at_least and 0 < value < m.at_least:
        raise UserError(f"bad value for {key}: {value}; give 0 (off) or at least {m.at_least}")


_KIND_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "text"}


def _convert(s: Setting, value):
    """A value from TOML or the command line as the setting's type (animated text kept as text)."""
    key, kind = s.key, s.kind
    if s.meta.animated and isinstance(value, str):
        from .schedule import Constant, parse

        animated = parse(value)  # raises UserError naming the position
        if not isinstance(animated, Constant):
            return animated  # keyframes or an expression: the animator asks it for a number per frame
        value = animated.number if kind is float else value
    if s.meta.parse is not None:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # TOML: lanes = 2, fps = 24
        if not isinstance(value, str):
            raise UserError(f"bad value for {key}: {short(repr(value))}; give it as text, e.g. \"{s.meta.text(s.default) if s.meta.text else s.default}\"")
        return s.meta.parse(value)
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
    """A copy of cfg with `key` ('section.field') set; the value is converted to its type and validated."""
    settings = schema()
    if key not in settings:
        raise UserError(f"unknown setting '{short(key)}': valid keys are {', '.join(settings)}")
    s = settings[key]
    value = _convert(s, value)
    if s.meta.choices and value not in s.meta.choices:
        raise UserError(f"bad value for {key}: '{short(value)}'; choose one of {', '.join(s.meta.choices)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        check_number(key, value)
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
    for section in fields(cfg):
        lines.append(f"[{section.name}]")
        for f in fields(section.default_factory):
            value, m = getattr(getattr(cfg, section.name), f.name), f.metadata["meta"]
            if m.text is not None and not isinstance(value, str):
                value = m.text(value)
            elif hasattr(value, "text"):  # an animated value
                value = value.text
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, str):
                text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
            else:
                text = repr(value)
            lines.append(f"{f.name} = {text}")
        lines.append("")
    return "\n".join(lines)
