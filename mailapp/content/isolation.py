"""Rendering in a separate process that is killed when it takes too long.

The sandbox (`content.limits`) bounds what a template can do, but a web worker must stay
free even if some operation the limits do not foresee runs long: previews, test sends,
"view in browser", click maps and transactional messages (whose content an API key may
send inline) render through `render_isolated`, in a small pool of processes forked from a
forkserver (clean, single-threaded, the rendering modules preloaded). A render that has
not answered after RENDER_TIMEOUT seconds has its process killed (SIGKILL) and replaced;
the caller gets a RenderError saying so. The deadline counts the render only: a new process
starts (the forkserver's imports, seconds on a busy machine) before its first job is sent.
Each process runs under a memory limit (RENDER_MEMORY_MB), so an allocation the limits miss
fails there, not in the caller.

Campaign batches render in the send worker itself (per recipient, where a round trip
would cost throughput); their content passed the same sandbox in preview and pre-flight.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import threading
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from typing import Any

from flask import current_app, has_app_context

from mailapp.content.limits import RenderError
from mailapp.content.rendering import CompiledContent, RenderedContent, recompile, render_content

START_TIMEOUT = 60.0  # seconds a new render process may take to start (not the render deadline)
_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(["mailapp.content.rendering"])


def _serve(conn: Connection, memory_bytes: int) -> None:
    """A render process: run each job it is sent, answer ("ok", value) or ("error", reason)."""
    with contextlib.suppress(ValueError):  # above a hard limit the host sets: keep that one
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    conn.send(("ready", None))
    while True:
        try:
            func, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer = ("ok", func(*args))
        except RenderError as exc:
            answer = ("error", str(exc))
        except MemoryError:
            answer = ("error", "refused by the sandbox: out of memory")
        except Exception as exc:  # the caller gets the reason, the process lives on
            answer = ("error", f"{type(exc).__name__}: {exc}")
        conn.send(answer)


class _Process:
    def __init__(self, memory_bytes: int) -> None:
        self.conn, child = _context.Pipe()
        self.process = _context.Process(target=_serve, args=(child, memory_bytes), daemon=True)
        self.process.start()
        child.close()
        # A new process first waits for the forkserver (which imports the rendering modules
        # once, about a second, several on a busy machine) and then starts: that is not the
        # render's time, so the render deadline starts only once the process says it is ready.
        try:
            ready = self.conn.poll(START_TIMEOUT) and self.conn.recv() == ("ready", None)
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.kill()
            raise RenderError(f"the renderer did not start within {START_TIMEOUT:g} s")

    def kill(self) -> None:
        self.process.kill()
        self.process.join(1)
        self.conn.close()


class RenderPool:
    """At most `size` render processes; a job runs in an idle one, or waits for one."""

    def __init__(self, size: int, timeout: float, memory_mb: int) -> None:
        self.size, self.timeout = size, timeout
        self.memory_bytes = memory_mb * 1024 * 1024
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[_Process] = []
        self._lock = threading.Lock()

    def run(self, func: Callable[..., Any], *args: Any) -> Any:
        """func(*args) in a render process; RenderError when it fails or is killed."""
        if not self._slots.acquire(timeout=self.timeout * 3):
            raise RenderError("every renderer is busy; try again in a moment")
        try:
            with self._lock:
                worker = self._idle.pop() if self._idle else None
            if worker is not None and not worker.process.is_alive():
                worker.kill()  # died while idle (the OOM killer): start a fresh one
                worker = None
            worker = worker or _Process(self.memory_bytes)
            try:
                worker.conn.send((func, args))
                answered = worker.conn.poll(self.timeout)
                kind, value = worker.conn.recv() if answered else ("killed", None)
            except (EOFError, OSError):
                kind, value = "died", None
            if kind in ("killed", "died"):
                worker.kill()
                if kind == "killed":
                    raise RenderError(f"rendering took too long (stopped after {self.timeout:g} s)")
                raise RenderError("rendering failed: the renderer ran out of memory or crashed")
            with self._lock:
                self._idle.append(worker)
            if kind == "error":
                raise RenderError(value)
            return value
        finally:
            self._slots.release()

    def close(self) -> None:
        """Stop the idle processes (busy ones stop when their job ends)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()


_pools: dict[tuple[int, int, float, int], RenderPool] = {}
_pools_lock = threading.Lock()


def render_pool(size: int = 2, timeout: float = 5.0, memory_mb: int = 1024) -> RenderPool:
    """This process's pool (a forked gunicorn worker gets its own, not its parent's)."""
    key = (os.getpid(), size, timeout, memory_mb)
    with _pools_lock:
        if key not in _pools:
            _pools[key] = RenderPool(size, timeout, memory_mb)
        return _pools[key]


def _render_job(compiled_key: tuple, context: dict, caps: dict) -> RenderedContent:
    return render_content(recompile(*compiled_key), context, **caps)


def _plain(value: Any) -> Any:
    # Mutable JSON columns are dict/list subclasses tied to their row: send plain copies.
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def render_isolated(
    compiled: CompiledContent, context: Mapping[str, Any], **caps: Any
) -> RenderedContent:
    """render_content in a render process (in this one when RENDER_ISOLATION is off)."""
    config = current_app.config if has_app_context() else {}
    if not config.get("RENDER_ISOLATION", True):
        return render_content(compiled, context, **caps)
    pool = render_pool(
        config.get("RENDER_PROCESSES", 2),
        config.get("RENDER_TIMEOUT", 5.0),
        config.get("RENDER_MEMORY_MB", 1024),
    )
    return pool.run(_render_job, compiled.key, _plain(context), caps)
