"""``memory monitor``: a live view of throughput, latency, cache and queue."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated

import typer
from memory_core import MetricsSnapshot
from rich.live import Live

from memory_cli._examples import examples
from memory_cli._monitor import Frame, make_frame, render_frame
from memory_cli._output import OutputFormat, dumps_yaml, stdout_console
from memory_cli._state import get_state

EPILOG = examples(
    "memory monitor",
    "memory monitor --interval 5",
    "memory -f json monitor --iterations 10 --interval 1 > samples.jsonl",
)


@contextmanager
def _ctrl_c_between_frames() -> Iterator[threading.Event]:
    """Ctrl-C sets an event instead of raising wherever the main thread happens to be.

    A KeyboardInterrupt raised inside a storage read could leave a transaction or lock
    half-released and hang the exit; with the event, the loop ends between two frames.
    """
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        # Not stop.set() here: the handler runs on the main thread between two bytecodes,
        # possibly while that thread holds the event's own (non-reentrant) lock inside
        # stop.wait(), and set() would then wait for it forever (seen once in CI: no
        # output after Ctrl-C). Another thread can take the lock once the main one lets go.
        threading.Thread(target=stop.set, name="monitor-ctrl-c", daemon=True).start()

    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def monitor(
    ctx: typer.Context,
    interval: Annotated[
        float, typer.Option("--interval", "-i", min=0.0, help="Seconds between refreshes.")
    ] = 1.0,
    iterations: Annotated[
        int | None,
        typer.Option("--iterations", "-n", min=1, help="Stop after N refreshes (default: never)."),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Print one frame and exit.")] = False,
) -> None:
    """Live view: operations/s, latency percentiles, cache hit rate, queue depth.

    Ctrl-C exits cleanly. With --format json, prints one JSON object per refresh
    (JSON Lines) instead of the live view.
    """
    state = get_state(ctx)
    memory = state.memory
    limit = 1 if once else iterations
    console = stdout_console()
    previous: MetricsSnapshot | None = None
    last = time.monotonic()
    count = 0

    def next_frame() -> Frame:
        nonlocal previous, last
        now = time.monotonic()
        snapshot = memory.metrics()
        frame = make_frame(snapshot, previous, now - last)
        previous, last = snapshot, now
        return frame

    with _ctrl_c_between_frames() as stop:

        def more() -> bool:
            return not stop.is_set() and (limit is None or count < limit)

        try:
            if state.format is not OutputFormat.TABLE or not console.is_terminal or limit == 1:
                while more():
                    if count and stop.wait(interval):
                        break
                    frame = next_frame()
                    count += 1
                    if state.format is OutputFormat.JSON:
                        sys.stdout.write(json.dumps(frame.as_dict(), ensure_ascii=False) + "\n")
                    elif state.format is OutputFormat.YAML:
                        sys.stdout.write("---\n" + dumps_yaml(frame.as_dict()))
                    else:
                        console.print(render_frame(frame))
                    sys.stdout.flush()
            else:
                frame = next_frame()
                count = 1
                with Live(render_frame(frame), console=console, auto_refresh=False) as live:
                    while more():
                        if stop.wait(interval):
                            break
                        live.update(render_frame(next_frame()), refresh=True)
                        count += 1
        except KeyboardInterrupt:  # a second Ctrl-C before the handler was installed
            pass
        if stop.is_set():
            console.print("[dim]monitor stopped[/dim]")
