// After "Show me": one visible link, and the Escape key, return from the evidence to the step (issue 32). The
// link floats at the window's bottom edge while a view tab is shown; it opens the Lesson tab, brings the step
// into view and puts the keyboard focus on its Show me. Installed once; `backTo(number)` sets the step's number.
const backTo = (number) => {
  let link = document.getElementById('lesson-back');
  if (!link) {
    link = document.createElement('button');
    link.id = 'lesson-back';
    link.type = 'button';
    link.addEventListener('click', () => {
      const tab = document.getElementById('tab-lesson-button');
      if (tab) tab.click();
      link.hidden = true;
      const go = (tries) => {
        const show = document.querySelector('#lesson-show-me');
        const step = document.getElementById('lesson-step');
        if (step && step.getClientRects().length) {
          step.scrollIntoView({block: 'start'});
          if (show) show.focus({preventScroll: true});
        } else if (tries > 0) setTimeout(() => go(tries - 1), 50);
      };
      go(40);
    });
    document.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || link.hidden || event.defaultPrevented) return;
      const open = document.activeElement && document.activeElement.closest('[aria-expanded=true], .options');
      if (open) return;  // Escape first closes an open list
      link.click();
    });
    document.body.appendChild(link);
    // Taken down whenever the Lesson tab is shown again, however it was opened.
    new MutationObserver(() => {
      const lesson = document.getElementById('tab-lesson');
      if (lesson && lesson.getClientRects().length) link.hidden = true;
    }).observe(document.getElementById('views') || document.body, {subtree: true, attributes: true,
                                                                   attributeFilter: ['aria-selected']});
  }
  link.textContent = `← Back to step ${number} (Esc)`;
  link.hidden = false;
};
