"""Synthetic clips written to files: ffmpeg lavfi sources and photos under a simple camera move (tests)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from .. import encode, video


def lavfi_clip(path: str, size=(160, 90), fps: str = "25", seconds: float = 2.0, audio: str | None = "sine",
               cut_at: float | tuple[float, ...] | None = None,
               video_args: tuple[str, ...] = ("-c:v", "libx264", "-pix_fmt", "yuv420p")):
    """A testsrc2 clip (moving pattern) with optional sine or 5.1 audio and hard cuts to other sources at the
    `cut_at` time(s)."""
    w, h = size
    cuts = () if cut_at is None else (cut_at,) if isinstance(cut_at, (int, float)) else tuple(cut_at)
    bounds = [0.0, *cuts, seconds]
    sources = ["testsrc2", "mandelbrot", "smptehdbars", "rgbtestsrc"]
    args = []
    for k, (a, b) in enumerate(zip(bounds, bounds[1:])):
        args += ["-f", "lavfi", "-i", f"{sources[k % len(sources)]}=size={w}x{h}:rate={fps},trim=duration={b - a}"]
    vmap = "0:v"
    if cuts:
        parts = "".join(f"[{k}:v]" for k in range(len(bounds) - 1))
        args += ["-filter_complex", f"{parts}concat=n={len(bounds) - 1}:v=1[v]"]
        vmap = "[v]"
    n = len([a for a in args if a == "-i"])
    amap = []
    if audio == "sine":
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
        amap = ["-map", f"{n}:a", "-c:a", "aac"]
    elif audio == "5.1":
        args += ["-f", "lavfi", "-i", f"sine=frequency=220:duration={seconds}", "-filter:a", "pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0"]
        amap = ["-map", f"{n}:a", "-c:a", "aac"]
    video.run_ffmpeg(args + ["-map", vmap, *video_args, *amap, path], f"make {path}")


def photo_clip(path: str, photos: list[np.ndarray], size=(256, 144), fps: Fraction = Fraction(25), frames: int = 50,
               cut_at: int | None = None, crf: int = 12) -> None:
    """A clip made from real photos: the camera pans and zooms over the first photo while a patch of it moves
    across on its own path (occlusions, reveals); at `cut_at` a hard cut to the second photo."""
    import cv2

    w, h = size
    writer = encode.Writer(path, w, h, fps, encode.Encoding("libx264", crf))
    try:
        for t in range(frames):
            shot = 0 if cut_at is None or t < cut_at else 1
            k = t if shot == 0 else t - cut_at
            img = photos[shot]
            ph, pw = img.shape[:2]
            zoom = 1.0 + 0.004 * k
            scale = min(pw / (w * 1.6), ph / (h * 1.6)) / zoom
            cx, cy = pw / 2 + 1.5 * k * (1 if shot == 0 else -1), ph / 2 + 0.6 * k
            m = np.float32([[1 / scale, 0, w / 2 - cx / scale], [0, 1 / scale, h / 2 - cy / scale]])
            frame = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
            ow, oh = w // 4, h // 3  # a foreground object moving against the background
            patch = cv2.resize(img[ph // 3: ph // 3 + ph // 4, pw // 3: pw // 3 + pw // 4], (ow, oh))
            ox, oy = int(w * 0.1 + 2.5 * k) % (w - ow), int(h * 0.5 + 8 * np.sin(k / 6))
            frame[oy:oy + oh, ox:ox + ow] = patch
            writer.write(frame)
        writer.close()
    except BaseException:
        writer.abort()
        raise
