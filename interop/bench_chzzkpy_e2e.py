"""End to end through chzzkpy 2.2.0's ChatClient, for `cargo xtask bench`: the same loopback
server and chat lines as `crates/chzzk-chat/benches/loopback` (role `e2e`), the same count.

Usage: bench_chzzkpy_e2e.py PORT CHANNEL_ID LINES

chzzkpy runs unchanged: `ChatClient(CHANNEL_ID).start()` makes its live-status and access-token
calls, opens its socket and joins, and an `on_chat` handler counts the chat events it
dispatches. chzzkpy hard-codes its hosts (https://api.chzzk.naver.com,
https://comm-api.game.naver.com, wss://kr-ss{n}.chat.naver.com); this script sends those to
the loopback server (plain http/ws) by wrapping aiohttp's URL building, as a hosts file and a
TLS-terminating proxy would, so every request still takes chzzkpy's own path.

Prints one JSON line: {"events", "seconds", "events_per_s", "cpu_seconds",
"cpu_seconds_per_million", "peak_rss_kib", ...}. CPU is user + system time of this process
(`resource.getrusage`) from before the connect to the last event; peak RSS is `VmHWM`.
"""

import asyncio
import json
import logging
import os
import resource
import sys
import time

# chzzkpy logs every frame at debug level and failures with log.exception; a client running
# for throughput would not print them either.
logging.disable(logging.CRITICAL)

import aiohttp  # noqa: E402
from chzzkpy.unofficial.chat import ChatClient  # noqa: E402

CHZZK_HOSTS = {"api.chzzk.naver.com", "comm-api.game.naver.com"}


def point_at_loopback(port):
    """Every URL aiohttp builds for a Chzzk host goes to 127.0.0.1:PORT instead."""
    build_url = aiohttp.ClientSession._build_url

    def _build_url(self, str_or_url):
        url = build_url(self, str_or_url)
        host = url.host or ""
        chat = host.startswith("kr-ss") and host.endswith(".chat.naver.com")
        if host in CHZZK_HOSTS or chat:
            scheme = {"https": "http", "wss": "ws"}.get(url.scheme, url.scheme)
            url = url.with_scheme(scheme).with_host("127.0.0.1").with_port(port)
        return url

    aiohttp.ClientSession._build_url = _build_url


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def peak_rss_kib():
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


async def run(channel_id, lines):
    client = ChatClient(channel_id)
    loop = asyncio.get_running_loop()
    connected = loop.create_future()
    done = loop.create_future()
    counts = {"chat": 0, "errors": 0}

    @client.event
    async def on_connect():
        if not connected.done():
            connected.set_result(time.perf_counter())

    @client.event
    async def on_chat(_message):
        counts["chat"] += 1
        if counts["chat"] >= lines and not done.done():
            done.set_result(time.perf_counter())

    @client.event
    async def on_client_error(*_args):
        counts["errors"] += 1

    cpu_start = cpu_seconds()
    start = time.perf_counter()
    task = asyncio.create_task(client.start())
    waiting = {done, task}
    finished, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    if done not in finished:
        raise SystemExit(f"chzzkpy stopped after {counts['chat']} events: {task.exception()!r}")
    end = done.result()
    cpu = cpu_seconds() - cpu_start
    joined = connected.result() if connected.done() else start
    seconds = end - joined
    return {
        "events": counts["chat"],
        "errors": counts["errors"],
        "connect_ms": (joined - start) * 1e3,
        "seconds": seconds,
        "events_per_s": counts["chat"] / seconds,
        "cpu_seconds": cpu,
        "cpu_seconds_per_million": cpu / counts["chat"] * 1e6,
        "peak_rss_kib": peak_rss_kib(),
        "runtime": "asyncio",
    }


def main():
    port, channel_id, lines = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    point_at_loopback(port)
    result = asyncio.new_event_loop().run_until_complete(run(channel_id, lines))
    print(json.dumps(result), flush=True)
    # chzzkpy's client keeps polling its socket; the count is what was asked for.
    os._exit(0)


if __name__ == "__main__":
    main()
