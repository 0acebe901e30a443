"""A video job: plan, dream lanes in lockstep with I/O and flow in background threads, resume, assemble.

Work goes to a folder beside the output (OUT.dreamvideo-work) with a manifest of finished chunks and
each chunk's carried state, so an interrupted run resumes with the same command and gives the same frames.
"""
from __future__ import annotations

import math
import os
import tempfile
import threading
from dataclasses import replace
from typing import Callable

import numpy as np
import torch

from . import lanes as plan
from . import encode, mux, video
from .animate import VideoDreamer
from .carry import STATE_VERSION, Carry
from .config import Config, to_toml
from .errors import UserError
from .images import scaled_size
from .output import OutputSpec, output_spec, with_source
from .reactive import Animator, soundtrack_features
from .rates import shift_timecode
from .lanerun import LaneIO, LaneRun, dream_lanes
from .workdir import WorkDir, identity


def record_chunk(work: WorkDir, chunk: plan.Chunk) -> None:
    """The manifest's one writer: `chunk`'s files and state are complete in the work folder."""
    with work.lock:
        work.manifest.done.append(chunk.name)
    work.save()


def carry_before(work: WorkDir, chunk: plan.Chunk, lane_chunks: list[plan.Chunk]) -> Carry | None:
    i = lane_chunks.index(chunk)
    if i == 0:
        return None
    return Carry(**torch.load(work.file(lane_chunks[i - 1].name + ".state.pt"), weights_only=True))


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


def preflight(out: OutputSpec, size: tuple[int, int], fps, soundtrack: video.VideoInfo | None, start: int) -> None:
    """Encode two blank frames and join them exactly as the output will be (codec, container, size, audio) in
    a temporary folder, so that a choice ffmpeg refuses fails before the first frame is dreamed."""
    with tempfile.TemporaryDirectory(prefix="dreamvideo-check-") as d:
        part = os.path.join(d, "part" + out.chunk_ext)
        writer = encode.Writer(part, *size, fps, out.encoding)
        try:
            for _ in range(2):
                writer.write(np.zeros((size[1], size[0], 3), np.uint8))
            writer.close()
        except BaseException:
            writer.abort()
            raise
        trial = replace(out, path=os.path.join(d, os.path.basename(out.path)))
        mux.finish([part], trial, fps, 2, size, d, soundtrack, start)


class Job:
    """Everything one `dreamvideo in out` run needs. Everything that can be checked is checked before the
    work folder is made: the input, the range, the output format, codec and audio (by a trial encode)."""

    def __init__(self, src: str, dst: str, cfg: Config, cluster=None):
        self.src, self.dst, self.cfg, self.cluster = src, dst, cfg, cluster  # cluster: a cluster.Cluster or None
        info = video.count_frames(video.probe(src))
        if not (cfg.video.frames or cfg.video.duration):
            video.check_complete(info)
        self.info, self.fps = info, info.fps
        self.size = scaled_size(info.width, info.height, cfg.run.width)
        self.start, self.count = frame_range(info, cfg)
        v = cfg.video
        timecode = shift_timecode(info.timecode, self.start, info.fps)  # an editor relinks by it
        self.out = with_source(output_spec(dst, v.codec, v.crf, v.preset), info.color, info.sar, timecode)
        if cfg.audio.file:  # a replacement soundtrack, from the output's first frame, cut to its length
            self.soundtrack, self.audio_start = (video.audio_info(cfg.audio.file) if v.audio else None), 0
        else:
            self.soundtrack, self.audio_start = (info if v.audio else None), self.start
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.warnings: list[str] = []  # for the person running the job (the CLI prints them)

    def scan(self) -> None:
        """Scene cuts, fades, bars and the true frame count, once per job (kept in the manifest)."""
        m = self.work.manifest
        if m.cuts is None:
            damage: list[str] = []
            around = math.ceil(plan.FADE_SEARCH * self.fps)
            found = plan.scan_video(self.info, self.start, self.count, self.cfg.video.cut_threshold, damage, around)
            if found.count == 0:
                raise UserError(f"{self.src} has no video frames that ffmpeg can decode")
            m.cuts, m.count, m.decode_errors = found.cuts, found.count, len(damage)
            m.fades = sorted(found.fades().items())
            m.bars = [[k, *r] for k, r in found.bars().items()]
            self.work.save()
        self.cuts, self.count, self.fades = set(m.cuts), m.count, {int(k): float(s) for k, s in m.fades}
        self.bars = {int(k): tuple(r) for k, *r in m.bars}
        if m.decode_errors:
            self.warnings.append(f"{self.src} is damaged: ffmpeg reported {m.decode_errors} decoding errors, and "
                                 f"the frames it could not decode cleanly are dreamed as it patched them; "
                                 f"re-export or re-download the file for a clean render")

    def run(self, progress_factory=None) -> None:
        """Dream what is not done yet, then assemble the output and remove the work folder. On failure the
        folder stays only if it holds finished chunks (the same command resumes from them)."""
        from .runner import check_memory, make_dreamer, resolve_device

        lanes = self.cfg.video.lanes
        check_memory(*self.size, self.cfg, resolve_device(self.cfg.run.device), int(lanes) if lanes != "auto" else 1)
        dreamer = make_dreamer(self.cfg)  # model, layers, guide and weights checked
        preflight(self.out, self.size, self.fps, self.soundtrack, self.audio_start)
        c = self.cfg
        files = [self.src, c.audio.file, c.objective.guide, c.model.weights]
        self.work = WorkDir(self.out.work_path, identity(files, to_toml(c) + STATE_VERSION), self.dst)
        self.work.manifest.settings = to_toml(c)  # for the person looking at the folder
        done = False
        try:
            self._run(dreamer, progress_factory)
            done = True
        finally:
            self.work.close(remove=done or not self.work.has_work)

    def _run(self, dreamer, progress_factory) -> None:
        from .runner import lane_count, step_peak_bytes

        self.scan()
        m = self.work.manifest
        if not m.lanes:
            m.lanes = self.cluster.lanes(self.cfg) if self.cluster else lane_count(
                self.cfg, dreamer.device, *self.size, self.count, lambda: step_peak_bytes(dreamer, *self.size))
            self.work.save()
        if self.cluster and m.lanes == 1:
            self.warnings.append("with --ray and one lane the whole video is one task on one worker: give "
                                 "--lanes N or --lanes auto to use the cluster")
        if dreamer.device.type == "cpu":  # the thread count changes the rounding, which the dream grows:
            m.threads = m.threads or torch.get_num_threads()  # a resumed run computes as the first one did
            torch.set_num_threads(m.threads)
            self.work.save()
        lanes = plan.plan_lanes(self.count, sorted(self.cuts), m.lanes, self.cfg.video.warmup)
        chunks = {lane.number: plan.chunks(lane, self.cfg.video.chunk) for lane in lanes}
        features = self.features()
        animator = Animator(self.cfg, dreamer, self.fps, features, self.start)
        animator.check(range(self.start, self.start + self.count))  # expressions checked over the timeline
        segments = []  # (lane, its chunks still to do, the carry before the first of them)
        for lane in lanes:
            todo = [c for c in chunks[lane.number] if c.name not in m.done]
            if todo:
                segments.append((lane, todo, carry_before(self.work, todo[0], chunks[lane.number])))
        total = sum(c.end - c.start for _, todo, _ in segments for c in todo)
        progress = progress_factory(total) if progress_factory and total else None
        if self.cluster and segments:
            self.cluster.dream(self, segments, features, m.threads, progress)
        elif segments:
            io = self.lane_io(self.work.path, lambda chunk, carry: record_chunk(self.work, chunk), dreamer.device)
            runs = [LaneRun(lane, todo, carry.to(dreamer.device) if carry else None, io, self.stop, self.errors)
                    for lane, todo, carry in segments]
            dream_lanes(runs, VideoDreamer(dreamer, self.cfg.video, animator), progress, self.stop, self.errors)
        self._assemble(lanes, chunks)

    def lane_io(self, folder: str, finished: Callable[[plan.Chunk, Carry], None], device: torch.device) -> LaneIO:
        v = self.cfg.video
        return LaneIO(self.info, self.start, self.size, self.cuts, self.fades, self.bars, v.flow, v.flow_width,
                      v.consistency, self.out, folder, finished, device)

    def features(self) -> dict | None:
        """Audio features for animated settings, one row per job frame (reactive.soundtrack_features)."""
        return soundtrack_features(self.cfg, self.src, self.fps, self.count, self.start)

    def _assemble(self, lanes: list[plan.Lane], chunks: dict) -> None:
        parts = []
        for lane in lanes:
            if lane.warm:
                parts.append(self._crossfade(chunks[lane.number - 1][-1], chunks[lane.number][0]))
            parts += [self.work.file(c.name + self.out.chunk_ext) for c in chunks[lane.number] if c.kind == "video"]
        mux.finish(parts, self.out, self.fps, self.count, self.size, self.work.path, self.soundtrack, self.audio_start)

    def _crossfade(self, tail: plan.Chunk, head: plan.Chunk) -> str:
        """Encode the overlap of two lanes as a dissolve from the earlier lane to the later one."""
        path = self.work.file(f"blend-{head.name}{self.out.chunk_ext}")
        if not os.path.exists(path):
            a, b = np.load(self.work.file(tail.name + ".npy")), np.load(self.work.file(head.name + ".npy"))
            writer = encode.Writer(path, *self.size, self.fps, self.out.encoding)
            try:
                for k in range(len(a)):
                    t = (k + 1) / (len(a) + 1)
                    writer.write(np.round((1 - t) * a[k] + t * b[k]).astype(np.uint8))
                writer.close()
            except BaseException:
                writer.abort()
                raise
        return path


def dream_video(src: str, dst: str, cfg: Config, progress_factory=None, cluster=None) -> list[str]:
    """Dream the video `src` into `dst` (resuming earlier work on the same job), here or, given a
    cluster.Cluster, as Ray tasks. Returns warnings."""
    job = Job(src, dst, cfg, cluster)
    job.run(progress_factory)
    return job.warnings
