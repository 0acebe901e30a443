"""Command line: subcommands -> Config -> library call. Heavy modules (torch) are imported lazily."""
from __future__ import annotations

import argparse
import errno
import functools
import os
import sys
import tempfile

from .errors import UserError

COMMANDS = ("image", "video", "zoom", "audio", "models", "layers")
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
    g.add_argument("--no-audio", action="store_true", help="drop the soundtrack")
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
        overrides["video.start"] = seconds(args.start, "--start")
        overrides["video.duration"] = seconds(args.duration, "--duration") or overrides.get("video.duration")
        if flags.get("video.frames") is not None:
            overrides.pop("video.duration", None)
        if args.no_audio:
            overrides["video.audio"] = "false"
    return config.load(args.preset, args.config, args.set, overrides)


def check_input(src: str) -> None:
    if not os.path.exists(src):
        raise UserError(f"input not found: {src}")
    if not os.path.isfile(src) or not os.access(src, os.R_OK):
        raise UserError(f"input is not a readable file: {src}")


def present(path: str) -> list[str]:
    """The file a single-file output would replace, if any."""
    return [path] if os.path.lexists(path) else []


def check_output(dst: str, existing: list[str], overwrite: bool, inputs: list[str] = ()) -> None:
    """Refuse an output that cannot be written, or that would replace an input or (without --overwrite) any
    file, before any work is done. `existing`: the files the output would replace."""
    if os.path.isdir(dst):
        raise UserError(f"output is a folder: {dst}; give a file name inside it")
    folder = os.path.dirname(os.path.abspath(dst))
    if not os.path.isdir(folder):
        raise UserError(f"output folder does not exist: {folder}")
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as e:
        raise UserError(f"cannot write to the output folder {folder} ({e.strerror}): choose another folder") from None
    for path in existing:
        for src in filter(None, inputs):
            if os.path.exists(src) and os.path.samefile(src, path):
                raise UserError(f"the output would replace the input {src}: choose another output name")
    if existing and not overwrite:
        what = existing[0] if len(existing) == 1 else f"{len(existing)} files such as {existing[0]}"
        raise UserError(f"output exists: {what} (add --overwrite to replace it)")


def say(line: str) -> None:
    """A line for the person running the command, printed above the progress bar (not through it)."""
    from tqdm import tqdm

    tqdm.write(line)


def progress_bar(desc: str, unit: str = "step"):
    """A tqdm bar whose rate (and so its ETA) is the average since the first unit finished: the first frame of
    a video or zoom is a full dream, many times the cost of the frames that follow."""
    import time

    from tqdm import tqdm

    bars = []

    def factory(total: int):
        bar = tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, smoothing=0)
        bars.append(bar)

        def update(n: int) -> None:
            first = bar.n == 0
            bar.update(n)
            if first:  # time from here on
                bar.start_t, bar.initial = time.time(), bar.n

        return update

    return factory, bars


def save_settings(path: str, what: str, cfg) -> None:
    """The resolved settings as TOML beside the output (written atomically)."""
    from .config import to_toml

    tmp = f"{path}.part{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(f"# dreamvideo settings for {os.path.basename(what)}; rerun with --config this file\n")
            f.write(to_toml(cfg))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def render(work, out: str, settings: str, cfg, desc: str, unit: str) -> int:
    """Run work(progress_factory) with a progress bar, then save the settings beside the output."""
    factory, bars = progress_bar(desc, unit)
    try:
        warnings = work(factory) or []
    finally:
        for b in bars:
            b.close()
    for w in warnings:
        print(f"dreamvideo: warning: {w}", file=sys.stderr)
    save_settings(settings, out, cfg)
    print(f"wrote {out}")
    return 0


def warn_no_sound(spec, src: str | None, cfg) -> None:
    """GIF, WebP and PNG sequences hold no sound: say so when there was some to keep."""
    if spec.keeps_audio or not (cfg.audio.file or (src and cfg.video.audio)):
        return
    from . import video

    if cfg.audio.file or video.probe(src).audio:
        print(f"dreamvideo: note: {spec.ext} output holds no sound; the soundtrack is not written "
              f"(use .mp4, .mov, .mkv or .webm to keep it)", file=sys.stderr)


def check_ray_flags(args, video: bool) -> None:
    """--ray is for videos; --ray-copy and --verbose only mean something with it."""
    ray = getattr(args, "ray", None)
    if ray is not None and not video:
        raise UserError("--ray dreams the lanes of a video: leave it out for a still image")
    for flag in ("ray_copy", "verbose"):
        if getattr(args, flag, False) and ray is None:
            raise UserError(f"--{flag.replace('_', '-')} goes with --ray: add --ray, or leave it out")


def cmd_image(args) -> int:
    from .images import IMAGE_EXTENSIONS

    check_input(args.input)
    check_ray_flags(args, video=False)
    ext = os.path.splitext(args.output)[1].lower()
    if ext not in IMAGE_EXTENSIONS:
        raise UserError(f"{args.input} is a still image, so the output must be an image "
                        f"({', '.join(IMAGE_EXTENSIONS)}); for an animation from it use `dreamvideo zoom {args.input} "
                        f"{args.output}`")
    check_output(args.output, present(args.output), args.overwrite, [args.input])
    cfg = resolve_config(args)
    from .runner import apply_threads

    apply_threads(cfg)
    from .runner import dream_image

    return render(lambda progress: dream_image(args.input, args.output, cfg, progress), args.output,
                  args.output + ".toml", cfg, "dreaming", "step")


def cmd_video(args) -> int:
    from .output import is_still, output_spec

    check_input(args.input)
    check_ray_flags(args, video=not is_still(args.output))
    if is_still(args.output):
        return cmd_still(args)
    cfg = resolve_config(args)
    spec = output_spec(args.output, cfg.video.codec, cfg.video.crf, cfg.video.preset)
    check_output(args.output, spec.existing(), args.overwrite, [args.input, cfg.audio.file])
    warn_no_sound(spec, args.input, cfg)
    from .runner import apply_threads

    apply_threads(cfg)
    cluster = None
    if args.ray is not None:
        from .cluster import Cluster

        cluster = Cluster(args.ray, args.ray_copy, say if args.verbose else None)
    from .job import dream_video

    return render(lambda progress: dream_video(args.input, args.output, cfg, progress, cluster), args.output,
                  spec.settings_path, cfg, "dreaming", "frame")


def cmd_still(args) -> int:
    """One frame of a video (at --start), dreamed at full size as a keyframe of the video would be."""
    check_output(args.output, present(args.output), args.overwrite, [args.input])
    cfg = resolve_config(args)
    from .runner import apply_threads

    apply_threads(cfg)
    from .runner import dream_still

    return render(lambda progress: dream_still(args.input, args.output, cfg, progress), args.output,
                  args.output + ".toml", cfg, "dreaming", "step")


def cmd_zoom(args) -> int:
    from .output import output_spec, sequence_regex

    if len(args.paths) > 2:
        raise UserError("zoom takes at most two paths: [START_IMAGE] OUTPUT")
    start, out = (args.paths[0], args.paths[1]) if len(args.paths) == 2 else (None, args.paths[0])
    if start:
        check_input(start)
    cfg = resolve_config(args)
    spec = output_spec(out, cfg.video.codec, cfg.video.crf, cfg.video.preset)
    if start and spec.kind == "sequence" and sequence_regex(out).match(os.path.basename(start)) and \
            os.path.samefile(os.path.dirname(os.path.abspath(start)), os.path.dirname(os.path.abspath(out))):
        raise UserError(f"the start image {start} is named like a frame of {out}: move it, or write the frames elsewhere")
    check_output(out, spec.existing(), args.overwrite, [start, cfg.audio.file])
    if start:
        from .images import read_image

        read_image(start)  # unreadable start image: fail before loading the model
    from .runner import apply_threads

    apply_threads(cfg)
    from .zoom import make_zoom

    return render(lambda progress: make_zoom(start, out, cfg, progress), out, spec.settings_path, cfg,
                  "zooming", "frame")


def cmd_dream(args) -> int:
    from .images import is_image_path

    return cmd_image(args) if is_image_path(args.input) else cmd_video(args)


def cmd_audio(args) -> int:
    from . import audio

    check_input(args.input)
    if os.path.splitext(args.plot)[1].lower() != ".png":
        raise UserError(f"--plot {args.plot}: the plot is a PNG image; give a name ending in .png")
    check_output(args.plot, present(args.plot), args.overwrite, [args.input])
    samples = audio.read_audio(args.input)
    fps, frames = audio.frame_timing(args.input, samples, args.fps)
    audio.plot(audio.features(samples, fps, frames), fps, args.plot)
    print(f"wrote {args.plot}: {frames} frames at {fps} fps")
    return 0


def cmd_models(args) -> int:
    from .models import MODELS, weights_available

    print(f"{'model':20} {'offline':8} description")
    for name, spec in MODELS.items():
        print(f"{name:20} {'yes' if weights_available(name) else 'no':8} {spec.description}")
    return 0


def cmd_layers(args) -> int:
    from .models import layer_table

    rows, (w, h), default = layer_table(args.model, args.size)
    print(f"{args.model}: dreamable layers for a {w}x{h} input (default objective: {default})")
    for name, shape, canonical in rows:
        alias = f"  ({canonical})" if canonical != name else ""
        print(f"  {name:16} {shape}{alias}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS + ("dream",):
        argv.insert(0, "dream")
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # -h, or a one-line usage error
        return int(e.code or 0)
    if not args.command:
        build_parser().print_help()
        return 2
    handler = {"dream": cmd_dream, "image": cmd_image, "video": cmd_video, "zoom": cmd_zoom, "audio": cmd_audio,
               "models": cmd_models, "layers": cmd_layers}[args.command]
    try:
        return handler(args)
    except UserError as e:
        print(f"dreamvideo: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a full disk, a folder gone read-only, a quota: the machine's state, not a bug
        if e.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO):
            raise
        where = f" writing {e.filename}" if e.filename else ""
        print(f"dreamvideo: error: {e.strerror}{where}: free space or choose another output folder, then rerun "
              f"the same command (a video resumes from its finished chunks)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        resume = " (a video resumes from its finished chunks: run the same command again)" if \
            args.command in ("dream", "video") else ""
        print(f"dreamvideo: interrupted{resume}", file=sys.stderr)
        return 130
