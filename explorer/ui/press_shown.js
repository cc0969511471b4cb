() => {
    TRACK_DRAG;
    PRESS_BUTTON;
    // When the image, t or the seed changed last: a tab shown again after its last refresh (`pressOnce` notes when)
    // and with none of them changed since still shows what a refresh would draw, so it is not pressed again.
    const changed = window.__inputsChangedAt = SHOWN_ONLY ? (window.__inputsChangedAt || 0) : performance.now();
    if (UNLESS_DRAGGED) {
        const drag = window.__explorerDrag;
        if (drag.held) return [];
        // The change that a drag's release brings (explorer/ui/scrub.js): the release has pressed the refresh.
        const released = drag.released;
        drag.released = undefined;
        const slider = document.querySelector('#timestep input[type=range]');
        if (released !== undefined && slider && slider.value === released) return [];
    }
    for (const tab of TABS) {
        const panel = document.getElementById('tab-' + tab);
        if (!panel || panel.getClientRects().length === 0) continue;
        const pressed = (window.__pressedAt || {})['refresh-' + tab];
        if (SHOWN_ONLY && pressed !== undefined && pressed > changed) continue;
        pressOnce('refresh-' + tab);
    }
    return [];
}
