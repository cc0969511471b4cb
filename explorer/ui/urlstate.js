(query) => {
  if (typeof query !== 'string') return;
  const url = window.location.pathname + (query ? '?' + query : '') + window.location.hash;
  if (url !== window.location.pathname + window.location.search + window.location.hash) {
    window.history.replaceState(window.history.state, '', url);
  }
}
