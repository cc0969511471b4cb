(payload) => {
  PRESS_BUTTON;
  BACK_TO;
  STALE_STAMP;
  let wanted = {};
  try { wanted = JSON.parse(payload || '{}'); } catch (e) { return; }
  const shown = (element) => element && element.getClientRects().length > 0;
  const started = Date.now();
  let refreshed = !wanted.tab;
  // The out-of-date mark (lesson_stale.js) comes down once the shown tab's refresh has answered (its stamp,
  // `refreshed-<tab>`, explorer/ui/refresh.py, differs from the one at the press) and the tab has then stayed still
  // for a moment (its views are drawn); for a tab without a stamp, once it says something other than the old view
  // did; at the latest after a long wait.
  const fresh = () => document.querySelectorAll('[data-stale]').forEach((e) => e.removeAttribute('data-stale'));
  const watch = (panel) => {
    if (!panel || !panel.hasAttribute('data-stale')) return;
    let last = performance.now();
    const observer = new MutationObserver(() => { last = performance.now(); });
    observer.observe(panel, {subtree: true, childList: true, characterData: true});
    const answered = () => {
      const stamp = staleStamp(panel);
      return stamp === undefined ? panel.textContent !== panel.staleText : stamp !== panel.staleStamp;
    };
    // A tab with a stamp says when its refresh has answered, however long a cold computation takes (a minute at
    // most); one without says nothing, so its mark waits a shorter while.
    const limit = staleStamp(panel) === undefined ? 12000 : 60000;
    const timer = setInterval(() => {
      if ((answered() && performance.now() - last >= 300) || Date.now() - started > limit) {
        clearInterval(timer);
        observer.disconnect();
        fresh();
      }
    }, 50);
  };
  if (!wanted.tab) fresh();
  // Only the tab Show me opens is being updated: the others (marked before the server named the tab) are not.
  document.querySelectorAll('[role=tabpanel][data-stale]').forEach((e) => {
    if (e.id !== 'tab-' + wanted.tab) e.removeAttribute('data-stale');
  });
  // A tab switched from here is not refreshed by a click on its button: its refresh is pressed here, at once (the
  // server's answer has set the step's values; the tab need not be drawn yet to receive its views), unless the
  // changes Show me made have pressed it already (explorer/ui/press_shown.js), or unless the tab's last refresh
  // came after every change of what it reads: then it shows the step's view already (Show me sent only the
  // settings that differ, lesson.left_as_shown) and is not computed and drawn again. Either way the mark comes
  // down once the last press has answered (its stamp differs from the one at the press, press_button.js).
  const panel = wanted.tab ? document.getElementById('tab-' + wanted.tab) : null;
  const id = 'refresh-' + wanted.tab;
  const refreshable = !!(panel && document.getElementById(id));
  const current = () => (window.__pressedAt || {})[id] > (window.__inputsChangedAt || 0);
  const pressUnlessCurrent = () => {
    if (!current()) pressOnce(id);
    panel.staleStamp = (window.__stampAtPress || {})[id];
  };
  if (refreshable) {
    watch(panel);
    pressUnlessCurrent();
  }
  // A tab drawn for the first time (Gradio draws a tab's contents when it is first opened, so Show me could not
  // mark it) shows the values it was built with until its refresh answers: marked out of date as soon as it is in
  // the page (an observer's answer comes before the next frame is painted), until the refresh pressed below answers.
  const markFirstDraw = () => {
    const drawn = document.getElementById('tab-' + wanted.tab);
    if (!drawn || drawn.hasAttribute('data-stale') || !document.getElementById(id)) return !!drawn;
    drawn.setAttribute('data-stale', staleLabel(wanted.step));
    drawn.staleText = drawn.textContent;
    return true;
  };
  if (wanted.tab && !panel) {
    const views = document.getElementById('views') || document.body;
    const firstDraw = new MutationObserver(() => { if (markFirstDraw()) firstDraw.disconnect(); });
    firstDraw.observe(views, {subtree: true, childList: true});
    setTimeout(() => firstDraw.disconnect(), 8000);
  }
  const go = () => {
    // The step's changes may reach the page a moment after its answer: until the tab is drawn, a change that
    // makes it out of date still has it pressed.
    if (refreshable && !refreshed) {
      pressUnlessCurrent();
      if (shown(panel)) refreshed = true;
    }
    if (!refreshed && shown(document.getElementById('tab-' + wanted.tab))) {
      const drawn = document.getElementById('tab-' + wanted.tab);
      markFirstDraw();
      pressOnce('refresh-' + wanted.tab);
      if (drawn.hasAttribute('data-stale')) drawn.staleStamp = (window.__stampAtPress || {})['refresh-' + wanted.tab];
      watch(drawn);
      refreshed = true;
    }
    const target = wanted.evidence ? document.getElementById(wanted.evidence) : null;
    if (refreshed && (!wanted.evidence || shown(target))) {
      if (target) {
        target.scrollIntoView({block: 'start'});
        if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
        target.focus({preventScroll: true});
        // The tab's views are still being filled and can push the page about: keep the evidence in view for a
        // moment, unless the reader acts first: presses anything, or the page was scrolled by anyone else (a
        // scroll bar, a key, a click that brought a tab into view). Scrolling then would move the page under
        // the reader's pointer and land a click beside what they aimed at.
        // On a narrow screen the part of the evidence the step speaks of can sit beyond the right edge of a
        // sideways-scrolling table: scroll that box (not the page) until it is in view.
        // Returns whether the part was there to look at (in the new view: the tab no longer marked out of date).
        const sideways = () => {
          const part = wanted.focus ? target.querySelector(wanted.focus) : null;
          if (!part || (panel && panel.hasAttribute('data-stale'))) return false;
          let box = part.parentElement;
          while (box && box !== target && !(box.scrollWidth > box.clientWidth + 1)) box = box.parentElement;
          if (!box || !(box.scrollWidth > box.clientWidth + 1)) return true;
          // Brought to the box's right edge, not its middle: what stands before it (the intact U-Net beside the
          // knocked-out one) stays in view too.
          const from = box.getBoundingClientRect(), at = part.getBoundingClientRect();
          if (at.right > from.right) box.scrollLeft += Math.min(at.right - from.right, at.left - from.left);
          else if (at.left < from.left) box.scrollLeft += at.left - from.left;
          return true;
        };
        // The view may arrive after the page has scrolled to the evidence: look for the part until it comes.
        if (wanted.focus) {
          const until = Date.now() + 12000;
          const retry = () => { if (!sideways() && Date.now() < until) setTimeout(retry, 100); };
          setTimeout(retry, 100);
        }
        // Each step starts with its evidence's sideways-scrolling boxes at their left edge (a table the previous
        // step scrolled would hide its first columns), then brings the part it speaks of into view.
        target.querySelectorAll('*').forEach((box) => { if (box.scrollLeft) box.scrollLeft = 0; });
        sideways();
        let moved = false, left = window.scrollY;
        const mine = () => { moved = true; };
        ['wheel', 'touchmove', 'keydown', 'pointerdown', 'mousedown'].forEach(
          (name) => window.addEventListener(name, mine, {once: true, capture: true}));
        [300, 800, 1500, 2500].forEach((delay) => setTimeout(() => {
          if (moved || Math.abs(window.scrollY - left) > 2) { moved = true; return; }
          if (Math.abs(target.getBoundingClientRect().top) > 40) {
            target.scrollIntoView({block: 'start'});
            left = window.scrollY;
          }
          sideways();
        }, delay));
      }
      if (wanted.step) backTo(wanted.step);
      const press = wanted.press ? document.getElementById(wanted.press) : null;
      if (press) press.click();
      return;
    }
    if (Date.now() - started < 8000) setTimeout(go, 100);
    else if (!refreshed) fresh();
  };
  setTimeout(go, 50);
}
