"""One video's lanes as Ray tasks, on this machine or a cluster (`--ray [ADDRESS]`).

The driver (the `dreamvideo` command) plans, keeps the manifest, assembles and muxes exactly as a local run.
Each lane's remaining chunks are one task (one GPU when the cluster has GPUs, else CPUs): the worker reads
its own frames from the input, dreams them with the carried state and writes the chunks. The input comes from
a path every worker sees (shared storage), or with `copy` from bytes the driver puts in Ray's object store;
finished chunks go straight into the work folder (shared storage) or come back through the object store.
Workers report frames and finished chunks to a small actor, so the driver's progress bar counts the whole
cluster and the manifest records each chunk as soon as it is complete: a rerun resumes after a driver dies.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import tempfile
import threading
from dataclasses import dataclass, replace

from . import lanes as plan
from .animate import VideoDreamer
from .carry import Carry
from .config import Config
from .errors import UserError
from .output import OutputSpec
from .video import VideoInfo

INSTALL = "pip install 'dreamvideo[ray]'"
RETRIES = 3  # times Ray reruns a segment whose worker died


def connect(address: str):
    """Ray, connected: to `address`, else RAY_ADDRESS or a cluster started on this machine with `ray start
    --head`, else a new local instance. One line, exit 2, when Ray is missing or the cluster cannot be reached."""
    try:
        import ray
    except ImportError:
        raise UserError(f"--ray needs Ray, which is not installed: {INSTALL} (`make install` includes it)") from None
    if not ray.is_initialized():
        check_reachable(address or os.environ.get("RAY_ADDRESS", ""))
        try:
            ray.init(address=address or None, include_dashboard=False, log_to_driver=False,
                     logging_level="ERROR", configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            where = address or os.environ.get("RAY_ADDRESS") or "a new local instance"
            raise UserError(f"cannot start or reach Ray at {where}: {str(e).splitlines()[0]}; check the address "
                            f"(ray status on the head node)") from None
    return ray


def check_reachable(address: str, seconds: float = 5.0) -> None:
    """A cluster address HOST:PORT (or ray://HOST:PORT) that does not answer is refused in one line at once
    (Ray itself would retry for minutes); `auto` and an empty address are left to Ray."""
    m = re.fullmatch(r"(?:ray://)?\[?([\w.:-]+?)\]?:(\d+)", address.strip())
    if not m:
        return
    try:
        socket.create_connection((m.group(1), int(m.group(2))), timeout=seconds).close()
    except OSError as e:
        raise UserError(f"cannot reach the Ray cluster at {address}: {e.strerror or e}; check the address "
                        f"(`ray status` on the head node shows it) and that this machine can reach it") from None


@dataclass
class Segment:
    """All a worker needs to dream one lane's remaining chunks, with none of the driver's files but the input."""

    info: VideoInfo
    start: int
    size: tuple[int, int]
    cuts: set[int]
    fades: dict[int, float]  # job frame -> share of the picture shown, for frames in fades (lanes.fade_shares)
    bars: dict[int, tuple]  # shot's first job frame -> where its bars are (lanes.shot_bars)
    cfg: Config
    out: OutputSpec
    lane: plan.Lane
    todo: list[plan.Chunk]
    carry: Carry | None  # on the CPU
    threads: int  # CPU threads (0: Ray's choice): the driver's, so CPU frames equal a local run's
    features: dict | None  # audio features, one row per job frame
    folder: str  # the work folder when workers share the driver's storage, "" to send chunks back
    copies: dict  # path -> object ref of the file's bytes, for files workers cannot see


class Cluster:
    """Where `--ray` sends a job's lanes; `verbose` prints a line per finished chunk with its worker."""

    def __init__(self, address: str = "", copy: bool = False, log=None):
        self.ray = connect(address)
        self.copy, self.log = copy, log

    def lanes(self, cfg: Config) -> int:
        """`--lanes auto` on a cluster: one lane per GPU, else per CPU."""
        if cfg.video.lanes != "auto":
            return int(cfg.video.lanes)
        res = self.ray.cluster_resources()
        return max(1, int(res.get("GPU", 0) or res.get("CPU", 1)))

    def dream(self, job, segments: list[tuple], features: dict | None, threads: int, progress) -> None:
        """Dream `segments` [(lane, chunks to do, carry before them)] of `job` as Ray tasks, recording each
        chunk in the job's manifest as it is complete."""
        ray = self.ray
        res = ray.cluster_resources()
        gpus, cpus = res.get("GPU", 0), max(1, min(threads or 1, int(res.get("CPU", 1))))
        task = ray.remote(dream_segment).options(max_retries=RETRIES, retry_exceptions=False,
                                                 **({"num_gpus": 1, "num_cpus": 1} if gpus else {"num_cpus": cpus}))
        copies = {}
        if self.copy:
            for p in (job.src, job.cfg.objective.guide, job.cfg.model.weights):
                if p:
                    with open(p, "rb") as f:
                        copies[os.path.abspath(p)] = ray.put(f.read())
        info = replace(job.info, path=os.path.abspath(job.info.path))
        cfg = absolute_paths(job.cfg)
        folder = "" if self.copy else os.path.abspath(job.work.path)
        tracker = ray.remote(num_cpus=0)(Tracker).remote()
        pending = [task.remote(Segment(info, job.start, job.size, job.cuts, job.fades, job.bars, cfg, job.out, lane,
                                       todo, carry, threads, features, folder, copies), tracker)
                   for lane, todo, carry in segments]
        names = {c.name: c for _, todo, _ in segments for c in todo}
        try:
            while pending:
                done, pending = ray.wait(pending, timeout=0.5)
                self._take(ray.get(tracker.take.remote()), job, names, progress)
                for ref in done:
                    self._result(ref)
            self._take(ray.get(tracker.take.remote()), job, names, progress)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def _result(self, ref) -> None:
        """A finished task's error, as the worker raised it when it is the user's or the machine's."""
        ray = self.ray
        try:
            ray.get(ref)
        except ray.exceptions.RayTaskError as e:
            if isinstance(e.cause, (UserError, OSError)):
                raise e.cause from None
            raise
        except ray.exceptions.WorkerCrashedError:
            raise UserError(f"a Ray worker died {RETRIES + 1} times on the same segment (out of memory?): "
                            f"rerun the same command to resume from the finished chunks") from None

    def _take(self, events: list, job, names: dict, progress) -> None:
        from .job import record_chunk

        for kind, lane, value, host, extra in events:
            if kind == "frames" and progress:
                progress(value)
            elif kind == "chunk":
                for name, data in (extra or {}).items():  # chunk files sent back through the object store
                    tmp = job.work.file(name + ".part")
                    with open(tmp, "wb") as f:
                        f.write(data)
                    os.replace(tmp, job.work.file(name))
                if value not in job.work.manifest.done:  # a retried task reports its chunks again
                    record_chunk(job.work, names[value])
                if self.log:
                    c = names[value]
                    self.log(f"lane {lane} on {host}: frames {c.start}-{c.end - 1} done")


class Tracker:
    """A Ray actor: workers put (kind, lane, value, host, extra) events, the driver takes them."""

    def __init__(self):
        self.events: list = []

    def put(self, event: tuple) -> None:
        self.events.append(event)

    def take(self) -> list:
        events, self.events = self.events, []
        return events


def absolute_paths(cfg: Config) -> Config:
    """The settings' file paths made absolute: workers do not share the driver's working folder."""
    o, m = cfg.objective, cfg.model
    return replace(cfg, objective=replace(o, guide=os.path.abspath(o.guide) if o.guide else o.guide),
                   model=replace(m, weights=os.path.abspath(m.weights) if m.weights else m.weights))


def local_copies(seg: Segment, folder: str) -> tuple[VideoInfo, Config]:
    """The segment's input and settings pointing at copies, in `folder`, of the files it was sent."""
    import ray

    paths = {}
    for k, (path, ref) in enumerate(seg.copies.items()):
        paths[path] = os.path.join(folder, f"input{k}{os.path.splitext(path)[1]}")
        with open(paths[path], "wb") as f:
            f.write(ray.get(ref))
    o, m = seg.cfg.objective, seg.cfg.model
    cfg = replace(seg.cfg, objective=replace(o, guide=paths.get(o.guide, o.guide)),
                  model=replace(m, weights=paths.get(m.weights, m.weights)))
    return replace(seg.info, path=paths.get(seg.info.path, seg.info.path)), cfg


SEGMENT_PREFIX = "dreamvideo-segment-"


def segment_folder() -> tempfile.TemporaryDirectory:
    """A temporary folder for a segment's copies, named by this worker's process number. A cancelled segment's
    worker is killed before it can remove its own, so ones whose process is gone are removed here first."""
    for old in glob.glob(os.path.join(tempfile.gettempdir(), SEGMENT_PREFIX + "*-*")):
        pid = os.path.basename(old)[len(SEGMENT_PREFIX):].split("-")[0]
        if pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return tempfile.TemporaryDirectory(prefix=f"{SEGMENT_PREFIX}{os.getpid()}-")


def alive(pid: int) -> bool:
    """Whether a process with this number runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's
        pass
    return True


def dream_segment(seg: Segment, tracker) -> None:
    """The Ray task: dream one lane's chunks into the shared work folder, or send them back to the driver."""
    import ray

    from .lanerun import LaneIO, LaneRun, dream_lanes
    from .reactive import Animator
    from .runner import make_dreamer, set_threads

    host = f"{socket.gethostname()}:{os.getpid()}"
    with segment_folder() as tmp:
        info, cfg = local_copies(seg, tmp)
        folder = seg.folder or tmp
        dreamer = make_dreamer(cfg)
        if seg.threads and dreamer.device.type == "cpu":
            set_threads(seg.threads)
        vd = VideoDreamer(dreamer, cfg.video, Animator(cfg, dreamer, info.fps, seg.features, seg.start))

        def finished(chunk: plan.Chunk, carry: Carry) -> None:
            files = None
            if not seg.folder:
                ext = seg.out.chunk_ext if chunk.kind == "video" else ".npy"
                files = {}
                for name in (chunk.name + ext, chunk.name + ".state.pt"):
                    with open(os.path.join(folder, name), "rb") as f:
                        files[name] = f.read()
            ray.get(tracker.put.remote(("chunk", seg.lane.number, chunk.name, host, files)))

        v = cfg.video
        io = LaneIO(info, seg.start, seg.size, seg.cuts, seg.fades, seg.bars, v.flow, v.flow_width, v.consistency,
                    seg.out, folder, finished, dreamer.device)
        stop, errors = threading.Event(), []
        carry = seg.carry.to(dreamer.device) if seg.carry is not None else None
        run = LaneRun(seg.lane, seg.todo, carry, io, stop, errors)
        report = lambda n: tracker.put.remote(("frames", seg.lane.number, n, host, None))  # noqa: E731
        dream_lanes([run], vd, report, stop, errors)
        # calls from one worker reach the actor in order: once this one is in, so are all its frame counts
        ray.get(tracker.put.remote(("end", seg.lane.number, 0, host, None)))
