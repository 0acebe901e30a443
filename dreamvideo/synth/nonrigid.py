"""Non-rigid change with known motion, or none that explains it: smoke, water, cloth."""
from __future__ import annotations

import numpy as np


def _smoke_steps(h: int, w: int, frames: int, seed: int):
    """The smoke clip's motion: per frame the (x, y) sampling maps float32 [H,W] that advect the last frame."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    waves = [(rng.uniform(0.02, 0.08), rng.uniform(0.02, 0.08), rng.uniform(0, 6.3), rng.uniform(0.5, 1.5))
             for _ in range(4)]
    for t in range(frames):
        psi = sum(a * np.sin(kx * xx + ky * yy + ph + 0.05 * t) / (kx + ky) for kx, ky, ph, a in waves)
        vy, vx = np.gradient(psi)  # divergence-free: a stream function's curl
        yield xx - 0.5 * vy, yy + 0.5 * vx


def smoke(texture: np.ndarray, size=(256, 144), frames: int = 125, seed: int = 0) -> list[np.ndarray]:
    """Non-rigid change: a texture advected by a turbulent, slowly changing flow field (like smoke or water),
    under light that brightens and dims."""
    import cv2

    w, h = size
    img = cv2.resize(texture, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    source = img.copy()
    out = []
    for t, (mx, my) in enumerate(_smoke_steps(h, w, frames, seed)):
        img = cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        img = 0.99 * img + 0.01 * source  # keeps the texture from blurring away entirely
        light = 0.85 + 0.25 * np.sin(2 * np.pi * t / frames)
        out.append(np.clip(img * light, 0, 255).astype(np.uint8))
    return out


def smoke_flows(size, frames: int, seed: int = 0) -> list:
    """The true backward flow [1,2,H,W] (torch float32, pixels) of each pair t-1 -> t of a `smoke` clip."""
    import torch

    w, h = size
    xx, yy = np.mgrid[0:h, 0:w][::-1].astype(np.float32)
    steps = list(_smoke_steps(h, w, frames, seed))[1:]  # frame 0 is the texture after the first step
    return [torch.from_numpy(np.stack([sx - xx, sy - yy])[None]) for sx, sy in steps]


def smoke_glued(frames: list[np.ndarray], detail: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """The ideal carry of a dream `detail` (float [H,W,3], [0,1] units, dreamed on frames[0]) over a `smoke` clip:
    moved with the true advection (the maps composed, resampled once, bicubic), never faded or refreshed."""
    import cv2

    h, w = frames[0].shape[:2]
    steps = _smoke_steps(h, w, len(frames), seed)
    next(steps)  # frame 0 is the texture after one step: the detail was dreamed there
    to_first = np.stack(np.mgrid[0:h, 0:w][::-1], -1).astype(np.float32)
    out = []
    for f, (sx, sy) in zip(frames, [(None, None), *steps]):
        if sx is not None:  # frame t samples frame t-1 at the step's maps: compose
            to_first = cv2.remap(to_first, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        d = cv2.remap(detail, to_first[..., 0], to_first[..., 1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        out.append(np.clip(f + 255 * d, 0, 255).round().astype(np.uint8))
    return out


def water(photo: np.ndarray, size=(256, 144), frames: int = 125, seed: int = 0) -> list[np.ndarray]:
    """A locked-off shot of a photo over its reflection in rippling water (the bottom 45 %): a dynamic texture
    whose picture changes frame to frame with no motion that explains it (water, fire, leaves), waves larger
    and longer towards the camera, sparkles where their slope catches the light. The top half holds still."""
    import cv2

    w, h = size
    top = h * 55 // 100
    scene = _cover(photo, (w, top))
    below = (scene[::-1].astype(np.float32) * np.array([0.55, 0.65, 0.75], np.float32))[: h - top]
    rng = np.random.default_rng(seed)
    unit = w / 256
    yy, xx = np.mgrid[0:h - top, 0:w].astype(np.float32)
    near = 0.25 + (yy + 1) / (h - top)  # 0.25 far (the horizon) .. 1.25 near
    waves = [(rng.uniform(0, 2 * np.pi), unit * rng.uniform(6, 24), rng.uniform(0.15, 0.35), rng.uniform(0, 6.3))
             for _ in range(6)]
    length_mean = np.mean([length for _, length, _, _ in waves]) * near
    out = []
    for t in range(frames):
        height = np.zeros_like(xx)
        for angle, length, speed, phase in waves:
            k = 2 * np.pi / (length * near)
            height += np.sin(k * (np.cos(angle) * xx + 3 * np.sin(angle) * yy) - speed * t * 2 * np.pi / 8 + phase)
        gy, gx = (g * length_mean / 6 for g in np.gradient(height))  # slopes of about 1
        sway = 2 * unit * near  # px of refraction per unit slope
        img = cv2.remap(below, (xx + sway * gx).astype(np.float32),
                        np.clip(yy + sway * gy, 0, h - top - 1).astype(np.float32), cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REFLECT)
        sparkle = 400 * np.clip(gx / gx.std() - 2.0, 0, None)  # the steepest 2 % catch the light
        frame = np.concatenate([scene.astype(np.float32), img + sparkle[..., None]], 0)
        out.append(np.clip(frame, 0, 255).astype(np.uint8))
    return out


def _cover(photo: np.ndarray, size) -> np.ndarray:
    """The middle of `photo` [h,w,3] scaled to fill `size` = (w, h), cropped to its aspect."""
    import cv2

    w, h = size
    ph, pw = photo.shape[:2]
    s = max(w / pw, h / ph)
    cw, ch = round(w / s), round(h / s)
    y0, x0 = (ph - ch) // 2, (pw - cw) // 2
    return cv2.resize(photo[y0:y0 + ch, x0:x0 + cw, :3], (w, h), interpolation=cv2.INTER_AREA)


def _cloth_maps(h: int, w: int, frames: int, seed: int):
    """The cloth clip's motion: per frame the (x, y) float32 [H,W] maps into its texture and the shading [H,W]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    free = 0.3 + 0.7 * xx / w  # held at the left edge, free at the right
    k = 2 * np.pi / (0.45 * w)
    tilt, wobble = rng.uniform(0.3, 0.6), rng.uniform(0, 6.3)
    for t in range(frames):
        phase = k * (xx + tilt * yy) - 2 * np.pi * t / 30 + 0.8 * np.sin(2 * np.pi * yy / h + 0.07 * t + wobble)
        ax, ay = 0.5 / k * free, 0.03 * h * free
        yield xx + ax * np.sin(phase), yy + ay * np.cos(phase), 1 + 0.25 * np.cos(phase) * free


def cloth(texture: np.ndarray, size=(256, 144), frames: int = 125, seed: int = 0) -> list[np.ndarray]:
    """Non-rigid change that comes back: a printed cloth (a flag) filling the frame, held at its left edge, with
    folds travelling across it that squeeze and draw out its print and shade it, over and over."""
    import cv2

    w, h = size
    tex = _cover(texture, (w, h)).astype(np.float32)
    return [np.clip(cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT) * shade[..., None],
                    0, 255).astype(np.uint8) for mx, my, shade in _cloth_maps(h, w, frames, seed)]


def _inverse(mx: np.ndarray, my: np.ndarray, rounds: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of a sampling map (x, y) float32 [H,W] that moves points by less than they are apart: q with
    map(q) = p, by fixed-point rounds."""
    import cv2

    yy, xx = np.mgrid[0:mx.shape[0], 0:mx.shape[1]].astype(np.float32)
    qx, qy = xx.copy(), yy.copy()
    for _ in range(rounds):
        dx = cv2.remap(mx - xx, qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        dy = cv2.remap(my - yy, qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        qx, qy = xx - dx, yy - dy
    return qx, qy


def cloth_flows(size, frames: int, seed: int = 0) -> list:
    """The true backward flow [1,2,H,W] (torch float32, pixels) of each pair t-1 -> t of a `cloth` clip."""
    import cv2
    import torch

    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    maps, out = [(mx, my) for mx, my, _ in _cloth_maps(h, w, frames, seed)], []
    for (bx, by), (nx, ny) in zip(maps, maps[1:]):
        ix, iy = _inverse(bx, by)
        sx, sy = (cv2.remap(i, nx, ny, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT) for i in (ix, iy))
        out.append(torch.from_numpy(np.stack([sx - xx, sy - yy])[None]))
    return out


def cloth_glued(frames: list[np.ndarray], detail: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """The ideal carry of a dream `detail` (float [H,W,3], [0,1] units, dreamed on frames[0]) over a `cloth` clip:
    moved with the cloth, resampled once (bicubic), never faded or refreshed."""
    import cv2

    h, w = frames[0].shape[:2]
    maps = list(_cloth_maps(h, w, len(frames), seed))
    ix, iy = _inverse(*maps[0][:2])
    out = []
    for f, (mx, my, _) in zip(frames, maps):
        sx, sy = (cv2.remap(i, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT) for i in (ix, iy))
        d = cv2.remap(detail, sx, sy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        out.append(np.clip(f + 255 * d, 0, 255).round().astype(np.uint8))
    return out
