"""What crosses between the host threads and the device. On CUDA the reader thread stages each frame and its
flows in pinned (page-locked) host memory, so the dreaming loop's uploads are asynchronous, and the dreamed
frames come back into pinned memory without the loop waiting: the writer thread waits for each copy. On the
CPU (and the meta device) everything stays as it is: numpy arrays in, numpy arrays out."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch


def stage(item, device: torch.device):
    """An animate.FrameIn for the dreaming loop. For a CUDA device: the item's frame and flows copied into
    pinned (page-locked) host memory, in the reader thread, so that the dreaming loop's uploads are
    asynchronous (non_blocking) and overlap the GPU's work; flows as float16, half the bytes (measured on the look clips: flicker and persistence within 1 %).
    PyTorch's pinned-memory cache reuses the buffers once their copies are done. Elsewhere the item as it is."""
    if device.type != "cuda":
        return item
    pin = lambda a: None if a is None else torch.from_numpy(a).pin_memory()  # noqa: E731
    half = lambda a: None if a is None else torch.from_numpy(a).half().pin_memory()  # noqa: E731
    return replace(item, frame=pin(item.frame), backward=half(item.backward), forward=half(item.forward))


def upload(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A small host tensor (per-lane numbers, weights) on `device`: through pinned memory without waiting on
    CUDA, a plain copy elsewhere."""
    return t.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else t.to(device)


class HostFrame:
    """A dreamed frame on its way to the host: uint8 [H,W,3] in pinned memory, its copy queued behind the
    GPU's work. numpy() (or np.asarray) waits for that copy alone; the writer thread does, not the loop."""

    def __init__(self, host: torch.Tensor, done):
        self.host, self.done = host, done  # done: a torch.cuda.Event recorded after the copy

    def numpy(self) -> np.ndarray:
        self.done.synchronize()
        return self.host.numpy()

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self.numpy() if dtype is None else self.numpy().astype(dtype)


def to_frames(out: list[torch.Tensor]) -> list:
    """[1,3,H,W] float frames on the device -> uint8 [H,W,3] on the host: the tick's one read-back of frames.
    On CUDA the copies go to pinned memory without waiting (HostFrame); elsewhere numpy arrays."""
    u8 = [(o.clamp(0, 1) * 255).round().byte()[0].permute(1, 2, 0) for o in out]
    if not u8 or u8[0].device.type != "cuda":
        return [u.cpu().numpy() for u in u8]
    hosts = [torch.empty(u.shape, dtype=torch.uint8, pin_memory=True) for u in u8]
    for h, u in zip(hosts, u8):
        h.copy_(u, non_blocking=True)
    done = torch.cuda.Event()
    done.record()
    return [HostFrame(h, done) for h in hosts]
