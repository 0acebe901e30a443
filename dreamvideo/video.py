"""Video I/O through the ffmpeg binary of imageio-ffmpeg: probe, streaming reader, writer, final mux.

Frames are uint8 [H,W,3] RGB numpy; fps is a fractions.Fraction. Every ffmpeg call is an argv list,
and no process outlives its reader or writer, whatever happens (errors, exceptions, Ctrl-C).
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Iterator

import numpy as np

from .errors import UserError
from .rates import exact_fps

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".gif", ".webp")


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class AudioStream:
    codec: str
    channels: str  # layout as ffmpeg names it: mono, stereo, 5.1, ...


@dataclass(frozen=True)
class Color:
    """A stream's colour description as ffmpeg names it; "" where the file does not say."""

    range: str = ""  # tv (limited) | pc (full)
    matrix: str = ""  # bt709, bt470bg, smpte170m, bt2020nc, ...
    primaries: str = ""
    transfer: str = ""

    def filters(self) -> list[str]:
        """RGB -> YUV with this matrix and range, and the tags that tell players so."""
        out = []
        scale = [f"out_color_matrix={SWS_MATRIX[self.matrix]}"] if self.matrix in SWS_MATRIX else []
        scale += [f"out_range={self.range}"] if self.range else []
        if scale:
            out.append("scale=" + ":".join(scale))
        tags = [f"{k}={v}" for k, v in (("colorspace", self.matrix), ("color_primaries", self.primaries),
                                          ("color_trc", self.transfer), ("range", self.range)) if v]
        if tags:
            out.append("setparams=" + ":".join(tags))
        return out


# colour matrices as the scale filter names them
SWS_MATRIX = {"bt709": "bt709", "bt470bg": "bt601", "smpte170m": "smpte170m", "smpte240m": "smpte240m",
              "bt2020nc": "bt2020", "bt2020c": "bt2020", "fcc": "fcc"}
BT709 = Color("tv", "bt709", "bt709", "bt709")  # for pictures we make ourselves (zoom)


def parse_color(text: str) -> Color:
    """'tv, bt709/bt709/bt709, progressive' or 'pc, bt470bg' (from a probe's stream line) -> Color."""
    rng, spaces = "", []
    for item in (part.strip() for part in text.split(",")):
        if item in ("tv", "pc"):
            rng = item
        elif item and item not in ("progressive", "unknown") and "first" not in item and re.fullmatch(r"[\w/-]+", item):
            spaces = [("" if v == "unknown" else v) for v in item.split("/")]
    spaces = spaces * 3 if len(spaces) == 1 else spaces + [""] * (3 - len(spaces))
    return Color(rng, *spaces[:3])


def fpath(path: str) -> str:
    """A path ffmpeg cannot mistake for an option or a protocol (names beginning with '-', 'a:b.mp4')."""
    return os.path.abspath(path)


@dataclass(frozen=True)
class VideoInfo:
    path: str
    width: int  # as displayed (rotation applied)
    height: int
    fps: Fraction
    duration: float  # seconds
    rotation: int = 0  # degrees, as stored in the display matrix
    audio: tuple[AudioStream, ...] = field(default_factory=tuple)
    frames: int | None = None  # exact count when known (count_frames)
    vfr: bool = False  # variable frame rate: read resampled to a constant `fps` (count_frames tells)
    color: Color = Color()
    sar: Fraction = Fraction(1)  # sample (pixel) aspect ratio: anamorphic video keeps its shape
    seekable: bool = True  # False: containers whose seeks are not frame-exact (MPEG-TS, AVI): read from the start
    interlaced: bool = False  # fields (top or bottom first): deinterlaced as read, one frame per frame
    timecode: str = ""  # of the first frame, 'HH:MM:SS:FF' (';' before FF: drop-frame); "" where it has none

    def frame_count(self) -> int:
        return self.frames if self.frames is not None else round(self.duration * self.fps)


_VIDEO = re.compile(r"Stream #\d+:(\d+)[^:]*: Video: (\S+).*?, (\d+)x(\d+)")
_PIXFMT = re.compile(r"Video: .*?\), \w+\(([^)]*)\)|Video: [^,]*, \w+\(([^)]*)\)")
_SAR = re.compile(r"\[SAR (\d+):(\d+) DAR")
_AUDIO = re.compile(r"Stream #\d+:\d+[^:]*: Audio: (\w+)[^,]*, \d+ Hz, ([^,]+),")
_FPS = re.compile(r", ([\d.]+)(k?) (fps|tbr)")
_DURATION = re.compile(r"Duration: (\d+):(\d+):([\d.]+)")
_ROTATION = re.compile(r"rotation of (-?[\d.]+) degrees")
_FORMAT = re.compile(r"Input #0, ([\w,]+), from")
_TIMECODE = re.compile(r"timecode\s*: (\d+:\d\d:\d\d[:;.]\d\d)", re.IGNORECASE)
UNSEEKABLE = {"mpegts", "mpeg", "avi", "h264", "hevc", "mpegvideo", "m4v", "flv", "asf"}


def probe(path: str) -> VideoInfo:
    """Size, exact fps, duration, rotation, audio streams, field order and timecode of a video file."""
    if not os.path.isfile(path):
        raise UserError(f"input not found: {path}")
    r = subprocess.run([ffmpeg(), "-hide_banner", "-nostdin", "-i", fpath(path)], capture_output=True, text=True,
                       errors="replace", stdin=subprocess.DEVNULL)
    text = r.stderr
    if "Invalid data found" in text or "Input #0" not in text:
        raise UserError(f"{path} is not a video ffmpeg can read: give an mp4, mov, mkv, webm or similar file")
    lines = [line for line in text.splitlines() if "Video:" in line and "attached pic" not in line]
    video = _VIDEO.search(lines[0]) if lines else None
    if not video:
        raise UserError(f"{path} has no video stream (audio only?): give a file with video")
    w, h = int(video.group(3)), int(video.group(4))
    rates = {m.group(3): float(m.group(1)) * (1000 if m.group(2) else 1) for m in _FPS.finditer(lines[0])}
    rate = rates.get("fps") or rates.get("tbr")
    if not rate:
        raise UserError(f"{path}: cannot tell the frame rate of its video stream")
    fps = exact_fps(f"{rate:.2f}")
    d = _DURATION.search(text)
    duration = int(d.group(1)) * 3600 + int(d.group(2)) * 60 + float(d.group(3)) if d else 0.0
    rot = _ROTATION.search(text[text.find(lines[0]):])
    rotation = round(float(rot.group(1))) if rot else 0
    if rotation % 180:
        w, h = h, w  # ffmpeg rotates when decoding, so frames come out as displayed
    audio = tuple(AudioStream(m.group(1), m.group(2).strip()) for m in _AUDIO.finditer(text))
    found = _PIXFMT.search(lines[0])
    pix = (found.group(1) or found.group(2)) if found else ""  # 'tv, bt709, top first'
    color = parse_color(pix) if pix else Color()
    interlaced = any("first" in item for item in pix.split(","))  # top / bottom (coded) first
    sar = _SAR.search(lines[0])
    sar = Fraction(int(sar.group(1)), int(sar.group(2))) if sar and int(sar.group(2)) and int(sar.group(1)) else Fraction(1)
    fmt = _FORMAT.search(text)
    seekable = not (fmt and set(fmt.group(1).split(",")) & UNSEEKABLE)
    tc = _TIMECODE.search(text)
    return VideoInfo(path, w, h, fps, duration, rotation, audio, color=color, sar=sar, seekable=seekable,
                     interlaced=interlaced, timecode=tc.group(1) if tc else "")


def audio_info(path: str) -> VideoInfo:
    """An audio file's streams, as a VideoInfo without video (for muxing it as a soundtrack)."""
    if not os.path.isfile(path):
        raise UserError(f"audio file not found: {path}")
    r = subprocess.run([ffmpeg(), "-hide_banner", "-nostdin", "-i", fpath(path)], capture_output=True, text=True,
                       errors="replace", stdin=subprocess.DEVNULL)
    streams = tuple(AudioStream(m.group(1), m.group(2).strip()) for m in _AUDIO.finditer(r.stderr))
    if not streams:
        raise UserError(f"{path} has no audio stream: give a sound file for --audio")
    return VideoInfo(path, 0, 0, Fraction(1), 0.0, 0, streams, frames=0)


NOPTS = -(2**63)  # ffmpeg's "no timestamp" (AVI packets, raw streams)


def packet_times(path: str) -> tuple[list[float | None], Fraction]:
    """Presentation times (seconds, sorted; None where a packet has none) of the first video stream's packets,
    by demuxing (no decoding), and the stream's time base."""
    r = subprocess.run([ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", fpath(path), "-map", "0:v:0",
                        "-c", "copy", "-f", "framecrc", "-"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    base, times = Fraction(1), []
    for line in r.stdout.splitlines():
        if line.startswith("#tb 0:"):
            base = Fraction(line.split(":", 1)[1].strip())
        elif line and not line.startswith("#"):
            pts = int(line.split(",")[2])
            times.append(None if pts in (NOPTS, -NOPTS) else float(pts * base))
    known = sorted(t for t in times if t is not None)
    return (known if len(known) == len(times) else [None] * len(times)), base


def count_frames(info: VideoInfo) -> VideoInfo:
    """The exact frame count, and whether the rate varies. A variable-rate video counts as its duration at
    its average rate, the frames it will be read as (constant rate, same duration). Steps that differ by
    no more than the time base's rounding (29.97 fps in milliseconds: 33 and 34) are a constant rate."""
    times, base = packet_times(info.path)
    if not times:
        raise UserError(f"{info.path} has no video frames")
    n, vfr = len(times), False
    if None in times:  # no timestamps to judge by (AVI): one frame per packet, at the stated rate
        return replace(info, frames=n, vfr=False)
    steps = sorted(b - a for a, b in zip(times, times[1:]))
    if len(steps) > 1:
        typical = steps[len(steps) // 2]
        if steps[-1] - steps[0] > 0.01 * typical + 2 * float(base) + 1e-6:
            n, vfr = max(1, round((times[-1] - times[0] + typical) * info.fps)), True
    return replace(info, frames=n, vfr=vfr)


def check_complete(info: VideoInfo) -> None:
    """Refuse a file whose header promises far more frames than can be read (truncated download, say)."""
    expected = round(info.duration * info.fps)
    if info.frames is not None and info.frames < 0.9 * expected - 1:
        raise UserError(f"{info.path} looks truncated or corrupt: its header says {info.duration:.2f}s (about "
                        f"{expected} frames) but only {info.frames} frames can be read; add --frames {info.frames} "
                        f"to dream what is there")


SEEK_MARGIN = 5.0  # seconds sought before a start, decoded and dropped
GENERIC = ("Conversion failed", "Error closing file", "[out#", "Error while filtering", "Terminating thread")


class FFmpeg:
    """A child ffmpeg that is always reaped: killed if still running when closed."""

    def __init__(self, args: list[str], stdin=None, stdout=None):
        self.errfile = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(args, stdin=stdin or subprocess.DEVNULL, stdout=stdout or subprocess.DEVNULL,
                                     stderr=self.errfile)

    def error_lines(self) -> list[str]:
        self.errfile.seek(0)
        return self.errfile.read().decode(errors="replace").strip().splitlines()

    def error_text(self) -> str:
        """ffmpeg's most telling line: the last one that is not a generic closing remark."""
        lines = [line for line in self.error_lines() if not line.startswith(GENERIC)] or self.error_lines()
        return lines[-1][:300] if lines else "no message"

    def close(self, kill: bool = False) -> int:
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe:
                try:
                    pipe.close()
                except OSError:
                    pass
        if kill and self.proc.poll() is None:
            self.proc.kill()
        try:
            code = self.proc.wait(timeout=None if not kill else 10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        return code

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close(kill=True)
        self.errfile.close()


def read_frames(info: VideoInfo, start: int = 0, count: int | None = None,
                size: tuple[int, int] | None = None, skip: int = 0, damage: list | None = None, strict: bool = True) -> Iterator[np.ndarray]:
    """Yield uint8 [H,W,3] RGB frames start+skip .. start+skip+count-1, resized to size=(w, h).

    Only `start` is sought; `skip` frames after it are decoded and dropped. Readers that share a `start` (the
    lanes and resumed chunks of one job) therefore see exactly the same frames whatever the file's timestamps."""
    w, h = size or (info.width, info.height)
    args = [ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error"]
    # interlaced: each frame's two fields made into one progressive frame (the rate and the count kept)
    filters = ["bwdif=mode=send_frame:parity=auto:deint=interlaced"] if info.interlaced else []
    if start > 0 and not info.seekable:
        start, skip = 0, start + skip  # decode from the start and drop frames: slower, but exact
    if start > 0:  # seek early, then cut at the frame's time: exact where a seek alone lands a frame off
        at = float((start - Fraction(1, 2)) / info.fps)
        ahead = max(0.0, at - SEEK_MARGIN)
        if ahead > 0:
            args += ["-ss", f"{ahead:.6f}"]
        filters.append(f"trim=start={at - ahead:.6f},setpts=PTS-STARTPTS")
    args += ["-i", fpath(info.path), "-map", "0:v:0", "-an", "-sn", "-fps_mode", "passthrough"]  # no dup/drop
    if count is not None:
        args += ["-frames:v", str(count)]
    if info.vfr:  # variable rate: resampled to constant, same duration
        filters.append(f"fps={info.fps}")
    if skip:
        filters.append(f"trim=start_frame={skip}")
    if (w, h) != (info.width, info.height):
        filters.append(f"scale={w}:{h}:flags=area")
    if filters:
        args += ["-vf", ",".join(filters)]
    args += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    nbytes = w * h * 3
    with FFmpeg(args, stdout=subprocess.PIPE) as p:
        got = 0
        while count is None or got < count:
            buf = bytearray(nbytes)
            if p.proc.stdout.readinto(buf) < nbytes:
                break
            got += 1
            yield np.frombuffer(buf, np.uint8).reshape(h, w, 3)
        if damage is not None:
            p.close()
            damage += [line for line in p.error_lines() if "error" in line.lower() or "corrupt" in line.lower()]
        if strict and count is not None and got < count:
            p.close()
            raise UserError(f"{info.path}: the video ended or broke at frame {start + skip + got} of "
                            f"{start + skip + count} ({p.error_text()}); the frames done so far are kept, "
                            f"rerun the same command after fixing the input to resume")


def remove_file(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def run_ffmpeg(args: list[str], what: str) -> None:
    with FFmpeg([ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]) as p:
        if p.close() != 0:
            raise UserError(f"ffmpeg could not {what}: {p.error_text()}")
