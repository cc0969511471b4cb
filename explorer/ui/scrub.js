PRESS_BUTTON;
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

// Where subplot (xa, ya) of the curves is drawn, in px within the plot's container, and where t falls on it: from
// Plotly's public layout (the axis range it writes back after drawing, and the axis type) and the plot area's
// drag rectangle, which Plotly draws over each subplot's area. Null when either is missing.
function publicAxes(gd, xa, ya) {
    const axis = gd.layout && gd.layout[xa];
    const id = 'x' + xa.slice(5) + 'y' + ya.slice(5);  // 'xy', 'x2y2': the subplot's name
    const rect = gd.querySelector('.nsewdrag[data-subplot="' + id + '"]') || gd.querySelector('.draglayer .' + id + ' .nsewdrag');
    if (!axis || !Array.isArray(axis.range) || axis.range.length !== 2 || !rect) return null;
    const [left, top, width, height] = ['x', 'y', 'width', 'height'].map((name) => Number(rect.getAttribute(name)));
    const [r0, r1] = axis.range.map(Number);
    if (![left, top, width, height, r0, r1].every(Number.isFinite) || r0 === r1) return null;
    const log = axis.type === 'log';  // a log axis's range is in powers of ten
    return {top, height, x: (t) => left + ((log ? Math.log10(t) : t) - r0) / (r1 - r0) * width};
}

// The same from Plotly's private computed axes (gd._fullLayout: _offset, _length, l2p): the fallback for a figure
// whose public layout or drag rectangle is missing. Listed in explorer/server/internals.py (INTERNALS).
function privateAxes(gd, xa, ya) {
    const full = gd._fullLayout;
    const ax = full && full[xa], ay = full && full[ya];
    if (!ax || !ay || !ax.l2p || !ax.c2l) return null;
    return {top: ay._offset, height: ay._length, x: (t) => ax._offset + ax.l2p(ax.c2l(t))};
}

function marker(t) {
    S.t = t;
    const gd = document.querySelector('#denoise-curves .js-plotly-plot');
    if (!gd || !gd.layout || !t) return;
    if (!gd.__sbsHooked && gd.on) { gd.__sbsHooked = true; gd.on('plotly_afterplot', () => marker(S.t)); }
    const host = gd.querySelector('.plot-container') || gd;
    for (const [xa, ya] of [['xaxis', 'yaxis'], ['xaxis2', 'yaxis2']]) {
        const axes = publicAxes(gd, xa, ya) || privateAxes(gd, xa, ya);
        if (!axes) continue;
        let line = host.querySelector('.t-marker[data-axis="' + xa + '"]');
        if (!line) {
            line = document.createElement('div');
            line.className = 't-marker';
            line.dataset.axis = xa;
            line.style.cssText = 'position:absolute;width:0;border-left:2px dashed #b23a48;pointer-events:none;z-index:5';
            host.appendChild(line);
        }
        line.style.left = (axes.x(t) - 1) + 'px';
        line.style.top = axes.top + 'px';
        line.style.height = axes.height + 'px';
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
        pressButton('scrub-request');
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
