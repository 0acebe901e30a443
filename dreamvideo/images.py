"""Still-image I/O (OpenCV) and the numpy <-> torch conversions.

I/O side: uint8 [H,W,3] RGB numpy. Torch side: float32 [B,3,H,W] RGB in [0,1].
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import UserError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def is_image_path(path: str) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def read_image(path: str) -> np.ndarray:
    """Read an image file as uint8 [H,W,3] RGB (alpha dropped, grey expanded, 16-bit reduced)."""
    import cv2

    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise UserError(f"cannot read input {path}: {e.strerror or e}") from None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise UserError(f"cannot decode {path} as an image: give a PNG, JPEG, WebP, BMP or TIFF file")
    return np.ascontiguousarray(img[..., ::-1])


def write_image(path: str, rgb: np.ndarray) -> None:
    """Write uint8 [H,W,3] RGB to `path` atomically (temporary name in the same folder, then rename)."""
    import cv2

    ok, buf = cv2.imencode(Path(path).suffix.lower(), np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise UserError(f"cannot encode an image as {Path(path).suffix}: use .png or .jpg")
    tmp = f"{path}.part{os.getpid()}"
    try:
        buf.tofile(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def scaled_size(w: int, h: int, width: int) -> tuple[int, int]:
    """(w, h) scaled to `width` keeping the aspect ratio (0: as is)."""
    return (w, h) if width <= 0 else (width, max(1, round(h * width / w)))


def resize_to_width(rgb: np.ndarray, width: int) -> np.ndarray:
    """Resize uint8 [H,W,3] to `width` keeping the aspect ratio (0 or the same width: unchanged)."""
    import cv2

    h, w = rgb.shape[:2]
    if width <= 0 or width == w:
        return rgb
    return cv2.resize(rgb, scaled_size(w, h, width), interpolation=cv2.INTER_AREA if width < w else cv2.INTER_CUBIC)


def to_tensor(frames, device="cpu"):
    """uint8 [H,W,3] array or tensor (or a list of arrays) -> float32 [B,3,H,W] in [0,1] on `device`. From
    pinned memory (staging.stage) the upload is asynchronous."""
    import torch

    if isinstance(frames, torch.Tensor):
        u8 = frames[None]
    else:
        u8 = torch.from_numpy(np.stack(frames) if isinstance(frames, (list, tuple)) else frames[None])
    # contiguous: one memory layout, so the same frame always meets the same kernels (bit-exact results)
    return u8.to(device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255).contiguous()


def to_uint8(x) -> np.ndarray:
    """float [B,3,H,W] in [0,1] -> uint8 [B,H,W,3] numpy (rounded)."""
    return (x.detach().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
