"""A video job: plan, dream lanes in lockstep with I/O and flow in background threads, resume, assemble.

Work goes to a folder beside the output (OUT.dreamvideo-work) with a manifest of finished chunks and
each chunk's carried state, so an interrupted run resumes with the same command and gives the same frames.
"""
from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import threading

import numpy as np
import torch

from . import lanes as plan
from . import mux, video
from .animate import Carry, FrameIn, VideoDreamer, prepare_flows
from .config import Config, to_toml
from .errors import UserError

SEQUENCE_EXT = ".png"


def output_format(dst: str, codec: str) -> tuple[str, video.Encoding]:
    """Chunk file extension and encoding for an output path."""
    ext = os.path.splitext(dst)[1].lower()
    if ext in (".gif", ".webp") or "%" in os.path.basename(dst):
        return ".mkv", video.Encoding(codec or "ffv1")  # lossless parts, converted once at the end
    default = {".webm": "libvpx-vp9", ".mov": "libx264"}.get(ext, "libx264")
    return ext, video.Encoding(codec or default)


def frame_range(info: video.VideoInfo, cfg: Config) -> tuple[int, int]:
    """(first frame, frame count) asked for by video.start / video.frames / video.duration."""
    total = info.frame_count()
    start = round(cfg.video.start * info.fps)
    if start >= total:
        raise UserError(f"--start {cfg.video.start}s is at or past the end of the video ({float(total / info.fps):.2f}s)")
    count = total - start
    if cfg.video.frames:
        count = min(count, cfg.video.frames)
    elif cfg.video.duration:
        count = min(count, max(1, round(cfg.video.duration * info.fps)))
    return start, count


class WorkDir:
    """The resumable state of one job: manifest.json, finished chunks, carried states."""

    def __init__(self, dst: str, identity: str):
        self.path = dst + ".dreamvideo-work"
        self.lock = threading.Lock()
        self.manifest = self._load()
        if self.manifest.get("identity") != identity:
            if os.path.isdir(self.path):
                shutil.rmtree(self.path)  # other input or settings: that work does not apply
            self.manifest = {"identity": identity, "done": []}
        os.makedirs(self.path, exist_ok=True)
        self.save()

    def _load(self) -> dict:
        try:
            with open(os.path.join(self.path, "manifest.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def save(self) -> None:
        with self.lock:
            tmp = os.path.join(self.path, "manifest.json.tmp")
            with open(tmp, "w") as f:
                json.dump(self.manifest, f, indent=1)
            os.replace(tmp, os.path.join(self.path, "manifest.json"))

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def done(self, chunk: plan.Chunk) -> bool:
        return chunk.name in self.manifest["done"]

    def finish_chunk(self, chunk: plan.Chunk, carry: Carry | None) -> None:
        if carry is not None:
            tmp = self.file(chunk.name + ".state.tmp")
            torch.save(carry.__dict__, tmp)
            os.replace(tmp, self.file(chunk.name + ".state.pt"))
        with self.lock:
            self.manifest["done"].append(chunk.name)
        self.save()

    def carry_before(self, chunk: plan.Chunk, lane_chunks: list[plan.Chunk]) -> Carry | None:
        i = lane_chunks.index(chunk)
        if i == 0:
            return None
        state = torch.load(self.file(lane_chunks[i - 1].name + ".state.pt"), weights_only=True)
        return Carry(**state)


def identity(src: str, dst: str, cfg: Config) -> str:
    st = os.stat(src)
    text = f"{os.path.abspath(src)}|{st.st_size}|{st.st_mtime_ns}|{os.path.abspath(dst)}|{to_toml(cfg)}"
    return hashlib.sha256(text.encode()).hexdigest()


def lane_count(cfg: Config, device: torch.device, w: int, h: int, count: int) -> int:
    """video.lanes as a number; auto: 1 on CPU, else as many as free GPU memory allows (at most 8)."""
    if cfg.video.lanes != "auto":
        return int(cfg.video.lanes)
    if device.type != "cuda":
        return 1
    free, _ = torch.cuda.mem_get_info(device)
    per_lane = w * h * 16 * 1024  # rough peak bytes per frame of the default model with gradients
    return int(max(1, min(8, free // per_lane, count // max(cfg.video.chunk, 1))))


class _Stop(Exception):
    pass


def _put(q: queue.Queue, item, stop: threading.Event) -> None:
    """Put, waiting for room; after a stop, only while there is room (so finished work still drains)."""
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
    """One lane's remaining chunks, with a reader+flow thread ahead of it and a writer thread behind it."""

    def __init__(self, lane: plan.Lane, todo: list[plan.Chunk], carry, job: "Job"):
        self.lane, self.todo, self.carry, self.job = lane, todo, carry, job
        self.next_index = todo[0].start
        self.chunk_ends = {c.end for c in todo}
        self.inbox: queue.Queue = queue.Queue(maxsize=4)
        self.outbox: queue.Queue = queue.Queue(maxsize=8)
        self.threads = [threading.Thread(target=self._guard, args=(f,), daemon=True) for f in (self._produce, self._write)]

    def _guard(self, fn):
        try:
            fn()
        except _Stop:
            pass
        except BaseException as e:  # handed to the main thread
            self.job.errors.append(e)
            self.job.stop.set()

    def _produce(self) -> None:
        j, first = self.job, self.todo[0].start
        begin = first - 1 if first > self.lane.begin else first
        prev = None
        frames = video.read_frames(j.info, j.start + begin, self.lane.end - begin, j.size)
        try:
            for rel, frame in enumerate(frames, begin):
                if rel >= first:
                    cut = rel == self.lane.begin or rel in j.cuts
                    back, fwd = prepare_flows(None if cut else prev, frame, j.cfg.video.flow)
                    _put(self.inbox, FrameIn(j.start + rel, frame, back, fwd, cut), j.stop)
                prev = frame
        finally:
            frames.close()

    def _write(self) -> None:
        j = self.job
        for chunk in self.todo:
            held, writer = [], None
            if chunk.kind == "video":
                writer = video.Writer(j.work.file(chunk.name + j.chunk_ext), *j.size, j.fps, j.encoding)
            try:
                for _ in range(chunk.end - chunk.start):
                    frame = self._take()
                    writer.write(frame) if writer else held.append(frame)
                carry = self._take()
                if writer:
                    writer.close()
                    writer = None
                else:
                    tmp = j.work.file(chunk.name + ".tmp.npy")
                    np.save(tmp, np.stack(held))
                    os.replace(tmp, j.work.file(chunk.name + ".npy"))
                j.work.finish_chunk(chunk, carry)
            finally:
                if writer:
                    writer.abort()

    def _take(self):
        return _get(self.outbox, self.job.stop)

    def next_item(self) -> FrameIn:
        return _get(self.inbox, self.job.stop)

    def emit(self, frame: np.ndarray, carry: Carry) -> bool:
        """Hand a dreamed frame to the writer; returns False once the lane is finished."""
        self.carry = carry
        _put(self.outbox, frame, self.job.stop)
        self.next_index += 1
        if self.next_index in self.chunk_ends:
            _put(self.outbox, Carry(*(t.cpu().clone() for t in carry.__dict__.values())), self.job.stop)
        return self.next_index < self.todo[-1].end


class Job:
    """Everything one `dreamvideo in out` run needs."""

    def __init__(self, src: str, dst: str, cfg: Config):
        self.src, self.dst, self.cfg = src, dst, cfg
        info = video.count_frames(video.probe(src))
        if not (cfg.video.frames or cfg.video.duration):
            video.check_complete(info)
        self.info, self.fps = info, info.fps
        w = cfg.run.width or info.width
        self.size = (w, max(1, round(info.height * w / info.width)))
        self.start, self.count = frame_range(info, cfg)
        self.chunk_ext, self.encoding = output_format(dst, cfg.video.codec)
        self.work = WorkDir(dst, identity(src, dst, cfg))
        self.work.manifest.setdefault("settings", to_toml(cfg))  # for the person looking at the folder
        self.stop = threading.Event()
        self.errors: list[BaseException] = []

    def scan(self) -> None:
        """Scene cuts and the true frame count, once per job (kept in the manifest)."""
        m = self.work.manifest
        if "cuts" not in m:
            cuts, n = plan.find_cuts(self.info, self.start, self.count, self.cfg.video.cut_threshold)
            if n == 0:
                raise UserError(f"{self.src} has no video frames that ffmpeg can decode")
            m["cuts"], m["count"] = cuts, n
            self.work.save()
        self.cuts, self.count = set(m["cuts"]), m["count"]

    def run(self, progress_factory=None) -> None:
        """Dream what is not done yet, then assemble the output and remove the work folder."""
        from .runner import make_dreamer, resolve_device

        self.scan()
        m = self.work.manifest
        if "lanes" not in m:
            m["lanes"] = lane_count(self.cfg, resolve_device(self.cfg.run.device), *self.size, self.count)
            self.work.save()
        lanes = plan.plan_lanes(self.count, sorted(self.cuts), m["lanes"], self.cfg.video.warmup)
        chunks = {lane.number: plan.chunks(lane, self.cfg.video.chunk) for lane in lanes}
        runs = []
        for lane in lanes:
            todo = [c for c in chunks[lane.number] if not self.work.done(c)]
            if todo:
                runs.append(LaneRun(lane, todo, self.work.carry_before(todo[0], chunks[lane.number]), self))
        if runs:
            dreamer = make_dreamer(self.cfg)
            vd = VideoDreamer(dreamer, self.cfg.video, self.animator(dreamer))
            for r in runs:
                r.carry = r.carry.to(vd.dreamer.device) if r.carry else None
            total = sum(c.end - c.start for r in runs for c in r.todo)
            self._loop(runs, vd, progress_factory(total) if progress_factory else None)
        self._assemble(lanes, chunks)
        shutil.rmtree(self.work.path, ignore_errors=True)

    def animator(self, dreamer):
        """Animated settings for this job; audio features from --audio FILE (aligned with the output) or
        from the input's own soundtrack (aligned with the input)."""
        from . import audio
        from .reactive import Animator, needs_audio

        features = None
        if needs_audio(self.cfg):
            a = self.cfg.audio
            samples = audio.read_audio(a.file or self.src)
            first = 0 if a.file else self.start
            features = audio.features(samples, self.fps, self.count, first, attack=a.attack, release=a.release)
        return Animator(self.cfg, dreamer, self.fps, features, self.start)

    def _loop(self, runs: list[LaneRun], vd: VideoDreamer, progress) -> None:
        for r in runs:
            for t in r.threads:
                t.start()
        try:
            active = list(runs)
            while active:
                items = [r.next_item() for r in active]
                frames, carries = vd.step(items, [r.carry for r in active])
                active = [r for r, f, c in zip(active, frames, carries) if r.emit(f, c)]
                if progress:
                    progress(len(items))
            for r in runs:
                while r.threads[1].is_alive() and not self.stop.is_set():
                    r.threads[1].join(0.1)
        except BaseException:
            self.stop.set()
            if not self.errors:
                raise
        finally:
            self.stop.set()
            for r in runs:
                for t in r.threads:
                    t.join()
        if self.errors:
            raise self.errors[0]

    def _assemble(self, lanes: list[plan.Lane], chunks: dict) -> None:
        parts = []
        for lane in lanes:
            if lane.warm:
                parts.append(self._crossfade(chunks[lane.number - 1][-1], chunks[lane.number][0]))
            parts += [self.work.file(c.name + self.chunk_ext) for c in chunks[lane.number] if c.kind == "video"]
        if self.cfg.audio.file:  # a replacement soundtrack, from the output's first frame, cut to its length
            mux.finish(parts, self.dst, self.fps, self.count, self.size, video.audio_info(self.cfg.audio.file))
            return
        audio = self.info if self.cfg.video.audio else None
        mux.finish(parts, self.dst, self.fps, self.count, self.size, audio, self.start)

    def _crossfade(self, tail: plan.Chunk, head: plan.Chunk) -> str:
        """Encode the overlap of two lanes as a dissolve from the earlier lane to the later one."""
        path = self.work.file(f"blend-{head.name}{self.chunk_ext}")
        if not os.path.exists(path):
            a, b = np.load(self.work.file(tail.name + ".npy")), np.load(self.work.file(head.name + ".npy"))
            writer = video.Writer(path, *self.size, self.fps, self.encoding)
            try:
                for k in range(len(a)):
                    t = (k + 1) / (len(a) + 1)
                    writer.write(np.round((1 - t) * a[k] + t * b[k]).astype(np.uint8))
                writer.close()
            except BaseException:
                writer.abort()
                raise
        return path


def dream_video(src: str, dst: str, cfg: Config, progress_factory=None) -> None:
    """Dream the video `src` into `dst` (resuming earlier work on the same job)."""
    Job(src, dst, cfg).run(progress_factory)
