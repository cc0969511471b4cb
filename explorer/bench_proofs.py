"""The benchmark of the "Part by part" tab: each live view timed next to its model compute (`python -m explorer.bench
proofs`)."""
from __future__ import annotations

import torch

from explorer.analysis import attention as attention_analysis
from explorer.analysis import timecond
from explorer.data import to_tensor
from explorer.probe import Probe
from explorer.views.context import Context
from explorer.views.proofs.compute import (
    GRADIENT_BATCH,
    _noise_batch,
    attention,
    bottleneck_live,
    concat_live,
    gradients,
    other_timestep,
    time_view,
)
from explorer.views.proofs.figures import bottleneck_figure, concat_heldout_figure, gradients_live_figure, time_heatmap
from explorer.views.proofs.page import attention_html, attention_picker, time_html
from explorer.views.proofs.text import (
    attention_markdown,
    bottleneck_markdown,
    concat_markdown,
    gradients_markdown,
    time_markdown,
)

# ---------------------------------------------------------------- benchmark

def bench_rows(path_row, time_ms) -> list[tuple[str, float, float, str]]:
    """Each live view of the "Part by part" tab, timed next to its model compute (bench's `_path_row`)."""
    from explorer.analysis.gradients import _grad_copy, block_gradient_norms, fresh_unet

    ctx = Context.load()
    image = ctx.image(ctx.examples[5])
    t, seed = 250, 0
    x0, x_t, eps = ctx.x_t(image, t, seed)
    unet, naive = ctx.pair.unet, ctx.pair.naive
    t_one = torch.tensor([t])

    def forwards(count: int, model=unet):
        def run():
            with torch.no_grad():
                for _ in range(count):
                    model(x_t, t_one)
        return run

    batch16 = to_tensor(image)[None].expand(16, -1, -1, -1)
    eps16 = _noise_batch(seed, 16, tuple(batch16.shape[1:]))
    x_t16 = ctx.diffusion.q_sample(batch16, torch.full((16,), t), eps16)
    private = _grad_copy(unet)

    def one_backward_16():
        return block_gradient_norms(private, x_t16, torch.full((16,), t), eps16)

    def gradient_view():
        view = gradients(ctx, image, t, seed)
        return gradients_live_figure(view), gradients_markdown(view, ctx.metrics)

    def gradient_floor():  # the four backward passes alone
        x4 = to_tensor(image)[None].expand(GRADIENT_BATCH, -1, -1, -1)
        e4 = _noise_batch(seed, GRADIENT_BATCH, tuple(x4.shape[1:]))
        xt4 = ctx.diffusion.q_sample(x4, torch.full((GRADIENT_BATCH,), t), e4)
        t4 = torch.full((GRADIENT_BATCH,), t)
        cut = Probe(zero_skips=frozenset(range(1, unet.config.num_levels + 1)))
        for model in (private, fresh_unet(unet.config)):
            block_gradient_norms(model, xt4, t4, e4)
            block_gradient_norms(model, xt4, t4, e4, cut)

    def concat_view():
        return concat_markdown(ctx, concat_live(ctx, image, t, seed), t), concat_heldout_figure(ctx.metrics)

    def bottleneck_view():
        live = bottleneck_live(ctx, image, t, seed)
        return bottleneck_figure(ctx.metrics, t, live), bottleneck_markdown(live, t, ctx.metrics)

    def attention_path():
        view = attention(ctx, image, t, seed, "mid.attn", 32, 32)
        return (attention_picker(ctx, image, t, seed, "mid.attn", 32, 32), attention_html(view),
                attention_markdown(view))

    def attention_floor():
        return attention_analysis.attention_maps(unet, x_t, t, "mid.attn", 2, 2)

    def time_path():
        ctx.kept.shift_tables.clear()  # the uncached path: a new image
        view = time_view(ctx, image, t, seed, other_timestep(t, ctx.diffusion.num_timesteps))
        return time_html(view), time_markdown(view, ctx.metrics), time_heatmap(view.table, "this image", t)

    def time_floor():
        forwards(2, naive)()
        forwards(2)()
        timecond.image_shift_table(unet, ctx.diffusion, x0, eps)

    n_levels = unet.config.num_levels
    return [
        path_row("proofs: reference, one backward of batch 16 in one thread", one_backward_16, one_backward_16,
                 repeat=5),
        # The view's 16 samples: 4 passes × batch 4, the trained and the fresh U-Net in two threads (its floor
        # runs the same passes one after another, so the view can beat it).
        path_row(f"proofs: gradient view (4 backward passes × batch {GRADIENT_BATCH}, 2 threads)", gradient_view,
                 gradient_floor, target_ms=1500, repeat=5),
        path_row("proofs: concatenation view", concat_view, forwards(1 + 4 * n_levels), repeat=5),
        path_row("proofs: bottleneck view", bottleneck_view, forwards(3 + n_levels), repeat=5),
        path_row("proofs: attention click (mid.attn)", attention_path, attention_floor),
        path_row("proofs: time view (uncached table)", time_path, time_floor, repeat=5),
    ]
