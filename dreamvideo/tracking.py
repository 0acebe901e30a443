"""Which pixels of a frame still show what their carried dream was dreamed on: pure tensor functions on frames
[B,3,H,W] in [0,1] and backward flows [B,2,H,W] in pixels, with no dreaming in them."""
from __future__ import annotations

import torch

from . import engine, flow
from .lanes import BAR_MAX, BAR_MEAN, NO_BARS


def luma(x: torch.Tensor) -> torch.Tensor:
    """[B,1,H,W]: the luma (BT.601 weights) of frames [B,3,H,W]."""
    return (x * torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)).sum(1, keepdim=True)


LIGHT_RANGE = 4.0  # the most a change of light may brighten or dim a frame (per channel) and still be taken out


def relit(b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Frame b [B,C,H,W] under a's light: each channel scaled by the median over 8 px cells of a's mean over b's
    (by at most LIGHT_RANGE either way). A flash, a strobe, an exposure or colour change of the whole frame is
    not a change of content; the median is blind to content that did change (a bright wall sliding over 45 %
    of the frame: the ratio of whole-frame means dropped every pixel's tracking)."""
    pool = lambda x: torch.nn.functional.avg_pool2d(x, 8, ceil_mode=True).flatten(2)  # noqa: E731
    gain = ((pool(a) + 0.01) / (pool(b) + 0.01)).median(2).values[..., None, None]
    return b * gain.clamp(1 / LIGHT_RANGE, LIGHT_RANGE)


DARK = 0.2  # luma of a frame's brightest 8 px cell below which its dream is shown only in proportion


def shown_share(x: torch.Tensor) -> torch.Tensor:
    """[B,1,1,1] in [0,1]: how much of its dream a frame [B,3,H,W] shows: all of it once its brightest 8 px cell
    reaches a luma of DARK, less in proportion on darker frames, none on black. The dream fades out and in with
    the picture at the dark end of an editor's fades to and from black, and a black frame stays black; dark
    footage with a light in it keeps its whole dream."""
    y = luma(x)
    brightest = torch.nn.functional.avg_pool2d(y, 8, ceil_mode=True).amax((2, 3), keepdim=True)
    return (brightest / DARK).clamp(0, 1)


def _paired(dark: torch.Tensor) -> torch.Tensor:
    """[B,N] bool per row (column) -> [B,N] 1 on the runs from both ends, if both ends are dark (bars)."""
    edge = dark.to(torch.float32).cumprod(1) + dark.flip(1).to(torch.float32).cumprod(1).flip(1)
    return ((edge > 0) & dark[:, :1] & dark[:, -1:]).to(torch.float32)


def picture(x: torch.Tensor, bars: torch.Tensor | None = None) -> torch.Tensor:
    """[B,1,H,W]: 0 on a frame's [B,3,H,W] letterbox or pillarbox bars, 1 on the picture between them. Bars are
    runs of rows (columns) from both opposite edges; the dream is not shown there, so bars stay black. `bars`
    [B,8] (lanes.shot_bars, what the job's scan found for the frame's shot; none: NO_BARS): as far as they
    surely reach from the top, bottom, left and right (shares of the height and width), a row is a bar's if
    it is mostly black between the pillarbox bars (columns; lanes.mostly_black: subtitles in a bar stay
    undreamed); as far as they may reach, if it averages a luma under BAR_MEAN with no pixel above BAR_MAX (a
    coded black with its noise and ringing). A dark run from one edge alone is picture (a night sky above a lit
    street). On the device, no sync."""
    y = luma(x)[:, 0]
    bars = torch.tensor(NO_BARS, device=x.device, dtype=x.dtype).expand(len(x), 8) if bars is None else bars
    strict = [(y.mean(a) < BAR_MEAN) & (y.amax(a) < BAR_MAX) for a in (2, 1)]  # [B,H] rows, [B,W] columns
    lit = (y >= BAR_MEAN).to(x.dtype)
    between = [1 - _paired(s).to(x.dtype) for s in strict]  # off the other axis' black bars
    loose = [(lit * between[1][:, None, :]).sum(2) < 0.5 * between[1].sum(1, keepdim=True),
             (lit * between[0][:, :, None]).sum(1) < 0.5 * between[0].sum(1, keepdim=True)]

    def inside(loose: torch.Tensor, strict: torch.Tensor, sure: torch.Tensor, reach: torch.Tensor) -> torch.Tensor:
        # [B,N] bools per row (column) and [B,2] shares from each end -> [B,N]: 1 off the bars
        near = torch.arange(loose.shape[1], device=x.device, dtype=x.dtype) + 1  # [N] rows from the edge, 1 first
        within = lambda k: near <= (k * loose.shape[1] - 1e-3).ceil()  # noqa: E731 [B,1] share -> [B,N]
        ends = [(lo & within(s) | st & within(r)).to(x.dtype) for lo, st, s, r in
                ((loose, strict, sure[:, :1], reach[:, :1]),
                 (loose.flip(1), strict.flip(1), sure[:, 1:], reach[:, 1:]))]
        both = ends[0][:, :1] * ends[1][:, :1]  # [B,1]: bars come in pairs
        return 1 - ((ends[0].cumprod(1) + ends[1].cumprod(1).flip(1)) > 0).to(x.dtype) * both

    rows = inside(loose[0], strict[0], bars[:, 0:2], bars[:, 4:6])  # [B,H]
    cols = inside(loose[1], strict[1], bars[:, 2:4], bars[:, 6:8])  # [B,W]
    return (rows[:, :, None] * cols[:, None, :])[:, None]


def shown(x: torch.Tensor, bars: torch.Tensor | None = None) -> torch.Tensor:
    """[B,1,H,W] in [0,1]: how much of its dream each pixel of a frame [B,3,H,W] shows: shown_share on the
    picture, nothing on its bars (picture, with its shot's `bars` [B,8])."""
    return shown_share(x) * picture(x, bars)


def mismatch(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """[B,1,H,W]: how much two aligned frames [B,C,H,W] differ, mean |difference| over channels (in their units),
    lightly blurred."""
    return engine.gaussian_blur((a - b).abs().mean(1, keepdim=True), 1.0)


STILL_MARGIN = 0.02  # a pixel holds still where it matches the previous frame in place by this much better


def held_still(back: torch.Tensor, before: torch.Tensor, prev: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """[B,1,H,W]: 1 where frame x [B,3,H,W] matches the previous frame `prev` in place better, by STILL_MARGIN
    (mismatch, in [0,1] units), than along the flow `back` [B,2,H,W] (`before`: prev warped along it) and the
    flow moves it: a static logo, a burned-in title, a still background beside a moving subject, that the flow
    dragged along. Flat regions, which match either way, keep the flow."""
    moved = (back.pow(2).sum(1, keepdim=True) > 0.01).float()
    return moved * (mismatch(x, prev) + STILL_MARGIN < mismatch(x, before)).float()


def photometric(a: torch.Tensor, b: torch.Tensor, tolerance: float) -> torch.Tensor:
    """[B,1,H,W] in [0,1]: exactly 1 where two aligned frames differ by at most `tolerance` (mismatch, in [0,1]
    units), falling to 0 at twice that. Exactly 1 within the tolerance: a confidence applied frame after frame
    must not wear the dream down by small factors."""
    return (2 - mismatch(a, b) / tolerance).clamp(0, 1)


def structure(x: torch.Tensor) -> torch.Tensor:
    """[B,1,H,W] high-pass of a frame's luma: its structure without slow changes of light."""
    y = luma(x)
    return y - engine.gaussian_blur(y, 3.0)


def sharper(now: torch.Tensor, then: torch.Tensor, trust: torch.Tensor) -> torch.Tensor:
    """[B]: how many times the structure [B,1,H,W] of a frame (`now`) is that of the same content earlier (`then`,
    e.g. its keyframe warped to it and relit), in mean |structure| over the tracked pixels (trust [B,1,H,W]).
    Above 1 the picture came into focus since (a whip pan's motion blur gone, a focus pull); a flat picture's
    noise does not count (0.002 of structure added to both)."""
    mass = trust.sum((1, 2, 3)) + 1e-6
    return ((now.abs() * trust).sum((1, 2, 3)) / mass + 0.002) / ((then.abs() * trust).sum((1, 2, 3)) / mass + 0.002)


def likeness(x: torch.Tensor, source: torch.Tensor, trust: torch.Tensor) -> torch.Tensor:
    """[B]: how alike frame x [B,3,H,W] and `source` [B,3,H,W] (its keyframe warped to it) are over the tracked
    pixels (trust [B,1,H,W]), on 4 px cells (a pixel of flow error does not count): the better of two
    correlations (zero-mean, normalized), of their luma and of their shapes (shape). 1 for the same picture
    under any light, falling as another picture comes in (a dissolve), which changes both. Light that changes
    across the picture (a fold of cloth turning to the light) changes the luma's layout but not the shapes; the
    noise of a dark picture swamps its shapes but not its luma's layout."""
    pool = lambda t: torch.nn.functional.avg_pool2d(t, 4, ceil_mode=True)  # noqa: E731
    y, then, w = pool(luma(x)), pool(luma(source)), pool(trust)
    return torch.maximum(_correlation(y, then, w), _correlation(shape(y), shape(then), w))


def _correlation(a: torch.Tensor, b: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """[B]: the correlation (zero-mean, normalized) of a and b [B,1,h,w], each cell weighted by w [B,1,h,w]."""
    mass = w.sum((1, 2, 3), keepdim=True) + 1e-6
    a, b = a - (a * w).sum((1, 2, 3), keepdim=True) / mass, b - (b * w).sum((1, 2, 3), keepdim=True) / mass
    ab, aa, bb = ((t * w).sum((1, 2, 3)) for t in (a * b, a * a, b * b))
    return ab / (torch.sqrt(aa * bb) + 1e-9)


def shape(y: torch.Tensor) -> torch.Tensor:
    """[B,1,h,w]: the log of a luma [B,1,h,w] less its blur over SHADING of its longer side: what is left of a
    picture under light that changes across it (a fold of cloth turning to the light, a face turning from it,
    a cloud's shadow). Under such light the luma of the same picture correlates as little as a dissolve's."""
    log = torch.log(y + 0.02)
    return log - engine.gaussian_blur(log, SHADING * max(y.shape[-2:]))


SHADING = 1 / 32  # light that changes over more than this share of the picture is not a change of its content


def cells(x: torch.Tensor) -> torch.Tensor:
    """[B,1,h,w]: mean |x| of [B,C,H,W] over channels and 8 px cells (h = ceil(H / 8))."""
    return torch.nn.functional.avg_pool2d(x.abs().mean(1, keepdim=True), 8, ceil_mode=True)


def smoothness(x: torch.Tensor, texture: float) -> torch.Tensor:
    """[B,1,H,W] in [0,1]: 1 where a frame [B,3,H,W] has no pixel-level texture (its flow is least certain there),
    0 where the mean |high-pass| (1 px) of its brightness (the mean of R, G, B) over 8 px cells reaches `texture`
    (in [0,1] units), linear between."""
    y = x.mean(1, keepdim=True)
    fine = engine.resize(cells(y - engine.gaussian_blur(y, 1.0)), x.shape[-2:])
    return (1 - fine / texture).clamp(0, 1)


def refind(to_key: torch.Tensor, trust: torch.Tensor, frame: torch.Tensor, key_frame: torch.Tensor,
           tolerance: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Find pixels in the keyframe along the scene's global motion: an affine fit to the tracked pixels' to_key
    [B,2,H,W] (trust [B,1,H,W]), refitted on those within 8, then 2 px of it (flow dragged along by a moving
    object must not bend it), given that a quarter of the frame agrees. A pixel is found where the frame
    [B,3,H,W] matches the keyframe there (inside it) and either its chain of flows broke (trust 0: a moving
    object covered it) or the chain ends more than 2 px from the scene's motion where the keyframe matches no
    worse (flow dragged along by a moving object over smooth background). The frames are compared as they are,
    not relit: under a change of light since the keyframe nothing is found, and the refresh grows the dream
    there (relit, the smoke clip's changing light let pixels be found along a global motion smoke does not
    have: flicker 4.36 -> 4.82). Returns the global motion [B,2,H,W] and where pixels were found [B,1,H,W]
    (1: found)."""
    guess = flow.fit_affine(to_key, trust)
    for px in (8, 2):
        agree = trust * ((to_key - guess).pow(2).sum(1, keepdim=True) < px * px).float()
        guess = flow.fit_affine(to_key, agree)
    there, own = mismatch(frame, flow.warp(key_frame, guess)), mismatch(frame, flow.warp(key_frame, to_key))
    apart = (to_key - guess).pow(2).sum(1, keepdim=True) > 4  # more than 2 px from the scene's motion
    better = torch.maximum(1 - trust, (apart & (there <= own)).float())
    enough = (agree.mean((2, 3), keepdim=True) > 0.25).float()
    found = better * (there < tolerance).float() * flow.inside(guess) * enough
    return guess, found


STRETCH_SPAN = 4  # px: the stretch of a carried dream is measured over patterns about this big, on a frame ...
STRETCH_WIDTH = 1024  # ... scaled down to about this size on its longer side (flow errs by more pixels on big frames)
TORN = 0.15  # a step stretching the picture by more than this (log ratio) in one frame is no stretch: an edge of motion


def identity(like: torch.Tensor) -> torch.Tensor:
    """[B,4,H,W] (a view): the Jacobian (a, b, c, d: rows (a, b) and (c, d)) of a map that moves nothing, for
    a tensor `like` [B,C,H,W]; made on its device (no copy from the host)."""
    b, _, h, w = like.shape
    return torch.eye(2, device=like.device, dtype=like.dtype).view(1, 4, 1, 1).expand(b, 4, h, w)


def jacobian(flow: torch.Tensor) -> torch.Tensor:
    """[B,4,H,W]: the Jacobian of p -> p + flow(p) for a backward flow [B,2,H,W], measured on the flow scaled
    down to at most STRETCH_WIDTH and smoothed by a Gaussian of STRETCH_SPAN px there (at least, on a frame
    halved: the same, cheaper): the noise of optical flow, which grows with the frame, is not taken for a
    stretch."""
    return identity(flow) + engine.resize(_slopes(flow), flow.shape[-2:])


def _slopes(flow: torch.Tensor) -> torch.Tensor:
    """[B,4,h,w]: jacobian() less the identity, on the flow [B,2,H,W] scaled down (h = H / 2 or less)."""
    f = 2 * max(1, round(max(flow.shape[-2:]) / STRETCH_WIDTH))  # halved at least: the blur is cheap there
    return engine.gaussian_blur(slopes(torch.nn.functional.avg_pool2d(flow, f, ceil_mode=True) / f), STRETCH_SPAN / 2)


def slopes(field: torch.Tensor) -> torch.Tensor:
    """[B,4,h,w]: the derivatives of a field [B,2,h,w] (u, v) per pixel, in a Jacobian's order (a, b, c, d: du/dx,
    du/dy, dv/dx, dv/dy)."""
    dy, dx = torch.gradient(field, dim=(2, 3))
    return torch.cat([dx[:, :1], dy[:, :1], dx[:, 1:], dy[:, 1:]], 1)


def affine_jacobian(field: torch.Tensor) -> torch.Tensor:
    """[B,4,H,W]: the Jacobian of p -> p + field(p) for an affine field [B,2,H,W] (flow.fit_affine), exact."""
    h, w = field.shape[-2:]
    dx = (field[..., -1] - field[..., 0]).mean(-1) / max(w - 1, 1)  # [B,2]
    dy = (field[..., -1, :] - field[..., 0, :]).mean(-1) / max(h - 1, 1)
    j = torch.stack([dx[:, 0], dy[:, 0], dx[:, 1], dy[:, 1]], 1)
    return identity(field) + j.view(-1, 4, 1, 1)


def chained(before: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
    """[B,4,H,W]: the Jacobian of a map to an earlier frame (`before`, sampled where the step lands) composed
    with that of the step [B,4,H,W]: before @ step, per pixel."""
    a, b, c, d = before.unbind(1)
    e, f, g, h = step.unbind(1)
    return torch.stack([a * e + b * g, a * f + b * h, c * e + d * g, c * f + d * h], 1)


def stretch(j: torch.Tensor) -> torch.Tensor:
    """[B,1,H,W]: how much a map with Jacobian j [B,4,H,W] draws patterns out one way more than the other, as
    the log of the ratio of its singular values: 0 under a pan, a rotation or a zoom, growing as smoke, water,
    cloth or a turning face draw a carried dream's eyes and rings into streaks."""
    a, b, c, d = j.unbind(1)
    q, r = torch.hypot((a + d) / 2, (c - b) / 2), torch.hypot((a - d) / 2, (c + b) / 2)  # singular values q ± r
    return torch.log((q + r) / (q - r).abs().clamp(min=1e-3)).unsqueeze(1)


def strained(strain: torch.Tensor, back: torch.Tensor, trusted: torch.Tensor) -> torch.Tensor:
    """The Jacobian [B,4,H,W] of the map from a frame's pixels to where their carried dream was dreamed, from
    the previous frame's (`strain`) and the backward flow [B,2,H,W] between them: chained along the flow where
    the step is trusted (trusted [B,1,H,W] > 0.5) and does not tear (a step that stretches by more than TORN in
    one frame is the edge of a moving object, not a stretch of the scene, and so is what the measure smears of
    it around: about 3 STRETCH_SPAN px)."""
    slopes = _slopes(back)
    torn = (stretch(identity(slopes) + slopes) >= TORN).to(back.dtype)
    for _ in range(2):  # grown by 3 sigma (of the halved frame or smaller) each time
        torn = engine.gaussian_blur(torn, STRETCH_SPAN / 4)
    step = identity(back) + engine.resize(slopes, back.shape[-2:])
    smooth = ((engine.resize(torn, back.shape[-2:]) < 1e-6) & (trusted > 0.5)).to(step.dtype)
    return chained(flow.warp(strain, back), smooth * step + (1 - smooth) * identity(step))


SHARPER = 2.0  # a keyframe is dreamed again once the picture shows this many times the structure it was dreamed on
NEW_PICTURE = 0.85  # ... or once its tracked pixels correlate less than this with it (likeness)


def holds(x: torch.Tensor, source: torch.Tensor, trust: torch.Tensor, key_share: torch.Tensor,
          tolerance: float, steady: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What of a keyframe still holds on a frame x [1,3,H,W], given the keyframe warped to it (`source`), the
    pixels tracked from it (trust [1,1,H,W]) and its shown_share (key_share [1,1,1,1]). Returns where its detail
    may be carried (keep [1,1,H,W]: tracked, and the scene's structure, compared under the same light, still
    the keyframe's there within `tolerance`) and whether it is to be dreamed again because the picture is no
    longer the one it was dreamed on, two [] bools: `brighter`, it was dreamed in the dark and the picture has
    since come up to twice its share (a fade in from black re-keys a few times); `changed`, it was blurred and
    the tracked pixels now show SHARPER times its structure (a whip pan, a focus pull: a dream of the blur
    would be carried over the sharp picture), or another picture has come in (a dissolve: the tracked pixels, a
    quarter of the frame at least, correlate less than NEW_PICTURE times `steady` [1] with it, the likeness of
    the frame to the one before it, which noise lowers as much: two frames of a dark, grainy shot are
    less alike than two of a clean one; with less tracked, as in a pan too fast for the flow, there is nothing
    to compare, and the re-key and repaint rules take over)."""
    now, then = structure(x), structure(relit(source, x))
    keep = trust * photometric(now, then, tolerance)
    share = key_share.view(())
    brighter = (share < 1) & (shown_share(x).view(()) >= torch.clamp(2 * share, min=0.05, max=1))
    sharp = sharper(now, then, trust).view(()) >= SHARPER
    other = (likeness(x, source, trust).view(()) < NEW_PICTURE * steady.view(())) & (trust.mean() > 0.25)
    return keep, brighter, sharp | other
