"""Encoding frames (uint8 [H,W,3] RGB numpy) to a video-only file with ffmpeg: the codec's arguments, colour
tags and pixel aspect (Encoding), and a Writer that renames its file into place only when it is complete."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .errors import UserError
from .video import Color, FFmpeg, ffmpeg, fpath, remove_file


def even(n: int) -> int:
    return n + (n % 2)


def pad_even(frame: np.ndarray) -> np.ndarray:
    """4:2:0 codecs need even sizes: repeat the last row/column where a side is odd."""
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


RGB_CODECS = ("ffv1", "libx264rgb", "png", "qtrle", "utvideo")
TAKES = {"crf": ("libx264", "libx265", "libvpx-vp9"), "preset": ("libx264", "libx265", "libx264rgb")}  # codec_args


@dataclass(frozen=True)
class Encoding:
    """How frames are encoded: ffmpeg codec name, quality, speed preset, colour description, pixel aspect."""

    codec: str = "libx264"
    crf: int = 18
    preset: str = "medium"
    color: Color = Color()
    sar: Fraction = Fraction(1)

    def codec_args(self) -> list[str]:
        # No B-frames: chunks are joined by stream copy, and a short chunk's encoder delay differs from a
        # long one's, which leaves a gap in the decoding times that readers count as extra frames.
        if self.codec in ("libx264", "libx265"):
            return ["-c:v", self.codec, "-crf", str(self.crf), "-preset", self.preset, "-bf", "0", "-pix_fmt", "yuv420p"]
        if self.codec.startswith("prores"):
            return ["-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le"]
        if self.codec == "ffv1":
            return ["-c:v", "ffv1", "-pix_fmt", "bgr0"]
        if self.codec == "libx264rgb":  # lossless RGB H.264
            return ["-c:v", "libx264rgb", "-qp", "0", "-preset", self.preset, "-bf", "0", "-pix_fmt", "rgb24"]
        if self.codec == "libvpx-vp9":
            return ["-c:v", "libvpx-vp9", "-crf", str(min(self.crf + 13, 63)), "-b:v", "0", "-pix_fmt", "yuv420p"]
        return ["-c:v", self.codec, "-bf", "0"]

    def filters(self) -> list[str]:
        """Colour conversion and tags (YUV codecs), and the pixel aspect ratio."""
        out = [] if self.codec in RGB_CODECS else self.color.filters()
        return out + ([f"setsar={self.sar.numerator}/{self.sar.denominator}"] if self.sar != 1 else [])

    def args(self) -> list[str]:
        vf = self.filters()
        return (["-vf", ",".join(vf)] if vf else []) + self.codec_args()

    @property
    def takes(self) -> set[str]:
        """Which of the quality (crf) and the speed preset this codec's arguments use (TAKES)."""
        return {name for name, codecs in TAKES.items() if self.codec in codecs}

    @property
    def needs_even(self) -> bool:
        return self.codec in ("libx264", "libx265", "libvpx-vp9")


class Writer:
    """Encode frames to a video-only file, written under a temporary name and renamed by close()."""

    def __init__(self, path: str, width: int, height: int, fps: Fraction, encoding: Encoding):
        self.path, self.size, self.encoding = path, (width, height), encoding
        self.tmp = f"{path}.part{os.getpid()}{os.path.splitext(path)[1]}"
        w, h = (even(width), even(height)) if encoding.needs_even else (width, height)
        args = [ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo",
                "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", *encoding.args(), fpath(self.tmp)]
        self.p = FFmpeg(args, stdin=subprocess.PIPE)
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        if self.encoding.needs_even:
            frame = pad_even(frame)
        try:
            self.p.proc.stdin.write(np.ascontiguousarray(frame).tobytes())
        except (BrokenPipeError, OSError):
            self.abort()
            raise UserError(f"ffmpeg stopped while writing {self.path}: {self.p.error_text()}") from None
        self.frames += 1

    def close(self) -> None:
        code = self.p.close()
        message = self.p.error_text() if code != 0 else ""
        self.p.errfile.close()
        if code != 0:
            remove_file(self.tmp)
            raise UserError(f"ffmpeg could not write {self.path}: {message}")
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.p.close(kill=True)
        remove_file(self.tmp)
