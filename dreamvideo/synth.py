"""Synthetic test clips: ffmpeg lavfi sources (tests) and clips made from photos with camera motion
(benchmarks). Not used by the product itself."""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from . import encode, video


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


def passer(background: np.ndarray, thing: np.ndarray, size=(256, 144), frames: int = 125,
           enter: int = 10, leave: int = 80) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """An object that enters from the left at `enter`, crosses a slowly panning scene and is gone by `leave`.
    Returns the frames and the object's mask per frame (bool [H,W]) for measuring ghosts."""
    import cv2

    w, h = size
    ow, oh = w // 4, int(h * 0.6)
    patch = cv2.resize(thing, (ow, oh), interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[0:oh, 0:ow]
    shape = ((xx - ow / 2) / (ow / 2)) ** 2 + ((yy - oh / 2) / (oh / 2)) ** 2 <= 1  # an ellipse
    ph, pw = background.shape[:2]
    base = min(pw / (w * 1.5), ph / (h * 1.5))
    frames_out, masks = [], []
    for t in range(frames):
        img = _affine(background, size, pw / 2 + 0.4 * t * base, ph / 2, 1 / base, 0.0).copy()
        mask = np.zeros((h, w), bool)
        if enter <= t < leave:
            x0 = int(-ow + (w + ow) * (t - enter) / (leave - enter))
            y0 = int(h * 0.25 + 4 * np.sin(t / 5))
            xs, xe = max(x0, 0), min(x0 + ow, w)
            if xe > xs:
                m = shape[:, xs - x0: xe - x0]
                img[y0:y0 + oh, xs:xe][m] = patch[:, xs - x0: xe - x0][m]
                mask[y0:y0 + oh, xs:xe] = m
        frames_out.append(img)
        masks.append(mask)
    return frames_out, masks


def dancer(background: np.ndarray, skin: np.ndarray, size=(256, 144), frames: int = 125, enter: int = 10,
           leave: int = 110, seed: int = 0):
    """A figure that dances across a slowly panning scene: a torso and head that bob, arms and legs that swing
    about their joints every 16-24 frames (each limb's texture turning with it), entering from the left at
    `enter` and gone by `leave`. Non-rigid change with occlusion: the limbs cover and reveal the scene behind
    them all the time. Returns the frames and the figure's mask per frame (bool [H,W])."""
    import cv2

    w, h = size
    rng = np.random.default_rng(seed)
    u = h / 90  # figure units: head to feet about 111 of them, 1.2 times the frame's height (filmed close)
    tex = cv2.resize(skin, (w, h), interpolation=cv2.INTER_AREA)
    ph, pw = background.shape[:2]
    base = min(pw / (w * 1.5), ph / (h * 1.5))
    # (joint x, joint y) on the body, length, width, rest angle (deg, 0 down), swing (deg), period, phase
    limbs = [(-14, -22, 34, 9, 40, 70, 16, rng.uniform(0, 6.3)), (14, -22, 34, 9, -40, 70, 20, rng.uniform(0, 6.3)),
             (-8, 22, 40, 11, 10, 35, 24, rng.uniform(0, 6.3)), (8, 22, 40, 11, -10, 35, 18, rng.uniform(0, 6.3))]
    out, masks = [], []
    for t in range(frames):
        img = _affine(background, size, pw / 2 + 0.4 * t * base, ph / 2, 1 / base, 0.0).copy()
        mask = np.zeros((h, w), bool)
        if enter <= t < leave:
            cx = -30 * u + (w + 60 * u) * (t - enter) / (leave - enter)
            mask = _dance_pose(img, tex, t, cx, h * 0.5 + 5 * u * np.sin(2 * np.pi * t / 12), u, limbs)
        out.append(img)
        masks.append(mask)
    return out, masks


def _dance_pose(img: np.ndarray, tex: np.ndarray, t: int, cx: float, cy: float, u: float, limbs: list) -> np.ndarray:
    """Draw the dancer of frame t with its body centred at (cx, cy) onto img uint8 [H,W,3], its skin `tex`
    [H,W,3] moved with the body and turned with each limb; returns its mask (bool [H,W])."""
    import cv2

    h, w = img.shape[:2]
    lean = 12 * np.sin(2 * np.pi * t / 30)
    body = np.zeros((h, w), np.uint8)
    cv2.ellipse(body, (round(cx), round(cy)), (round(15 * u), round(28 * u)), lean, 0, 360, 1, -1)
    cv2.circle(body, (round(cx + 0.3 * lean * u), round(cy - 38 * u)), round(11 * u), 1, -1)
    parts = [(body, cv2.getRotationMatrix2D((cx, cy), lean, 1.0))]  # (mask, 2x3 matrix moving the skin with it)
    for jx, jy, length, width, rest, swing, period, phase in limbs:
        a = np.deg2rad(rest + swing * np.sin(2 * np.pi * t / period + phase) + lean)
        x0, y0 = cx + jx * u, cy + jy * u
        m = np.zeros((h, w), np.uint8)
        cv2.line(m, (round(x0), round(y0)), (round(x0 + length * u * np.sin(a)), round(y0 + length * u * np.cos(a))),
                 1, max(2, round(width * u)))
        parts.append((m, cv2.getRotationMatrix2D((x0, y0), np.rad2deg(a), 1.0)))
    mask = np.zeros((h, w), bool)
    for m, rot in parts:
        rot[:, 2] += (cx - w / 2, cy - h / 2)
        skin = cv2.warpAffine(tex, rot, (w, h), borderMode=cv2.BORDER_REFLECT)
        img[m > 0] = skin[m > 0]
        mask |= m > 0
    return mask


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
