// Presses a Gradio button by its elem_id: Gradio puts the id on the <button> itself or on an element around it.
const pressButton = (id) => {
    const holder = document.getElementById(id);
    const button = holder && (holder.tagName === 'BUTTON' ? holder : holder.querySelector('button'));
    if (button) button.click();
};
// A tab's refresh (`refresh-<tab>`) notes when it was pressed and the tab's stamp then (`refreshed-<tab>`,
// explorer/ui/refresh.py): the stamp differs from it once that refresh has answered.
const notePress = (id) => {
    (window.__pressedAt = window.__pressedAt || {})[id] = performance.now();
    const stamp = document.querySelector(`#${id.replace(/^refresh-/, 'refreshed-')} :is(textarea, input)`);
    (window.__stampAtPress = window.__stampAtPress || {})[id] = stamp ? stamp.value : undefined;
};
// Pressed once for all the asks of one moment: the changes of one answer (image, t, seed, the shown tab) each ask
// for the shown tab's refresh, and one press reads them all (a second would queue the same work again).
const pressOnce = (id) => {
    const soon = window.__pressOnce = window.__pressOnce || {};
    notePress(id);
    if (soon[id]) return;
    soon[id] = setTimeout(() => { delete soon[id]; pressButton(id); }, 0);
};
// Pressed now, before the page handles anything else (letting go of t: explorer/ui/scrub.js); a press of the same
// moment still waiting is dropped, this one reads the same values.
const pressNow = (id) => {
    const soon = window.__pressOnce = window.__pressOnce || {};
    clearTimeout(soon[id]);
    delete soon[id];
    notePress(id);
    pressButton(id);
};
