"""Scrubbing t in the page: the side-by-side view, the strip of precomputed frames and the script that swaps them.

The server sends the exact view for the released t (`views.denoising.side_by_side_html`) and, once per image,
seed and knock-outs, a strip of frames for a grid of t (`scrub_frames`). While the t slider is dragged, the
script below shows the strip's frame nearest to the slider (no server call); when the slider is let go, the
server's exact view for that t replaces it. The held-out curves stay as they are; only their t marker moves.
"""
from __future__ import annotations

import gradio as gr

from explorer.ui.refresh import TRACK_DRAG

# Scoped by Gradio to the view's root element.
VIEW_CSS = """
.sbs { --px: calc(var(--tile) * 2); color: var(--body-text-color); }
@media (max-width: 720px) { .sbs { --px: var(--tile); } }
.sbs-tile { width: var(--px); height: var(--px); background-repeat: no-repeat; image-rendering: pixelated;
            background-size: calc(var(--ncols) * var(--px)) auto; }
.sbs-tile.vary { background-image: var(--sprite, var(--exact));
                 background-position: calc(var(--col) * -1 * var(--px)) calc(var(--row, 0) * -1 * var(--px)); }
.sbs-tile.fixed { background-image: var(--exact); background-position: calc(var(--col) * -1 * var(--px)) calc(-1 * var(--px)); }
.sbs-top { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.sbs-top figure { margin: 0; }
.sbs-top figcaption { font-size: 13px; max-width: calc(var(--px) + 40px); }
.sbs-status { font-size: 13px; margin: 6px 0; min-height: 1.3em; }
.previewing .sbs-status { color: #8a5a00; }
.waiting .sbs-tile.vary { opacity: 0.45; }
.sbs-scroll { overflow-x: auto; }
.sbs-grid { border-collapse: collapse; width: auto; margin: 0; }
.sbs-grid th, .sbs-grid td { padding: 3px 4px; border: none; vertical-align: middle; background: none; }
.sbs-grid thead th { font-size: 13px; text-align: left; font-weight: 600; white-space: nowrap; }
.sbs-grid thead small { font-weight: 400; }
.sbs-grid tbody th { font-size: 13px; font-weight: 500; text-align: right; max-width: 110px; }
.sbs-legend { font-size: 12px; color: var(--body-text-color-subdued); }
/* The "trained on emoji only" note speaks of the exact t: dimmed while frames of another t are shown. */
.sbs-domain { font-size: 13px; margin: 8px 0 0; padding: 8px 10px; max-width: 720px; border-left: 4px solid #b45309;
              background: #fffbeb; color: #1f2937; }
.previewing .sbs-domain, .waiting .sbs-domain { opacity: 0.5; }
.sbs-bar { display: inline-block; width: 80px; height: 10px; vertical-align: middle;
           background: linear-gradient(to right, #000004, #320a5e, #781c6d, #bc3754, #ed6925, #fbb61a, #fcffa4); }
"""

# Page-wide rules for the reverse process (its pictures are gr.Image and gr.HTML outputs).
PAGE_CSS = """
#reverse-live img, #reverse-gif img { image-rendering: pixelated; }
#reverse-gif img { max-width: 100%; height: auto; object-fit: contain; }
#reverse-gif button[aria-label], #reverse-gif .icon-button-wrapper { position: static; }
.reverse-caption { display: flex; justify-content: center; font-size: 13px; flex-wrap: nowrap; overflow-x: auto; }
.reverse-caption span { flex: none; }
.frame-strip { overflow-x: auto; }
.frame-strip .strip-source { display: none; }
.frame-strip table { border-collapse: collapse; width: auto; margin: 0; }
.frame-strip th, .frame-strip td { padding: 2px 3px; border: none; font-size: 13px; white-space: nowrap; background: none;
    text-align: left; }
.frame-strip .strip-tile { width: calc(var(--s) * 2); height: calc(var(--s) * 2); background-image: var(--strip);
    background-size: calc(var(--w) * 2) calc(var(--h) * 2); background-repeat: no-repeat; image-rendering: pixelated; }
.knockout-scroll { overflow-x: auto; }
.knockout-table table { width: auto; border-collapse: collapse; }
.knockout-table th, .knockout-table td { white-space: nowrap; padding: 2px 8px; font-size: 13px; text-align: right; }
.knockout-table tbody th { text-align: left; }
"""

VIEW_JS = TRACK_DRAG + """
const S = window.__sbs = window.__sbs || {strip: {}, requested: null, t: null};
S.element = element;
const root = () => S.element.querySelector('.sbs');
const slider = () => document.querySelector('#timestep input[type=range]');

// The strip: its meta (key, t grid, texts) in #scrub-meta, its picture in #scrub-strip, decoded once here.
function loadStrip() {
    const meta = document.querySelector('#scrub-meta .scrub-meta');
    const img = document.querySelector('#scrub-strip img');
    if (!meta || !img || !img.src) return;
    if (S.strip.key === meta.dataset.key && S.strip.url === img.src) return;
    if (S.strip.url === img.src) return;  // a new meta whose picture has not arrived yet
    const strip = {key: meta.dataset.key, url: img.src, grid: JSON.parse(meta.dataset.grid),
                   texts: JSON.parse(meta.dataset.texts), ready: false};
    S.strip = strip;
    const picture = new Image();
    picture.onload = () => { strip.ready = true; S.picture = picture; };
    picture.src = strip.url;
}

function nearest(grid, t) {
    let best = 0;
    for (let i = 1; i < grid.length; i++) if (Math.abs(grid[i] - t) < Math.abs(grid[best] - t)) best = i;
    return best;
}

// Text that depends on t: remembered as the exact view's (data-x) before a preview first changes it.
// A new exact view from the server drops data-x (it is not in the new HTML), so it never goes stale.
function setText(el, text) {
    if (!('x' in el.dataset)) el.dataset.x = el.textContent;
    const value = text === null ? el.dataset.x : text;
    if (value !== undefined && el.textContent !== value) el.textContent = value;
}

function marker(t) {
    S.t = t;
    const gd = document.querySelector('#denoise-curves .js-plotly-plot');
    if (!gd || !gd._fullLayout || !t) return;
    if (!gd.__sbsHooked && gd.on) { gd.__sbsHooked = true; gd.on('plotly_afterplot', () => marker(S.t)); }
    const host = gd.querySelector('.plot-container') || gd;
    for (const [xa, ya] of [['xaxis', 'yaxis'], ['xaxis2', 'yaxis2']]) {
        const ax = gd._fullLayout[xa], ay = gd._fullLayout[ya];
        if (!ax || !ay || !ax.l2p || !ax.c2l) continue;
        let line = host.querySelector('.t-marker[data-axis="' + xa + '"]');
        if (!line) {
            line = document.createElement('div');
            line.className = 't-marker';
            line.dataset.axis = xa;
            line.style.cssText = 'position:absolute;width:0;border-left:2px dashed #b23a48;pointer-events:none;z-index:5';
            host.appendChild(line);
        }
        line.style.left = (ax._offset + ax.l2p(ax.c2l(t)) - 1) + 'px';
        line.style.top = ay._offset + 'px';
        line.style.height = ay._length + 'px';
        line.dataset.t = String(t);
    }
}

function show(t) {
    const r = root();
    if (!r || !Number.isFinite(t)) return;
    loadStrip();
    const exact = Number(r.dataset.t);
    const status = r.querySelector('.sbs-status');
    if (t === exact) {
        r.style.removeProperty('--sprite');
        r.style.removeProperty('--row');
        r.querySelectorAll('[data-f]').forEach((el) => setText(el, null));
        r.classList.remove('previewing', 'waiting');
        if (status) setText(status, null);
    } else if (S.strip.ready && S.strip.key === r.dataset.key) {
        const i = nearest(S.strip.grid, t);
        const texts = S.strip.texts[i];
        r.style.setProperty('--sprite', 'url("' + S.strip.url + '")');
        r.style.setProperty('--row', String(i));
        r.querySelectorAll('[data-f]').forEach((el) => setText(el, texts[el.dataset.f] ?? null));
        r.classList.add('previewing');
        r.classList.remove('waiting');
        r.dataset.shown = String(S.strip.grid[i]);
        if (status) setText(status, 'Dragging: showing the precomputed t = ' + S.strip.grid[i] +
                                    ' (nearest to ' + t + '); let go for the exact view at t = ' + t + '.');
    } else {
        r.classList.add('waiting');
        if (status) setText(status, 't = ' + t + ': let go of the slider to compute this view ' +
                                    '(the frames for dragging are still on their way).');
    }
    marker(t);
}
S.show = show;
S.loadStrip = loadStrip;

// After each exact view: ask for the strip of these inputs if the page does not have it, and show the frame for
// wherever the slider is now (it may have moved on while the server computed).
function settle() {
    const r = root();
    if (!r) return;
    loadStrip();
    const key = r.dataset.key;
    if (key && S.strip.key !== key && S.requested !== key) {
        S.requested = key;
        const holder = document.getElementById('scrub-request');
        const button = holder && (holder.tagName === 'BUTTON' ? holder : holder.querySelector('button'));
        if (button) button.click();
    }
    const now = Number(slider() ? slider().value : r.dataset.t);
    show(now);
}
watch('value', settle);
setTimeout(settle, 0);
// A strip may arrive at any time, and the curves may be redrawn (new figure, resize): look twice a second.
setInterval(() => { loadStrip(); if (S.t) marker(S.t); }, 500);

S.visible = () => { const r = root(); return !!r && r.getClientRects().length > 0; };

if (!window.__sbsListening) {
    window.__sbsListening = true;
    const range = () => document.querySelector('#timestep input[type=range]');
    // While the t slider is dragged with the view in sight, the page alone follows it: the view shows strip
    // frames and Gradio does not hear of the moves (no server calls, no state copies per step). When the
    // pointer lets go, Gradio gets the final value as one input, then its release: one refresh for the new t.
    document.addEventListener('input', (e) => {
        const target = e.target;
        if (!(target && target.closest && target.closest('#timestep'))) return;
        window.__sbs.show(Number(target.value));
        const drag = window.__explorerDrag;
        if (window.__sbs.passing || !drag || !drag.held || target !== range() || !window.__sbs.inView) return;
        e.stopImmediatePropagation();
        drag.swallowed = true;
        const box = document.querySelector('#timestep input[type=number]');
        if (box) box.value = target.value;
    }, true);
    // Whether the view is in sight, read once per drag (reading layout at every move would force a layout each).
    document.addEventListener('pointerdown', (e) => {
        if (e.target === range()) window.__sbs.inView = window.__sbs.visible();
    }, true);
    document.addEventListener('pointerup', (e) => {
        const drag = window.__explorerDrag;
        if (!drag || !drag.swallowed) return;
        drag.swallowed = false;
        drag.held = true;  // until Gradio has handled the final input: its change must not refresh a second time
        setTimeout(() => { drag.held = false; }, 0);
        const slider = range();
        if (!slider) return;
        window.__sbs.passing = true;
        slider.dispatchEvent(new Event('input', {bubbles: true}));
        window.__sbs.passing = false;
        if (e.target !== slider) slider.dispatchEvent(new PointerEvent('pointerup', {bubbles: true}));
    }, true);
    // Keys move a range slider without a pointer: send the "let go" that Gradio's release event listens for.
    document.addEventListener('keyup', (e) => {
        const target = e.target;
        if (target && target.matches && target.matches('#told-t input[type=range]')
            && /^(Arrow|Page|Home|End)/.test(e.key)) target.dispatchEvent(new PointerEvent('pointerup', {bubbles: true}));
    }, true);
}
"""


def components(placeholder: str):
    """The view (exact frame, labels and scores), the hidden strip picture and meta, and the hidden button the
    page presses to ask for a strip."""
    view = gr.HTML(placeholder, elem_id="denoise-view", js_on_load=VIEW_JS, css_template=VIEW_CSS,
                   apply_default_css=False, label="Side-by-side view")
    strip_image = gr.Image(visible="hidden", interactive=False, elem_id="scrub-strip", format="png", show_label=False,
                           buttons=[])
    strip_meta = gr.HTML("", visible="hidden", elem_id="scrub-meta",
                         js_on_load="watch('value', () => window.__sbs && window.__sbs.loadStrip && window.__sbs.loadStrip());")
    request = gr.Button(visible="hidden", elem_id="scrub-request")
    return view, strip_image, strip_meta, request
