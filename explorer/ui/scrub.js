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
