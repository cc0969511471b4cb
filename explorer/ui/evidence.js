element.addEventListener('click', (e) => {
  const button = e.target.closest('[data-evidence]');
  if (button) trigger('click', {evidence: button.dataset.evidence, block: button.dataset.queryBlock || ''});
});
