"""``--http --workers N``: N server processes on one listening socket, kept running by this one.

The socket is bound here, before any thread exists, and the workers are forked from this process:
each accepts connections from the shared socket and runs a whole server (its own MCP sessions,
pool, listeners) over the shared database. A worker that dies is started again; one that exits
with a start-up error (exit code 2) stops them all, since its siblings would fail the same way.
Handshake-era sessions live in the process that created them, so a client's follow-up requests
may reach a worker that does not know its session: see the README (one worker per address behind
a load balancer with sticky sessions, or clients of the 2026-07-28 protocol, which any worker serves).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from types import FrameType

log = logging.getLogger(__name__)

RESTART_PAUSE_S = 1.0  # a worker that keeps dying is not restarted in a tight loop


def supervise(count: int, work: Callable[[socket.socket], int], sock: socket.socket) -> int:
    """Run ``work(sock)`` in ``count`` forked processes until a signal stops them; the exit code."""
    children: dict[int, int] = {}  # pid -> slot
    stopping = False

    def start(slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            code = 1
            try:
                code = work(sock)
            finally:
                sys.stderr.flush()
                os._exit(code)
        children[pid] = slot

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for slot in range(count):
        start(slot)
    log.info("%d workers serving (pids %s)", count, ", ".join(str(p) for p in children))
    code = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid not in children:
            continue
        slot = children.pop(pid)
        exit_code = os.waitstatus_to_exitcode(status)
        if stopping:
            continue
        if exit_code == 2:  # a start-up error: every worker would hit it
            log.error("worker %d could not start; stopping", pid)
            code = 2
            stop(signal.SIGTERM, None)
            continue
        log.warning("worker %d stopped (exit %d); starting another", pid, exit_code)
        time.sleep(RESTART_PAUSE_S)
        start(slot)
    sock.close()
    return code
