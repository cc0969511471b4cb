() => {
  // One Tab stop per group of choices, moved with the arrow keys (WAI-ARIA radio group and tabs patterns):
  // the example gallery, the lesson's steps and each row of tabs. Gradio 6.31 makes every thumbnail, every
  // radio (each gets a name of its own) and every tab a Tab stop: 50 presses from the top of the page to the
  // first "Show me". The one item that keeps tabindex 0 is the chosen one (the first when none is chosen).
  // Gradio re-renders these parts as the app changes; the attributes set here are kept in step on every change.
  const groups = [
    { // The held-out examples: a radio group whose chosen item is the image the input panel names.
      root: () => document.querySelector('#examples .grid-container'),
      items: (root) => [...root.querySelectorAll('button.thumbnail-item')],
      chosen: (items) => {
        const code = document.querySelector('#image-source code');
        const stem = code ? code.textContent.trim() : '';
        return items.findIndex((item) => {
          const img = item.querySelector('img');
          return stem && img && decodeURIComponent(img.getAttribute('src') || '').endsWith('/' + stem + '.png');
        });
      },
      roles: {root: 'radiogroup', item: 'radio', label: 'Held-out examples', checked: 'aria-checked'},
      selectsOnMove: true, vertical: true,
    },
    { // The lesson's steps: native radios, one name each in Gradio 6.31, so each its own Tab stop.
      root: () => document.getElementById('lesson-steps'),
      items: (root) => [...root.querySelectorAll('input[type=radio]')],
      chosen: (items) => items.findIndex((item) => item.checked),
      roles: {root: 'radiogroup', label: 'Lesson steps'},
      selectsOnMove: true, vertical: true,
    },
  ];
  // Rows of tabs: moving the focus does not open a tab (opening one runs its views); Enter or Space does.
  const tablists = () => [...document.querySelectorAll('[role=tablist]')].map((root) => ({
    root: () => root,
    items: (list) => [...list.querySelectorAll(':scope > [role=tab]')],
    chosen: (items) => items.findIndex((item) => item.getAttribute('aria-selected') === 'true'),
    roles: {}, selectsOnMove: false, vertical: false,
  }));
  // Pictures whose button does nothing when pressed (no select event): out of the Tab order.
  const inert = '#x0-preview .image-container > button, #xt-preview .image-container > button';

  const set = (element, name, value) => {
    if (element.getAttribute(name) !== value) element.setAttribute(name, value);
  };
  const sync = () => {
    for (const group of groups.concat(tablists())) {
      const root = group.root();
      if (!root) continue;
      const items = group.items(root);
      if (!items.length) continue;
      if (group.roles.root) set(root, 'role', group.roles.root);
      if (group.roles.label) set(root, 'aria-label', group.roles.label);
      const chosen = group.chosen(items);
      items.forEach((item, index) => {
        set(item, 'tabindex', index === Math.max(chosen, 0) ? '0' : '-1');
        if (group.roles.item) set(item, 'role', group.roles.item);
        if (group.roles.checked) set(item, group.roles.checked, index === chosen ? 'true' : 'false');
      });
    }
    document.querySelectorAll(inert).forEach((button) => set(button, 'tabindex', '-1'));
  };

  const keys = {ArrowRight: 1, ArrowLeft: -1, ArrowDown: 1, ArrowUp: -1};
  // Capture phase: Gradio's gallery moves its own selection on ArrowLeft/Right; one move per key press.
  document.addEventListener('keydown', (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    for (const group of groups.concat(tablists())) {
      const root = group.root();
      if (!root || !root.contains(event.target)) continue;
      const items = group.items(root);
      const from = items.indexOf(event.target);
      if (from < 0) return;
      let to = null;
      if (event.key in keys && (group.vertical || !event.key.match(/Up|Down/))) {
        to = (from + keys[event.key] + items.length) % items.length;
      } else if (event.key === 'Home') {
        to = 0;
      } else if (event.key === 'End') {
        to = items.length - 1;
      } else if (event.key === 'Enter' && event.target.matches('input[type=radio]')) {
        to = from;  // Space checks a radio natively; Enter does here too
      }
      if (to === null) return;
      event.preventDefault();
      event.stopPropagation();
      items.forEach((item, index) => set(item, 'tabindex', index === to ? '0' : '-1'));
      items[to].focus();
      if (group.selectsOnMove || event.key === 'Enter') {
        if (!(items[to].matches('input[type=radio]') && items[to].checked)) items[to].click();
      }
      return;
    }
  }, true);

  let pending = false;
  new MutationObserver(() => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; sync(); });
  }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true,
                             attributeFilter: ['aria-selected', 'aria-checked', 'class', 'src']});
  sync();
}
