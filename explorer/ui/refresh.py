"""One listener refreshes whichever tab is shown when the image, t or the seed change.

Each tab hands over a `Refresh`: its extra inputs, its outputs and the function that fills them.
One event per change (instead of one per tab) keeps the queue short while t is being dragged.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import gradio as gr


@dataclass
class Refresh:
    tab: str
    inputs: list  # components read after (image, t, seed)
    outputs: list
    fn: Callable  # fn(image, t, seed, *inputs) -> tuple matching outputs


def wire(triggers: list, active_tab: gr.State, shared: list, refreshes: list[Refresh]) -> None:
    """Run the shown tab's refresh on each trigger; the other tabs' outputs are left as they are."""
    inputs = [active_tab] + shared + [component for refresh in refreshes for component in refresh.inputs]
    outputs = [component for refresh in refreshes for component in refresh.outputs]

    def refresh_shown(tab, image, t, seed, *rest):
        results, start = [], 0
        for refresh in refreshes:
            values = rest[start:start + len(refresh.inputs)]
            start += len(refresh.inputs)
            if refresh.tab == tab:
                results += list(refresh.fn(image, t, seed, *values))
            else:
                results += [gr.skip()] * len(refresh.outputs)
        return tuple(results)

    gr.on(triggers, refresh_shown, inputs, outputs, api_name=False, preprocess=False, show_progress="hidden",
          trigger_mode="always_last")
