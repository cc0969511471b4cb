"""A tab's events as a table: each row says which trigger calls which handler, with which inputs and outputs.

    WIRES = [Wire(layout.button.click, show_table, [layout.table_t], [layout.table], api_name="study_table")]
    register(ctx, WIRES)

Handlers are module-level functions of plain values whose first parameter is the app's `Context` (`bind` gives
it), so a test calls a handler directly, without Gradio. Where several components travel together into one
settings value, a `Pack` in the inputs reads them as one argument. Every row is registered through
`server.lanes` (its lane and its quiet wrapper); a row without a handler runs JavaScript in the page only.

Where a row shows no progress (`show_progress="hidden"`), its progress goes to the page's one quiet target
(`quiet_progress`), not to its outputs. Gradio's page keeps a loading status for every component that was ever an
event's progress target, and at each status message of every event (queued, started, done) it updates them all,
copying each one's properties (Svelte's snapshot): after a walk through the tabs that was ~150 components, 0.3-0.5 ms
each, three or four times per event, and it was most of the time between letting go of t and the exact view
(docs/benchmarks.md). The quiet target keeps that set to the few components that show a spinner.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from explorer.server import lanes


@dataclass(frozen=True)
class Pack:
    """Components whose values reach the handler as one argument: `make(*values)`, a settings dataclass.

    Gradio (and so the API: `client.predict(skips_on=…)`) sees one parameter per component, named after the
    dataclass's fields in order: those names are part of the public API where the event has an api_name."""

    make: type
    components: tuple

    def __init__(self, make: type, components: Sequence):
        names = [field.name for field in dataclasses.fields(make)]
        if len(names) < len(components):
            raise ValueError(f"{make.__name__} has {len(names)} fields for {len(components)} components")
        object.__setattr__(self, "make", make)
        object.__setattr__(self, "components", tuple(components))

    @property
    def names(self) -> list[str]:
        return [field.name for field in dataclasses.fields(self.make)][:len(self.components)]


@dataclass
class Wire:
    """One event: `trigger` (a component's event such as `button.click`, a list of them for `gr.on`, or
    `demo.load`) calls `handler(ctx, *inputs)` (or `handler(*inputs)` when `context` is False) and writes
    `outputs`. `then`: the keywords of a page-only step run after it (`.then(None, **then)`). `options`: the
    listener's own keywords (api_name, show_progress, trigger_mode, queue …)."""

    trigger: Any
    handler: Callable | None
    inputs: list = field(default_factory=list)
    outputs: Any = None
    context: bool = True
    then: dict | None = None
    options: dict = field(default_factory=dict)


def wire(trigger, handler, inputs=None, outputs=None, *, context: bool = True, then: dict | None = None,
         **options) -> Wire:
    """A `Wire`, its listener options given as keywords."""
    return Wire(trigger, handler, list(inputs or []), outputs, context, then, options)


def flat(inputs: Sequence) -> list:
    """The components Gradio reads for `inputs`: each Pack's components in its place."""
    return [component for item in inputs
            for component in (item.components if isinstance(item, Pack) else (item,))]


def bind(handler: Callable, ctx=None, inputs: Sequence = (), context: bool = True) -> Callable:
    """`handler` as Gradio calls it: with `ctx` given first (when `context`), one positional value per component of
    `flat(inputs)` (each Pack's values made into its one argument) and Gradio's special arguments (gr.Request,
    gr.EventData) after them. Keeps the handler's name and marks (`lanes.long_job`); its signature is the one Gradio
    reads (the special arguments are found there by their annotations)."""
    packs = list(inputs)
    if not context and not any(isinstance(item, Pack) for item in packs):
        return handler
    parameters = list(inspect.signature(handler).parameters.values())[1 if context else 0:]
    shown = []
    for index, parameter in enumerate(parameters):
        item = packs[index] if index < len(packs) else None
        if isinstance(item, Pack):
            shown += [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in item.names]
        else:
            shown.append(parameter)
    given = (ctx,) if context else ()

    def regroup(args: tuple) -> list:
        values, at = [], 0
        for item in packs:
            if isinstance(item, Pack):
                size = len(item.components)
                values.append(item.make(*args[at:at + size]))
                at += size
            else:
                values.append(args[at])
                at += 1
        return [*values, *args[at:]]  # Gradio's special arguments come after the inputs

    if inspect.isgeneratorfunction(handler):
        def bound(*args, **kwargs):
            yield from handler(*given, *regroup(args), **kwargs)
    else:
        def bound(*args, **kwargs):
            return handler(*given, *regroup(args), **kwargs)
    functools.update_wrapper(bound, handler)
    bound.__signature__ = inspect.Signature(shown)
    return bound


QUIET: contextvars.ContextVar[Any] = contextvars.ContextVar("quiet_progress_target")


@contextlib.contextmanager
def quiet_progress(target) -> Iterator[None]:
    """Inside, rows registered with `show_progress="hidden"` report their progress to `target` (a hidden component
    of the page being built), unless they name their own `show_progress_on`."""
    token = QUIET.set(target)
    try:
        yield
    finally:
        QUIET.reset(token)


def progress_options(options: dict) -> dict:
    """A row's listener options, with a quiet row's progress sent to the quiet target (when there is one)."""
    target = QUIET.get(None)
    if target is None or options.get("show_progress") != "hidden" or "show_progress_on" in options:
        return options
    return {**options, "show_progress_on": [target]}


def register(ctx, wires: Sequence[Wire]) -> None:
    """Register every row of a tab's table, each in its lane (`lanes.listen`); page-only rows (no handler) as they
    are. Call inside the Blocks being built."""
    import gradio as gr

    for row in wires:
        if row.handler is not None:
            row = dataclasses.replace(row, options=progress_options(row.options))
        if row.handler is None:
            inputs = flat(row.inputs) or None
            event = (gr.on(row.trigger, None, inputs, row.outputs, **row.options) if isinstance(row.trigger, list)
                     else row.trigger(fn=None, inputs=inputs, outputs=row.outputs, **row.options))
        else:
            fn = bind(row.handler, ctx, row.inputs, row.context)
            inputs = flat(row.inputs) or None
            if isinstance(row.trigger, list):
                event = lanes.on(row.trigger, fn, inputs, row.outputs, **row.options)
            else:
                event = lanes.listen(row.trigger, fn, inputs, row.outputs, **row.options)
        if row.then is not None:
            event.then(None, **row.then)
