"""The final join: encoded parts in order, the soundtrack added, the output written atomically
(containers, GIF/WebP conversion, numbered PNG sequences)."""
from __future__ import annotations

import os
import shutil
import tempfile
from fractions import Fraction

from .output import OutputSpec
from .video import VideoInfo, remove_file, fpath, run_ffmpeg

# Audio codecs each container takes as they are; others are re-encoded (aac, or opus for webm).
AUDIO_COPY = {
    ".mp4": {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"},
    ".mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s24le", "pcm_f32le"},
    ".mkv": None,  # anything
    ".webm": {"opus", "vorbis"},
}
CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "4.0": 4, "5.0": 5, "5.1": 6, "6.1": 7, "7.1": 8}


def audio_encoder(out_ext: str, layout: str, i: int) -> list[str]:
    """Re-encode audio stream i: opus for webm, else aac; 96 kb/s per channel, within each encoder's limits."""
    channels = CHANNELS.get(layout.split("(")[0], 2)
    rate = f"{min(96 * channels, 510 if out_ext == '.webm' else 640)}k"
    if out_ext == ".webm":  # libopus needs the surround mapping family above stereo
        return [f"-c:a:{i}", "libopus", f"-b:a:{i}", rate] + (["-mapping_family", "1"] if channels > 2 else [])
    return [f"-c:a:{i}", "aac", f"-b:a:{i}", rate]


def audio_args(out_ext: str, info: VideoInfo | None, cut: bool = False) -> list[str]:
    """Copy each audio stream where the container takes it, else re-encode it. `cut`: the audio starts
    mid-file, and a copy would start at the packet before the cut (out of sync): always re-encode."""
    if not info or not info.audio or out_ext not in AUDIO_COPY:
        return ["-an"]
    allowed = AUDIO_COPY[out_ext]
    args = ["-map", "1:a"]
    for i, stream in enumerate(info.audio):
        if not cut and (allowed is None or stream.codec in allowed):
            args += [f"-c:a:{i}", "copy"]
        else:
            args += audio_encoder(out_ext, stream.channels, i)
    return args


def finish(parts: list[str], out: OutputSpec, fps: Fraction, frames: int, size: tuple[int, int], work: str,
           audio_from: VideoInfo | None = None, start: int = 0) -> None:
    """Join encoded parts in order and add the input's audio, writing the output atomically (temporary files in
    the folder `work`). The audio is cut to the frames' span, except when they run to the input's end: then it
    is kept whole, as in the input."""
    listing = os.path.join(work, "parts.txt")
    with open(listing, "w") as f:
        for part in parts:
            f.write("file '" + os.path.abspath(part).replace("'", "'\\''") + "'\n")
    args = ["-f", "concat", "-safe", "0", "-i", fpath(listing)]
    audio = audio_args(out.ext, audio_from if out.keeps_audio else None, cut=start > 0)
    if audio != ["-an"]:
        args += ["-ss", f"{float(start / fps):.6f}", "-i", fpath(audio_from.path)]
    args += ["-map", "0:v", *audio, "-frames:v", str(frames)]
    if audio_from is None or not audio_from.width or start + frames < audio_from.frame_count():
        args += ["-t", f"{float(frames / fps):.6f}"]
    if out.kind == "sequence":
        return _sequence(args, out, work)
    w, h = size
    if out.kind == "gif":
        args += ["-vf", f"crop={w}:{h}:0:0,split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=sierra2_4a",
                 "-loop", "0"]
    elif out.kind == "webp":
        args += ["-vf", f"crop={w}:{h}:0:0", "-c:v", "libwebp_anim", "-lossless", "0", "-q:v", "85", "-loop", "0"]
    else:
        args += ["-c:v", "copy"]
    if out.ext in (".mp4", ".mov"):
        args += ["-movflags", "+faststart"]
    if out.timecode and out.ext in (".mp4", ".mov", ".mkv"):
        args += ["-timecode", out.timecode]
    tmp = f"{out.path}.part{os.getpid()}{out.ext}"
    try:
        run_ffmpeg(args + [fpath(tmp)], f"write {out.path}")
        os.replace(tmp, out.path)
    finally:
        remove_file(tmp)


def _sequence(args: list[str], out: OutputSpec, work: str) -> None:
    """Write numbered PNGs (pattern like frames/%05d.png) into the work folder, then move them beside the
    pattern; frames of an earlier sequence under the same pattern that this one does not replace are removed
    (the user allowed replacing them)."""
    stale = out.existing()
    tmpdir = tempfile.mkdtemp(prefix="frames-", dir=work)
    folder = os.path.dirname(os.path.abspath(out.path))
    try:
        run_ffmpeg(args + ["-start_number", "0", fpath(os.path.join(tmpdir, os.path.basename(out.path)))],
                   f"write {out.path}")
        names = sorted(os.listdir(tmpdir))
        for name in names:
            os.replace(os.path.join(tmpdir, name), os.path.join(folder, name))
        written = {os.path.join(folder, n) for n in names}
        for path in stale:
            if path not in written:
                remove_file(path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
