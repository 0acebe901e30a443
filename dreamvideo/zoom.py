"""`dreamvideo zoom`: an infinite-dream zoom animation, optionally looping seamlessly."""
from __future__ import annotations

from dataclasses import replace

import torch

from . import encode, images, mux, video
from .zoomloop import looped, zoom_frames
from .config import Config
from .errors import UserError
from .output import output_spec
from .workdir import WorkDir


def zoom_length(cfg: Config) -> tuple[int, int]:
    """(frames to write, crossfade frames for --loop)."""
    fps = cfg.zoom.fps
    count = cfg.zoom.frames or max(1, round(cfg.zoom.seconds * fps))
    if not cfg.zoom.loop:
        return count, 0
    overlap = cfg.zoom.loop_frames or max(1, min(round(fps), count // 3))
    if overlap >= count:
        raise UserError(f"--loop needs more frames than its crossfade ({overlap}): render more frames")
    return count, overlap


def start_image(path: str | None, cfg: Config, device) -> torch.Tensor:
    """The first frame [1,3,H,W]: the start image (resized to zoom.size) or mid-grey noise."""
    size = cfg.zoom.size
    if path:
        rgb = images.read_image(path)
        if size:  # scale to cover the size, then crop the middle: never stretched
            import cv2

            w, h = size[0], size[1]
            scale = max(w / rgb.shape[1], h / rgb.shape[0])
            cw, ch = max(w, round(rgb.shape[1] * scale)), max(h, round(rgb.shape[0] * scale))
            rgb = cv2.resize(rgb, (cw, ch), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
            x0, y0 = (cw - w) // 2, (ch - h) // 2
            rgb = rgb[y0:y0 + h, x0:x0 + w]
        return images.to_tensor(rgb, device)
    w, h = (size[0], size[1]) if size else (512, 512)
    g = torch.Generator().manual_seed(cfg.run.seed)
    return (0.5 + 0.2 * (torch.rand(1, 3, h, w, generator=g) - 0.5)).to(device)


def zoom_animator(cfg: Config, dreamer, fps, count: int):
    """Animated zoom settings; audio features come from --audio FILE."""
    from .reactive import Animator, needs_audio, soundtrack_features

    if needs_audio(cfg) and not cfg.audio.file:
        raise UserError("these settings react to audio: give the soundtrack with --audio FILE")
    animator = Animator(cfg, dreamer, fps, soundtrack_features(cfg, "", fps, count, 0))
    animator.check(range(count))
    return animator


def make_zoom(start: str | None, dst: str, cfg: Config, progress_factory=None) -> None:
    """Render the zoom animation into `dst` (MP4, MOV, MKV, WebM, GIF, WebP or a PNG pattern), atomically.
    Its parts go to a locked work folder beside the output, removed at the end (a zoom does not resume)."""
    from .runner import check_memory, make_dreamer, resolve_device

    out = output_spec(dst, cfg.video.codec, cfg.video.crf, cfg.video.preset)
    size = cfg.zoom.size
    if size:
        check_memory(size[0], size[1], cfg, resolve_device(cfg.run.device))
    out = replace(out, encoding=replace(out.encoding, color=video.BT709))
    dreamer = make_dreamer(cfg)
    first = start_image(start, cfg, dreamer.device)
    h, w = first.shape[-2:]
    fps = cfg.zoom.fps
    count, overlap = zoom_length(cfg)
    soundtrack = video.audio_info(cfg.audio.file) if cfg.audio.file else None
    animator = zoom_animator(cfg, dreamer, fps, count + overlap)
    work = WorkDir(out.work_path, "zoom", dst)
    work.clear()  # a zoom starts over: whatever an interrupted one left is of no use
    try:
        # With --loop the crossfaded first frames are known only at the end: they go to their own part.
        head, body = (work.file(name + out.chunk_ext) for name in ("head", "body"))
        writers = {name: encode.Writer(path, w, h, fps, out.encoding) for name, path in (("head", head), ("body", body))
                   if overlap or name == "body"}
        progress = progress_factory(count + overlap) if progress_factory else None
        try:
            frames = zoom_frames(dreamer, first, cfg.zoom, fps, count + overlap, animator)
            for i, frame in looped(frames, count, overlap, progress) if overlap else enumerate(frames):
                is_head = overlap and i < overlap
                writers["head" if is_head else "body"].write(images.to_uint8(frame)[0])
                if progress and not overlap:
                    progress(1)
            for wr in writers.values():
                wr.close()
        except BaseException:
            for wr in writers.values():
                wr.abort()
            raise
        mux.finish([head, body] if overlap else [body], out, fps, count, (w, h), work.path, soundtrack)
    finally:
        work.close(remove=True)
