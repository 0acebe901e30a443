"""No host syncs in the dreaming loop, proven without a GPU: the engine and a multi-lane video tick run on the
`meta` device (which, like CUDA, cannot hand values to the host: .item() and .numpy() fail, device mismatches
raise) under a dispatch mode that records every op that would make the host wait for the device."""
import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from dreamvideo import animate, config, engine
from dreamvideo.animate import VideoDreamer
from dreamvideo.carry import Carry, FrameIn
from dreamvideo.runner import make_dreamer

SYNCING = {"aten._local_scalar_dense.default", "aten.is_nonzero.default", "aten.nonzero.default",
           "aten.masked_select.default", "aten.equal.default", "aten.item.default"}


class SyncLog(TorchDispatchMode):
    """Records ops that wait for a device: reading a scalar back, data-dependent shapes, copies to the host."""

    def __init__(self):
        super().__init__()
        self.syncs: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
        on_device = any(t.device.type != "cpu" for t in tensors)
        name = str(func)
        if on_device and name in SYNCING:
            self.syncs.append(name)
        if on_device and name.startswith("aten._to_copy") and str(kwargs.get("device", "")) == "cpu":
            self.syncs.append(name + " to cpu")
        if on_device and name == "aten.index.Tensor" and any(
                isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in (args[1] if len(args) > 1 else [])):
            self.syncs.append("boolean indexing")
        return func(*args, **kwargs)


def meta_dreamer(*sets):
    d = make_dreamer(config.load("default", sets=["model.name=tiny", "objective.spec=c2", *sets]))
    d.net.to("meta")
    d.device = torch.device("meta")
    return d


def test_the_log_catches_planted_syncs(monkeypatch):
    """A test of the test: a scalar read planted in the engine's normalization, data-dependent ops and a copy to
    the host are each recorded."""
    real = engine.normalize
    monkeypatch.setattr(engine, "normalize", lambda g, mode="mean": real(g, mode) * float(g.abs().mean() > 0))
    d = meta_dreamer("dream.octaves=1", "dream.steps=1")
    with SyncLog() as log, pytest.raises(Exception):  # meta cannot give a value; a GPU would wait here
        engine.dream(d.net, d.objective, torch.rand(1, 3, 32, 32).to("meta"), d.cfg.dream, torch.Generator())
    assert "aten._local_scalar_dense.default" in log.syncs or "aten.is_nonzero.default" in log.syncs
    x = torch.ones(4, device="meta")
    for planted in (lambda: x.nonzero(), lambda: x[x > 0], lambda: x.to("cpu")):
        with SyncLog() as log:
            try:
                planted()
            except Exception:
                pass
        assert log.syncs, planted


@pytest.mark.parametrize("sets", [[], ["dream.max_loss=5"], ["dream.tile=64", "dream.microbatch=2"]])
def test_engine_dream_never_syncs(sets):
    d = meta_dreamer("dream.octaves=2", "dream.steps=2", *sets)
    x = torch.rand(2, 3, 96, 128).to("meta")
    with SyncLog() as log:
        y = engine.dream(d.net, d.objective, x, d.cfg.dream, [torch.Generator().manual_seed(s) for s in (1, 2)])
    assert y.device.type == "meta" and y.shape == x.shape
    assert log.syncs == []


def test_per_sample_objectives_never_sync():
    """Lanes with their own objectives (animated weights, keyframes): the per-sample weights reach every tile of
    the batch without a wait."""
    from dreamvideo import objectives

    d = meta_dreamer("dream.octaves=2", "dream.steps=2", "dream.tile=64", "dream.microbatch=3")
    both = objectives.PerSample.of([d.objective_for("c2"), d.objective_for("0.5*c2 + c3")], torch.device("meta"))
    x = torch.rand(2, 3, 96, 128).to("meta")
    with SyncLog() as log:
        y = engine.dream(d.net, both, x, d.cfg.dream, [torch.Generator().manual_seed(s) for s in (1, 2)])
    assert y.device.type == "meta" and log.syncs == []


@pytest.mark.parametrize("tracked, redo", [(1.0, 0.0), (0.7, 0.0), (1.0, 1.0)])
def test_a_video_tick_reads_back_once_for_the_whole_batch(monkeypatch, tracked, redo):
    """Three lanes, all past their keyframe: carry along the flow, masks, the refresh (and, with 30 % lost, the
    repaint; or, with `redo`, the middle lane's keyframe dreamed again, crossfaded, beside the others) and the
    output. The only waits allowed are the one read-back of the tracked fractions and new-picture checks
    (re-key, repaint and redream decisions) and the frames themselves."""
    d = meta_dreamer("dream.octaves=2", "dream.steps=1", "dream.microbatch=8", "video.repaint_lost=true")
    vd = VideoDreamer(d, d.cfg.video)
    vd.one_by_one = False
    h, w = 48, 64
    z = lambda c: torch.zeros(1, c, h, w, device="meta")  # noqa: E731
    one = torch.ones(1, 1, 1, 1, device="meta")
    carries = [Carry(z(3), z(3), z(2), z(2), z(1), z(3), z(3), z(3), z(1), z(3), z(3), one, z(4), one.view(1),
                     age=20) for _ in range(3)]
    flows = np.zeros((2, h, w), np.float32)
    items = [FrameIn(10 + 50 * k, np.zeros((h, w, 3), np.uint8), flows, flows) for k in range(3)]
    reads = []
    # per lane its tracked fraction, then whether its keyframe is dreamed again (no), then the fraction not drawn out
    monkeypatch.setattr(torch.Tensor, "tolist",
                        lambda self: reads.append(self.shape) or [tracked] * 3 + [0.0, redo, 0.0] + [tracked] * 3)
    monkeypatch.setattr(animate, "to_frames", lambda out: [o.shape for o in out])  # the output read-back
    with SyncLog() as log:
        frames, new = vd.step(items, carries)
    assert len(frames) == 3 and all(c.extra.device.type == "meta" for c in new)
    assert vd.repainted == (tracked < 1) and vd.keyed == bool(redo)
    assert reads == [torch.Size([9])]  # one read-back per tick, for all lanes (three numbers each)
    assert log.syncs == []
