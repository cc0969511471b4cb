() => {
    TRACK_DRAG;
    PRESS_BUTTON;
    // When the image, t or the seed changed last: a tab shown again after its last refresh (`pressOnce` notes when)
    // and with none of them changed since still shows what a refresh would draw, so it is not pressed again.
    const changed = window.__inputsChangedAt = SHOWN_ONLY ? (window.__inputsChangedAt || 0) : performance.now();
    if (UNLESS_DRAGGED || RELEASED) {
        const drag = window.__explorerDrag;
        if (UNLESS_DRAGGED && drag.held) return [];
        // The release and the change that a drag's end brings: the page pressed the refresh for this value when
        // the pointer let go (explorer/ui/scrub.js). Any other value asks again.
        const slider = document.querySelector('#timestep input[type=range]');
        if (drag.pressedFor !== undefined && slider && slider.value === drag.pressedFor) return [];
        drag.pressedFor = undefined;
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
