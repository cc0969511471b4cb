(payload) => {
  PRESS_BUTTON;
  BACK_TO;
  let wanted = {};
  try { wanted = JSON.parse(payload || '{}'); } catch (e) { return; }
  const shown = (element) => element && element.getClientRects().length > 0;
  const started = Date.now();
  let refreshed = !wanted.tab;
  // The out-of-date mark (lesson_stale.js) comes down once the shown tab says something other than the old view
  // did and has then stayed still for a moment (its new views are in), or after a long wait with no change at all
  // (the new evidence was the old one).
  const fresh = () => document.querySelectorAll('[data-stale]').forEach((e) => e.removeAttribute('data-stale'));
  const watch = (panel) => {
    if (!panel || !panel.hasAttribute('data-stale')) return;
    let quiet = null;
    const changed = () => panel.textContent !== panel.staleText;
    const observer = new MutationObserver(() => {
      if (!changed()) return;
      clearTimeout(quiet);
      quiet = setTimeout(settle, 300);
    });
    const limit = setTimeout(() => settle(), 12000);
    const settle = () => { observer.disconnect(); clearTimeout(quiet); clearTimeout(limit); fresh(); };
    observer.observe(panel, {subtree: true, childList: true, characterData: true});
  };
  if (!wanted.tab) fresh();
  const go = () => {
    if (!refreshed && shown(document.getElementById('tab-' + wanted.tab))) {
      // A tab switched from here is not refreshed by a click on its button: press its refresh (explorer/ui/refresh.py).
      watch(document.getElementById('tab-' + wanted.tab));
      pressButton('refresh-' + wanted.tab);
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
        const sideways = () => {
          const part = wanted.focus ? target.querySelector(wanted.focus) : null;
          if (!part) return;
          let box = part.parentElement;
          while (box && box !== target && !(box.scrollWidth > box.clientWidth + 1)) box = box.parentElement;
          if (!box || !(box.scrollWidth > box.clientWidth + 1)) return;
          const from = box.getBoundingClientRect(), at = part.getBoundingClientRect();
          if (at.left < from.left || at.right > from.right) {
            box.scrollLeft += at.left - from.left - Math.max(0, (from.width - at.width) / 2);
          }
        };
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
