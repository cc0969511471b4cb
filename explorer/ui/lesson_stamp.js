// The stamp of a view tab's last refresh (`refreshed-<tab>`, explorer/ui/refresh.py), or undefined for a tab that
// has none: the out-of-date mark (lesson_stale.js, lesson_scroll.js) comes down once it changes.
const staleStamp = (panel) => {
  const box = document.querySelector(`#refreshed-${panel.id.replace(/^tab-/, '')} :is(textarea, input)`);
  return box ? box.value : undefined;
};
// The out-of-date mark's words while Show me computes step `number`'s evidence (undefined: no step named).
const staleLabel = (number) => (number ? `Updating for step ${number}…` : 'Updating…');
