// Presses a Gradio button by its elem_id: Gradio puts the id on the <button> itself or on an element around it.
const pressButton = (id) => {
    const holder = document.getElementById(id);
    const button = holder && (holder.tagName === 'BUTTON' ? holder : holder.querySelector('button'));
    if (button) button.click();
};
// The same, once for all the asks of one moment: the changes of one answer (image, t, seed, the shown tab) each ask
// for the shown tab's refresh, and one press reads them all (a second would queue the same work again).
const pressOnce = (id) => {
    const soon = window.__pressOnce = window.__pressOnce || {};
    (window.__pressedAt = window.__pressedAt || {})[id] = performance.now();
    if (soon[id]) return;
    soon[id] = setTimeout(() => { delete soon[id]; pressButton(id); }, 0);
};
