(...values) => {
    // The refresh of a tab refreshed when t is let go of (the Denoising lab), pressed by the page as the slider is
    // let go of and before Gradio has taken the value in (explorer/ui/scrub.js): it reads the released t. A
    // release older than a second is not this press's (the refresh was pressed for another reason).
    const drag = window.__explorerDrag, released = drag && drag.releasing;
    if (released) {
        drag.releasing = undefined;
        if (performance.now() - released.at < 1000) values[T_INDEX] = released.t;
    }
    return values;
}
