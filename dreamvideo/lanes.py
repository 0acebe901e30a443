"""Planning a video job: scene cuts, lanes (contiguous segments dreamed in lockstep) and chunks."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import video

THUMB_WIDTH = 64
FADE_SEARCH = 4  # seconds: a job that starts or ends inside a fade looks this far beyond its frames for its ends
SAME_PICTURE = 0.7  # luma correlation of two frames above which they show one picture, however lit (not a cut)


def gray(thumb: np.ndarray) -> np.ndarray:
    """The luma (BT.601, OpenCV's) of a small uint8 RGB frame [H,W,3]: float32 [H,W] in 0..255."""
    import cv2

    return cv2.cvtColor(thumb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def cut_score(prev: np.ndarray, cur: np.ndarray) -> float:
    """How much two small uint8 RGB frames [H,W,3] differ as shots: colour-histogram distance + mean luma
    change. Frames of one shot score under about 0.06 even in fast motion; hard cuts score 0.5 and more."""
    hist = [np.concatenate([np.histogram(f[..., c], 8, (0, 256))[0] for c in range(3)]) / (3 * f[..., 0].size)
            for f in (prev, cur)]
    luma = [gray(f) for f in (prev, cur)]
    return float(1 - np.minimum(*hist).sum() + np.abs(luma[0] - luma[1]).mean() / 255)


def thumb_height(width: int, height: int) -> int:
    """The height of a frame scaled to THUMB_WIDTH (even, at least 2): what scene cuts are found on."""
    return max(2, round(height * THUMB_WIDTH / width / 2) * 2)


def correlation(prev: np.ndarray, cur: np.ndarray) -> float:
    """Correlation (zero-mean, normalized) of two small uint8 RGB frames' luma [H,W,3]: blind to a change of
    light (a flash, a strobe, exposure, a coloured light), which moves cut_score as much as a cut does. Measured
    at 64 px wide on the camera and sharp clips: 0.93 and more between frames, 0.81 and more with a change of
    light (x0.3 to x2.5, coloured) and two frames of motion; between views of ten different photos 0.37 at most."""
    a, b = (gray(f) for f in (prev, cur))
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-6))


def is_cut(prev: np.ndarray, cur: np.ndarray, threshold: float) -> bool:
    """Whether a new shot starts between two small uint8 RGB frames [H,W,3]: cut_score passes `threshold` and
    the picture is not the same one under another light (correlation under SAME_PICTURE)."""
    return cut_score(prev, cur) > threshold and correlation(prev, cur) < SAME_PICTURE


@dataclass
class Scan:
    """What a job's scan finds in its frames (job-relative indices): the first frames of shots after frame 0
    (is_cut) and, per frame, its light (light()) and its dark runs (dark_runs()); and the light of the frames
    just before and after them in the same shots, where a fade the job starts or ends inside begins or ends."""

    cuts: list[int]
    lights: list[float]
    runs: list[tuple[int, ...]]
    thumb: tuple[int, int]  # the thumbnails' width and height
    before: list[float] = field(default_factory=list)
    after: list[float] = field(default_factory=list)

    @property
    def count(self) -> int:
        """The frames actually there."""
        return len(self.lights)

    def fades(self) -> dict[int, float]:
        """fade_shares of the frames' light, seen with the frames around them (frame index -> share)."""
        shares = fade_shares(self.before + self.lights + self.after)
        return {k - len(self.before): s for k, s in shares.items() if 0 <= k - len(self.before) < self.count}

    def bars(self) -> dict[int, tuple[float, ...]]:
        """Each shot's first frame (0 and every cut) -> shot_bars of its frames."""
        firsts = [0, *self.cuts]
        return {a: shot_bars(self.runs[a:b], self.thumb)
                for a, b in zip(firsts, [*self.cuts, self.count]) if a < b}


def scan_video(info: video.VideoInfo, start: int, count: int, threshold: float,
              damage: list | None = None, around: int = 0, ahead: bool = True) -> Scan:
    """Scan `count` frames from input frame `start` as THUMB_WIDTH-wide thumbnails, and the light of up to
    `around` frames before them and, if `ahead`, after them, in the same shots (Scan.before, Scan.after).
    `damage` receives the decoder's error lines of the `count` frames."""
    size = (THUMB_WIDTH, thumb_height(info.width, info.height))
    found = Scan([], [], [], size)
    for n, (thumb, cut) in enumerate(cut_thumbs(info, start, count, size, threshold, damage)):
        if cut:
            found.cuts.append(n)
        found.lights.append(light(thumb))
        found.runs.append(dark_runs(thumb))
    back = min(around, start)
    if back and found.count:  # the frames before `start`, and `start` itself to see a cut between them
        shots = shot_lights(info, start - back, back + 1, size, threshold)
        found.before = shots[-1][:-1] if sum(map(len, shots)) == back + 1 else []
    if around and ahead and found.count == count:  # the last frame, to see a cut after it, and the frames after
        found.after = shot_lights(info, start + count - 1, around + 1, size, threshold)[0][1:]
    return found


def cut_thumbs(info: video.VideoInfo, start: int, count: int, size: tuple[int, int], threshold: float,
               damage: list | None = None):
    """(uint8 thumbnail [h,w,3] of `size` (w, h), whether a shot starts at it (is_cut)) for `count` frames from
    `start`; the first never starts one."""
    prev = None
    for thumb in video.read_frames(info, start, count, size, damage=damage, strict=False):
        yield thumb, prev is not None and is_cut(prev, thumb, threshold)
        prev = thumb


def shot_lights(info: video.VideoInfo, start: int, count: int, size: tuple[int, int],
                threshold: float) -> list[list[float]]:
    """The light() of `count` frames from `start`, as thumbnails of `size` (w, h), split into shots at cuts."""
    shots: list[list[float]] = [[]]
    for thumb, cut in cut_thumbs(info, start, count, size, threshold):
        if cut:
            shots.append([])
        shots[-1].append(light(thumb))
    return shots


BAR_MEAN, BAR_MAX = 0.03, 0.08  # luma: a bar's rows (columns) average less than BAR_MEAN, none above BAR_MAX
NO_BARS = (0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0)  # shot_bars when nothing was scanned: each frame's own rows


def mostly_black(y: np.ndarray, axis: int) -> np.ndarray:
    """bool per row (axis 1) or column (axis 0) of a luma image y [H,W] in [0,1]: whether most of its pixels
    are under BAR_MEAN (its median is), as a bar's are with burned-in subtitles, a star or a lamp in it."""
    return (y >= BAR_MEAN).mean(axis) < 0.5


def leading(dark: np.ndarray) -> int:
    """How many of a bool [N] lead True."""
    return len(dark) if dark.all() else int(np.argmin(dark))


def paired(dark: np.ndarray) -> np.ndarray:
    """bool [N] per row (column) -> bool [N]: the runs from both ends, if both ends are dark (bars)."""
    n, a, b = len(dark), leading(dark), leading(dark[::-1])
    return (np.arange(n) < a) | (np.arange(n) >= n - b) if a and b else np.zeros(n, bool)


def dark_runs(thumb: np.ndarray) -> tuple[int, ...]:
    """How many rows from the top and from the bottom, and columns from the left and from the right, of a small
    uint8 RGB frame [H,W,3] are mostly black (mostly_black) between the black bars of the other side (a
    pillarboxed picture's rows are mostly bar): as far as a letterbox or pillarbox bar could reach on that
    frame; then as many of each that are black (under BAR_MEAN, no pixel above BAR_MAX), as a bar is without
    subtitles. Returns (4 mostly black, 4 black)."""
    y = gray(thumb) / 255
    black_rows, black_cols = ((y.mean(a) < BAR_MEAN) & (y.max(a) < BAR_MAX) for a in (1, 0))
    rows_between, cols_between = ~paired(black_rows), ~paired(black_cols)
    rows = mostly_black(y[:, cols_between], 1) if cols_between.any() else np.ones(len(y), bool)
    cols = mostly_black(y[rows_between], 0) if rows_between.any() else np.ones(y.shape[1], bool)
    return tuple(leading(d) for d in (rows, rows[::-1], cols, cols[::-1], black_rows, black_rows[::-1],
                                      black_cols, black_cols[::-1]))


def shot_bars(runs: list[tuple[int, ...]], thumb: tuple[int, int]) -> tuple[float, ...]:
    """Where one shot's bars are (tracking.picture), from the top, bottom, left and right, as shares of the
    height and width: how far they surely reach, the shortest mostly black run from that edge on those of its
    frames that have one and are not black (dark_runs of thumbnails [h,w]; a frame flashed or faded to white
    has none), but no further than the longest black run from that edge or the opposite one on any of them;
    and how far they may reach, one thumbnail row (column) further. A letterbox bar is black on every frame of
    its shot, up to the same row, subtitles or not, and black on its own where no subtitle is (the other bar,
    if subtitles never leave this one); the black top of a night sky reaches down as far as the moving picture
    makes it, so its edge holds still and the dark picture beyond it is dreamed, and a dark ceiling with lamps
    that never goes black is picture. A letterbox is centred: where the runs of opposite edges differ by more
    than a thumbnail row, both bars reach as far as the shorter one (a locked-off night shot black at the top
    and bottom, a letterboxed shot whose picture is dark at the bottom). Returns (4 sure, 4 may reach)."""
    w, h = thumb
    r, n = np.array(runs), np.array([h, h, w, w])
    loose, black = r[:, :4], r[:, 4:]
    shortest = np.where((loose > 0) & (loose < n), loose, n).min(0) % n  # none: 0
    longest = np.where(black < n, black, 0).max(0)  # black frames left out
    sure = np.minimum(shortest, np.maximum(longest, longest[[1, 0, 3, 2]]))
    sure = np.where(np.abs(sure - sure[[1, 0, 3, 2]]) > 1, np.minimum(sure, sure[[1, 0, 3, 2]]), sure)  # centred
    sides = list(zip(sure, n))
    return tuple([float(r / n) for r, n in sides] + [float(min(1.0, (r + 1) / n)) for r, n in sides])


def bars_at(bars: dict[int, tuple], frame: int) -> tuple[float, ...]:
    """The bars (shot_bars) of the shot that holds job frame `frame`; NO_BARS when nothing was scanned."""
    firsts = [k for k in bars if k <= frame]
    return bars[max(firsts)] if firsts else NO_BARS


def light(thumb: np.ndarray) -> float:
    """The mean luma (gray) of a small uint8 RGB frame [H,W,3], in [0,1]."""
    return float(gray(thumb).mean()) / 255


BLACK = 0.03  # a frame whose mean luma is below this is black (coded black with its noise, a logo's last glow);
# above 1 - BLACK, white
STEP = 0.002  # a fade brightens or dims the mean luma by more than this every frame


def fade_shares(lights: list[float]) -> dict[int, float]:
    """For the frames of editors' fades from and to black or white, how much of the picture each one shows
    (frame index -> share in [0,1]), from every frame's mean luma (light()); frames outside fades are left out
    (they show all of it). See from_black; a fade to white is one to black of the luma's distance from white."""
    black, white = from_black(lights), from_black([1 - x for x in lights])
    return {k: min(black.get(k, 1.0), white.get(k, 1.0)) for k in sorted(black.keys() | white.keys())}


def from_black(lights: list[float]) -> dict[int, float]:
    """Fades from and to black in frames' mean luma (frame index -> share of the picture shown). A fade in is
    a run of frames each brighter than the one before by more than STEP, starting at a black frame: each shows
    its light over the run's last frame's. A fade out is such a run of darker frames ending at a black one: each
    shows its light over the run's first frame's. Seen ahead, from the whole run: a fade in's first frames
    already know the light the picture will come up to."""
    shares: dict[int, float] = {}
    for i in range(len(lights) - 1):
        if lights[i] < BLACK and lights[i + 1] > lights[i] + STEP:  # a fade in starts
            end = i + 1
            while end + 1 < len(lights) and lights[end + 1] > lights[end] + STEP:
                end += 1
            shares.update({k: min(1.0, lights[k] / lights[end]) for k in range(i, end)})
        if lights[i + 1] < BLACK and lights[i] > lights[i + 1] + STEP:  # a fade out ends
            first = i
            while first > 0 and lights[first - 1] > lights[first] + STEP:
                first -= 1
            shares.update({k: min(shares.get(k, 1.0), lights[k] / lights[first]) for k in range(first + 1, i + 2)})
    return shares


@dataclass(frozen=True)
class Lane:
    """Frames [begin, end) are dreamed; [begin, begin + warm) overlap the previous lane and are crossfaded."""

    number: int
    begin: int
    warm: int
    end: int
    tail: int  # last frames that the next lane crossfades over

    @property
    def own(self) -> tuple[int, int]:
        """The frames this lane alone writes."""
        return self.begin + self.warm, self.end - self.tail


def plan_lanes(count: int, cuts: list[int], lanes: int, warmup: int) -> list[Lane]:
    """Split [0, count) into up to `lanes` segments, at scene cuts where one lies near the even split."""
    splits: list[tuple[int, int]] = []  # (first frame, warm-up frames)
    for k in range(1, lanes):
        ideal = k * count / lanes
        near = [c for c in cuts if abs(c - ideal) <= count / (2 * lanes)]
        s = min(near, key=lambda c: abs(c - ideal)) if near else round(ideal)
        warm = 0 if s in cuts else warmup
        last = splits[-1][0] if splits else 0
        if s - warm > last + max(warmup, 1) and s < count - max(warmup, 1):
            splits.append((s, warm))
    bounds = [(0, 0)] + splits + [(count, 0)]
    result = []
    for i in range(len(bounds) - 1):
        s, warm = bounds[i]
        result.append(Lane(i, s - warm, warm, bounds[i + 1][0], bounds[i + 1][1] if i + 2 < len(bounds) else 0))
    return result


@dataclass(frozen=True)
class Chunk:
    """Frames [start, end) of one lane: 'video' chunks are encoded, 'head'/'tail' overlaps kept raw."""

    lane: int
    start: int
    end: int
    kind: str

    @property
    def name(self) -> str:
        return f"{self.start:08d}-{self.end:08d}-{self.kind}-L{self.lane}"


def chunks(lane: Lane, size: int) -> list[Chunk]:
    """The lane's chunks in processing order."""
    out = []
    if lane.warm:
        out.append(Chunk(lane.number, lane.begin, lane.begin + lane.warm, "head"))
    a, b = lane.own
    out += [Chunk(lane.number, s, min(s + size, b), "video") for s in range(a, b, size)]
    if lane.tail:
        out.append(Chunk(lane.number, lane.end - lane.tail, lane.end, "tail"))
    return out
