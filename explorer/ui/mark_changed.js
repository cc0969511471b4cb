() => {
    // One of a tab's own inputs changed (the block chosen in another tab): the tabs' last refreshes are out of date,
    // so showing a tab presses its refresh again (explorer/ui/press_shown.js reads this).
    window.__inputsChangedAt = performance.now();
    return [];
}
