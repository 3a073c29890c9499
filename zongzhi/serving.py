"""Serving from several processes: waitress in each, one listening socket shared between them.

One Python process holds one core at a time however many threads it runs, so a server with
several cores serves from several processes (`zongzhi serve --processes N`). This module keeps
them: it binds the address once, forks N workers that each build the app after the fork (no
database connection is shared between processes) and serve the shared socket with waitress,
replaces a worker that dies, and on SIGINT or SIGTERM stops them all and waits for them. A
worker whose master is gone (killed with SIGKILL) stops within a second.

Each worker is waitress as a single process is: connections wait in its event loop, not in its
threads, so a resident's phone that keeps its connection open between pages holds no thread.
(gunicorn's threaded worker, tried first, gives each kept-alive connection a thread for up to
five seconds; with 50 readers pausing between pages its p99 rose to ~0.5 s.)

What must agree across processes already lives outside them: the data in the database, the
secret key in the setting (or the instance folder's key file), and the rate-limit counters in
Redis when ZONGZHI_REDIS_URL is set (per process otherwise, as API.md says). POSIX only: it
forks. A single process (the default, and the village office's) needs none of this.
"""
from __future__ import annotations

import gc
import os
import signal
import socket
import sys
import threading
import time
from typing import Callable

#: A worker that dies sooner than this after starting is not replaced at once: something is
#: wrong with every start (the database is down, say), and the loop waits before trying again.
QUICK_DEATH_S = 5.0
RESTART_PAUSE_S = 2.0
#: How long stopping waits for the workers to finish their requests before killing them.
STOP_GRACE_S = 20.0


class AddressInUse(Exception):
    """The address cannot be listened on (another server has it, or it is not this machine's)."""


def listening_socket(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """Bind and listen on host:port once, for every worker (or the one process) to accept from.
    A forked worker inherits it as it is."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if os.name != "nt":  # on Windows it would let a second server take a port in use
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as err:
        sock.close()
        raise AddressInUse(f"{host}:{port}: {err.strerror or err}") from err
    return sock


def serve_one(app, sock: socket.socket, *, threads: int) -> None:
    """Serve `app` from this process alone on the listening socket, until SIGINT or SIGTERM."""
    from waitress import serve

    stop_on_signals()
    settle()
    serve(app, sockets=[sock], threads=threads)


def settle() -> None:
    """Move what exists once the app is built out of the garbage collector's sight.

    Those objects (modules, mappers, compiled statements, translations: some 450,000) live as
    long as the process. Left in sight, every full collection walks them all to free nothing,
    and it stops every thread of the process while it does: 35-130 ms each on two cores, once
    every few thousand pages, with every request in flight waiting (`bench/desk.py`'s morning).
    Frozen (`gc.freeze`), a full collection walks only what came since: about 4 ms. What is
    garbage already is collected first, so that none of it is kept for good. `zongzhi worker`
    settles too, before its pool forks: each pool process inherits the frozen objects, and
    its collections then leave the pages they live on unwritten and shared.
    """
    gc.collect()
    gc.freeze()


def _exit(signum, _frame) -> None:
    raise SystemExit(0)  # waitress ends its loop on it and lets its threads finish


def stop_on_signals() -> None:
    """Have SIGINT and SIGTERM end waitress's loop in this process, letting its threads finish:
    SIGTERM is what a service manager sends, and a server started in the background by a shell
    would otherwise inherit SIGINT ignored."""
    signal.signal(signal.SIGINT, _exit)
    signal.signal(signal.SIGTERM, _exit)


def _follow_master(master: int) -> None:
    """A thread in each worker: once the master is gone (killed, so it could not stop the
    workers), the worker stops too rather than serve on unsupervised."""
    def watch() -> None:
        while os.getppid() == master:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="follow-master", daemon=True).start()


def _worker(build: Callable, sock: socket.socket, threads: int, master: int) -> None:
    """In the forked child: build the app and serve the shared socket until told to stop."""
    code = 1
    try:
        stop_on_signals()  # from the start: a stop may come while the app is being built
        _follow_master(master)
        serve_one(build(), sock, threads=threads)
        code = 0
    except SystemExit:
        code = 0
    except BaseException:  # noqa: BLE001 - reported, then the master replaces this worker
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


class _Stop(Exception):
    """Raised in the master by SIGINT or SIGTERM, to leave a blocking wait."""


def serve_processes(build: Callable, sock: socket.socket, *, threads: int, processes: int) -> None:
    """Serve the app that `build()` makes from `processes` worker processes on the listening
    socket until stopped."""
    if not hasattr(os, "fork"):
        raise SystemExit("错误 error: --processes 需要 Linux 等 POSIX 系统；--processes needs a POSIX "
                         "system such as Linux (it forks). On this system serve with one process.")
    workers: dict[int, float] = {}  # pid -> when it started
    deadline = None  # set when told to stop: the workers are killed if still there at it
    waiting = False  # in a blocking wait, which the signal interrupts

    master = os.getpid()

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:
            _worker(build, sock, threads, master)
        workers[pid] = time.monotonic()

    def stop(signum, _frame) -> None:
        nonlocal deadline
        if deadline is None:
            deadline = time.monotonic() + STOP_GRACE_S
            for pid in workers:
                _signal(pid, signal.SIGTERM)
            if waiting:
                raise _Stop

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for _ in range(processes):
        spawn()
    while workers:
        try:
            waiting = deadline is None
            pid, status = os.waitpid(-1, 0 if waiting else os.WNOHANG)
        except _Stop:
            continue
        except ChildProcessError:
            break
        finally:
            waiting = False
        if pid == 0:  # stopping, and none has ended since the last look
            if time.monotonic() > deadline:
                for left in workers:
                    _signal(left, signal.SIGKILL)
            time.sleep(0.05)
            continue
        started = workers.pop(pid, None)
        if started is None or deadline is not None:
            continue
        how = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
               else f"exit {os.WEXITSTATUS(status)}")
        print(f"综治银行 worker {pid} ended ({how}); starting another", file=sys.stderr, flush=True)
        if time.monotonic() - started < QUICK_DEATH_S:
            try:
                waiting = True
                time.sleep(RESTART_PAUSE_S)
            except _Stop:
                continue
            finally:
                waiting = False
        spawn()


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
