() => {
    TRACK_DRAG;
    if (UNLESS_DRAGGED && window.__explorerDrag.held) return [];
    for (const tab of TABS) {
        const panel = document.getElementById('tab-' + tab);
        if (!panel || panel.getClientRects().length === 0) continue;
        const holder = document.getElementById('refresh-' + tab);
        const button = holder && (holder.tagName === 'BUTTON' ? holder : holder.querySelector('button'));
        if (button) button.click();
    }
    return [];
}
