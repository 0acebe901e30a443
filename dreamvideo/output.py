"""What an output path means, decided once: container, GIF/WebP, or a numbered PNG sequence; the chunk
format and encoder; where the settings go; which existing files it would replace."""
from __future__ import annotations

import difflib
import functools
import os
import re
import subprocess
from dataclasses import dataclass, replace

from . import encode, video
from .errors import UserError

CONTAINERS = (".mp4", ".mov", ".mkv", ".webm")
ANIMATIONS = (".gif", ".webp")
# Friendly codec names -> ffmpeg encoders.
ALIASES = {"h264": "libx264", "x264": "libx264", "avc": "libx264", "h265": "libx265", "hevc": "libx265",
           "x265": "libx265", "vp9": "libvpx-vp9", "av1": "libsvtav1", "prores": "prores_ks"}
DEFAULT_CODEC = {".webm": "libvpx-vp9"}  # else libx264


@functools.cache
def encoders() -> frozenset[str]:
    """The video encoders this ffmpeg has."""
    r = subprocess.run([video.ffmpeg(), "-hide_banner", "-nostdin", "-encoders"], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL)
    return frozenset(line.split()[1] for line in r.stdout.splitlines() if line.startswith(" V") and len(line.split()) > 1)


def resolve_codec(name: str) -> str:
    """A codec name as the user gave it -> an encoder this ffmpeg has, or a UserError that suggests one."""
    codec = ALIASES.get(name.lower(), name)
    if codec not in encoders():
        near = difflib.get_close_matches(codec, sorted(encoders()), n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(near)}?" if near else "common ones: libx264, libx265, libvpx-vp9, prores_ks, ffv1"
        raise UserError(f"unknown codec '{name}': this ffmpeg has no such video encoder; {hint}")
    return codec


def sequence_regex(pattern: str) -> re.Pattern:
    """'%05d.png' -> a regex for the file names that pattern writes."""
    name = os.path.basename(pattern)
    m = re.search(r"%0?(\d*)d", name)
    if not m or name.count("%") != 1:
        raise UserError(f"bad sequence pattern '{pattern}': use one number field such as frames/%05d.png")
    digits = int(m.group(1) or 1)
    return re.compile(re.escape(name[:m.start()]) + r"(\d{%d,})" % digits + re.escape(name[m.end():]) + "$")


@dataclass(frozen=True)
class OutputSpec:
    """One output path, understood: `kind` is container, gif, webp or sequence."""

    path: str
    kind: str
    ext: str  # the output's own extension
    chunk_ext: str  # the extension of the encoded parts joined at the end
    encoding: encode.Encoding
    timecode: str = ""  # of the first frame, written where the container keeps one (mp4, mov, mkv)

    @property
    def keeps_audio(self) -> bool:
        return self.kind == "container"

    @property
    def settings_path(self) -> str:
        """Where the settings are saved: OUT.toml, or dreamvideo.toml in a sequence's folder."""
        if self.kind == "sequence":
            return os.path.join(os.path.dirname(os.path.abspath(self.path)), "dreamvideo.toml")
        return self.path + ".toml"

    @property
    def work_path(self) -> str:
        """The work folder beside the output (a sequence: in its folder)."""
        if self.kind == "sequence":
            return os.path.join(os.path.dirname(os.path.abspath(self.path)), ".dreamvideo-work")
        return self.path + ".dreamvideo-work"

    def existing(self) -> list[str]:
        """Files this output would replace (for a sequence: every file its pattern names)."""
        if self.kind != "sequence":
            return [self.path] if os.path.lexists(self.path) else []
        folder = os.path.dirname(os.path.abspath(self.path))
        rx = sequence_regex(self.path)
        return sorted(os.path.join(folder, n) for n in os.listdir(folder) if rx.match(n)) if os.path.isdir(folder) else []


def is_still(path: str) -> bool:
    """Whether an output path names one picture (a .png or .jpg that is neither an animation nor a numbered
    pattern such as frames/%05d.png)."""
    from .images import is_image_path

    ext = os.path.splitext(path)[1].lower()
    return is_image_path(path) and ext not in ANIMATIONS and "%" not in os.path.basename(path)


def output_spec(path: str, codec: str = "", crf: int = 18, preset: str = "medium") -> OutputSpec:
    """Decide everything about an output path and its encoder; a UserError for what cannot be written."""
    if os.path.isdir(path):
        raise UserError(f"output is a folder: {path}; give a file name inside it")
    ext = os.path.splitext(path)[1].lower()
    sequence = ext == ".png" and "%" in os.path.basename(path)
    if ext == ".png" and not sequence:
        raise UserError("a .png animation output must be a numbered pattern such as frames/%05d.png")
    if sequence:
        sequence_regex(path)
    elif ext not in CONTAINERS + ANIMATIONS:
        raise UserError(f"unknown output extension '{ext or path}' for a video: use one of "
                        f"{', '.join(CONTAINERS + ANIMATIONS)} or a numbered pattern such as frames/%05d.png")
    if sequence or ext in ANIMATIONS:  # lossless parts, converted once at the end
        if codec:
            raise UserError(f"--codec does not apply to {'PNG sequences' if sequence else ext + ' files'}: leave it out")
        return OutputSpec(path, "sequence" if sequence else ext[1:], ext, ".mkv", encode.Encoding("ffv1"))
    return OutputSpec(path, "container", ext, ext,
                      encode.Encoding(resolve_codec(codec or DEFAULT_CODEC.get(ext, "libx264")), crf, preset))


def with_source(spec: OutputSpec, color: video.Color, sar, timecode: str = "") -> OutputSpec:
    """The output written with the input's colour description, pixel aspect ratio and the timecode of its
    first frame."""
    return replace(spec, encoding=replace(spec.encoding, color=color, sar=sar), timecode=timecode)
