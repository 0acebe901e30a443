"""What other programs read from our outputs: frame counts and rates that three readers agree on, colours
and pixel shapes carried from the input."""
import subprocess
from fractions import Fraction

import imageio_ffmpeg
import numpy as np
import pytest

from dreamvideo import video
from dreamvideo.cli import main

FAST = ["--octaves", "1", "--steps", "1"]


def readers(path: str) -> dict:
    """What three readers make of a video: packets (demuxer), decoded frames (ffmpeg), imageio-ffmpeg's count
    (from the stream's declared duration and rate, as OpenCV-style readers do), and the declared rate."""
    decoded = subprocess.run([video.ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", path,
                              "-map", "0:v:0", "-f", "null", "-progress", "pipe:1", "-"],
                             capture_output=True, text=True).stdout
    frames = [int(line.split("=")[1]) for line in decoded.splitlines() if line.startswith("frame=")][-1]
    meta = imageio_ffmpeg.read_frames(path)
    first = next(meta)
    counted = sum(1 for _ in meta)
    times, _ = video.packet_times(path)
    return {"packets": len(times), "decoded": frames, "imageio": counted, "start": times[0],
            "imageio_fps": first["fps"], "fps": video.probe(path).fps}


def assert_readers_agree(path: str, frames: int, fps: Fraction) -> None:
    r = readers(path)
    assert (r["packets"], r["decoded"], r["imageio"]) == (frames, frames, frames), r
    assert r["fps"] == fps and abs(r["imageio_fps"] - float(fps)) < 0.01, r
    assert r["start"] == 0, r  # in sync with the audio, which starts at 0


def clip(path, fps="25", encode=("-c:v", "libx264", "-bf", "3"), seconds=2.4, size="160x90", vf="format=yuv420p"):
    video.run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}:duration={seconds}",
                      "-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}",
                      "-vf", vf, *encode, "-c:a", "aac", path], "make a test clip")
    return path


@pytest.mark.parametrize("fps,encode,ext", [
    ("25", ("-c:v", "libx264", "-bf", "3"), ".mp4"),  # B-frames, time base 1/12800
    ("30000/1001", ("-c:v", "libx264", "-bf", "2", "-video_track_timescale", "90000"), ".mp4"),
    ("24", ("-c:v", "libx264", "-bf", "0"), ".mkv"),  # time base 1/1000
])
@pytest.mark.parametrize("mode", ["whole", "range", "lanes2"])
def test_three_readers_agree_with_every_render(tmp_path, fps, encode, ext, mode):
    src = clip(str(tmp_path / f"in{ext}"), fps, encode)
    n_in = video.count_frames(video.probe(src)).frames
    args = {"whole": [], "range": ["--start", "0.2", "--frames", "12"], "lanes2": ["--lanes", "2"]}[mode]
    out = str(tmp_path / f"out{ext}")
    # chunks of 5: a range of 12 ends with a 2-frame chunk, whose encoder delay differs from the others'
    assert main([src, out, *FAST, "--set", "video.chunk=5", "--set", "video.warmup=3", *args]) == 0
    assert_readers_agree(out, 12 if mode == "range" else n_in, Fraction(fps))


def color_tags(path: str) -> str:
    text = subprocess.run([video.ffmpeg(), "-hide_banner", "-i", path], capture_output=True, text=True).stderr
    line = next(line for line in text.splitlines() if "Video:" in line)
    return line.split("), ", 1)[1].split(")")[0] if "(" in line.split("), ", 1)[1].split(",")[0] else line


@pytest.mark.parametrize("name,vf,tags", [
    ("bt709", "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,"
              "setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv", ("tv", "bt709", "bt709", "bt709")),
    ("bt601", "scale=out_color_matrix=smpte170m:out_range=tv,format=yuv420p,"
              "setparams=colorspace=smpte170m:color_primaries=smpte170m:color_trc=smpte170m:range=tv",
     ("tv", "smpte170m", "smpte170m", "smpte170m")),
    ("full", "scale=out_color_matrix=bt709:out_range=pc,format=yuv420p,"
             "setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=pc", ("pc", "bt709", "bt709", "bt709")),
])
def test_colours_survive(tmp_path, name, vf, tags):
    src = clip(str(tmp_path / f"{name}.mp4"), vf="format=rgb24," + vf, encode=("-c:v", "libx264", "-crf", "10"),
               seconds=0.4, size="320x180")
    assert video.probe(src).color == video.Color(*tags)
    out = str(tmp_path / f"out-{name}.mp4")
    assert main([src, out, "--steps", "0", "--crf", "10"]) == 0  # not dreamed: only the round trip is measured
    got = video.probe(out)
    assert got.color == video.Color(*tags)
    for decode in ("", f",scale=in_color_matrix={video.SWS_MATRIX[tags[1]]}:in_range={tags[0]}"):  # tags, as players
        a, b = (_mean_rgb(p, decode) for p in (src, out))
        assert np.abs(a - b).max() < 1.0, (name, decode, a, b)  # within compression noise, in 0..255


def _mean_rgb(path: str, extra: str) -> np.ndarray:
    raw = subprocess.run([video.ffmpeg(), "-loglevel", "error", "-i", path, "-vf", "null" + extra, "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, 3).mean(0)


def test_anamorphic_input_keeps_its_shape(tmp_path):
    src = clip(str(tmp_path / "ana.mp4"), vf="format=yuv420p,setsar=4/3", seconds=0.4)
    assert video.probe(src).sar == Fraction(4, 3)
    out = str(tmp_path / "ana-out.mp4")
    assert main([src, out, *FAST, "--width", "80"]) == 0
    assert video.probe(out).sar == Fraction(4, 3)


@pytest.fixture(scope="module")
def containers(tmp_path_factory):
    """29.97 fps clips in containers whose timestamps trip frame-exact reading."""
    d = tmp_path_factory.mktemp("containers")
    src = ["-f", "lavfi", "-i", "testsrc2=size=96x54:rate=30000/1001:duration=7"]
    kinds = {"offset.mp4": ["-c:v", "libx264", "-bf", "3", "-output_ts_offset", "1.3"],  # starts at 1.3 s
             "stream.ts": ["-c:v", "libx264", "-bf", "3"],  # no index: seeks land mid-GOP
             "bframes.mkv": ["-c:v", "libx264", "-bf", "3"],  # 1 ms time base: steps of 33 and 34 ms
             "mpeg4.avi": ["-c:v", "mpeg4", "-bf", "2"]}  # no timestamps at all
    paths = {}
    for name, args in kinds.items():
        paths[name] = str(d / name)
        video.run_ffmpeg(src + args + [paths[name]], "make a test clip")
    return paths


@pytest.mark.parametrize("name", ["offset.mp4", "stream.ts", "bframes.mkv", "mpeg4.avi"])
def test_frames_are_exact_in_every_container(containers, name):
    info = video.count_frames(video.probe(containers[name]))
    assert info.frames == 210 and not info.vfr
    full = list(video.read_frames(info, 0, info.frames))
    for k in (1, 37, 175, 207):  # the last ones lie past the seek margin
        assert np.array_equal(next(video.read_frames(info, k, 1)), full[k]), k
        assert np.array_equal(next(video.read_frames(info, 0, 1, skip=k)), full[k]), k


def test_lanes_equal_one_lane_on_a_b_frame_mkv_with_a_cut_at_the_split(tmp_path):
    src = str(tmp_path / "cut.mkv")
    video.run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=128x72:rate=30000/1001:duration=1.2", "-f", "lavfi", "-i",
                      "mandelbrot=size=128x72:rate=30000/1001,trim=duration=1.2", "-filter_complex",
                      "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-c:v", "libx264", "-bf", "3", src], "make a clip")
    outs = []
    for lanes in ("1", "2"):
        out = str(tmp_path / f"l{lanes}.mkv")
        assert main([src, out, *FAST, "--codec", "ffv1", "--lanes", lanes]) == 0
        info = video.count_frames(video.probe(out))
        outs.append(list(video.read_frames(info, 0, info.frames)))
    assert len(outs[0]) == len(outs[1]) == 72
    assert [k for k, (a, b) in enumerate(zip(*outs)) if not np.array_equal(a, b)] == []
