// Presses a Gradio button by its elem_id: Gradio puts the id on the <button> itself or on an element around it.
const pressButton = (id) => {
    const holder = document.getElementById(id);
    const button = holder && (holder.tagName === 'BUTTON' ? holder : holder.querySelector('button'));
    if (button) button.click();
};
// The same, once for all the asks of one moment: the changes of one answer (image, t, seed, the shown tab) each ask
// for the shown tab's refresh, and one press reads them all (a second would queue the same work again).
// A tab's refresh (`refresh-<tab>`) notes when it was pressed and the tab's stamp then (`refreshed-<tab>`,
// explorer/ui/refresh.py): the stamp differs from it once that refresh has answered.
const pressOnce = (id) => {
    const soon = window.__pressOnce = window.__pressOnce || {};
    (window.__pressedAt = window.__pressedAt || {})[id] = performance.now();
    const stamp = document.querySelector(`#${id.replace(/^refresh-/, 'refreshed-')} :is(textarea, input)`);
    (window.__stampAtPress = window.__stampAtPress || {})[id] = stamp ? stamp.value : undefined;
    if (soon[id]) return;
    soon[id] = setTimeout(() => { delete soon[id]; pressButton(id); }, 0);
};
