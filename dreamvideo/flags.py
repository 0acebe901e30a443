"""The command line's flags: each dreaming flag sets one setting declared in config (its help and default from
there), and resolve_config turns parsed flags into a Config. Nothing heavy is imported: --help is instant."""
from __future__ import annotations

import argparse
import functools
import sys

from .errors import UserError

PREVIEW = {"run.width": "320", "video.duration": "3"}  # smaller and shorter, dreamed with the same settings


@functools.lru_cache(maxsize=1)
def _defaults():
    from .config import load

    return load()


def about(key: str) -> str:
    """A flag's help text: its setting's help and default (in the default preset), as declared in config."""
    from .config import schema

    s = schema()[key]
    section, name = key.split(".")
    value = getattr(getattr(_defaults(), section), name)
    shown = s.meta.text(value) if s.meta.text and not isinstance(value, str) else value
    return f"{s.meta.help} (default: {shown if shown != '' else 'none'})"


SETTING = "setting:"  # the dest of a flag that sets one setting: SETTING + its key


def setting_flag(g, flag: str, key: str, metavar: str, help: str | None = None) -> None:
    """A flag that sets the setting `key`; its help from the settings schema unless given. The value stays
    text here: config.set_value converts and checks it, as for --set."""
    g.add_argument(flag, metavar=metavar, dest=SETTING + key, help=help or about(key))


class Parser(argparse.ArgumentParser):
    """argparse with the project's one-line errors (exit code 2) instead of a usage block."""

    def error(self, message: str):
        print(f"dreamvideo: error: {message} (see `{self.prog} -h`)", file=sys.stderr)
        raise SystemExit(2)


def add_dream_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("dreaming")
    setting_flag(g, "--model", "model.name", "NAME")
    setting_flag(g, "--objective", "objective.spec", "SPEC")
    setting_flag(g, "--octaves", "dream.octaves", "N")
    setting_flag(g, "--octave-scale", "dream.octave_scale", "F")
    setting_flag(g, "--steps", "dream.steps", "N")
    setting_flag(g, "--step-size", "dream.step_size", "F")
    setting_flag(g, "--jitter", "dream.jitter", "PX")
    setting_flag(g, "--seed", "run.seed", "N")
    setting_flag(g, "--width", "run.width", "PX")
    setting_flag(g, "--weights", "model.weights", "PATH")
    setting_flag(g, "--device", "run.device", "cpu|cuda|auto")
    setting_flag(g, "--threads", "run.threads", "N")
    from .config import presets

    g.add_argument("--preset", default="default", metavar="NAME",
                   help=f"settings preset: {', '.join(presets())} (default: default)")
    g.add_argument("--config", metavar="FILE", help="TOML settings file (same tables as the presets)")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any setting, e.g. dream.smooth=1")
    g.add_argument("--overwrite", action="store_true", help="replace an existing output")


def add_video_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("video")
    g.add_argument("--start", metavar="T", help="start at T (seconds, or mm:ss / hh:mm:ss)")
    setting_flag(g, "--frames", "video.frames", "N", "render N frames")
    g.add_argument("--duration", metavar="T", help="render T (seconds, or mm:ss)")
    setting_flag(g, "--lanes", "video.lanes", "N|auto")
    setting_flag(g, "--flow", "video.flow", "dis|farneback|none")
    setting_flag(g, "--blend", "video.blend", "F")
    setting_flag(g, "--evolve", "video.evolve", "F")
    setting_flag(g, "--repaint", "video.repaint", "F")
    setting_flag(g, "--crf", "video.crf", "N")
    setting_flag(g, "--codec", "video.codec", "NAME", "video codec: libx264 (h264), libx265 (h265), libvpx-vp9 (vp9), "
                   "prores_ks (.mov), ffv1 (.mkv) (default: by the output's extension)")
    setting_flag(g, "--encoder-preset", "video.preset", "NAME")
    g.add_argument("--no-audio", action="store_true", help="write no soundtrack (with --audio FILE: react to "
                   "it, write none)")
    g.add_argument("--preview", action="store_true", help="the first 3 s at width 320, dreamed with the same settings; "
                   "for one full-size still, give an image as the output (e.g. still.png)")
    setting_flag(g, "--audio", "audio.file", "FILE", "soundtrack to react to and to write instead of the input's")
    g = p.add_argument_group("many GPUs or hosts (Ray)")
    g.add_argument("--ray", nargs="?", const="", metavar="ADDRESS", help="dream the lanes as Ray tasks: on the "
                   "cluster at ADDRESS, else RAY_ADDRESS or one started with `ray start --head`, else a local one "
                   "(give --lanes N or auto)")
    g.add_argument("--ray-copy", action="store_true", help="with --ray: send the input to the workers and the "
                   "chunks back through Ray's object store (workers without the driver's storage)")
    g.add_argument("--verbose", action="store_true", help="with --ray: a line per finished chunk and its worker")


def seconds(text: str | None, flag: str) -> str | None:
    """'12.5', '1:30' or '0:01:30' -> seconds as text (validated)."""
    if text is None:
        return None
    try:
        value = 0.0
        for part in text.strip().split(":"):
            value = value * 60 + float(part)
    except ValueError:
        raise UserError(f"bad {flag} '{text}': give seconds (12.5) or mm:ss / hh:mm:ss") from None
    if value < 0:
        raise UserError(f"bad {flag} '{text}': it must not be negative")
    return str(value)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="dreamvideo", description="DeepDream for images and videos.",
                                epilog="`dreamvideo IN OUT` picks image or video from the input.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, text in (("dream", "dream an image or a video, chosen from the input (the default command)"),
                       ("image", "dream a still image"), ("video", "dream a video, keeping its sound and timing")):
        s = sub.add_parser(name, help=text, description=text)
        s.add_argument("input")
        s.add_argument("output")
        add_dream_flags(s)
        if name != "image":
            add_video_flags(s)
    text = "an infinite-dream zoom animation from an image (or from noise)"
    s = sub.add_parser("zoom", help=text, description=text + ". Rates are per second, whatever the fps.")
    s.add_argument("paths", nargs="+", metavar="[START] OUT", help="optional start image, then the output")
    add_dream_flags(s)
    g = s.add_argument_group("zoom")
    setting_flag(g, "--frames", "zoom.frames", "N")
    setting_flag(g, "--seconds", "zoom.seconds", "T")
    setting_flag(g, "--fps", "zoom.fps", "F")
    setting_flag(g, "--size", "zoom.size", "WxH")
    setting_flag(g, "--zoom", "zoom.zoom", "F")
    setting_flag(g, "--rotate", "zoom.rotate", "DEG")
    setting_flag(g, "--pan", "zoom.pan", "X,Y")
    setting_flag(g, "--center", "zoom.center", "X,Y")
    g.add_argument("--loop", action="store_true", help="make the end lead seamlessly into the start")
    setting_flag(g, "--codec", "video.codec", "NAME", "ffmpeg video codec, e.g. prores_ks for .mov")
    setting_flag(g, "--audio", "audio.file", "FILE", "soundtrack to react to, written with the animation")
    text = "draw the audio features (rms, onset, beat, bass, mid, high) that can drive the dream"
    s = sub.add_parser("audio", help=text, description=text)
    s.add_argument("input", help="a video, or an audio file")
    s.add_argument("--plot", metavar="PNG", required=True, help="where to draw the features")
    s.add_argument("--fps", metavar="F", default=None, help="frame rate for an audio file, 1 to 1000 (default 24)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing plot")
    sub.add_parser("models", help="list the models and whether their weights are available offline")
    s = sub.add_parser("layers", help="list a model's dreamable layers with their output shapes")
    s.add_argument("model")
    s.add_argument("--size", default="224", metavar="PX or WxH", help="input size for the shapes (default 224)")
    return p


def resolve_config(args):
    from . import config

    overrides = {}
    if getattr(args, "preview", False):
        overrides.update(PREVIEW)
    flags = {dest[len(SETTING):]: v for dest, v in vars(args).items() if dest.startswith(SETTING)}
    if flags.get("run.width") is not None and flags["run.width"].strip() == "0":
        raise UserError("--width 0: give a width of at least 16 pixels, or leave --width out to keep the input's size")
    if getattr(args, "loop", False):
        flags["zoom.loop"] = "true"
    overrides.update({k: v for k, v in flags.items() if v is not None})
    if hasattr(args, "start"):
        if args.duration is not None and flags.get("video.frames") is not None:
            raise UserError("--frames and --duration both say how much to render: give one of them")
        overrides["video.start"] = seconds(args.start, "--start")
        overrides["video.duration"] = seconds(args.duration, "--duration") or overrides.get("video.duration")
        if flags.get("video.frames") is not None:
            overrides.pop("video.duration", None)
        if args.no_audio:
            overrides["video.audio"] = "false"
    return config.load(args.preset, args.config, args.set, overrides)
