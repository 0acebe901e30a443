"""Command line: subcommands -> Config -> library call. Heavy modules (torch) are imported lazily."""
from __future__ import annotations

import argparse
import os
import sys

from .errors import UserError

# Shared dreaming flags -> config keys. Values stay text here; config.set_value type-checks them.
FLAG_KEYS = {
    "model": "model.name", "weights": "model.weights", "objective": "objective.spec",
    "octaves": "dream.octaves", "octave_scale": "dream.octave_scale", "steps": "dream.steps",
    "step_size": "dream.step_size", "jitter": "dream.jitter",
    "seed": "run.seed", "width": "run.width", "device": "run.device",
}
VIDEO_FLAG_KEYS = {
    "frames": "video.frames", "lanes": "video.lanes", "flow": "video.flow", "blend": "video.blend",
    "crf": "video.crf", "codec": "video.codec", "encoder_preset": "video.preset", "audio": "audio.file",
}
COMMANDS = ("image", "video", "zoom", "audio", "models", "layers")
ZOOM_FLAG_KEYS = {
    "frames": "zoom.frames", "seconds": "zoom.seconds", "fps": "zoom.fps", "size": "zoom.size", "zoom": "zoom.zoom",
    "rotate": "zoom.rotate", "pan": "zoom.pan", "center": "zoom.center", "codec": "video.codec",
    "audio": "audio.file",
}
PREVIEW = {"run.width": "320", "video.duration": "3", "dream.octaves": "2", "dream.steps": "5"}


def add_dream_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("dreaming")
    g.add_argument("--model", metavar="NAME", help="network (see `dreamvideo models`); default efficientnet_lite0")
    g.add_argument("--objective", metavar="SPEC", help='what to amplify, e.g. "blocks.10" or "0.5*mixed4 + 1.5*mixed5"')
    g.add_argument("--octaves", metavar="N")
    g.add_argument("--octave-scale", metavar="F")
    g.add_argument("--steps", metavar="N", help="gradient steps per octave")
    g.add_argument("--step-size", metavar="F", help="step in [0,1] image units after normalization")
    g.add_argument("--jitter", metavar="PX", help="max random roll per step")
    g.add_argument("--seed", metavar="N")
    g.add_argument("--width", metavar="PX", help="resize the input to this width, keeping the aspect ratio")
    g.add_argument("--weights", metavar="PATH", help="state-dict file for the model")
    g.add_argument("--device", metavar="cpu|cuda|auto")
    g.add_argument("--preset", default="default", metavar="NAME", help="settings preset from configs/ (default: default)")
    g.add_argument("--config", metavar="FILE", help="TOML settings file (same tables as the presets)")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any setting, e.g. dream.smooth=1")
    g.add_argument("--overwrite", action="store_true", help="replace an existing output")


def add_video_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("video")
    g.add_argument("--start", metavar="T", help="start at T (seconds, or mm:ss / hh:mm:ss)")
    g.add_argument("--frames", metavar="N", help="render N frames")
    g.add_argument("--duration", metavar="T", help="render T (seconds, or mm:ss)")
    g.add_argument("--lanes", metavar="N|auto", help="segments dreamed in lockstep as one batch (default 1)")
    g.add_argument("--flow", metavar="dis|farneback|none", help="optical flow for temporal coherence (default dis)")
    g.add_argument("--blend", metavar="F", help="weight of the carried dream on later frames (default 1)")
    g.add_argument("--crf", metavar="N", help="H.264 quality, lower is better (default 18)")
    g.add_argument("--codec", metavar="NAME", help="ffmpeg video codec, e.g. prores_ks (.mov), ffv1 (.mkv)")
    g.add_argument("--encoder-preset", metavar="NAME", help="x264 speed preset (default medium)")
    g.add_argument("--no-audio", action="store_true", help="drop the soundtrack")
    g.add_argument("--preview", action="store_true", help="first 3 s at width 320 with 2 octaves x 5 steps")
    g.add_argument("--audio", metavar="FILE", help="soundtrack to react to and to write instead of the input's")


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
    p = argparse.ArgumentParser(prog="dreamvideo", description="DeepDream for images and videos.",
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
    g.add_argument("--frames", metavar="N", help="number of frames (wins over --seconds)")
    g.add_argument("--seconds", metavar="T", help="length in seconds (default 4)")
    g.add_argument("--fps", metavar="F", help="frames per second, e.g. 24, 29.97 or 30000/1001 (default 24)")
    g.add_argument("--size", metavar="WxH", help="frame size (default: the start image's, or 512x512)")
    g.add_argument("--zoom", metavar="F", help="zoom factor per second, >1 zooms in (default 1.2)")
    g.add_argument("--rotate", metavar="DEG", help="degrees per second, counter-clockwise (default 0)")
    g.add_argument("--pan", metavar="X,Y", help="pixels per second (default 0,0)")
    g.add_argument("--center", metavar="X,Y", help="zoom centre in pixels (default: the middle)")
    g.add_argument("--loop", action="store_true", help="make the end lead seamlessly into the start")
    g.add_argument("--codec", metavar="NAME", help="ffmpeg video codec, e.g. prores_ks for .mov")
    g.add_argument("--audio", metavar="FILE", help="soundtrack to react to, written with the animation")
    text = "draw the audio features (rms, onset, beat, bass, mid, high) that can drive the dream"
    s = sub.add_parser("audio", help=text, description=text)
    s.add_argument("input", help="a video, or an audio file")
    s.add_argument("--plot", metavar="PNG", required=True, help="where to draw the features")
    s.add_argument("--fps", metavar="F", default=None, help="frame rate for an audio file (default 24)")
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
    extra = ZOOM_FLAG_KEYS if args.command == "zoom" else VIDEO_FLAG_KEYS
    flags = {key: getattr(args, flag, None) for flag, key in {**FLAG_KEYS, **extra}.items()}
    if getattr(args, "loop", False):
        flags["zoom.loop"] = "true"
    overrides.update({k: v for k, v in flags.items() if v is not None})
    if hasattr(args, "start"):
        overrides["video.start"] = seconds(args.start, "--start")
        overrides["video.duration"] = seconds(args.duration, "--duration") or overrides.get("video.duration")
        if args.frames is not None:
            overrides.pop("video.duration", None)
        if args.no_audio:
            overrides["video.audio"] = "false"
    return config.load(args.preset, args.config, args.set, overrides)


def check_paths(src: str | None, dst: str, overwrite: bool, extensions: tuple[str, ...], kind: str) -> None:
    """Refuse bad input/output paths before any work is done (src None: there is no input file)."""
    if src is not None and not os.path.exists(src):
        raise UserError(f"input not found: {src}")
    if src is not None and (not os.path.isfile(src) or not os.access(src, os.R_OK)):
        raise UserError(f"input is not a readable file: {src}")
    ext = os.path.splitext(dst)[1].lower()
    if ext not in extensions:
        raise UserError(f"unknown output extension '{ext or dst}' for {kind}: use one of {', '.join(extensions)}")
    folder = os.path.dirname(os.path.abspath(dst))
    if not os.path.isdir(folder):
        raise UserError(f"output folder does not exist: {folder}")
    if os.path.exists(dst):
        if src is not None and os.path.samefile(src, dst):
            raise UserError("output is the input file: choose another output name")
        if not overwrite:
            raise UserError(f"output exists: {dst} (add --overwrite to replace it)")


def progress_bar(desc: str, unit: str = "step"):
    from tqdm import tqdm

    bars = []

    def factory(total: int):
        bars.append(tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True))
        return bars[-1].update

    return factory, bars


def save_settings(dst: str, cfg) -> None:
    from .config import to_toml

    with open(dst + ".toml", "w", encoding="utf-8") as f:
        f.write("# dreamvideo settings for " + os.path.basename(dst) + "; rerun with --config this file\n")
        f.write(to_toml(cfg))


def render(work, out: str, cfg, desc: str, unit: str) -> int:
    """Run work(progress_factory) with a progress bar, then save the settings beside the output."""
    factory, bars = progress_bar(desc, unit)
    try:
        work(factory)
    finally:
        for b in bars:
            b.close()
    save_settings(out.replace("%", "") if "%" in os.path.basename(out) else out, cfg)
    print(f"wrote {out}")
    return 0


def is_sequence(out: str) -> bool:
    """A numbered PNG pattern such as frames/%05d.png; a plain .png is refused for animations."""
    if not out.lower().endswith(".png"):
        return False
    if "%" not in os.path.basename(out):
        raise UserError("a .png animation output must be a numbered pattern such as frames/%05d.png")
    return True


def cmd_image(args) -> int:
    from .images import IMAGE_EXTENSIONS

    check_paths(args.input, args.output, args.overwrite, IMAGE_EXTENSIONS, "an image")
    cfg = resolve_config(args)
    from .runner import dream_image

    return render(lambda progress: dream_image(args.input, args.output, cfg, progress), args.output, cfg,
                  "dreaming", "step")


def cmd_video(args) -> int:
    from .video import VIDEO_EXTENSIONS

    sequence = is_sequence(args.output)
    check_paths(args.input, args.output, args.overwrite or sequence, VIDEO_EXTENSIONS + (".png",) * sequence, "a video")
    cfg = resolve_config(args)
    from .job import dream_video

    return render(lambda progress: dream_video(args.input, args.output, cfg, progress), args.output, cfg,
                  "dreaming", "frame")


def cmd_zoom(args) -> int:
    from .video import VIDEO_EXTENSIONS

    if len(args.paths) > 2:
        raise UserError("zoom takes at most two paths: [START_IMAGE] OUTPUT")
    start, out = (args.paths[0], args.paths[1]) if len(args.paths) == 2 else (None, args.paths[0])
    sequence = is_sequence(out)
    check_paths(start, out, args.overwrite or sequence, VIDEO_EXTENSIONS + (".png",) * sequence, "an animation")
    if start:
        from .images import read_image

        read_image(start)  # unreadable start image: fail before loading the model
    cfg = resolve_config(args)
    from .zoom import make_zoom

    return render(lambda progress: make_zoom(start, out, cfg, progress), out, cfg, "zooming", "frame")


def cmd_dream(args) -> int:
    from .images import is_image_path

    return cmd_image(args) if is_image_path(args.input) else cmd_video(args)


def cmd_audio(args) -> int:
    from . import audio, video
    from .config import parse_fps

    check_paths(args.input, args.plot, True, (".png",), "a plot")
    samples = audio.read_audio(args.input)
    try:
        info = video.count_frames(video.probe(args.input))
        fps, frames = (parse_fps(args.fps) if args.fps else info.fps), info.frames
    except UserError:  # an audio file: frames at --fps over its length
        fps = parse_fps(args.fps or "24")
        frames = max(1, int(len(samples) / audio.RATE * fps))
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
    import torch

    from .models import MODELS, DreamNet

    if args.model not in MODELS:
        raise UserError(f"unknown model '{args.model}': choose one of {', '.join(MODELS)}")
    w, _, h = args.size.lower().partition("x")
    try:
        w, h = int(w), int(h or w)
    except ValueError:
        raise UserError(f"bad --size '{args.size}': give PX or WxH, e.g. 224 or 640x360") from None
    spec = MODELS[args.model]
    if min(w, h) < spec.min_size:
        raise UserError(f"--size {w}x{h} is too small for {args.model}: at least {spec.min_size} px per side")
    net = DreamNet(spec.build(), spec)  # shapes only: random weights suffice
    names = {net.resolve(n): n for n in spec.layers}
    with torch.no_grad():
        acts = net(torch.zeros(1, 3, h, w), list(names))
    print(f"{args.model}: dreamable layers for a {w}x{h} input (default objective: {spec.default_objective})")
    for canonical, name in names.items():
        shape = "x".join(str(s) for s in acts[canonical].shape[1:])
        alias = f"  ({canonical})" if canonical != name else ""
        print(f"  {name:16} {shape}{alias}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS + ("dream",):
        argv.insert(0, "dream")
    args = build_parser().parse_args(argv)
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
    except KeyboardInterrupt:
        print("dreamvideo: interrupted", file=sys.stderr)
        return 130
