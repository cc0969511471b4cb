(...values) => {
  // values: Show me's inputs, handed on as they are; the first is the step chosen in the list.
  const step = values[0];
  STALE_STAMP;
  // On "Show me", before the server answers: every view tab is marked out of date ("updating for step N…") until
  // the new evidence arrives (lesson_scroll.js takes the mark down), so the previous step's view is never read as
  // this step's. The step's number is its place in the list.
  const ids = [...document.querySelectorAll('#lesson-steps input[type=radio]')].map((e) => e.value);
  const label = staleLabel(ids.indexOf(step) + 1);
  document.querySelectorAll('#views [role=tabpanel]').forEach((panel) => {
    if (panel.id === 'tab-lesson') return;
    panel.setAttribute('data-stale', label);
    panel.staleText = panel.textContent;  // what the old view says
    panel.staleStamp = staleStamp(panel);  // its last refresh: the mark stays until a later one has answered
  });
  return values;
}
