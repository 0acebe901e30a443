"""Library entry points shared by the commands: device and model set-up, and dreaming one image."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

import torch

from . import engine, images, objectives
from .config import Config
from .errors import UserError
from .models import DreamNet, load_model


NET_BYTES_PER_PIXEL = 1024  # activations and their gradients for one pixel the network sees (measured 0.5-1 KiB)
FRAME_BYTES_PER_PIXEL = 12 * 3 * 4  # about a dozen float32 RGB copies of a frame (octaves, detail, gradient)


def available_memory(device: torch.device) -> int | None:
    """Bytes free for the run: GPU memory, or the system's available memory on the CPU (None: unknown)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None


def check_memory(w: int, h: int, cfg: Config, device: torch.device, frames: int = 1) -> None:
    """Refuse a run that cannot fit: `frames` frames of w x h dreamed at once, the network seeing tiles."""
    side = min(max(w, h), cfg.dream.tile or max(w, h))
    piece = side * min(side, min(w, h))
    need = frames * (piece * NET_BYTES_PER_PIXEL + w * h * FRAME_BYTES_PER_PIXEL)
    free = available_memory(device)
    if free is None or need <= free:
        return
    k = (free / need) ** 0.5
    raise UserError(f"a {w}x{h} frame needs about {need / 2**30:.1f} GiB but {device.type} has {free / 2**30:.1f} GiB "
                    f"free: make it at most about {int(w * k)}x{int(h * k)} (--width, or --size for zoom)")


CARRY_BYTES_PER_PIXEL = 31 * 4 + 2 * 2 * 4  # a lane's carried state (31 float channels) and its two flows


def lane_count(cfg: Config, device: torch.device, w: int, h: int, count: int, probe=None) -> int:
    """video.lanes as a number; auto: 1 on CPU (lanes add no compute there), else as many lanes as fit in 90 %
    of the free GPU memory, each costing the peak `probe()` measured for one dream step at this size plus its
    carried state (at most 8, and at least a chunk per lane)."""
    if cfg.video.lanes != "auto":
        return int(cfg.video.lanes)
    if device.type != "cuda" or probe is None:
        return 1
    free, _ = torch.cuda.mem_get_info(device)
    return lanes_that_fit(free, probe() + w * h * CARRY_BYTES_PER_PIXEL, count, cfg.video.chunk)


def lanes_that_fit(free: int, per_lane: int, count: int, chunk: int) -> int:
    """How many lanes of `per_lane` bytes fit in 90 % of `free` bytes: 1 to 8, at most one per chunk."""
    return int(max(1, min(8, 0.9 * free // max(per_lane, 1), count // max(chunk, 1))))


def step_peak_bytes(dreamer, w: int, h: int) -> int:
    """Peak CUDA bytes of one dream step on one w x h frame, measured (the allocator's high-water mark)."""
    device = dreamer.device
    x = torch.rand(1, 3, h, w, device=device)
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    engine.gradient(dreamer.net, dreamer.objective, x, dreamer.cfg.dream, [torch.Generator()])
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - before


def idle_cores(seconds: float = 0.1) -> float | None:
    """Cores left idle by other programs, from /proc/stat sampled over `seconds` (None where unknown)."""
    import os
    import time

    def sample():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        return values[3] + values[4], sum(values)  # idle + iowait, all

    try:
        idle0, all0 = sample()
        time.sleep(seconds)
        idle1, all1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    cores = os.cpu_count() or 1
    return cores * (idle1 - idle0) / max(all1 - all0, 1)


def apply_threads(cfg) -> None:
    """CPU threads for torch and OpenCV: run.threads, or the cores other programs leave idle. A core shared
    with a busy program slows every step several times over: each step waits for its slowest thread."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    idle = idle_cores()
    set_threads(cfg.run.threads or (cores if idle is None else max(1, min(cores, round(idle)))))


def set_threads(n: int) -> None:
    """`n` CPU threads for torch and for OpenCV (optical flow)."""
    import cv2

    torch.set_num_threads(n)
    cv2.setNumThreads(n)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda asked for, but no CUDA GPU is visible to PyTorch: use --device cpu or auto")
    return torch.device(name)


@dataclass
class Dreamer:
    """A loaded network and objective on a device: everything engine.dream needs besides the images."""

    net: DreamNet
    objective: objectives.Objective
    cfg: Config
    device: torch.device

    guide: Callable | None = None
    _objectives: dict = field(default_factory=dict)  # spec -> Objective, for keyframed objectives

    def dream(self, x: torch.Tensor, generator: engine.Generators, progress: Callable[[int], None] | None = None,
              dream_cfg=None, objective=None) -> torch.Tensor:
        """[B,3,H,W] in [0,1] on self.device -> dreamed, same shape."""
        return engine.dream(self.net, objective or self.objective, x, dream_cfg or self.cfg.dream, generator, progress)

    def objective_for(self, spec: str) -> objectives.Sum:
        """The objective for a spec, parsed once (keyframed objectives switch between several); animated weights
        `[..]` stay animated: its at(t, frame, features, fps) gives the numbers."""
        from . import schedule

        if spec not in self._objectives:
            self._objectives[spec] = objectives.parse(spec, self.net.resolve, self.cfg.objective.border, self.guide,
                                                      schedule.parse)
        return self._objectives[spec]

    def steps_for(self, h: int, w: int, dream_cfg=None) -> int:
        d = dream_cfg or self.cfg.dream
        return len(engine.octave_sizes(h, w, d.octaves, d.octave_scale, self.net.min_size)) * d.steps


def make_dreamer(cfg: Config) -> Dreamer:
    """Load the model once for the run and build the objective (resolving layer names and the guide image)."""
    device = resolve_device(cfg.run.device)
    net = load_model(cfg.model.name, cfg.model.weights or None, device)
    guide = None
    if cfg.objective.guide:
        g = images.to_tensor(images.read_image(cfg.objective.guide), device)

        def guide(layer):
            with torch.no_grad():
                return net(g, [layer])[layer][0]

    from .reactive import objective_keyframes

    spec = cfg.objective.spec or net.spec.default_objective
    keyed = objective_keyframes(spec)
    specs = [each for _, _, each in keyed.keys] if keyed else [spec]
    dreamer = Dreamer(net, None, cfg, device, guide)
    for each in specs:  # every spec checked up front
        dreamer.objective_for(each)
    first = dreamer.objective_for(specs[0])
    dreamer.objective = first.at(0.0, 0, {}, 1.0) if first.animated else first  # animated weights at t = 0
    return dreamer


def dream_image(src: str, dst: str, cfg: Config, progress_factory=None) -> None:
    """Read `src`, dream it with `cfg`, write `dst` (atomically). progress_factory(total) -> callable(n)."""
    from .reactive import Animator

    rgb = images.read_image(src)
    check_memory(*images.scaled_size(rgb.shape[1], rgb.shape[0], cfg.run.width), cfg, resolve_device(cfg.run.device))
    rgb = images.resize_to_width(rgb, cfg.run.width)
    dreamer = make_dreamer(cfg)
    animator = Animator(cfg, dreamer, 1)
    animator.check([0])
    settings = animator.at(0)  # a still image: animated settings at t = 0
    dreamer.cfg = replace(cfg, dream=settings.dream)
    x = images.to_tensor(rgb, dreamer.device)
    progress = progress_factory(dreamer.steps_for(*rgb.shape[:2])) if progress_factory else None
    y = dreamer.dream(x, torch.Generator().manual_seed(cfg.run.seed), progress)
    images.write_image(dst, images.to_uint8(y)[0])


STILL_SCAN = 10  # seconds: a still finds its shot's bars and a fade on the next frames of the video, up to this long


def dream_still(src: str, dst: str, cfg: Config, progress_factory=None) -> None:
    """Dream one frame of the video `src` (at video.start) at the render's size, exactly as the video's keyframe
    there is dreamed, and write it to the image `dst`: a full-size check of the look before a long render."""
    from . import video
    from .carry import frame_generator, key_detail
    from .lanes import FADE_SEARCH, NO_BARS, scan_video
    from .reactive import Animator, soundtrack_features
    from .tracking import shown

    info = video.probe(src)
    index = round(cfg.video.start * info.fps)
    size = images.scaled_size(info.width, info.height, cfg.run.width)
    check_memory(*size, cfg, resolve_device(cfg.run.device))
    frames = video.read_frames(info, index, 1, size)
    try:
        rgb = next(frames)
    except StopIteration:
        raise UserError(f"{src} has no frame at {cfg.video.start}s") from None
    finally:
        frames.close()
    dreamer = make_dreamer(cfg)
    left = max(1, info.frame_count() - index)  # as a render from there would hear the soundtrack
    animator = Animator(cfg, dreamer, info.fps, soundtrack_features(cfg, src, info.fps, left, index), index)
    animator.check([index])
    s = animator.at(index)  # animated settings at the frame's time, as the video's
    dreamer.cfg = replace(cfg, dream=s.dream)
    x = images.to_tensor(rgb, dreamer.device)
    progress = progress_factory(dreamer.steps_for(*rgb.shape[:2])) if progress_factory else None
    y = dreamer.dream(x, frame_generator(cfg.run.seed, index), progress, s.dream, s.objective)
    # as a render from there shows its keyframe: through its shot's bars and an editor's fade found by its scan
    scan = scan_video(info, index, min(left, math.ceil(STILL_SCAN * info.fps)), cfg.video.cut_threshold,
                      around=math.ceil(FADE_SEARCH * info.fps), ahead=False)  # a fade it starts inside
    bars = torch.tensor([scan.bars().get(0, NO_BARS)], device=x.device)
    y = (x + shown(x, bars) * scan.fades().get(0, 1.0) * key_detail(y, x, s.video)).clamp(0, 1)
    images.write_image(dst, images.to_uint8(y)[0])
