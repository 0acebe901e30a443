"""--ray: a video's lanes as Ray tasks on a local Ray instance (2 CPUs) give the frames of a local run, survive a
worker's death and a driver's interruption, and say how to install Ray when it is missing."""
import json
import os
import signal
import sys
import tempfile
import threading
import time

import numpy as np
import pytest
import torch

from dreamvideo import config, video
from dreamvideo.cli import main
from dreamvideo.job import dream_video
from dreamvideo.synth import lavfi_clip

SETTINGS = ["dream.octaves=2", "dream.steps=2", "video.codec=ffv1", "video.lanes=3", "video.chunk=5"]
ARGS = [a for s in SETTINGS for a in ("--set", s)] + ["--threads", "1"]


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")  # `make install` installs it; a bare `pip install dreamvideo` does not
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """2.4 s, 60 frames at 25 fps, cuts at frames 20 and 40, a sine soundtrack."""
    path = str(tmp_path_factory.mktemp("ray") / "two_cuts.mp4")
    lavfi_clip(path, seconds=2.4, cut_at=(0.8, 1.6))
    return path


@pytest.fixture(scope="module")
def local_frames(clip, tmp_path_factory):
    """The same job rendered here, without Ray."""
    out = str(tmp_path_factory.mktemp("local") / "local.mkv")
    assert main([clip, out, *ARGS]) == 0
    return frames_of(out)


def frames_of(path):
    i = video.count_frames(video.probe(path))
    return list(video.read_frames(i, 0, i.frames))


def same(a, b) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_ray_render_equals_the_local_render_with_the_same_lanes(local_ray, clip, local_frames, tmp_path):
    shared, copied = str(tmp_path / "shared.mkv"), str(tmp_path / "copied.mkv")
    assert main([clip, shared, *ARGS, "--ray"]) == 0
    assert main([clip, copied, *ARGS, "--ray", "--ray-copy"]) == 0
    assert len(local_frames) == 60
    for out in (shared, copied):
        assert same(frames_of(out), local_frames)
        i = video.count_frames(video.probe(out))
        assert i.frames == 60 and i.fps == 25 and i.audio  # timing and sound as a local run's
        assert not os.path.exists(out + ".dreamvideo-work")


def dreaming_workers() -> list[int]:
    """PIDs of Ray worker processes running a segment (Ray titles them after the task)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if open(f"/proc/{pid}/cmdline", "rb").read().startswith(b"ray::dream_segment"):
                pids.append(int(pid))
        except OSError:
            pass
    return pids


def test_a_worker_killed_mid_segment_is_retried_and_the_output_is_the_same(local_ray, clip, local_frames, tmp_path):
    out = str(tmp_path / "killed.mkv")
    manifest = out + ".dreamvideo-work/manifest.json"
    result = []
    run = threading.Thread(target=lambda: result.append(main([clip, out, *ARGS, "--ray"])))
    run.start()
    killed, deadline = False, time.time() + 120
    while not killed and run.is_alive() and time.time() < deadline:
        try:
            started = len(json.load(open(manifest))["done"]) >= 1  # a segment is part done
        except (OSError, ValueError, KeyError):
            started = False
        workers = dreaming_workers() if started else []
        if workers:
            os.kill(workers[0], signal.SIGKILL)
            killed = True
        time.sleep(0.05)
    run.join()
    assert killed, "no worker was running a segment to kill"
    assert result == [0]
    assert same(frames_of(out), local_frames)


def test_an_interrupted_driver_resumes_without_redoing_finished_chunks(local_ray, clip, local_frames, tmp_path):
    from dreamvideo.cluster import Cluster

    out = str(tmp_path / "resumed.mkv")
    manifest = out + ".dreamvideo-work/manifest.json"
    cfg = config.load("default", sets=SETTINGS)

    def interrupting(total):
        def progress(n):
            if len(json.load(open(manifest))["done"]) >= 3:
                raise KeyboardInterrupt
        return progress

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as --threads 1 in the local render
    try:
        with pytest.raises(KeyboardInterrupt):
            dream_video(clip, out, cfg, interrupting, Cluster())
        done = json.load(open(manifest))["done"]
        finished = sum(int(n[9:17]) - int(n[:8]) for n in done)  # NAME: START-END-KIND-LANE
        totals = []
        dream_video(clip, out, cfg, lambda total: totals.append(total), Cluster())
    finally:
        torch.set_num_threads(threads)
    assert len(done) >= 3 and totals == [60 - finished]  # what was finished was not dreamed again
    assert same(frames_of(out), local_frames)


def test_ray_flags_refused_where_they_mean_nothing(clip, tmp_path, capsys):
    assert main([clip, str(tmp_path / "a.mp4"), "--ray-copy"]) == 2
    assert "--ray-copy goes with --ray" in capsys.readouterr().err
    assert main([clip, str(tmp_path / "still.png"), "--ray"]) == 2
    assert "--ray dreams the lanes of a video" in capsys.readouterr().err


def test_without_ray_installed_one_line_says_how_to_install_it(clip, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    out = str(tmp_path / "out.mp4")
    assert main([clip, out, "--ray"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'dreamvideo[ray]'" in err[0]
    assert not os.path.exists(out) and not os.path.exists(out + ".dreamvideo-work")


def test_an_unreachable_cluster_is_refused_in_one_line_at_once(clip, tmp_path):
    import subprocess

    out = str(tmp_path / "out.mp4")
    t = time.time()
    r = subprocess.run([sys.executable, "-m", "dreamvideo", clip, out, "--ray", "127.0.0.1:1"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and time.time() - t < 60
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "cannot reach the Ray cluster at 127.0.0.1:1" in err[0]
    assert not os.path.exists(out) and not os.path.exists(out + ".dreamvideo-work")


def test_segment_folders_left_by_killed_workers_are_removed(tmp_path, monkeypatch):
    """A cancelled segment's worker is killed before it removes its temporary folder; the next segment on that
    host removes the folders whose process is gone, and keeps those of running ones."""
    import subprocess

    from dreamvideo import cluster

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = tmp_path / f"{cluster.SEGMENT_PREFIX}{int(done.stdout)}-abc"
    live = tmp_path / f"{cluster.SEGMENT_PREFIX}{os.getppid()}-def"
    dead.mkdir()
    live.mkdir()
    with cluster.segment_folder() as folder:
        assert os.path.basename(folder).startswith(f"{cluster.SEGMENT_PREFIX}{os.getpid()}-")
        assert not dead.exists() and live.exists()
    assert not os.path.exists(folder)
