"""Everything to measure the day a GPU is at hand, in one run: the CUDA tests, then the benchmarks at 1080p and
4K (the engine on an image, video frames/s with 1, 2, 4 and 8 lanes, the pipeline's ceiling, peak memory), written
as one JSON file and one markdown table to paste into the README.

    python benchmarks/gpu.py [--out gpu-results] [--frames 48]

Nothing here runs without CUDA: it says so and exits 2.
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def cuda_tests() -> dict:
    """pytest -m cuda, and the sync tests (which must pass everywhere)."""
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "cuda", os.path.join(ROOT, "tests"),
                        os.path.join(ROOT, "tests", "test_sync.py")], capture_output=True, text=True, cwd=ROOT)
    return {"returncode": r.returncode, "summary": (r.stdout.strip().splitlines() or [""])[-1]}


def image_seconds(size: tuple[int, int]) -> float:
    """Seconds for the default full dream of one image of `size` on CUDA (after one warm-up run)."""
    import torch

    from dreamvideo import config
    from dreamvideo.runner import make_dreamer

    d = make_dreamer(config.load("default", sets=["run.device=cuda"]))
    x = torch.rand(1, 3, size[1], size[0], device=d.device)
    d.dream(x, torch.Generator().manual_seed(0))
    torch.cuda.synchronize()
    t = time.perf_counter()
    d.dream(x, torch.Generator().manual_seed(0))
    torch.cuda.synchronize()
    return time.perf_counter() - t


def video_fps(size: tuple[int, int], frames: int, lanes: int) -> float:
    """Frames/s of the whole video job on a camera clip of `size`."""
    import skimage.data

    from dreamvideo import config, encode, synth, video
    from dreamvideo.job import Job

    w, h = size
    with tempfile.TemporaryDirectory() as tmp:
        clip = os.path.join(tmp, "clip.mp4")
        writer = encode.Writer(clip, w, h, Fraction(25), encode.Encoding("libx264", 18, "veryfast"))
        for f in synth.camera(skimage.data.astronaut(), size, frames):
            writer.write(f)
        writer.close()
        cfg = config.load("default", sets=["run.device=cuda", f"video.lanes={lanes}", "video.chunk=12"])
        t = time.perf_counter()
        Job(clip, os.path.join(tmp, "out.mp4"), cfg).run()
        return frames / (time.perf_counter() - t)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="gpu-results")
    p.add_argument("--frames", type=int, default=48)
    args = p.parse_args()
    sys.path.insert(0, ROOT)
    sys.path.insert(0, HERE)
    import torch

    if not torch.cuda.is_available():
        print("gpu.py: no CUDA GPU is visible to PyTorch: run this on a machine with one", file=sys.stderr)
        sys.exit(2)
    from pipeline import ceiling, peak_memory_mib

    r = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "tests": cuda_tests(), "sizes": {}}
    for name, size in (("1080p", (1920, 1080)), ("4K", (3840, 2160))):
        row = {"image_seconds": image_seconds(size), "peak_step_mib": peak_memory_mib(*size, "cuda")}
        row["video_fps"] = {lanes: video_fps(size, args.frames, lanes) for lanes in (1, 2, 4, 8)}
        row["ceiling"] = ceiling(size, args.frames, os.cpu_count() or 1, [])
        r["sizes"][name] = row
    with open(args.out + ".json", "w") as f:
        json.dump(r, f, indent=1)
    lines = [f"GPU: {r['device']}, torch {r['torch']}; CUDA tests: {r['tests']['summary']}", "",
             "| size | image s | video fps 1/2/4/8 lanes | ceiling fps | peak MiB of one step |", "|---|---|---|---|---|"]
    for name, row in r["sizes"].items():
        fps = " / ".join(f"{v:.1f}" for v in row["video_fps"].values())
        lines.append(f"| {name} | {row['image_seconds']:.2f} | {fps} | {row['ceiling']['fps']} | {row['peak_step_mib']:.0f} |")
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
