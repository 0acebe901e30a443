"""Frames of a photo seen through a moving camera (pans, zooms, rotation, shake, dollies, whip pans), what is
done to footage (grain, strobes, fades, titles, dissolves), and the true motion of such clips."""
from __future__ import annotations

import numpy as np


def _view(photo_shape, size, cx: float, cy: float, scale: float, angle: float) -> np.ndarray:
    """3x3 matrix from photo pixels to the pixels of a w x h view centred at (cx, cy), `scale` view pixels per
    photo pixel, rotated by `angle` degrees."""
    import cv2

    m = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    m[:, 2] += (size[0] / 2 - cx, size[1] / 2 - cy)
    return np.vstack([m, [0, 0, 1]])


def _affine(img: np.ndarray, size, cx: float, cy: float, scale: float, angle: float) -> np.ndarray:
    """A w x h view of `img` centred at (cx, cy), `scale` output pixels per image pixel, rotated by `angle` deg."""
    import cv2

    m = _view(img.shape, size, cx, cy, scale, angle)[:2]
    return cv2.warpAffine(img, m, size, flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)


def camera_path(photo_shape, size=(256, 144), frames: int = 250, seed: int = 0) -> list[tuple]:
    """The hand-held camera of `camera`: per frame (cx, cy, scale, angle), a slow pan, a zoom in and out, a
    rotation and shake."""
    rng = np.random.default_rng(seed)
    ph, pw = photo_shape[:2]
    base = min(pw / (size[0] * 1.8), ph / (size[1] * 1.8))
    shake = np.cumsum(rng.normal(0, 0.6, (frames, 2)), 0) * 0.5
    path = []
    for t in range(frames):
        u = t / max(frames - 1, 1)
        zoom = 1 + 0.25 * np.sin(np.pi * u)
        cx = pw / 2 + (u - 0.5) * pw * 0.25 + shake[t, 0] * base
        cy = ph / 2 + 0.08 * ph * np.sin(2 * np.pi * u) + shake[t, 1] * base
        path.append((cx, cy, zoom / base, 6 * np.sin(2 * np.pi * u)))
    return path


def camera(photo: np.ndarray, size=(256, 144), frames: int = 250, seed: int = 0) -> list[np.ndarray]:
    """A hand-held camera over a photo (see camera_path)."""
    return along(photo, size, camera_path(photo.shape, size, frames, seed))


def along(photo: np.ndarray, size, path: list[tuple]) -> list[np.ndarray]:
    """The views uint8 [h,w,3] (size = (w, h)) of a photo along a path of (cx, cy, scale, angle) (see _view)."""
    return [_affine(photo, size, *p) for p in path]


def dolly_path(photo_shape, frames: int = 125, start: float = 0.8, end: float = 2.0) -> list[tuple]:
    """A camera moving straight in (end > start) or out at the photo's centre: per frame (cx, cy, scale, angle),
    the scale (view pixels per photo pixel) changing by the same factor every frame."""
    ph, pw = photo_shape[:2]
    return [(pw / 2, ph / 2, start * (end / start) ** (t / max(frames - 1, 1)), 0.0) for t in range(frames)]


def grain(frames: list[np.ndarray], std: float = 4.0, seed: int = 0) -> list[np.ndarray]:
    """The frames uint8 [H,W,3] with sensor noise: Gaussian, `std` grey levels, new on every frame, pixel and
    channel (as real footage has, in low light most: what the dream must not chase or be chased off by)."""
    rng = np.random.default_rng(seed)
    return [np.clip(f + rng.normal(0, std, f.shape), 0, 255).round().astype(np.uint8) for f in frames]


def strobe(frames: list[np.ndarray], every: int = 25, flash: float = 1.7, dim: float = 0.6) -> list[np.ndarray]:
    """The frames uint8 [H,W,3] under changing light: a flash of two frames `flash` times as bright every `every`
    frames (a strobe, a camera flash; what clips there, clips), and from the middle on the light dimmed to `dim`
    (lights going down: an exposure change)."""
    gains = [(dim if t >= len(frames) // 2 else 1.0) * (flash if t % every in (every // 2, every // 2 + 1) else 1.0)
             for t in range(len(frames))]
    return [np.clip(f * np.float32(g), 0, 255).astype(np.uint8) for f, g in zip(frames, gains)]


def fade(frames: list[np.ndarray], fade_in: int = 25, fade_out: int = 25, colour: int = 0) -> list[np.ndarray]:
    """The frames uint8 [H,W,3] faded up from black (`colour` 0; 255: white) over the first `fade_in` frames and
    down to it over the last `fade_out` (an editor's fades: the shot's first frame is all `colour`)."""
    n = len(frames)
    gains = [min(1.0, t / fade_in if fade_in else 1.0, (n - 1 - t) / fade_out if fade_out else 1.0) for t in range(n)]
    return [(f * np.float32(g) + colour * np.float32(1 - g)).round().astype(np.uint8) for f, g in zip(frames, gains)]


def titled(frames: list[np.ndarray], text: str = "DREAM TV") -> tuple[list[np.ndarray], np.ndarray]:
    """The frames uint8 [H,W,3] under a static white title in the lower right (a station logo, a burned-in
    caption: thin strokes that do not move while the scene does), and the title's mask (bool [H,W])."""
    import cv2

    h, w = frames[0].shape[:2]
    alpha = np.zeros((h, w), np.uint8)
    cv2.putText(alpha, text, (int(w * 0.62), int(h * 0.82)), cv2.FONT_HERSHEY_SIMPLEX, w / 640, 255,
                max(1, w // 160), cv2.LINE_AA)
    a = alpha[..., None].astype(np.float32) / 255
    return [(f * (1 - a) + 255 * a).round().astype(np.uint8) for f in frames], alpha > 128


def dissolve(a: list[np.ndarray], b: list[np.ndarray], length: int = 25) -> list[np.ndarray]:
    """Shot `a` dissolving into shot `b` (frames uint8 [H,W,3]): a's frames, then `length` frames where a's last
    ones cross-fade into b's first ones, then the rest of b (len(a) + len(b) - length frames: no hard cut)."""
    mix = [(a[len(a) - length + t] * np.float32(1 - (t + 1) / (length + 1))
            + b[t] * np.float32((t + 1) / (length + 1))).round().astype(np.uint8) for t in range(length)]
    return a[:len(a) - length] + mix + b[length:]


def whip_path(photo_shape, size=(256, 144), frames: int = 125, at: int = 50, length: int = 6) -> list[tuple]:
    """A camera that holds near one end of a wide photo, whips to the other end in `length` frames from frame
    `at` (most of a view's width per frame: faster than optical flow follows), and holds there, drifting slowly
    all along as a hand-held camera does: per frame (cx, cy, scale, angle)."""
    ph, pw = photo_shape[:2]
    scale = 1.3 * size[1] / ph  # the view shows 1/1.3 of the photo's height
    half = 0.6 * size[0] / scale  # a little more than half a view's width, in photo pixels
    x0, x1 = half, pw - half
    path = []
    for t in range(frames):
        u = min(1.0, max(0.0, (t - at) / length))
        u = u * u * (3 - 2 * u)  # eased in and out
        drift = 0.1 * half * np.sin(np.pi * t / frames)
        path.append((x0 + u * (x1 - x0) + drift, ph / 2 + 0.3 * drift, scale, 0.0))
    return path


def pan_path(photo_shape, size=(256, 144), frames: int = 1000, scale: float = 0.9, seed: int = 1) -> list[tuple]:
    """A long hand-held pan from one end of a wide photo to the other at a steady speed, `scale` view pixels per
    photo pixel, swaying up and down and rolling a little: new content enters at one edge all along (per frame
    (cx, cy, scale, angle), see _view)."""
    rng = np.random.default_rng(seed)
    ph, pw = photo_shape[:2]
    half = 0.6 * size[0] / scale  # a little more than half a view's width, in photo pixels
    shake = np.cumsum(rng.normal(0, 0.4, (frames, 2)), 0) * 0.3
    return [(half + (pw - 2 * half) * t / max(frames - 1, 1) + shake[t, 0],
             ph / 2 + 0.1 * ph * np.sin(2 * np.pi * t / 300) + shake[t, 1], scale, 2 * np.sin(2 * np.pi * t / 400))
            for t in range(frames)]


def blurred_along(photo: np.ndarray, size, path: list[tuple], samples: int = 8) -> list[np.ndarray]:
    """Views uint8 [h,w,3] of a photo along `path` (see _view), each the mean of `samples` views on the way from
    halfway since the last frame's position: the motion blur of a half-open shutter."""
    out = [_affine(photo, size, *path[0])]
    for a, b in zip(path, path[1:]):
        views = [_affine(photo, size, *(p + (q - p) * (0.5 + 0.5 * k / max(samples - 1, 1)) for p, q in zip(a, b)))
                 for k in range(samples)]
        out.append(np.mean(views, 0).round().astype(np.uint8))
    return out


def mosaic(photos: list[np.ndarray], size, row_height: int) -> np.ndarray:
    """One large photo uint8 [h,w,3] (size = (w, h)) of `photos` side by side in rows `row_height` tall, taken in
    turn as often as needed, each at its own resolution (scaled down to the row's height where taller, padded by
    reflection where shorter): a view of it holds pixel-level detail, where one photo of 512 px would be scaled
    up for a big frame."""
    import cv2

    w, h = size
    rows, row, filled, k = [], [], 0, 0
    while len(rows) * row_height < h:
        p = photos[k % len(photos)][..., :3]
        k += 1
        if p.shape[0] > row_height:
            p = cv2.resize(p, (round(p.shape[1] * row_height / p.shape[0]), row_height), interpolation=cv2.INTER_AREA)
        row.append(np.pad(p, ((0, row_height - p.shape[0]), (0, 0), (0, 0)), mode="reflect"))
        filled += p.shape[1]
        if filled >= w:
            rows.append(np.concatenate(row, 1)[:, :w])
            row, filled = [], 0
    return np.ascontiguousarray(np.concatenate(rows, 0)[:h])


def camera_flows(photo_shape, size, path: list[tuple]) -> list:
    """The true backward flow [1,2,H,W] (torch float32, pixels) of each pair t-1 -> t of a `camera` clip:
    frame_t(p) = frame_{t-1}(p + flow(p)) up to resampling."""
    import torch

    w, h = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    p = np.stack([xs.ravel(), ys.ravel(), np.ones(h * w)])
    out = []
    for before, now in zip(path, path[1:]):
        q = _view(photo_shape, size, *before) @ np.linalg.inv(_view(photo_shape, size, *now)) @ p
        out.append(torch.from_numpy((q[:2] - p[:2]).reshape(1, 2, h, w).astype(np.float32)))
    return out


def glued(frames: list[np.ndarray], detail: np.ndarray, photo_shape, path: list[tuple]) -> list[np.ndarray]:
    """The ideal carry of a keyframe's dream `detail` (float [H,W,3], in [0,1] units, dreamed on frames[0]) over a
    `camera` clip: moved with the true camera motion, resampled once (bicubic), never faded or refreshed."""
    import cv2

    size = frames[0].shape[1::-1]
    first = _view(photo_shape, size, *path[0])
    out = []
    for f, p in zip(frames, path):
        to_first = (first @ np.linalg.inv(_view(photo_shape, size, *p)))[:2]
        d = cv2.warpAffine(detail, to_first, size, flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REFLECT)
        out.append(np.clip(f + 255 * d, 0, 255).round().astype(np.uint8))
    return out

