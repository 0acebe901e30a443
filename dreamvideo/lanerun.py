"""One lane's threads: a reader that decodes frames and computes their flows ahead, the dreaming loop that
steps every lane in lockstep, and a writer that encodes each chunk and saves the carried state after it. They
exchange typed messages: FrameIn (reader -> loop), Frame and ChunkEnd (loop -> writer), END."""
from __future__ import annotations

import io
import os
import queue
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from . import lanes as plan
from . import encode, video
from .animate import VideoDreamer, prepare_flows
from .carry import Carry, FrameIn
from .output import OutputSpec
from .staging import stage


@dataclass
class LaneIO:
    """What a lane's threads need: the input to read (job frame 0 is input frame `start`), the flow settings,
    the output's encoding, the folder its chunk files go to, and what to do once a chunk is complete there."""

    info: video.VideoInfo
    start: int
    size: tuple[int, int]
    cuts: set[int]
    fades: dict[int, float]  # job frame -> share of the picture shown, for frames in fades (lanes.fade_shares)
    bars: dict[int, tuple]  # shot's first job frame -> where its bars are (lanes.shot_bars)
    flow: str
    flow_width: int
    consistency: bool  # forward flows too
    out: OutputSpec
    folder: str
    finished: Callable[[plan.Chunk, Carry], None]
    device: torch.device  # where frames are dreamed: on CUDA the reader stages them in pinned memory

    def file(self, name: str) -> str:
        return os.path.join(self.folder, name)


@dataclass
class Frame:
    """To the writer: the dream of job frame `index`, uint8 [H,W,3] (numpy, or a HostFrame from the GPU)."""

    index: int
    pixels: object


@dataclass
class ChunkEnd:
    """To the writer: `chunk`'s frames are all sent; `carry` is the lane's state after its last frame."""

    chunk: plan.Chunk
    carry: Carry


END = "end"  # to the writer: nothing more comes (the job finished or stopped); unfinished chunks are dropped


def save_carry(folder: str, chunk: plan.Chunk, carry: Carry) -> None:
    """The lane's state after `chunk`, as FOLDER/NAME.state.pt (written whole or not at all)."""
    buf = io.BytesIO()  # serialized in memory: a full disk then raises OSError(ENOSPC), not torch's RuntimeError
    torch.save(carry.__dict__, buf)
    tmp = os.path.join(folder, chunk.name + ".state.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(buf.getbuffer())
        os.replace(tmp, os.path.join(folder, chunk.name + ".state.pt"))
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


class _Stop(Exception):
    pass


def _put(q: queue.Queue, item, stop: threading.Event) -> None:
    """Put, waiting for room; after a stop, only while there is room."""
    while True:
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            if stop.is_set():
                raise _Stop from None


def _get(q: queue.Queue, stop: threading.Event):
    """Get, waiting for an item; after a stop, only what is already queued."""
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set():
                raise _Stop from None


class LaneRun:
    """One lane's remaining chunks, with a reader+flow thread ahead of it and a writer thread behind it.
    The writer takes Frame, ChunkEnd and END messages from the dreaming loop and drains everything it was
    sent, so a chunk whose frames were all dreamed is finished even when the job stops."""

    def __init__(self, lane: plan.Lane, todo: list[plan.Chunk], carry: Carry | None, io: LaneIO, stop: threading.Event,
                 errors: list[BaseException]):
        self.lane, self.todo, self.carry, self.io, self.stop, self.errors = lane, todo, carry, io, stop, errors
        self.ends = {c.end: c for c in todo}  # job frame after a chunk's last -> that chunk
        self.inbox: queue.Queue = queue.Queue(maxsize=4)
        self.outbox: queue.Queue = queue.Queue(maxsize=8)
        self.reader = threading.Thread(target=self._guard, args=(self._produce,), daemon=True)
        self.writer = threading.Thread(target=self._guard, args=(self._write,), daemon=True)

    def _guard(self, fn):
        try:
            fn()
        except _Stop:
            pass
        except BaseException as e:  # handed to the main thread
            self.errors.append(e)
            self.stop.set()

    def _produce(self) -> None:
        j, first = self.io, self.todo[0].start
        begin = first - 1 if first > self.lane.begin else first
        prev = None
        frames = video.read_frames(j.info, j.start, self.lane.end - begin, j.size, skip=begin)
        try:
            for rel, frame in enumerate(frames, begin):
                if rel >= first:
                    cut = rel == self.lane.begin or rel in j.cuts
                    back, fwd = prepare_flows(None if cut else prev, frame, j.flow, j.flow_width, j.consistency)
                    fade, bars = j.fades.get(rel, 1.0), plan.bars_at(j.bars, rel)
                    item = FrameIn(j.start + rel, frame, back, fwd, cut, fade, bars)
                    _put(self.inbox, stage(item, j.device), self.stop)
                prev = frame
        finally:
            frames.close()

    def _write(self) -> None:
        j = self.io
        for chunk in self.todo:
            held, writer = [], None
            if chunk.kind == "video":
                writer = encode.Writer(j.file(chunk.name + j.out.chunk_ext), *j.size, j.info.fps, j.out.encoding)
            try:
                while not isinstance(msg := self.outbox.get(), ChunkEnd):
                    if msg is END:
                        return
                    if not chunk.start <= msg.index < chunk.end:
                        raise RuntimeError(f"frame {msg.index} reached the writer of chunk {chunk.name}")
                    frame = np.asarray(msg.pixels)  # a HostFrame waits here for its copy from the GPU
                    writer.write(frame) if writer else held.append(frame)
                if msg.chunk != chunk:
                    raise RuntimeError(f"the end of {msg.chunk.name} reached the writer of chunk {chunk.name}")
                if writer:
                    writer.close()
                    writer = None
                else:
                    tmp = j.file(chunk.name + ".tmp.npy")
                    np.save(tmp, np.stack(held))
                    os.replace(tmp, j.file(chunk.name + ".npy"))
                save_carry(j.folder, chunk, msg.carry)
                j.finished(chunk, msg.carry)
            finally:
                if writer:
                    writer.abort()

    def _send(self, item) -> None:
        """To the writer, waiting for room while it runs."""
        while True:
            try:
                return self.outbox.put(item, timeout=0.1)
            except queue.Full:
                if not self.writer.is_alive():
                    raise _Stop from None

    def next_item(self) -> FrameIn:
        return _get(self.inbox, self.stop)

    def emit(self, item: FrameIn, frame, carry: Carry) -> bool:
        """Hand the dream of `item` to the writer (and, after a chunk's last frame, the carry); returns False once
        the lane is finished."""
        self.carry = carry
        index = item.index - self.io.start  # the job's frame number
        self._send(Frame(index, frame))
        if index + 1 in self.ends:
            self._send(ChunkEnd(self.ends[index + 1], carry.to("cpu", copy=True)))
        return index + 1 < self.todo[-1].end

    def end(self) -> None:
        try:
            self._send(END)
        except _Stop:
            pass


def dream_lanes(runs: list[LaneRun], vd: VideoDreamer, progress, stop: threading.Event,
                errors: list[BaseException]) -> None:
    """Dream the lanes in lockstep, one frame of each per tick, until every lane is finished. A thread's
    failure (in `errors`) is raised once all writers have drained."""
    for r in runs:
        r.reader.start()
        r.writer.start()
    try:
        active = list(runs)
        while active:
            items = [r.next_item() for r in active]
            frames, carries = vd.step(items, [r.carry for r in active])
            active = [r for r, item, f, c in zip(active, items, frames, carries) if r.emit(item, f, c)]
            if progress:
                progress(len(items))
    except _Stop:
        pass  # a thread failed: its error is raised below, once the writers have drained
    except BaseException:
        stop.set()
        raise
    finally:
        stop.set()
        for r in runs:
            r.end()
        for r in runs:
            r.reader.join()
            r.writer.join()
    if errors:
        raise errors[0]
