() => {
  // Plotly (the front end's chunk CHUNK, 4.6 MB) is loaded by Gradio only when a chart is first drawn: a tab's
  // first draw then waited ~2 s for it. Once the first screen is in and the page is idle, it is loaded here, from
  // beside Gradio's own index script, so that Gradio's import of it later finds it ready.
  const index = document.querySelector('script[type=module][src*="/assets/index-"]');
  if (!index || !CHUNK) return [];
  const url = new URL(CHUNK, index.src).href;
  const load = () => import(url).catch(() => {});  // a failure only leaves it to Gradio, as before
  const idle = window.requestIdleCallback || ((callback) => setTimeout(callback, 0));
  setTimeout(() => idle(load, {timeout: 3000}), 1500);
  return [];
}
