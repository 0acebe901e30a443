"""The final join: encoded parts in order, the soundtrack added, the output written atomically
(containers, GIF/WebP conversion, numbered PNG sequences)."""
from __future__ import annotations

import os
import shutil
import tempfile
from fractions import Fraction

from .video import VideoInfo, _remove, run_ffmpeg

# Audio codecs each container takes as they are; others are re-encoded (aac, or opus for webm).
AUDIO_COPY = {
    ".mp4": {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"},
    ".mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s24le", "pcm_f32le"},
    ".mkv": None,  # anything
    ".webm": {"opus", "vorbis"},
}


def _audio_args(out_ext: str, info: VideoInfo | None) -> list[str]:
    if not info or not info.audio or out_ext not in AUDIO_COPY:
        return ["-an"]
    allowed = AUDIO_COPY[out_ext]
    args = ["-map", "1:a"]
    for i, stream in enumerate(info.audio):
        if allowed is None or stream.codec in allowed:
            args += [f"-c:a:{i}", "copy"]
        else:
            args += [f"-c:a:{i}", "libopus" if out_ext == ".webm" else "aac", f"-b:a:{i}", "320k"]
    return args


def finish(parts: list[str], out: str, fps: Fraction, frames: int, size: tuple[int, int],
           audio_from: VideoInfo | None = None, start: int = 0) -> None:
    """Join encoded parts in order and add the input's audio, writing `out` atomically. The audio is cut to
    the frames' span, except when they run to the input's end: then it is kept whole, as in the input."""
    ext = os.path.splitext(out)[1].lower()
    tmp = f"{out}.part{ext}"
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, dir=os.path.dirname(os.path.abspath(out))) as f:
        for part in parts:
            f.write("file '" + os.path.abspath(part).replace("'", "'\\''") + "'\n")
        listing = f.name
    try:
        args = ["-f", "concat", "-safe", "0", "-i", listing]
        audio = _audio_args(ext, audio_from)
        if audio != ["-an"]:
            args += ["-ss", f"{float(start / fps):.6f}", "-i", audio_from.path]
        args += ["-map", "0:v", *audio, "-frames:v", str(frames)]
        if audio_from is None or not audio_from.width or start + frames < audio_from.frame_count():
            args += ["-t", f"{float(frames / fps):.6f}"]
        w, h = size
        if "%" in os.path.basename(out):
            return _sequence(args, out)
        if ext == ".gif":
            args += ["-vf", f"crop={w}:{h}:0:0,split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=sierra2_4a",
                     "-loop", "0"]
        elif ext == ".webp":
            args += ["-vf", f"crop={w}:{h}:0:0", "-c:v", "libwebp_anim", "-lossless", "0", "-q:v", "85", "-loop", "0"]
        else:
            args += ["-c:v", "copy"]
        if ext in (".mp4", ".mov"):
            args += ["-movflags", "+faststart"]
        run_ffmpeg(args + [tmp], f"write {out}")
        os.replace(tmp, out)
    finally:
        _remove(listing)
        _remove(tmp)


def _sequence(args: list[str], pattern: str) -> None:
    """Write numbered PNGs (pattern like frames/%05d.png) via a temporary folder beside them."""
    folder = os.path.dirname(os.path.abspath(pattern))
    tmpdir = tempfile.mkdtemp(prefix=".dreamvideo-", dir=folder)
    try:
        run_ffmpeg(args + ["-start_number", "0", os.path.join(tmpdir, os.path.basename(pattern))], f"write {pattern}")
        for name in sorted(os.listdir(tmpdir)):
            os.replace(os.path.join(tmpdir, name), os.path.join(folder, name))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
