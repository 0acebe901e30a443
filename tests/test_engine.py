import pytest
import torch

from dreamvideo import engine, objectives
from dreamvideo.config import DreamConfig


def cfg(**kw):
    base = dict(octaves=2, octave_scale=1.5, steps=4, step_size=0.02, jitter=4, tile=0)
    base.update(kw)
    return DreamConfig(**base)


def score(net, obj, x):
    with torch.no_grad():
        return obj(net(x, obj.layers), x)


def test_objective_rises(tiny_net, rgb):
    from dreamvideo.images import to_tensor

    obj = objectives.parse("c2", tiny_net.resolve)
    x = to_tensor(rgb)
    y = engine.dream(tiny_net, obj, x, cfg(steps=8), torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    assert score(tiny_net, obj, y) > 1.2 * score(tiny_net, obj, x)


def test_objective_rises_with_real_weights(lite0, rgb):
    from dreamvideo.images import to_tensor

    obj = objectives.parse("blocks.10", lite0.resolve)
    x = to_tensor(rgb)
    y = engine.dream(lite0, obj, x, cfg(steps=3), torch.Generator().manual_seed(0))
    assert score(lite0, obj, y) > 1.2 * score(lite0, obj, x)


def test_same_seed_same_result_other_seed_differs(tiny_net):
    obj = objectives.parse("c3", tiny_net.resolve)
    x = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(3))
    a = engine.dream(tiny_net, obj, x, cfg(), torch.Generator().manual_seed(7))
    b = engine.dream(tiny_net, obj, x, cfg(), torch.Generator().manual_seed(7))
    c = engine.dream(tiny_net, obj, x, cfg(), torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("per_sample", [False, True])
@pytest.mark.parametrize("tile", [0, 24])
def test_batch_equals_single_runs(tiny_net, per_sample, tile):
    obj = objectives.parse("c2 + 0.5*c3 - 0.001*continuity", tiny_net.resolve)
    x = torch.rand(3, 3, 40, 48, generator=torch.Generator().manual_seed(3))
    c = cfg(tile=tile, normalize="std")
    seeds = [11, 12, 13] if per_sample else [11, 11, 11]
    gens = [torch.Generator().manual_seed(s) for s in seeds] if per_sample else torch.Generator().manual_seed(11)
    batch = engine.dream(tiny_net, obj, x, c, gens)
    for i, s in enumerate(seeds):
        single = engine.dream(tiny_net, obj, x[i:i + 1], c, torch.Generator().manual_seed(s))
        assert torch.equal(batch[i:i + 1], single), i  # bit-identical on CPU (microbatch auto = 1)


@pytest.mark.parametrize("tile,microbatch,optimizer", [(0, 0, "ascent"), (24, 0, "ascent"), (24, 5, "ascent"),
                                                     (0, 0, "lbfgs")])
def test_per_sample_objectives_equal_single_runs(tiny_net, tile, microbatch, optimizer):
    """Samples with their own objectives (objectives.PerSample) dream in one batch as each does alone with its
    own: the engine hands each tile (and each L-BFGS sample) its own sample's weights."""
    sums = [objectives.parse(spec, tiny_net.resolve) for spec in ("c2", "0.3*c2 + c3", "c3 - 0.001*continuity")]
    both = objectives.PerSample.of(sums, torch.device("cpu"))
    x = torch.rand(3, 3, 40, 48, generator=torch.Generator().manual_seed(3))
    c = cfg(tile=tile, microbatch=microbatch, optimizer=optimizer, **({"jitter": 0} if optimizer == "lbfgs" else {}))
    batch = engine.dream(tiny_net, both, x, c, [torch.Generator().manual_seed(11 + i) for i in range(3)])
    for i, obj in enumerate(sums):
        single = engine.dream(tiny_net, obj, x[i:i + 1], c, torch.Generator().manual_seed(11 + i))
        assert torch.allclose(batch[i:i + 1], single, atol=1e-4), i


def test_batch_equals_single_runs_bitwise_with_real_weights(lite0):
    obj = objectives.parse("blocks.10", lite0.resolve)
    x = torch.rand(2, 3, 48, 80, generator=torch.Generator().manual_seed(0))
    c = cfg(steps=6, smooth=1.0)
    batch = engine.dream(lite0, obj, x, c, [torch.Generator().manual_seed(s) for s in (1, 2)])
    for i in range(2):
        assert torch.equal(batch[i:i + 1], engine.dream(lite0, obj, x[i:i + 1], c, torch.Generator().manual_seed(i + 1)))


def test_refine_dreams_each_octave_on_its_rows_only(tiny_net):
    """engine.refine's rows: an octave dreams only the samples listed for it; the others keep their detail
    exactly and their generators untouched, so each sample gets in a batch what it gets alone."""
    obj = objectives.parse("c2", tiny_net.resolve)
    base = torch.rand(2, 3, 32, 48, generator=torch.Generator().manual_seed(0))
    detail = 0.05 * torch.rand(2, 3, 32, 48, generator=torch.Generator().manual_seed(1))
    maps = [torch.full((2, 1, 32, 48), 0.02)] * 2
    gens = lambda: [torch.Generator().manual_seed(5), torch.Generator().manual_seed(6)]  # noqa: E731
    both = engine.refine(tiny_net, obj, base, detail, cfg(), gens(), 2, maps, [[0], [1]])
    first = engine.refine(tiny_net, obj, base[:1], detail[:1], cfg(), gens()[:1], 2, [m[:1] for m in maps], [[0], []])
    second = engine.refine(tiny_net, obj, base[1:], detail[1:], cfg(), gens()[1:], 2, [m[1:] for m in maps], [[], [0]])
    assert torch.allclose(both, torch.cat([first, second]), atol=1e-6)
    assert (both - detail).abs().mean() > 1e-3
    assert torch.equal(engine.refine(tiny_net, obj, base, detail, cfg(), gens(), 2, maps, [[], []]), detail)


def test_octave_sizes():
    assert engine.octave_sizes(100, 200, 3, 2.0) == [(25, 50), (50, 100), (100, 200)]
    assert engine.octave_sizes(100, 200, 4, 2.0, min_size=30) == [(50, 100), (100, 200)]
    assert engine.octave_sizes(10, 10, 3, 2.0, min_size=30) == [(10, 10)]


def test_tiles_round_trip():
    x = torch.rand(2, 3, 50, 70)
    tiles, layout = engine.split_tiles(x, 32)
    assert tiles.shape[0] == 2 * 2 * 3 and max(tiles.shape[-2:]) <= 32
    assert torch.equal(engine.merge_tiles(tiles, layout), x)
    same, layout = engine.split_tiles(x, 0)
    assert same is x


def test_tiled_dream_close_to_untiled_in_effect(tiny_net):
    obj = objectives.parse("c2", tiny_net.resolve)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    y = engine.dream(tiny_net, obj, x, cfg(tile=32), torch.Generator().manual_seed(0))
    assert score(tiny_net, obj, y) > 1.2 * score(tiny_net, obj, x)


@pytest.mark.parametrize("sigma", [0.75, 1.0, 2.0, 4.0, 5.0])
def test_gaussian_blur_equals_a_depthwise_convolution(sigma):
    """The shifted-sum path (narrow kernels) and the convolution path (wide ones) blur alike."""
    import math

    import torch.nn.functional as F

    x = torch.rand(2, 3, 30, 41, generator=torch.Generator().manual_seed(0))
    r = math.ceil(3 * sigma)
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1.0) / sigma) ** 2)
    k = (k / k.sum()).view(1, 1, 1, -1).repeat(3, 1, 1, 1)
    y = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k, groups=3)
    y = F.conv2d(F.pad(y, (0, 0, r, r), mode="reflect"), k.transpose(2, 3), groups=3)
    assert torch.allclose(engine.gaussian_blur(x, sigma), y, atol=1e-6)


def test_normalize_per_sample():
    g = torch.randn(2, 3, 8, 8)
    g[1] *= 1000
    n = engine.normalize(g, "mean")
    assert torch.allclose(n.abs().flatten(1).mean(1), torch.ones(2), atol=1e-4)
    assert torch.allclose(engine.normalize(g, "std").flatten(1).std(1), torch.ones(2), atol=1e-4)


def test_gaussian_blur_keeps_mean_and_smooths():
    g = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    b = engine.gaussian_blur(g, 1.0)
    assert b.shape == g.shape
    assert abs(float(b.mean() - g.mean())) < 0.02
    assert b.std() < 0.5 * g.std()


def test_max_loss_stops_a_sample(tiny_net):
    obj = objectives.parse("c2", tiny_net.resolve)
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    y = engine.dream(tiny_net, obj, x, cfg(max_loss=1e-9), torch.Generator().manual_seed(0))
    assert torch.allclose(y, x, atol=1e-6)  # above the max at the first step: never moves


def test_lbfgs_raises_score(tiny_net):
    obj = objectives.parse("c2", tiny_net.resolve)
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    y = engine.dream(tiny_net, obj, x, cfg(optimizer="lbfgs", octaves=1, steps=5, jitter=0), torch.Generator())
    assert (score(tiny_net, obj, y) > score(tiny_net, obj, x)).all()


def test_lbfgs_honours_jitter(tiny_net):
    """Each round of L-BFGS iterations sees the image rolled by a fresh jitter (bad_trip sets jitter 5)."""
    obj = objectives.parse("c2", tiny_net.resolve)
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    run = lambda j, seed=0: engine.dream(tiny_net, obj, x, cfg(optimizer="lbfgs", octaves=1, steps=10, jitter=j),  # noqa: E731
                                         torch.Generator().manual_seed(seed))
    assert not torch.allclose(run(0), run(5), atol=1e-4)
    assert torch.equal(run(5), run(5)) and not torch.equal(run(5), run(5, seed=1))


def test_randomness_only_from_a_passed_generator(tiny_net):
    obj = objectives.parse("c2", tiny_net.resolve)
    with pytest.raises(TypeError):
        engine.dream(tiny_net, obj, torch.rand(1, 3, 32, 32), cfg(), None)
    with pytest.raises(TypeError):
        engine.dream(tiny_net, obj, torch.rand(1, 3, 32, 32), cfg())


def test_from_noise_ignores_input(tiny_net):
    obj = objectives.parse("c2", tiny_net.resolve)
    a = engine.dream(tiny_net, obj, torch.zeros(1, 3, 32, 32), cfg(from_noise=True), torch.Generator().manual_seed(0))
    b = engine.dream(tiny_net, obj, torch.ones(1, 3, 32, 32), cfg(from_noise=True), torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.std() > 0.01


def test_progress_counts_steps(tiny_net):
    obj = objectives.parse("c2", tiny_net.resolve)
    done = []
    engine.dream(tiny_net, obj, torch.rand(1, 3, 32, 32), cfg(octaves=3, steps=2), torch.Generator(), done.append)
    assert sum(done) == 6


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_bf16_dream_matches_cpu_in_effect(lite0):
    net = lite0.to("cuda").to(memory_format=torch.channels_last)
    try:
        obj = objectives.parse("blocks.10", net.resolve)
        x = torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(0)).cuda()
        y = engine.dream(net, obj, x, cfg(precision="auto"), torch.Generator().manual_seed(0))
        assert y.is_cuda and y.dtype == torch.float32
        assert score(net, obj, y).mean() > 1.5 * score(net, obj, x).mean()
    finally:
        lite0.to("cpu").to(memory_format=torch.contiguous_format)
