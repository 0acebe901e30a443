"""Video pipeline benchmark: the whole pipeline (decode, flow, dream, encode, mux) against the engine alone
on the same frames, frames/s with 1, 2, 4 and 8 lanes, and peak memory per resolution.

    python benchmarks/pipeline.py [--device auto] [--width 480] [--frames 48]
    python benchmarks/pipeline.py --ceiling [--size 1920x1080] [--frames 150] [--json]

--ceiling: the whole video job (decode, flow, encode, mux, resumable chunks) with the dream step (engine and
carry, which run on the GPU there) replaced by a no-op that passes each frame through: the most frames per
second any GPU could get on this host. 150 frames by default: a second lane starts 12 warm-up frames early,
which is 25 % more work on 48 frames and next to nothing on a real video. Also each stage alone on the same frames: decode, flow (backward, and
forward too with video.consistency; at video.flow_width and at full size) and encode. --json prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction

import skimage.data
import torch

from dreamvideo import config, encode, synth, video
from dreamvideo.animate import VideoDreamer, prepare_flows
    from dreamvideo.carry import FrameIn
from dreamvideo.job import Job
from dreamvideo.lanes import scan_video
from dreamvideo.runner import make_dreamer, resolve_device


def engine_alone(path, cfg):
    """Frames/s of the dreaming alone: frames decoded and flows computed beforehand, not timed."""
    info = video.count_frames(video.probe(path))
    frames = list(video.read_frames(info, 0, info.frames))
    cuts = scan_video(info, 0, info.frames, cfg.video.cut_threshold).cuts
    items = []
    for i, f in enumerate(frames):
        cut = i == 0 or i in cuts
        items.append(FrameIn(i, f, *prepare_flows(None if cut else frames[i - 1], f, cfg.video.flow, cfg.video.flow_width,
                                                 cfg.video.consistency), cut))
    vd, carry = VideoDreamer(make_dreamer(cfg), cfg.video), None
    if vd.dreamer.device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for item in items:
        _, (carry,) = vd.step([item], [carry])
    if vd.dreamer.device.type == "cuda":
        torch.cuda.synchronize()
    return len(items) / (time.perf_counter() - t)


def pipeline(path, out, cfg):
    n = video.count_frames(video.probe(path)).frames
    t = time.perf_counter()
    Job(path, out, cfg).run()
    return n / (time.perf_counter() - t)


MEMORY_PROBE = """
import sys, torch
from dreamvideo import config, engine
from dreamvideo.runner import make_dreamer, step_peak_bytes

def status(key):
    return int(next(l for l in open("/proc/self/status") if l.startswith(key)).split()[1]) / 1024

w, h, device = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
d = make_dreamer(config.load("default", sets=[f"run.device={device}"]))
x = torch.rand(1, 3, h, w, device=d.device)
engine.gradient(d.net, d.objective, x[..., :64, :64], d.cfg.dream, [None])  # allocator and kernels warmed up
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current size
before = status("VmRSS:")
if d.device.type == "cuda":
    print(step_peak_bytes(d, w, h) / 2**20)
else:
    engine.gradient(d.net, d.objective, x, d.cfg.dream, [None])  # the peak of a dream: a full-size step
    print(status("VmHWM:") - before)
"""


def peak_memory_mib(w, h, device):
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(w), str(h), device], capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else float("nan")


def ceiling(size: tuple[int, int], frames: int, lanes: int, sets: list[str]) -> dict:
    """Frames/s of the job with a no-op dream step, and of each stage alone, on a camera clip of `size`."""
    from dreamvideo import animate, flow

    w, h = size
    cfg = config.load("default", sets=["run.device=cpu", f"video.lanes={lanes}", *sets])
    noop_carry: list = []

    def passthrough(self, items, carries):  # the GPU's share: nothing here
        if not noop_carry:
            noop_carry.append(animate.keyframe(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8), torch.ones(1, 1, 1, 1)))
        return [i.frame for i in items], [noop_carry[0]] * len(items)

    with tempfile.TemporaryDirectory() as tmp:
        clip = os.path.join(tmp, "clip.mp4")
        writer = encode.Writer(clip, w, h, Fraction(25), encode.Encoding("libx264", 18, "veryfast"))
        for f in synth.camera(skimage.data.astronaut(), (w, h), frames):
            writer.write(f)
        writer.close()
        info = video.count_frames(video.probe(clip))
        t = time.perf_counter()
        decoded = list(video.read_frames(info, 0, info.frames))
        decode = len(decoded) / (time.perf_counter() - t)
        pairs = list(zip(decoded, decoded[1:]))[:12]
        rates = {}
        for name, width in (("flow", cfg.video.flow_width), ("flow_full", 0)):
            t = time.perf_counter()
            for a, b in pairs:
                animate.prepare_flows(a, b, cfg.video.flow, width, cfg.video.consistency)
            rates[name] = len(pairs) / (time.perf_counter() - t)
        t = time.perf_counter()
        writer = encode.Writer(os.path.join(tmp, "enc.mp4"), w, h, Fraction(25), encode.Encoding("libx264", 18))
        for f in decoded:
            writer.write(f)
        writer.close()
        encode = len(decoded) / (time.perf_counter() - t)
        real = animate.VideoDreamer.step
        animate.VideoDreamer.step = passthrough
        try:
            t = time.perf_counter()
            Job(clip, os.path.join(tmp, "out.mp4"), cfg).run()
            fps = info.frames / (time.perf_counter() - t)
        finally:
            animate.VideoDreamer.step = real
    return {"fps": round(fps, 2), "size": f"{w}x{h}", "frames": info.frames, "lanes": lanes,
            "flow_width": cfg.video.flow_width, "cores": os.cpu_count(),
            "stages_fps": {"decode": round(decode, 1), "flow": round(rates["flow"], 1),
                           "flow at full size": round(rates["flow_full"], 1), "encode (x264 medium)": round(encode, 1)}}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="auto")
    p.add_argument("--width", type=int, default=480)
    p.add_argument("--frames", type=int, default=0, help="default 48, with --ceiling 150")
    p.add_argument("--ceiling", action="store_true", help="the job with a no-op dream step (see above)")
    p.add_argument("--size", default="1920x1080")
    p.add_argument("--lanes", type=int, default=0, help="--ceiling: lanes (0: one per core)")
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.ceiling:
        w, h = (int(v) for v in args.size.split("x"))
        r = ceiling((w, h), args.frames or 150, args.lanes or os.cpu_count() or 1, args.set)
        if args.json:
            print(json.dumps(r))
        else:
            print(f"ceiling at {r['size']}, {r['lanes']} lanes, flow at width {r['flow_width']}: {r['fps']} frames/s")
            print("| stage alone | frames/s |\n|---|---|")
            for k, v in r["stages_fps"].items():
                print(f"| {k} | {v} |")
        return
    device = resolve_device(args.device)
    args.frames = args.frames or 48
    w, h = args.width, args.width * 9 // 16 // 2 * 2
    cfg = config.load("default", sets=[f"run.device={device.type}", "video.warmup=4", "video.chunk=12"])
    with tempfile.TemporaryDirectory() as tmp:
        clip = os.path.join(tmp, "clip.mp4")
        synth.photo_clip(clip, [skimage.data.astronaut(), skimage.data.coffee()], (w, h), Fraction(25), args.frames,
                         cut_at=args.frames * 2 // 3)
        alone = engine_alone(clip, cfg)
        whole = pipeline(clip, os.path.join(tmp, "out.mp4"), cfg)
        print(f"device: {device.type}; clip {w}x{h}, {args.frames} frames, one cut")
        print("| measure | frames/s |\n|---|---|")
        print(f"| engine alone (frames and flows ready) | {alone:.2f} |")
        print(f"| whole pipeline, 1 lane (decode, flow, dream, encode, audio) | {whole:.2f} |")
        print(f"| share of wall time not spent dreaming | {max(0.0, 1 - whole / alone):.1%} |")
        print("\n| lanes | frames/s |\n|---|---|")
        for lanes in (1, 2, 4, 8):
            lcfg = config.set_value(cfg, "video.lanes", str(lanes))
            print(f"| {lanes} | {pipeline(clip, os.path.join(tmp, f'l{lanes}.mp4'), lcfg):.2f} |")
    print("\n| resolution | peak memory of one full-size step (MiB) |\n|---|---|")
    for name, (rw, rh) in (("480p", (854, 480)), ("720p", (1280, 720)), ("1080p", (1920, 1080)),
                           ("4K (tiles of 1024)", (3840, 2160))):
        print(f"| {name} | {peak_memory_mib(rw, rh, device.type):.0f} |")


if __name__ == "__main__":
    main()
