"""An open-loop load generator: requests sent at a fixed rate, latency counted from the moment
each request was due.

wrk keeps a fixed number of connections busy, so it measures the most a server can do, and its
latencies grow with the queue it builds itself. "Sustains 200 requests/s with p99 under 250 ms"
asks a different question: offer 200 requests a second, whatever the server does, and look at
how long each one took. Here request i is due at start + i / rate; it goes out on an idle
keep-alive connection (a new one is opened when none is idle, up to `max_connections`, after
which it waits for one), and its latency runs from when it was due to the end of the response,
so a server that falls behind is charged for the wait (no "coordinated omission").

The client is plain asyncio streams and a prepared request, a fraction of a millisecond of CPU
per request, so at a few hundred requests a second it takes little from the servers it shares
the machine with. HTTP/1.1 responses with Content-Length only (Litestar's are).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

# uvicorn closes a keep-alive connection idle for 5 s; one idle this long is not reused.
KEEP_ALIVE_SECONDS = 4.0


@dataclass(frozen=True)
class PacedResult:
    offered_per_second: float
    achieved_per_second: float  # responses completed in the window / its length
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers and failed connections
    error_kinds: dict[str, int]  # "status 500", "ConnectionResetError", ...


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    async def exchange(self, request: bytes) -> int:
        """Send the request, read the whole response; return its status."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return status


async def _paced(
    url: str, rate: float, seconds: float, headers: dict[str, str], max_connections: int
) -> PacedResult:
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    lines = [f"GET {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    idle: list[tuple[_Connection, float]] = []  # with the moment each became idle
    opened = 0
    released = asyncio.Condition()
    latencies: list[float] = []
    error_kinds: Counter[str] = Counter()

    async def connection() -> _Connection:
        nonlocal opened
        async with released:
            while not idle and opened >= max_connections:
                await released.wait()
            while idle:
                conn, since = idle.pop()
                if time.perf_counter() - since < KEEP_ALIVE_SECONDS:
                    return conn
                conn.writer.close()  # the server may have closed it by now
                opened -= 1
            opened += 1
        reader, writer = await asyncio.open_connection(host, port)
        return _Connection(reader, writer)

    async def one(due: float) -> None:
        nonlocal opened
        try:
            conn = await connection()
        except OSError as error:
            error_kinds[type(error).__name__] += 1
            async with released:
                opened -= 1
                released.notify()
            return
        try:
            status = await conn.exchange(request)
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            error_kinds[type(error).__name__] += 1
            conn.writer.close()
            async with released:
                opened -= 1
                released.notify()
            return
        latencies.append(time.perf_counter() - due)
        if not 200 <= status < 300:
            error_kinds[f"status {status}"] += 1
        async with released:
            idle.append((conn, time.perf_counter()))
            released.notify()

    count = int(rate * seconds)
    start = time.perf_counter() + 0.05
    tasks = []
    for index in range(count):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for conn, _ in idle:
        conn.writer.close()
    ordered = sorted(latencies)

    def percentile(fraction: float) -> float:
        if not ordered:
            return float("nan")
        return 1000 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    return PacedResult(
        offered_per_second=rate,
        achieved_per_second=len(latencies) / elapsed,
        p50_ms=percentile(0.50),
        p99_ms=percentile(0.99),
        errors=sum(error_kinds.values()),
        error_kinds=dict(error_kinds),
    )


def paced(
    url: str,
    rate: float,
    seconds: float,
    headers: dict[str, str] | None = None,
    max_connections: int = 64,
) -> PacedResult:
    """Offer `rate` GET requests a second to `url` for `seconds`; see the module's docstring."""
    return asyncio.run(_paced(url, rate, seconds, headers or {}, max_connections))
