if (!window.__explorerDrag) {
    window.__explorerDrag = {held: false};
    document.addEventListener('pointerdown', (e) => {
        if (e.target && e.target.closest && e.target.closest('#timestep input[type=range]')) window.__explorerDrag.held = true;
    }, true);
    const letGo = () => { window.__explorerDrag.held = false; };
    document.addEventListener('pointerup', letGo, true);
    document.addEventListener('pointercancel', letGo, true);
}
