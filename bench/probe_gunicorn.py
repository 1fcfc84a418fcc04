"""conf/gunicorn.py plus a memory probe, for the soak only: never deployed.

    gunicorn -c bench/probe_gunicorn.py

Every setting and hook is conf/gunicorn.py's; after its post_worker_init,
each worker starts a greenlet that appends, every SOAK_PROBE_SECONDS, one
JSON line to $SOAK_PROBE_DIR/<pid>.jsonl: its RSS, the collector's counts
and collections per generation, the objects it tracks (frozen ones
excepted). SIGUSR2 asks for a full collection, then malloc_trim(0), with
the RSS after each: what a collection frees (and of which types the
unreachable objects were), what the allocator then gives back, and what
stays (live objects, or fragmentation).

With SOAK_PROBE_TRACEMALLOC=<frames>, each worker also traces Python's
allocations from its post_worker_init on, with that many frames each, and
dumps a snapshot beside every sample (<pid>-<n>.tracemalloc, for
``tracemalloc.Snapshot.load``): which lines hold what the worker gained
between two samples.
"""

import ctypes
import gc
import itertools
import json
import os
import runpy
import signal
import time
import tracemalloc
import types
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_BASE = runpy.run_path(str(Path(__file__).resolve().parent.parent / "conf" / "gunicorn.py"))
globals().update({name: value for name, value in _BASE.items() if not name.startswith("__")})


def post_worker_init(worker: Any) -> None:
    _BASE["post_worker_init"](worker)
    import gevent

    folder = Path(os.environ.get("SOAK_PROBE_DIR", "bench/out/probe"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{os.getpid()}.jsonl"
    seconds = float(os.environ.get("SOAK_PROBE_SECONDS", "30"))
    frames = int(os.environ.get("SOAK_PROBE_TRACEMALLOC", "0"))
    if frames:
        tracemalloc.start(frames)
    gevent.spawn(_sample_forever, path, seconds)
    gevent.signal_handler(signal.SIGUSR2, lambda: gevent.spawn(_collect, path))


def _sample_forever(path: Path, seconds: float) -> None:
    import gevent

    for taken in itertools.count():
        _write(path, {"kind": "sample", **_state()})
        if tracemalloc.is_tracing():
            tracemalloc.take_snapshot().dump(
                str(path.with_name(f"{path.stem}-{taken}.tracemalloc"))
            )
        gevent.sleep(seconds)


def _collect(path: Path) -> None:
    before = _state()
    holders = _big_bytes_holders()
    started = time.perf_counter()
    # Keep what the collection finds (instead of freeing it) long enough to
    # say what it is, then free it with a second collection.
    gc.set_debug(gc.DEBUG_SAVEALL)
    found = gc.collect()
    collect_seconds = time.perf_counter() - started
    garbage = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
    gc.garbage.clear()
    gc.set_debug(0)
    gc.collect()
    after_collect = _rss_mb()
    trimmed = _malloc_trim()
    _write(
        path,
        {
            "kind": "collect",
            **before,
            "unreachable_found": found,
            "garbage_types": garbage.most_common(20),
            "collect_seconds": collect_seconds,
            "rss_after_collect_mb": after_collect,
            "rss_after_trim_mb": _rss_mb() if trimmed else None,
            "tracked_after": len(gc.get_objects()),
            "big_bytes_holders": holders,
        },
    )


def _big_bytes_holders(least: int = 4096) -> list[tuple[str, int, float]]:
    """What holds the worker's large bytes objects: (holder, objects, MB), most MB first.

    A holder is a frame (its function and line), or a container's type. Each
    object counts once per holder, so a buffer shared by many streams shows
    under each of them.
    """
    import gevent

    held: Counter[str] = Counter()
    sizes: Counter[str] = Counter()

    def count(holder: object, referents: Iterable[object]) -> None:
        for referent in referents:
            if isinstance(referent, (bytes, bytearray)) and len(referent) >= least:
                name = _holder_name(holder)
                held[name] += 1
                sizes[name] += len(referent)

    objects = gc.get_objects()
    for holder in objects:
        if not isinstance(holder, types.FrameType):
            count(holder, gc.get_referents(holder))
    # Frames by their locals: a suspended greenlet's are not among the
    # collector's objects until asked for (and then stay among them).
    frames = {id(frame): frame for frame in objects if isinstance(frame, types.FrameType)}
    for greenlet in objects:
        if isinstance(greenlet, gevent.Greenlet):
            frame = greenlet.gr_frame
            while frame is not None:
                frames[id(frame)] = frame
                frame = frame.f_back
    for frame in frames.values():
        count(frame, frame.f_locals.values())
    return [(name, held[name], round(size / 2**20, 2)) for name, size in sizes.most_common(15)]


def _holder_name(holder: object) -> str:
    if isinstance(holder, types.FrameType):
        return f"frame {holder.f_code.co_qualname}:{holder.f_lineno}"
    if isinstance(holder, dict):
        return "dict"
    return f"{type(holder).__module__}.{type(holder).__qualname__}"


def _state() -> dict[str, Any]:
    return {
        "at": time.time(),
        "rss_mb": _rss_mb(),
        "gc_count": gc.get_count(),
        "gc_collections": [stats["collections"] for stats in gc.get_stats()],
        "gc_threshold": gc.get_threshold(),
        "tracked": len(gc.get_objects()),
        "frozen": gc.get_freeze_count(),
        "traced_mb": _traced_mb(),
    }


def _traced_mb() -> float | None:
    return tracemalloc.get_traced_memory()[0] / 2**20 if tracemalloc.is_tracing() else None


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _malloc_trim() -> bool:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    libc.malloc_trim(0)
    return True


def _write(path: Path, payload: dict[str, Any]) -> None:
    with open(path, "a") as out:
        out.write(json.dumps(payload) + "\n")
