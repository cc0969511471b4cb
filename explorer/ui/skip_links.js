element.addEventListener('click', (e) => {
  const link = e.target.closest('a[data-skip]');
  if (!link) return;
  e.preventDefault();
  const tab = link.dataset.tab && document.getElementById(link.dataset.tab);
  if (tab && tab.getAttribute('aria-selected') !== 'true') tab.click();
  let tries = 0;
  const land = () => {  // the tab's content may take a moment to render
    const target = document.querySelector(link.dataset.skip);
    if (target) { target.focus(); target.scrollIntoView({block: 'center'}); }
    else if (++tries < 30) setTimeout(land, 100);
  };
  land();
});
