"""Quality measures for dreamed videos (frames are uint8 [H,W,3] RGB numpy).

Temporal warping error after Lai et al. (ECCV 2018): for each consecutive pair, backward DIS flow (OpenCV's
MEDIUM preset, "dis-fine") of the *input* frames, a forward-backward validity mask (pixels leaving the frame
excluded), and
e_t = mean over valid pixels of |Y(V_t) - warp(Y(V_{t-1}))| on luma in [0,1]; E_warp = mean of e_t over
pairs, pairs across a scene cut left out.
"""
from __future__ import annotations

import numpy as np
import torch

from . import flow


def luma(frames: list[np.ndarray]) -> torch.Tensor:
    """[N,1,H,W] luma in [0,1]."""
    x = torch.from_numpy(np.stack(frames)).float().div(255)
    return (0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2])[:, None]


def input_flows(frames: list[np.ndarray]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(backward flow [1,2,H,W], validity [1,1,H,W]) for each pair t-1 -> t of the input."""
    out = []
    for prev, cur in zip(frames, frames[1:]):
        b = torch.from_numpy(flow.estimate(cur, prev, "dis-fine"))[None]
        f = torch.from_numpy(flow.estimate(prev, cur, "dis-fine"))[None]
        out.append((b, flow.consistent(b, f)))
    return out


def warping_error(frames: list[np.ndarray], flows, cuts: set[int] = frozenset(), sigma: float = 0.0) -> float:
    """E_warp of `frames` under the input's flows; a pair (t-1, t) with t in `cuts` is left out. `sigma` > 0:
    of the luma blurred by a Gaussian of that many pixels (what a viewer sees as flicker, without the texture
    resampling every moving fine pattern has)."""
    from .engine import gaussian_blur

    y = gaussian_blur(luma(frames), sigma)
    errors = []
    for t in range(1, len(frames)):
        if t in cuts:
            continue
        b, valid = flows[t - 1]
        diff = (y[t:t + 1] - flow.warp(y[t - 1:t], b)).abs() * valid
        errors.append(float(diff.sum() / valid.sum().clamp(min=1)))
    return float(np.mean(errors))


def true_flicker(out: list[np.ndarray], inp: list[np.ndarray], true_flows: list, sigma: float = 0.0) -> float:
    """Flicker along known motion (synthetic clips): E_warp of `out` over E_warp of `inp` under the true backward
    flows [1,2,H,W] of each pair, pixels whose source lies inside the frame. Unlike the ratio under the input's
    DIS flow, it does not favour a dream carried with that same flow."""
    flows = [(f, flow.inside(f)) for f in true_flows]
    return warping_error(out, flows, sigma=sigma) / warping_error(inp, flows, sigma=sigma)


def strength(out: list[np.ndarray], inp: list[np.ndarray]) -> float:
    """Mean |output - input| over pixels and frames, RGB in [0,1]."""
    return float(np.mean([np.abs(o.astype(np.float32) - i) .mean() / 255 for o, i in zip(out, inp)]))


def detail(frames: list[np.ndarray]) -> float:
    """Mean |Laplacian| of luma: how much fine detail the frames hold."""
    import cv2

    y = luma(frames).numpy()[:, 0]
    return float(np.mean([np.abs(cv2.Laplacian(f, cv2.CV_32F)).mean() for f in y]))


def loop_seam(frames: list[np.ndarray], step_flow: torch.Tensor) -> tuple[float, float]:
    """(seam, typical): seam = mean |Z(last) - first|, typical = median over i of mean |Z(f_i) - f_{i+1}|,
    where Z is one frame's zoom step (warp by step_flow [1,2,H,W]); RGB in [0,1]."""
    x = torch.from_numpy(np.stack(frames)).float().div(255).permute(0, 3, 1, 2)
    moved = flow.warp(x, step_flow.expand(len(x), -1, -1, -1))
    steps = (moved[:-1] - x[1:]).abs().mean(dim=(1, 2, 3))
    seam = (moved[-1] - x[0]).abs().mean()
    return float(seam), float(steps.median())


def frame_strength(out: np.ndarray, inp: np.ndarray) -> float:
    """Mean |output - input| of one frame, RGB in [0,1]."""
    return float(np.abs(out.astype(np.float32) - inp).mean() / 255)


def added_detail(out: np.ndarray, inp: np.ndarray) -> float:
    """The detail the dream added to one frame: mean |Laplacian| of output luma over the input's, minus 1."""
    return detail([out]) / max(detail([inp]), 1e-6) - 1


def shot_ends(n: int, cuts, fps: float = 25.0) -> list[tuple[range, range]]:
    """For every shot of at least 1 s among n frames: the frame numbers of its first and its last half second."""
    bounds = [0, *sorted(c for c in cuts if 0 < c < n), n]
    half = max(1, round(fps / 2))
    return [(range(a, a + half), range(b - half, b)) for a, b in zip(bounds, bounds[1:])
            if b - a >= 2 * half and b - a >= fps]


def persistence(out: list[np.ndarray], inp: list[np.ndarray], cuts, fps: float = 25.0) -> list[tuple[float, float]]:
    """For every shot of at least 1 s: (strength, added detail) over its last half second divided by the same
    over its first half second. 1 means the dream is as strong at the end of the shot as at its start. NaN where
    the first half second has next to none (under STRENGTH_FLOOR, ADDED_FLOOR: a shot opening on black, a grainy
    night shot whose dream adds less detail than the encoder took of its grain): a ratio to nothing says nothing."""
    ratio = lambda a, b, floor: b / a if a > floor else float("nan")  # noqa: E731
    rows = []
    for head, tail in shot_ends(len(out), cuts, fps):
        s = [np.mean([frame_strength(out[i], inp[i]) for i in r]) for r in (head, tail)]
        d = [np.mean([added_detail(out[i], inp[i]) for i in r]) for r in (head, tail)]
        rows.append((ratio(*s, STRENGTH_FLOOR), ratio(*d, ADDED_FLOOR)))
    return rows


STRENGTH_FLOOR, ADDED_FLOOR = 1e-4, 0.01  # below these, a half second shows no dream to persist (persistence)


def coarseness(out: np.ndarray, inp: np.ndarray, sigma: float = 1.0, wide: float = 4.0) -> float:
    """How coarse one frame's dream patterns are: its luma change (output - input) blurred by `sigma` px less
    what is wider than `wide` px (a tint, a shift of brightness), over what the blur takes away (mean |.| of
    each). The finest pattern a layer makes (stripes, speckle) is in the second; eyes, rings and blobs in the
    first."""
    import cv2

    d = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).astype(np.float32) - cv2.cvtColor(inp, cv2.COLOR_RGB2GRAY)
    blurred = cv2.GaussianBlur(d, (0, 0), sigma)
    return float(np.abs(blurred - cv2.GaussianBlur(d, (0, 0), wide)).mean() / max(np.abs(d - blurred).mean(), 1e-6))


def scale_persistence(out: list[np.ndarray], inp: list[np.ndarray], cuts, fps: float = 25.0) -> list[float]:
    """For every shot of at least 1 s: coarseness over its last half second over its first half second.
    Below 1: the dream's patterns got finer over the shot (a refreshed dream drifting to stripes)."""
    share = lambda frames: np.mean([coarseness(out[i], inp[i]) for i in frames])  # noqa: E731
    return [share(tail) / max(share(head), 1e-9) for head, tail in shot_ends(len(out), cuts, fps)]


def ghost(out: list[np.ndarray], inp: list[np.ndarray], masks: list[np.ndarray], sigma: float = 4.0) -> float:
    """Ghosting after an object leaves: the low-frequency change the dream made (|blur(out - in)|, brightness
    and colour, not texture) on pixels the object covered earlier in the shot but no longer does, over the same
    on pixels it never covered, on the frames that have both (an object that crosses the whole frame leaves none
    uncovered). About 1: no trace of the object; well above 1: its silhouette lingers."""
    import cv2

    seen = np.zeros_like(masks[0])
    revealed, clean = [], []
    for o, i, m in zip(out, inp, masks):
        low = np.abs(cv2.GaussianBlur(o.astype(np.float32) - i, (0, 0), sigma)).mean(-1)
        gone, never = seen & ~m, ~(seen | m)
        if gone.any() and never.any():
            revealed.append(low[gone].mean())
            clean.append(low[never].mean())
        seen |= m
    return float(np.mean(revealed) / max(np.mean(clean), 1e-9)) if revealed else float("nan")


def object_share(out: list[np.ndarray], inp: list[np.ndarray], masks: list[np.ndarray]) -> float:
    """How much dream a moving object holds: strength (mean |out - in|) on its pixels (bool [H,W] masks) over the
    strength on the others, averaged over the frames that show it. About 1: it is dreamed as the scene is."""
    rows = [np.abs(o.astype(np.float32) - i).mean(-1) for o, i in zip(out, inp)]
    shares = [r[m].mean() / max(r[~m].mean(), 1e-9) for r, m in zip(rows, masks) if m.any() and (~m).any()]
    return float(np.mean(shares)) if shares else float("nan")


def scene_memory(out: list[np.ndarray], inp: list[np.ndarray], masks: list[np.ndarray], to_last: list[np.ndarray]
                 ) -> float:
    """Whether a scene keeps its dream where a moving object passed in front of it: on the last frame, the
    correlation of the dream (out - in, mean over channels, blurred by 2 px: its patterns, not a pixel of drift)
    with the first frame's dream moved there along the scene's true motion, on the pixels the object (bool [H,W]
    masks) covered at some time but not on the last frame, and that the first frame showed. `to_last`: per frame
    t, float32 [H,W,2], where each pixel of the last frame shows the scene in frame t (synth.scene_maps). Near 1:
    the scene's dream came back as it was; near 0: another dream grew there. NaN when the object covered none of
    those pixels."""
    import cv2

    h, w = masks[0].shape
    covered = np.zeros((h, w), bool)
    for m, at in zip(masks, to_last):
        covered |= cv2.remap(m.astype(np.float32), at[..., 0], at[..., 1], cv2.INTER_LINEAR) > 0.5
    first = to_last[0]
    shown = (first[..., 0] >= 0) & (first[..., 0] <= w - 1) & (first[..., 1] >= 0) & (first[..., 1] <= h - 1)
    where = covered & ~masks[-1] & shown
    if not where.any():
        return float("nan")
    dream = lambda o, i: cv2.GaussianBlur((o.astype(np.float32) - i).mean(-1), (0, 0), 2.0)  # noqa: E731
    now = dream(out[-1], inp[-1])[where]
    then = cv2.remap(dream(out[0], inp[0]), first[..., 0], first[..., 1], cv2.INTER_LINEAR)[where]
    now, then = now - now.mean(), then - then.mean()
    return float((now * then).sum() / max(np.sqrt((now * now).sum() * (then * then).sum()), 1e-12))


def shimmer(out: list[np.ndarray], inp: list[np.ndarray], still: np.ndarray) -> float:
    """On pixels that do not move (bool [H,W] `still`, e.g. a static title over a moving scene): the mean
    change of the output from frame to frame over the mean strength of the dream there. About 0: the dream
    there holds still with them; near 1: it is dropped and grown again every frame."""
    change = np.mean([np.abs(b.astype(np.float32) - a)[still].mean() for a, b in zip(out, out[1:])])
    strength = np.mean([np.abs(o.astype(np.float32) - i)[still].mean() for o, i in zip(out, inp)])
    return float(change / max(strength, 1e-9))


def leftover(out: list[np.ndarray], inp: list[np.ndarray], before: int) -> float:
    """After a dissolve between two locked-off shots: the correlation of the dream (out - in) on the last frame with
    the dream on frame `before`, the first shot's last frame alone. About 0: the second picture's dream is its
    own (as after a cut); near 1: the first picture's dream lingers over it."""
    a, b = (out[k].astype(np.float32) - inp[k] for k in (before, -1))
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-9))
