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
    times = video.packet_times(path)
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
