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
                   texts: JSON.parse(meta.dataset.texts), tiles: Number(meta.dataset.tiles), ready: false};
    S.strip = strip;
    const picture = new Image();
    picture.onload = () => { strip.ready = true; S.picture = picture; };
    picture.src = strip.url;
}

// The exact view's picture comes as a data URL in data-exact. Held in the --exact custom property, its 170 KB were
// parsed again for each tile that reads it (30-150 ms per view on a 2-core machine); a blob URL is a short string.
function exactPicture(r) {
    const data = r.dataset.exact;
    if (!data || S.exactData === data) {
        if (S.exactUrl && !r.style.getPropertyValue('--exact')) r.style.setProperty('--exact', 'url("' + S.exactUrl + '")');
        return;
    }
    const text = atob(data.slice(data.indexOf(',') + 1));
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    if (S.exactUrl) URL.revokeObjectURL(S.exactUrl);
    S.exactData = data;
    S.exactUrl = URL.createObjectURL(new Blob([bytes], {type: 'image/png'}));
    r.style.setProperty('--exact', 'url("' + S.exactUrl + '")');
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

// While t is dragged with the view in sight the server hears of t only when the slider is let go, so the page makes
// the input panel follow the hand: the noise-level line's numbers for t (from the table the server sent once,
// explorer/ui/inputs.py levels_html), the told-t slider (unless the U-Net is told another t), and the x_t picture
// (the strip frame's x_t, at the frame's t, until the exact picture comes back).
// A slider's fill up to its thumb: Gradio draws it from the `--range_progress` style it sets on the range input
// (listed in explorer/server/internals.py).
function fill(range) {
    const min = Number(range.min), max = Number(range.max);
    if (max > min) range.style.setProperty('--range_progress', ((Number(range.value) - min) / (max - min) * 100) + '%');
}

function followLevels(t) {
    if (!S.levels) {
        const table = document.querySelector('#noise-levels [data-levels]');
        if (!table) return;
        S.levels = JSON.parse(table.dataset.levels);
    }
    document.querySelectorAll('#noise-level span[class^="level-"]').forEach((span) => {
        const name = span.className.split(' ')[0].slice('level-'.length);
        const value = name === 't' ? String(t) : (S.levels[name] || [])[t];
        if (value !== undefined && span.textContent !== value) span.textContent = value;
    });
    const override = document.querySelector('#override-t input[type=checkbox]');
    if (!override || !override.checked) {
        document.querySelectorAll('#told-t input').forEach((input) => {
            if (input.value !== String(t)) input.value = String(t);
            if (input.type === 'range') fill(input);
        });
    }
}

function previewXt(i) {
    const img = document.querySelector('#xt-preview img');
    if (!img || !S.picture || !img.naturalWidth) return;
    const size = S.picture.width / S.strip.tiles, scale = Math.max(1, Math.round(img.naturalWidth / size));
    const canvas = S.xtCanvas = S.xtCanvas || document.createElement('canvas');
    canvas.width = canvas.height = size * scale;
    const context = canvas.getContext('2d');
    context.imageSmoothingEnabled = false;
    context.drawImage(S.picture, 0, i * size, size, size, 0, 0, size * scale, size * scale);
    if (img.src !== S.xtShown) img.dataset.exactSrc = img.src;
    img.src = S.xtShown = canvas.toDataURL();
}

// The exact view is at t: the server's x_t picture again, if it is t's (its alt text names its t, explorer/ui/inputs.py
// xt_alt). After letting go at a new t the frame stays until the input panel's picture for t comes (it is asked for
// once the exact view is in: `expectExact`); a new picture from the server is never replaced.
function exactXt(t) {
    const img = document.querySelector('#xt-preview img');
    if (!img || !img.dataset.exactSrc) return;
    if (img.src === S.xtShown) {
        if (!img.alt.startsWith('x_t at t = ' + t + ':')) return;
        img.src = img.dataset.exactSrc;
    }
    delete img.dataset.exactSrc;
}

// One strip frame on the view: row i of the strip, its texts, and the status line naming it (t: the slider's).
function showFrame(r, i, t) {
    const texts = S.strip.texts[i];
    const status = r.querySelector('.sbs-status');
    r.style.setProperty('--sprite', 'url("' + S.strip.url + '")');
    r.style.setProperty('--row', String(i));
    r.querySelectorAll('[data-f]').forEach((el) => setText(el, texts[el.dataset.f] ?? null));
    r.classList.add('previewing');
    r.classList.remove('waiting');
    r.dataset.shown = String(S.strip.grid[i]);
    previewXt(i);
    if (status) setText(status, 'Dragging: showing the precomputed t = ' + S.strip.grid[i] +
                                ' (nearest to ' + t + '); let go for the exact view at t = ' + t + '.');
}

// The frames follow the hand one by one: where the slider jumped past several frames between two pointer moves
// (the strip is dense at small t, where one move crosses five of them), the frames between are shown on the
// animation frames that follow, so a drag across the track shows every frame it passes.
function walk() {
    S.walking = null;
    const r = root();
    if (!r || S.walk === undefined || S.strip.key !== r.dataset.key) return;
    S.walk.at += Math.sign(S.walk.to - S.walk.at);
    showFrame(r, S.walk.at, S.walk.t);
    if (S.walk.at !== S.walk.to) S.walking = requestAnimationFrame(walk);
}

function show(t) {
    const r = root();
    if (!r || !Number.isFinite(t)) return;
    loadStrip();
    const exact = Number(r.dataset.t);
    const status = r.querySelector('.sbs-status');
    followLevels(t);
    if (t === exact) {
        if (S.exactArrived && S.exactT === t) S.exactArrived();
        S.walk = undefined;
        exactXt(t);
        r.style.removeProperty('--sprite');
        r.style.removeProperty('--row');
        r.querySelectorAll('[data-f]').forEach((el) => setText(el, null));
        r.classList.remove('previewing', 'waiting');
        if (status) setText(status, null);
    } else if (S.strip.ready && S.strip.key === r.dataset.key) {
        // From the frame shown, or, leaving the exact view, from the frame nearest to its t, toward the slider's
        // frame: drawn on the next animation frame, one step per animation frame (two pointer moves can reach the
        // page within one, and a frame drawn over before the screen showed it is a frame the hand never saw).
        const walking = S.walk !== undefined && r.classList.contains('previewing');
        S.walk = {at: walking ? S.walk.at : nearest(S.strip.grid, exact), to: nearest(S.strip.grid, t), t};
        if (!S.walking) S.walking = requestAnimationFrame(walk);
    } else {
        r.classList.add('waiting');
        if (status) setText(status, 't = ' + t + ': let go of the slider to compute this view ' +
                                    '(the frames for dragging are still on their way).');
    }
    marker(t);
}
S.show = show;
S.loadStrip = loadStrip;

// Letting go of t: until the exact view for it is shown (or EXACT_WAIT_MS have passed), `exactPending` is a promise
// that the input panel's previews for the new t wait for (explorer/ui/after_exact.js).
const EXACT_WAIT_MS = 1000;
S.expectExact = (t) => {
    if (S.exactArrived) S.exactArrived();
    let resolve;
    const pending = new Promise((done) => { resolve = done; });
    const arrived = () => {
        if (S.exactArrived === arrived) S.exactArrived = S.exactPending = S.exactT = null;
        resolve();
    };
    Object.assign(S, {exactPending: pending, exactArrived: arrived, exactT: t});
    setTimeout(arrived, EXACT_WAIT_MS);
};

// After each exact view: ask for the strip of these inputs if the page does not have it, and show the frame for
// wherever the slider is now (it may have moved on while the server computed).
function settle() {
    const r = root();
    if (!r) return;
    exactPicture(r);
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
        fill(target);
    }, true);
    // Whether the view is in sight, read once per drag (reading layout at every move would force a layout each).
    document.addEventListener('pointerdown', (e) => {
        if (e.target === range()) {
            window.__sbs.inView = window.__sbs.visible();
            if (window.__explorerDrag) window.__explorerDrag.pressedFor = window.__explorerDrag.releasing = undefined;
        }
    }, true);
    document.addEventListener('pointerup', (e) => {
        const drag = window.__explorerDrag;
        if (!drag || !drag.swallowed) return;
        drag.swallowed = false;
        const slider = range();
        if (!slider) return;
        // The exact view is asked for first, before the page hands the value to Gradio: the refresh reads the
        // released t from `releasing` (explorer/ui/released_t.js). Gradio's release and change, which come later,
        // find it asked for this value and do not ask again (explorer/ui/press_shown.js reads `pressedFor`); the
        // input panel's previews for the new t wait for the exact view (`expectExact`). Asked for after Gradio's
        // handling of the value and computed and drawn beside the previews, it came ~90 ms later on 2 cores.
        const released = Number(slider.value);
        drag.pressedFor = slider.value;
        drag.releasing = {t: released, at: performance.now()};
        window.__sbs.expectExact(released);
        pressNow('refresh-denoising');
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
