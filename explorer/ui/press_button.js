// Presses a Gradio button by its elem_id: Gradio puts the id on the <button> itself or on an element around it.
const pressButton = (id) => {
    const holder = document.getElementById(id);
    const button = holder && (holder.tagName === 'BUTTON' ? holder : holder.querySelector('button'));
    if (button) button.click();
};
