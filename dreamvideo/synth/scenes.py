"""Things that move over a scene and cover and reveal it, their masks known: an object passing, a dancer."""
from __future__ import annotations

import numpy as np

from .camera import _affine

PAN = 0.4  # px a frame: how fast the scene behind a passer or a dancer pans (its content moves to the left)


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
        img = _affine(background, size, pw / 2 + PAN * t * base, ph / 2, 1 / base, 0.0).copy()
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
        img = _affine(background, size, pw / 2 + PAN * t * base, ph / 2, 1 / base, 0.0).copy()
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



def scene_maps(size, frames: int) -> list[np.ndarray]:
    """For a passer or dancer clip of `frames` frames: per frame t, float32 [H,W,2], where each pixel of its last
    frame shows the scene in frame t (x, y; the scene pans PAN px a frame; outside [0, W): not in view then)."""
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return [np.stack([xs + PAN * (frames - 1 - t), ys], -1) for t in range(frames)]
