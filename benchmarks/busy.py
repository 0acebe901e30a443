"""A render beside a busy process: the automatic thread count against all cores (the old behaviour).

    python benchmarks/busy.py [--frames 40] [--width 320]

Renders the same clip three times as a user would (`dreamvideo IN OUT`): on a quiet machine, then beside one
`yes >/dev/null` with automatic threads (the cores other programs leave idle), then beside it with --threads
set to every core. Prints seconds and the ratios; run it on an otherwise quiet machine.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from dreamvideo.synth import lavfi_clip  # noqa: E402


def render(src: str, out: str, width: int, frames: int, extra: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dreamvideo", src, out, "--width", str(width), "--frames", str(frames),
                    "--overwrite", *extra], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--width", type=int, default=320)
    a = p.parse_args()
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as d:
        src, out = os.path.join(d, "in.mp4"), os.path.join(d, "out.mp4")
        lavfi_clip(src, size=(640, 360), seconds=a.frames / 25 + 0.2)
        quiet = render(src, out, a.width, a.frames, [])
        quiet_every = render(src, out, a.width, a.frames, ["--threads", str(cores)])
        busy = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL)
        try:
            time.sleep(1)
            auto = render(src, out, a.width, a.frames, [])
            every = render(src, out, a.width, a.frames, ["--threads", str(cores)])
        finally:
            busy.kill()
            busy.wait()
    print(f"{a.frames} frames at width {a.width}, {cores} cores")
    print(f"quiet, automatic threads:        {quiet:6.1f} s")
    print(f"quiet, --threads {cores}:              {quiet_every:6.1f} s  ({quiet_every / quiet:.2f}x)")
    print(f"beside `yes`, automatic threads: {auto:6.1f} s  ({auto / quiet:.2f}x quiet)")
    print(f"beside `yes`, --threads {cores}:       {every:6.1f} s  ({every / quiet:.2f}x quiet)")


if __name__ == "__main__":
    main()
