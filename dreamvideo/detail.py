"""The dream detail a video frame holds (output minus input, [B,3,H,W]): how fine it may be, softened to what
motion can carry, and its local energy, measured and held at the keyframe's."""
from __future__ import annotations

import math

import torch

from . import engine
from .tracking import cells, smoothness

SMOOTH_TEXTURE = 0.01  # a frame's fine texture (tracking.smoothness) from which it counts as fully textured
SMOOTH_GAIN = 2.0  # at most this gain brings the more softened detail of smooth regions back to its energy
# (the mean |detail| over 8 px cells)
SOFTEN_WIDTHS = (360, 640)  # px of a frame's longer side: from the first to the second the softening grows, then stays
HOLD_DECAY = 0.1  # share (in log terms) of a dream's excess over its level that goes each frame. Half, as before,
# measured the same flicker at 256 and 384 wide and more at 640 (camera 3.21 against 3.12), with less strength
# (smoke 0.0503 against 0.0521 at 256, 0.0466 against 0.0485 at 640): taking it at once, the refresh regrew it.


def softening(width: int, soften: float) -> float:
    """The Gaussian sigma (px) on a frame's new dream detail, for the frame's longer side `width` (a portrait
    frame as the landscape one of the same size): video.soften up to 360 px (SOFTEN_WIDTHS), times the square
    root of the width over that, up to 4/3 at 640 px and above (0.75 px grows to 1.0). Measured on the
    sharp clip (look.py, pixel-level detail at every width): 0.75 px let flicker rise from 1.57 at 256 wide to
    2.08 at 640 and no further (2.07 at 1280); 1.0 px measured 1.75 and 1.77 there at strength 0.057 and 0.056;
    growing on to 1.41 px at 1280 cost strength (0.050) for 1.53 (all before REFRESH_SLACK)."""
    low, high = SOFTEN_WIDTHS
    return soften * math.sqrt(min(max(width, low), high) / low)


def soften_detail(detail: torch.Tensor, frame: torch.Tensor, v, times: float = 1.0) -> torch.Tensor:
    """New dream detail [B,3,H,W] dreamed on `frame` [B,3,H,W], softened to what motion can carry: a Gaussian of
    `times` x softening(longer side, video.soften) where the frame has pixel-level texture; where it is smooth
    (smoothness, up to SMOOTH_TEXTURE), whose flow errs most, video.soften_smooth times that, then brought back to
    the local energy of the first (at most SMOOTH_GAIN times): the dream there is coarser, not weaker."""
    sigma = softening(max(frame.shape[-2:]), v.soften) * times
    fine = engine.gaussian_blur(detail, sigma)
    if v.soften_smooth == 1 or sigma == 0:
        return fine
    coarse = engine.gaussian_blur(detail, sigma * v.soften_smooth)
    gain = (cells(fine) / cells(coarse).clamp(min=1e-5)).clamp(max=SMOOTH_GAIN)
    return fine + smoothness(frame, SMOOTH_TEXTURE) * (coarse * engine.resize(gain, detail.shape[-2:]) - fine)


def energy(detail: torch.Tensor) -> torch.Tensor:
    """Local dream energy [B,2,H,W]: channel 0 mean |detail|, channel 1 mean |high-pass of detail| (the finest
    texture, which motion and zoom wear away first), averaged over 8 px cells (tracking.cells), interpolated back."""
    both = torch.cat([cells(detail), cells(detail - engine.gaussian_blur(detail, 1.0))], 1)
    return engine.resize(both, detail.shape[-2:])


def coarse_shortfall(detail: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """[B,1,H,W] in [0,1]: how far the coarse part of a dream [B,3,H,W] (its energy less its finest texture's,
    energy()) falls short of that of `level` [B,2,H,W]: 1 where it has none, however much fine texture it has; 0
    where the level has none (--steps 0)."""
    e, coarse = energy(detail), level[:, :1] - level[:, 1:]
    return (1 - (e[:, :1] - e[:, 1:]).clamp(min=0) / coarse.clamp(min=1e-4)).clamp(0, 1) * (coarse > 1e-4)


MARGINS = (1.25, 1.0)  # video.fine_margin = 0: from the first at SOFTEN_WIDTHS[0] px to the second at SOFTEN_WIDTHS[1]


def by_size(width: int, values: tuple[float, float]) -> float:
    """The first of `values` for a frame whose longer side is `width` up to SOFTEN_WIDTHS[0] px, the second from
    SOFTEN_WIDTHS[1] px, in proportion between (as softening() grows)."""
    low, high = SOFTEN_WIDTHS
    share = (min(max(width, low), high) - low) / (high - low)
    return values[0] + share * (values[1] - values[0])


def fine_margin(width: int, margin: float) -> float:
    """How far past its keyframe's the finest texture of a frame whose longer side is `width` may grow (coarser()):
    video.fine_margin, or for 0 by the width (by_size(MARGINS)): at 256 wide (look.py, 2026-11-23) 1.25 kept the
    detail ratio of every clip that met 1.3 (1 took sharp, grain and fade to 1.27-1.29); at 640 wide 1 measured less
    flicker on every clip (camera 2.78 against 2.93, passer 1.97 against 2.04) and coarser patterns at the same
    strength, where the sharp clip's detail ratio is under 1.3 either way (1.23, 1.26; its ideal carry 1.16)."""
    return margin or by_size(width, MARGINS)


def coarser(carried: torch.Tensor, level: torch.Tensor, margin: float) -> torch.Tensor:
    """Carried detail [B,3,H,W] whose finest texture (energy() channel 1) is above `margin` times its `level`
    [B,2,H,W] (video.fine_margin): that texture cut back to it, and the rest brought back to the local energy the
    detail had (at most SMOOTH_GAIN times). The refresh and the repaints grow the layer's finest pattern
    (stripes, speckle) where a keyframe had eyes and rings, and each re-key made that the new keyframe: this
    keeps the dream's patterns about as coarse as its keyframe's, and as strong."""
    local = lambda x: engine.resize(cells(x), carried.shape[-2:])  # noqa: E731  (energy()'s channels, one at a time)
    high = carried - engine.gaussian_blur(carried, 1.0)
    cut = carried - high * (1 - margin * level[:, 1:] / local(high).clamp(min=1e-4)).clamp(min=0)
    return cut * (local(carried) / local(cut).clamp(min=1e-5)).clamp(max=SMOOTH_GAIN)


def hold(carried: torch.Tensor, level: torch.Tensor, boost: float, evolve: float, slack: float = 0.0,
         margin: float = math.inf, coming: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Hold the dream's local energy at `level` [B,2,H,W] from both sides. Finest texture above `margin` times
    its level is made coarser (coarser()). Where the carried detail [B,3,H,W] is above it (zoom and re-keys pile
    texture up), HOLD_DECAY of the excess in log terms goes; where it falls short by more than `slack` (a share of the
    level), the refresh's step gain [B,2,H,W] (coarse, fine octaves) grows as `boost` x the shortfall beyond it
    (rescaled to reach `boost` at none left), plus `evolve` everywhere. `coming` [B,3,H,W]: detail still to be shown
    on top (ease()), counted as there. Returns (carried, gain)."""
    carried = coarser(carried, level, margin) if math.isfinite(margin) else carried
    e = energy(carried if coming is None else carried + coming)
    over = (e[:, :1] / level[:, :1].clamp(min=1e-4)).clamp(min=1)
    shortfall = (1 - e / level.clamp(min=1e-4)) * (level > 1e-4)  # none where the keyframe has no dream (--steps 0)
    # fine texture is regrown only while the overall energy stays within a quarter above its level
    shortfall = torch.cat([shortfall[:, :1], torch.minimum(shortfall[:, 1:], shortfall[:, :1] + 0.25)], 1)
    shortfall = (shortfall - slack) / (1 - slack)
    return carried / over ** HOLD_DECAY, (evolve + boost * shortfall).clamp(0, max(boost, evolve))


def ease(change: torch.Tensor, pending: torch.Tensor, back: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    """What a frame shows of the refresh's `change` [B,3,H,W] and of what earlier frames' refreshes left `pending`
    [B,3,H,W] (carried along the flow): all of their sum but the share `back` ([B,1,H,W] or a number in [0,1]),
    which is left pending for the next frame. A refresh's single step follows the network's gradient, which is
    mostly new noise on every frame (a shift of a pixel decorrelates it), so spread over frames its noise
    averages out while what it adds over time is the same. Returns (shown, still pending)."""
    total = pending + change
    left = back * total
    return total - left, left
