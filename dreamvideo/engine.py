"""The octave dream engine: pure tensors in, tensors out. Images are float32 [B,3,H,W] RGB in [0,1].

Batch samples never interact: scores and gradient normalization are per sample, and randomness comes
from the generator(s) passed in (one shared by the batch, or one per sample).
"""
from __future__ import annotations

import contextlib
import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

Generators = torch.Generator | Sequence[torch.Generator]


def octave_sizes(h: int, w: int, octaves: int, scale: float, min_size: int = 1) -> list[tuple[int, int]]:
    """Sizes from coarse to fine, ending at (h, w); octaves whose short side is below min_size are dropped."""
    sizes = [(round(h / scale**i), round(w / scale**i)) for i in range(max(octaves, 1))]
    kept = [s for s in sizes if min(s) >= min_size] or sizes[:1]
    return kept[::-1]


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """[B,C,h,w] -> [B,C,*size], bilinear (antialiased when shrinking)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of [B,C,H,W] with reflect padding. Kernels of up to 25 taps as sums of shifted
    copies, the two at the same distance added before they are weighted, into one buffer: on a CPU several times
    faster than a depthwise convolution (960x540x3 at 1 px: 12 ms against 55; the sum of 13 weighted copies took
    twice this one's time at 256 and 640 px wide); wider ones as that convolution."""
    if sigma <= 0:
        return x
    r = max(1, math.ceil(3 * sigma))
    r = min(r, x.shape[-1] - 1, x.shape[-2] - 1)
    taps = [math.exp(-0.5 * (i / sigma) ** 2) for i in range(r + 1)]  # from the middle out
    total = taps[0] + 2 * sum(taps[1:])
    taps = [t / total for t in taps]
    if r <= 12:
        return _symmetric_sum(_symmetric_sum(x, taps, -1), taps, -2)
    c, k = x.shape[1], torch.tensor(taps[:0:-1] + taps, device=x.device, dtype=x.dtype)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def _symmetric_sum(x: torch.Tensor, taps: list[float], dim: int) -> torch.Tensor:
    """[B,C,H,W] filtered along `dim` (-1: rows, -2: columns) by the symmetric kernel whose weights from the
    middle out are `taps`, reflect-padded."""
    r, n = len(taps) - 1, x.shape[dim]
    p = F.pad(x, (r, r, 0, 0) if dim == -1 else (0, 0, r, r), mode="reflect")
    at = lambda i: p.narrow(dim, r + i, n)  # noqa: E731  the copy shifted by i
    out = at(0) * taps[0]
    for i in range(1, r + 1):
        out.add_(at(-i) + at(i), alpha=taps[i])
    return out


def _per_sample(generator: Generators, b: int) -> list[torch.Generator]:
    """One generator per sample: a shared one for all, or a list of b. There is no fallback to torch's global
    generator: randomness comes only from what the caller passes."""
    if isinstance(generator, torch.Generator):
        return [generator] * b
    if generator is None:
        raise TypeError("engine.dream needs a torch.Generator (or one per sample)")
    gens = list(generator)
    if len(gens) != b:
        raise ValueError(f"{len(gens)} generators for a batch of {b}")
    return gens


def _shifts(gens: list, limit_y: int, limit_x: int) -> list[tuple[int, int]]:
    """One random (dy, dx) per sample, drawn on the CPU (no device sync); a shared generator gives one shift."""
    out, memo = [], {}
    for g in gens:
        if id(g) not in memo:
            dy = torch.randint(-limit_y, limit_y + 1, (1,), generator=g).item() if limit_y else 0
            dx = torch.randint(-limit_x, limit_x + 1, (1,), generator=g).item() if limit_x else 0
            memo[id(g)] = (dy, dx)
        out.append(memo[id(g)])
    return out


def _roll(x: torch.Tensor, shifts: list[tuple[int, int]], sign: int = 1) -> torch.Tensor:
    if len(set(shifts)) == 1:
        dy, dx = shifts[0]
        return torch.roll(x, (sign * dy, sign * dx), dims=(2, 3)) if (dy or dx) else x
    return torch.stack([torch.roll(xi, (sign * dy, sign * dx), dims=(1, 2)) for xi, (dy, dx) in zip(x, shifts)])


def split_tiles(x: torch.Tensor, tile: int) -> tuple[torch.Tensor, tuple]:
    """[B,C,H,W] -> [B*n,C,th,tw] equal tiles no larger than `tile` (edges reflect-padded), and the layout."""
    b, c, h, w = x.shape
    if tile <= 0 or (h <= tile and w <= tile):
        return x, (b, 1, 1, h, w, h, w)
    ny, nx = math.ceil(h / tile), math.ceil(w / tile)
    th, tw = math.ceil(h / ny), math.ceil(w / nx)
    x = F.pad(x, (0, nx * tw - w, 0, ny * th - h), mode="replicate")
    tiles = x.view(b, c, ny, th, nx, tw).permute(0, 2, 4, 1, 3, 5).reshape(b * ny * nx, c, th, tw)
    return tiles, (b, ny, nx, th, tw, h, w)


def merge_tiles(tiles: torch.Tensor, layout: tuple) -> torch.Tensor:
    """Inverse of split_tiles."""
    b, ny, nx, th, tw, h, w = layout
    if ny == nx == 1 and (th, tw) == (h, w):
        return tiles
    c = tiles.shape[1]
    x = tiles.view(b, ny, nx, c, th, tw).permute(0, 3, 1, 4, 2, 5).reshape(b, c, ny * th, nx * tw)
    return x[..., :h, :w]


def _autocast(x: torch.Tensor, precision: str):
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    if precision == "auto" and x.device.type == "cuda":
        dtype = torch.bfloat16
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(x.device.type, dtype=dtype)


def gradient(net, objective, img: torch.Tensor, cfg, gens: list) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of the objective at `img` [B,3,H,W] under a random roll and tiling, and the score [B]."""
    h, w = img.shape[-2:]
    tiled = cfg.tile > 0 and max(h, w) > cfg.tile
    ly, lx = (h // 2, w // 2) if tiled else (min(cfg.jitter, h // 2), min(cfg.jitter, w // 2))
    shifts = _shifts(gens, ly, lx)
    tiles, layout = split_tiles(_roll(img, shifts), cfg.tile)
    owner = torch.arange(img.shape[0]).repeat_interleave(tiles.shape[0] // img.shape[0])  # sample of each tile
    grads, scores = [], []
    for part, rows in zip(tiles.split(microbatch_size(cfg, img)), owner.split(microbatch_size(cfg, img))):
        # channels_last on every device: oneDNN and cuDNN run these convolutions fastest in it
        part = part.detach().contiguous(memory_format=torch.channels_last).requires_grad_(True)
        objective_here = objective.for_rows(rows)
        with _autocast(img, cfg.precision):
            score = objective_here(net(part, objective.layers), part).float()
        grads.append(torch.autograd.grad(score.sum(), part)[0].float().contiguous())  # one layout outside the net
        scores.append(score)
    g = _roll(merge_tiles(torch.cat(grads), layout), shifts, sign=-1)
    return g, torch.cat(scores).view(img.shape[0], -1).sum(1)


def microbatch_size(cfg, img: torch.Tensor) -> int:
    """Images/tiles per network call. 'auto' (0): 1 on CPU, where batching gains little and single calls
    make every sample bit-identical to a run on its own; everything at once on CUDA."""
    if cfg.microbatch > 0:
        return cfg.microbatch
    return 1 if img.device.type == "cpu" else 1 << 30


def normalize(g: torch.Tensor, mode: str = "mean") -> torch.Tensor:
    """Per-sample gradient normalization: divide by mean |g| ('mean'), by its standard deviation ('std'), or
    by the mean |g| of each 16-pixel cell ('local', floored at a tenth of the mean: every region gets steps of
    the same size, so a plain region next to a strongly dreamed one is not starved)."""
    if mode == "local":
        cell = F.avg_pool2d(g.abs().mean(1, keepdim=True), 16, ceil_mode=True)
        local = F.interpolate(cell, size=g.shape[-2:], mode="bilinear", align_corners=False)
        floor = torch.stack([gi.abs().mean() for gi in g]).view(-1, 1, 1, 1) * 0.1
        return g / (local + floor + 1e-8)
    # One reduction per sample: a batched row reduction sums in a shape-dependent order, and DeepDream's
    # chaos would grow that rounding difference into visibly different frames.
    scale = torch.stack([gi.abs().mean() if mode == "mean" else gi.std() for gi in g])
    return g / (scale.view(-1, 1, 1, 1) + 1e-8)


def ascend(net, objective, img: torch.Tensor, cfg, gens: list, steps: int, step_size, progress=None) -> torch.Tensor:
    """`steps` steps of normalized gradient ascent on [B,3,H,W]; `step_size` is a float, a per-sample [B]
    tensor or a per-pixel [B,1,H,W] map."""
    active = torch.ones(img.shape[0], 1, 1, 1, device=img.device)
    if torch.is_tensor(step_size) and step_size.dim() == 1:
        step_size = step_size.view(-1, 1, 1, 1)
    for _ in range(steps):
        g, score = gradient(net, objective, img, cfg, gens)
        g = normalize(gaussian_blur(g, cfg.smooth), cfg.normalize)
        if cfg.max_loss > 0:  # Keras example's early stop, per sample and without a host sync
            active = active * (score < cfg.max_loss).float().view(-1, 1, 1, 1)
        img = img + step_size * active * g
        img = img.clamp(0, 1) if cfg.clip else img
        if progress:
            progress(1)
    return img.detach()


LBFGS_ROUND = 5  # L-BFGS iterations per jitter roll: its line search needs the same objective within a round


def lbfgs(net, objective, img: torch.Tensor, cfg, gens: list, progress=None) -> torch.Tensor:
    """L-BFGS on each sample separately (the 2016 Keras VGG16 recipe), `cfg.steps` iterations in rounds of
    LBFGS_ROUND, the image rolled by a fresh random jitter for each round. Its line search sets the step, so
    step size, normalization, smoothing, tiling, reduced precision and max_loss do not apply (config.check_optimizer
    refuses them)."""
    out = []
    for i, (x, g) in enumerate(zip(img.split(1), gens)):
        x, sample_objective = x.clone(), objective.for_rows(slice(i, i + 1))
        left = max(cfg.steps, 1)
        while left > 0:
            shift = _shifts([g], min(cfg.jitter, x.shape[-2] // 2), min(cfg.jitter, x.shape[-1] // 2))
            v = _roll(x, shift).requires_grad_(True)
            opt = torch.optim.LBFGS([v], max_iter=min(left, LBFGS_ROUND), line_search_fn="strong_wolfe")

            def closure():
                opt.zero_grad()
                loss = -sample_objective(net(v, objective.layers), v).sum()
                loss.backward()
                return loss

            opt.step(closure)
            x = _roll(v.detach(), shift, -1)
            left -= LBFGS_ROUND
        out.append(x.clamp(0, 1))
        if progress:
            progress(cfg.steps)
    return torch.cat(out)


def refine(net, objective, base: torch.Tensor, detail: torch.Tensor, cfg, gens: list, steps: int,
           step_maps: list, rows: list | None = None) -> torch.Tensor:
    """Continue a dream: `base` [B,3,H,W] with `detail` [B,3,H,W] already on it gets `steps` steps at each of its
    len(step_maps) finest octaves (coarse to fine), the step per pixel from that octave's map [B,1,H,W] (full
    size, resized per octave). `rows`: for each octave, the samples dreamed at it (default: all; the others are
    left exactly as they are, their generators untouched, so a sample gets the same in any batch). Each octave
    adds only the change it made, upsampled, so the detail carried in is never resampled away. Returns the new
    detail [B,3,H,W] (the dream is (base + detail).clamp(0, 1))."""
    h, w = base.shape[-2:]
    sizes = octave_sizes(h, w, len(step_maps), cfg.octave_scale, net.min_size)
    dropped = len(step_maps) - len(sizes)  # octaves too small for the network are dropped, the coarsest first
    for size, step_map, r in zip(sizes, step_maps[dropped:], (rows or [None] * len(step_maps))[dropped:]):
        if r is not None and not r:
            continue
        every = r is None or len(r) == base.shape[0]
        sel = slice(None) if every else r
        b, d = resize(base[sel], size), resize(detail[sel], size)
        img = ascend(net, objective.for_rows(sel), (b + d).clamp(0, 1), cfg, gens if every else [gens[i] for i in r],
                     steps, resize(step_map[sel], size))
        change = resize(img - b - d, (h, w))
        detail = detail + change if every else detail.index_add(0, torch.tensor(r, device=detail.device), change)
    return detail


def dream(net, objective, x: torch.Tensor, cfg, generator: Generators,
          progress: Callable[[int], None] | None = None) -> torch.Tensor:
    """DeepDream [B,3,H,W] in [0,1] -> [B,3,H,W] in [0,1], coarse-to-fine octaves with lost-detail reinjection.

    `cfg` holds octaves, octave_scale, steps, step_size, jitter, normalize, smooth, clip, max_loss,
    optimizer, tile, from_noise and precision (see config.DreamConfig). `progress(n)` is told of n steps done.
    """
    b, _, h, w = x.shape
    gens = _per_sample(generator, b)
    if cfg.from_noise:
        noise = torch.stack([torch.rand(3, h, w, generator=g) for g in gens])
        x = (0.5 + 0.1 * (noise - 0.5)).to(x.device)
    detail = None
    for size in octave_sizes(h, w, cfg.octaves, cfg.octave_scale, net.min_size):
        base = resize(x, size)
        detail = torch.zeros_like(base) if detail is None else resize(detail, size)
        img = (base + detail).clamp(0, 1)
        if cfg.optimizer == "lbfgs":
            img = lbfgs(net, objective, img, cfg, gens, progress)
        else:
            img = ascend(net, objective, img, cfg, gens, cfg.steps, cfg.step_size, progress)
        detail = img - base
    return img
