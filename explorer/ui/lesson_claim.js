(step, ...rest) => {
  // A step chosen in the list (or by Next / Previous): its title and claim are shown at once from the table the
  // page was given (CLAIMS, explorer/ui/lesson.py), before the server answers with its measurements. Only the text
  // of the nodes Gradio's markdown drew is changed, never the nodes themselves, so its own update replaces them
  // as usual when the answer comes.
  const claim = CLAIMS[step];
  const box = document.querySelector('#lesson-claim span.md');
  const heading = box && box.querySelector('h3');
  const paragraph = box && box.querySelector('p');
  if (claim && heading && paragraph) {
    heading.textContent = claim.heading;
    paragraph.innerHTML = claim.html;
  }
  // The measurements below are still the previous step's until the server's answer replaces them: marked so.
  const body = document.getElementById('lesson-measured');
  const drawn = body && body.querySelector('[data-testid=markdown]');
  if (claim && drawn) {
    body.setAttribute('data-stale', `Measuring step ${claim.number}…`);
    // Only this step's measurements take the mark down (they end with what to look for, `claim.see`): a late reply
    // for a step shown before (the first step's cold measurement on a busy machine) draws other words.
    const observer = new MutationObserver(() => {
      if (!drawn.textContent.includes(claim.see)) return;
      observer.disconnect();
      body.removeAttribute('data-stale');
    });
    observer.observe(drawn, {subtree: true, childList: true, characterData: true});
  }
  return [step, ...rest];
}
