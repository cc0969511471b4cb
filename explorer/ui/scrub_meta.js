watch('value', () => window.__sbs && window.__sbs.loadStrip && window.__sbs.loadStrip());
