"""A bounded, thread-safe memo for views that take seconds and depend on nothing but their inputs.

Every learner who opens a view on the same image, t and seed (the defaults, a class following one lesson
step) gets the same numbers: they are computed once and kept, the least recently used dropped first. Callers
that ask for a key while it is being computed wait for that computation instead of repeating it (a class
presses "Show me" within the same few seconds).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Memo:
    def __init__(self, capacity: int):
        self.capacity = capacity
        self._lock = threading.Lock()
        self._values: OrderedDict[Hashable, object] = OrderedDict()
        self._computing: dict[Hashable, threading.Event] = {}  # keys being computed, set when done

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value kept for `key`, or compute() kept for it. compute() runs outside the lock, once per key:
        a caller that finds the key being computed waits for it (and computes it itself if that failed)."""
        while True:
            with self._lock:
                if key in self._values:
                    self._values.move_to_end(key)
                    return self._values[key]  # type: ignore[return-value]
                running = self._computing.get(key)
                if running is None:
                    done = self._computing[key] = threading.Event()
            if running is None:
                break
            running.wait()
        try:
            value = compute()
            with self._lock:
                self._values[key] = value
                while len(self._values) > self.capacity:
                    self._values.popitem(last=False)
            return value
        finally:
            with self._lock:
                del self._computing[key]
            done.set()

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._values.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()

    def __len__(self) -> int:
        return len(self._values)


class SharedRun(Generic[T]):
    """One generator's items, computed once and read by every caller that iterates it, each at its own pace.

    A class asking for the same reverse process (the same image, t, seed and steps, a Lesson step's "Show me")
    shares one computation: each reader gets every item in order; whoever asks first for an item not computed yet
    computes it (one at a time, under a lock), the others wait for it or read it when they come. Nobody reading:
    nothing is computed. An error is raised to every reader that reaches it.
    """

    def __init__(self, generator: Iterator[T]):
        self._generator = generator
        self._items: list[T] = []
        self._lock = threading.Lock()
        self._finished = False
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[T]:
        index = 0
        while True:
            with self._lock:
                if index == len(self._items):
                    if self.error is not None:
                        raise self.error
                    if self._finished:
                        return
                    try:
                        self._items.append(next(self._generator))
                    except StopIteration:
                        self._finished = True
                        return
                    except Exception as error:
                        self.error = error
                        raise
                item = self._items[index]
            index += 1
            yield item


class Kept:
    """The kept results of one app (one `Context`): a bounded memo per kind of result."""

    def __init__(self) -> None:
        # A strip holds 48 frames of 64×64 tiles (about 4 MB); a class needs one per knock-out setting of the Lesson.
        self.strips = Memo(8)
        self.comparisons = Memo(64)
        self.fields = Memo(64)
        self.measurements = Memo(64)
        self.views = Memo(16)  # whole tabs' outputs (the Part-by-part tab: pictures and figures, some 100 KB each)
        self.parts = Memo(32)  # the Part-by-part tab's measured parts: four backward passes and a dozen forwards
        self.shift_tables = Memo(32)  # blocks × t time shift per image and seed
        self.sets = Memo(4)  # facts of the shipped image set (the held-out images' fingerprints)
        self.reverse = Memo(8)  # reverse processes (`SharedRun`s of about 10 frames of two 64×64 images each)

    def clear(self) -> None:
        """Forget every kept result (tests)."""
        for memo in (self.strips, self.comparisons, self.fields, self.measurements, self.views, self.parts,
                     self.shift_tables, self.sets, self.reverse):
            memo.clear()
