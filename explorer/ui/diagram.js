const send = (g) => trigger('click', {block_id: g.dataset.block});
element.addEventListener('click', (e) => {
  const g = e.target.closest('[data-block]');
  if (g) send(g);
});
element.addEventListener('keydown', (e) => {
  const g = e.target.closest('[data-block]');
  if (g && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); send(g); }
});
const panel = document.getElementById('block-panel');
if (panel) { panel.setAttribute('aria-live', 'polite'); panel.setAttribute('role', 'region');
             panel.setAttribute('aria-label', 'The selected block'); }
