() => {
    TRACK_DRAG;
    PRESS_BUTTON;
    if (UNLESS_DRAGGED && window.__explorerDrag.held) return [];
    for (const tab of TABS) {
        const panel = document.getElementById('tab-' + tab);
        if (!panel || panel.getClientRects().length === 0) continue;
        pressOnce('refresh-' + tab);
    }
    return [];
}
