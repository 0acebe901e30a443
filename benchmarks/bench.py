"""Engine benchmark: seconds per image, achieved GFLOP/s against this device's matmul GFLOP/s, and the
speed-up over a straightforward reference loop (batch 1, fp32, whole network, smoothing, a host sync
every step) at equal work. Ratios are measured in one run, since machines are noisy.

    python benchmarks/bench.py [--device auto] [--size 512] [--octaves 4] [--scale 1.4] [--steps 10]
"""
from __future__ import annotations

import argparse
import platform
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from dreamvideo import engine, objectives
from dreamvideo.config import DreamConfig
from dreamvideo.models import MODELS, load_model
from dreamvideo.runner import resolve_device


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device, repeats):
    fn()  # warm-up
    sync(device)
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync(device)
    return (time.perf_counter() - t) / repeats


def paired(fn_a, fn_b, device, repeats):
    """Time a and b alternately (machines drift); returns median seconds of each and the median ratio b/a."""
    fn_a(), fn_b()  # warm-up
    ta, tb = [], []
    for _ in range(repeats):
        for fn, out in ((fn_a, ta), (fn_b, tb)):
            sync(device)
            t = time.perf_counter()
            fn()
            sync(device)
            out.append(time.perf_counter() - t)
    med = lambda v: sorted(v)[len(v) // 2]
    return med(ta), med(tb), med([b / a for a, b in zip(ta, tb)])


def matmul_gflops(device, n=2048, repeats=10):
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    return 2 * n**3 / timed(lambda: a @ b, device, repeats) / 1e9


def dream_flops(net, obj, x, cfg):
    """FLOPs of all the dream steps (forward + backward per step, summed over octaves)."""
    total = 0
    for size in engine.octave_sizes(*x.shape[-2:], cfg.octaves, cfg.octave_scale, net.min_size):
        img = engine.resize(x, size).detach().requires_grad_(True)
        with FlopCounterMode(display=False) as counter:
            obj(net(img, obj.layers), img).sum().backward()
        total += counter.get_total_flops() * cfg.steps
    return total


def reference_model(device):
    """The network as existing tools load it: not truncated, BatchNorm separate, default memory layout."""
    spec = MODELS["efficientnet_lite0"]
    model = spec.build()
    model.load_state_dict(torch.load(spec.weights_file(), map_location="cpu", weights_only=True))
    return model.eval().requires_grad_(False).to(device)


def reference_dream(model, net, layer, x, cfg):
    """How existing tools do it: batch 1, fp32, the whole network run to its end, smoothing, .item() every step."""
    feats = {}
    hook = dict(model.stages())[layer].register_forward_hook(lambda m, i, o: feats.__setitem__("a", o))
    try:
        out = []
        for img in x.split(1):
            detail = None
            for size in engine.octave_sizes(*img.shape[-2:], cfg.octaves, cfg.octave_scale, net.min_size):
                base = F.interpolate(img, size=size, mode="bilinear", align_corners=False)
                detail = torch.zeros_like(base) if detail is None else F.interpolate(detail, size=size, mode="bilinear")
                cur = base + detail
                for _ in range(cfg.steps):
                    cur = cur.detach().requires_grad_(True)
                    model((cur - net.mean) / net.std)  # the whole network, classifier included
                    loss = feats["a"].pow(2).mean()
                    loss.backward()
                    g = engine.gaussian_blur(cur.grad, 0.5)
                    cur = (cur + cfg.step_size * g / (g.abs().mean() + 1e-8)).clamp(0, 1)
                    loss.item()  # a host sync every step, as progress printing does
                detail = cur.detach() - base
            out.append(cur.detach())
        return torch.cat(out)
    finally:
        hook.remove()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--octaves", type=int, default=4)
    p.add_argument("--scale", type=float, default=1.4)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--layer", default="blocks.10")
    args = p.parse_args()
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.processor() or 'CPU'}, {torch.get_num_threads()} threads"
    net = load_model("efficientnet_lite0", device=device)
    obj = objectives.parse(args.layer, net.resolve)
    cfg = DreamConfig(octaves=args.octaves, octave_scale=args.scale, steps=args.steps, jitter=32, smooth=0.5)
    x = torch.rand(args.batch, 3, args.size, args.size, generator=torch.Generator().manual_seed(0)).to(device)
    gen = torch.Generator().manual_seed(0)
    flops = dream_flops(net, obj, x, cfg)
    ref_model = reference_model(device)
    ours, ref, ratio = paired(lambda: engine.dream(net, obj, x, cfg, gen),
                              lambda: reference_dream(ref_model, net, net.resolve(args.layer), x, cfg),
                              device, args.repeats)
    mm = matmul_gflops(device)
    print(f"device: {device.type} ({name}); torch {torch.__version__}")
    print(f"work: efficientnet_lite0 {args.layer}, {args.batch}x{args.size}x{args.size}, "
          f"{args.octaves} octaves x {args.scale}, {args.steps} steps")
    print("| measure | value |\n|---|---|")
    print(f"| ours: seconds per image | {ours / args.batch:.3f} |")
    print(f"| reference loop: seconds per image | {ref / args.batch:.3f} |")
    print(f"| speed-up over reference (median of {args.repeats} alternating pairs) | {ratio:.2f}x |")
    print(f"| dream-step GFLOP/s (ours) | {flops / ours / 1e9:.1f} |")
    print(f"| matmul GFLOP/s (fp32, 2048^3) | {mm:.1f} |")
    print(f"| fraction of matmul peak | {flops / ours / 1e9 / mm:.1%} |")


if __name__ == "__main__":
    main()
