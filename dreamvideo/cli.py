"""Command line: subcommands -> Config -> library call. Heavy modules (torch) are imported lazily."""
from __future__ import annotations

import errno
import os
import sys
import tempfile

from .errors import UserError
from .flags import SETTING, build_parser, resolve_config

COMMANDS = ("image", "video", "zoom", "audio", "models", "layers")


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
    if spec.keeps_audio or not cfg.video.audio or not (cfg.audio.file or src):
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


# video flags a still output has no use for: its frames, its encoding, its later frames' carry, its sound
STILL_UNUSED = {**{flag: SETTING + "video." + name for flag, name in (
    ("--frames", "frames"), ("--lanes", "lanes"), ("--flow", "flow"), ("--blend", "blend"), ("--evolve", "evolve"),
    ("--repaint", "repaint"), ("--crf", "crf"), ("--codec", "codec"), ("--encoder-preset", "preset"))},
    "--duration": "duration", "--no-audio": "no_audio", "--preview": "preview"}


def check_still_flags(args, from_video: bool) -> None:
    """A still output (an image dreamed, or one frame of a video) is refused the video flags it would ignore;
    an image also --start and --audio, which only a video's timeline gives a meaning."""
    unused = dict(STILL_UNUSED, **({} if from_video else {"--start": "start", "--audio": SETTING + "audio.file"}))
    for flag, dest in unused.items():
        if getattr(args, dest, None) not in (None, False):
            if from_video:
                raise UserError(f"{flag} is for videos, and a still of {args.input} is one keyframe: leave {flag} "
                                f"out, or give a video output")
            raise UserError(f"{flag} is for videos, and {args.input} is a still image: leave {flag} out (an "
                            f"animation from an image is `dreamvideo zoom {args.input} OUT`)")


def cmd_image(args) -> int:
    from .images import IMAGE_EXTENSIONS

    check_input(args.input)
    check_ray_flags(args, video=False)
    check_still_flags(args, from_video=False)
    ext = os.path.splitext(args.output)[1].lower()
    if ext not in IMAGE_EXTENSIONS:
        raise UserError(f"{args.input} is a still image, so the output must be an image "
                        f"({', '.join(IMAGE_EXTENSIONS)}); for an animation from it use `dreamvideo zoom {args.input} "
                        f"{args.output}`")
    check_output(args.output, present(args.output), args.overwrite, [args.input])
    cfg = resolve_config(args)
    from .reactive import needs_audio

    if needs_audio(cfg):
        raise UserError(f"{args.input} is a still image with no sound, and these settings react to audio: give "
                        f"numbers or keyframes (taken at 0 s), or dream a video")
    from .runner import apply_threads

    apply_threads(cfg)
    from .runner import dream_image

    return render(lambda progress: dream_image(args.input, args.output, cfg, progress), args.output,
                  args.output + ".toml", cfg, "dreaming", "step")


def check_encoding_flags(args, spec) -> None:
    """--crf and --encoder-preset are refused where the output's encoder does not use them."""
    from .encode import TAKES

    for flag, dest, name in (("--crf", "video.crf", "crf"), ("--encoder-preset", "video.preset", "preset")):
        if getattr(args, SETTING + dest, None) is None or name in spec.encoding.takes:
            continue
        if spec.kind != "container":
            what = "PNG sequences" if spec.kind == "sequence" else spec.ext + " files"
            raise UserError(f"{flag} does not apply to {what}: leave it out")
        raise UserError(f"{flag} does not apply to the {spec.encoding.codec} codec: leave it out, or choose a codec "
                        f"that takes it ({', '.join(TAKES[name])})")


def cmd_video(args) -> int:
    from .output import is_still, output_spec

    check_input(args.input)
    check_ray_flags(args, video=not is_still(args.output))
    if is_still(args.output):
        return cmd_still(args)
    cfg = resolve_config(args)
    spec = output_spec(args.output, cfg.video.codec, cfg.video.crf, cfg.video.preset)
    check_encoding_flags(args, spec)
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
    check_still_flags(args, from_video=True)
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
