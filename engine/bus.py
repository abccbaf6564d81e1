"""The event bus: one FIFO queue, handlers called in subscription order, breadth-first.

The same object runs back-tests and live sessions. Events published while an event is being handled are
queued behind it, so the order of handling never depends on how tasks interleave.
"""

from __future__ import annotations

import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from engine.errors import EngineError, HandlerError
from engine.events import Event, HandlerFailed

log = logging.getLogger(__name__)

Handler = Callable[[Any], None] | Callable[[Any], Awaitable[None]]
E = TypeVar("E", bound=Event)


class EventBus:
    """Route events to handlers subscribed to their class or any base class.

    Parameters
    ----------
    halt_on_error
        True (back-test): a handler that raises stops the run with an error naming the handler and the event: an
        ``EngineError`` for the kernel's components (``name_component``), a ``HandlerError`` for user code.
        False (live): the error is logged, a ``HandlerFailed`` event is published, and the loop goes on.
    """

    def __init__(self, *, halt_on_error: bool = True) -> None:
        self.halt_on_error = halt_on_error
        self._subscriptions: list[tuple[type[Event], Handler]] = []
        self._routes: dict[type, tuple[Handler, ...]] = {}  # concrete event type -> handlers, in subscription order
        self._queue: deque[Event] = deque()
        self._has_async = False
        self._components: dict[object, str] = {}

    # -- subscriptions -------------------------------------------------------------------------------------
    def subscribe(self, event_type: type[Event], handler: Handler) -> None:
        """Call ``handler(event)`` for every event that is an instance of ``event_type``."""
        if not (isinstance(event_type, type) and issubclass(event_type, Event)):
            raise TypeError(f"subscribe: {event_type!r} is not an Event class")
        if not callable(handler):
            raise TypeError(f"subscribe: handler {handler!r} is not callable")
        self._subscriptions.append((event_type, handler))
        self._has_async = self._has_async or inspect.iscoroutinefunction(handler)
        self._routes.clear()

    def subscribe_first(self, event_type: type[Event], handler: Handler) -> None:
        """Subscribe ``handler`` ahead of every handler subscribed so far (a journal records events before anything
        acts on them)."""
        self.subscribe(event_type, handler)
        self._subscriptions.insert(0, self._subscriptions.pop())

    def name_component(self, handler: object, component: str) -> None:
        """Mark ``handler`` as the kernel's ``component`` (ledger, order manager, venue): its failures are
        ``EngineError``s, a fault of the engine; every other handler's are user code's ``HandlerError``s."""
        self._components[handler] = component

    def unsubscribe(self, event_type: type[Event], handler: Handler) -> None:
        """Remove one subscription made with ``subscribe``."""
        self._subscriptions.remove((event_type, handler))
        self._has_async = any(inspect.iscoroutinefunction(h) for _, h in self._subscriptions)
        self._routes.clear()

    def subscribe_object(self, obj: object) -> list[type[Event]]:
        """Subscribe every ``on_<event>`` method of ``obj`` (``on_bar`` -> ``Bar``, ``on_order_update`` ...).

        Returns the event types subscribed, in the order of ``EVENT_TYPES``.
        """
        subscribed = []
        for name, event_type in handler_names().items():
            method = getattr(obj, name, None)
            if callable(method):
                self.subscribe(event_type, method)
                subscribed.append(event_type)
        return subscribed

    def unsubscribe_object(self, obj: object) -> None:
        """Remove the subscriptions ``subscribe_object(obj)`` made."""
        for name, event_type in handler_names().items():
            method = getattr(obj, name, None)
            if callable(method) and (event_type, method) in self._subscriptions:
                self.unsubscribe(event_type, method)

    def handlers_for(self, event_type: type) -> tuple[Handler, ...]:
        """Return the handlers of ``event_type`` in subscription order, resolved once per type."""
        handlers = self._routes.get(event_type)
        if handlers is None:
            handlers = self._routes[event_type] = tuple(h for t, h in self._subscriptions if issubclass(event_type, t))
        return handlers

    def _refuse_coroutines(self, event_type: type) -> None:
        if any(inspect.iscoroutinefunction(h) for h in self.handlers_for(event_type)):
            raise RuntimeError(f"{event_type.__name__} has coroutine handlers: use `await bus.drain()`")

    # -- publishing and dispatch ---------------------------------------------------------------------------
    @property
    def has_async_handlers(self) -> bool:
        return self._has_async

    @property
    def queue(self) -> deque[Event]:
        """The queue itself, for the replay driver's loop (``engine.loop``), which checks it is empty; add with
        ``publish``."""
        return self._queue

    @property
    def routes(self) -> dict[type, tuple[Handler, ...]]:
        """The handlers resolved so far by event type, for the replay driver's loop; cleared in place whenever a
        subscription changes, never replaced."""
        return self._routes

    def publish(self, event: Event) -> None:
        """Queue ``event``; it is handled after every event queued before it."""
        self._queue.append(event)

    def pending(self) -> int:
        """Return how many events are queued and not yet handled."""
        return len(self._queue)

    def dispatch(self) -> None:
        """Handle queued events until the queue is empty, without awaiting (no coroutine handlers allowed)."""
        queue, routes = self._queue, self._routes
        while queue:
            event = queue.popleft()
            if self._has_async:
                self._refuse_coroutines(type(event))
            handlers = routes.get(type(event))
            if handlers is None:
                handlers = self.handlers_for(type(event))
            for handler in handlers:
                try:
                    handler(event)
                except Exception as exc:  # every failure is named, then raised or published
                    self.handler_failed(handler, event, exc)

    def dispatch_event(self, event: Event) -> None:
        """Handle ``event`` now, then whatever it queued: ``publish(event); dispatch()``.

        If events are already queued, ``event`` is handled behind them, to keep the breadth-first order.
        """
        self._queue.append(event)
        self.dispatch()

    async def drain(self) -> None:
        """Handle queued events until the queue is empty, awaiting coroutine handlers in their turn."""
        if not self._has_async:
            self.dispatch()
            return
        queue = self._queue
        while queue:
            event = queue.popleft()
            for handler in self.handlers_for(type(event)):
                try:
                    result = handler(event)
                    if inspect.isawaitable(result):
                        await result
                except Exception as exc:
                    self.handler_failed(handler, event, exc)

    def handler_failed(self, handler: object, event: Event, exc: Exception) -> None:
        """Name a handler's failure by whose it is (a kernel component's or user code's), then raise or publish it.

        Also called by the drivers for the venue's ``on_market_data``, which they call before the bus dispatches.
        """
        component = self._components.get(handler)
        error: EngineError | HandlerError
        error = HandlerError(handler, event, exc) if component is None else EngineError(component, handler, event, exc)
        if self.halt_on_error:
            self._queue.clear()
            raise error from exc
        log.error("%s", error)
        if not isinstance(event, HandlerFailed):  # never loop on a failing failure handler
            self.publish(HandlerFailed(ts=getattr(event, "ts", 0), handler=repr(handler), event=repr(event),
                                       error=f"{type(exc).__name__}: {exc}"))


def handler_names() -> dict[str, type[Event]]:
    """Map ``on_<snake_name>`` to each event class of ``engine.events`` (``on_bar``, ``on_order_update`` ...)."""
    return dict(_HANDLER_NAMES)


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def _event_classes() -> list[type[Event]]:
    from engine import events

    found = [obj for obj in vars(events).values()
             if isinstance(obj, type) and issubclass(obj, Event) and obj is not events.Event]
    return found


_HANDLER_NAMES: dict[str, type[Event]] = {f"on_{_snake(cls.__name__)}": cls for cls in _event_classes()}
