"""Decode speed of chzzkpy 2.2.0: the frames of `crates/chzzk-chat/benches/decode.rs`, through
chzzkpy's own receive path, offline, for the ratio `cargo xtask bench` reports.

Usage: bench_chzzkpy.py FRAMES_JSON [SECONDS]

FRAMES_JSON (written by `write_bench_frames` in `xtask/src/interop/chzzk.rs`):
    {"frames": [{"text": "<a server frame>", "channel_id": "...", "chat_channel_id": "..."}]}

Each frame goes the way `ChzzkWebSocket.poll_event` takes a TEXT message: `json.loads` (what
aiohttp's `msg.json()` does), then `ChzzkWebSocket.received_message` on one gateway whose hooks
are the parsers of one `ConnectionState`, wired as `ChzzkWebSocket.from_client` wires them; the
parsers build chzzkpy's models (pydantic) and hand them to `dispatch`. The stand-ins are those of
`chzzk_oracle.py`, without its recording: a socket that drops what the gateway sends (the PONG
to a server PING), a client that is not logged in, and a `dispatch` that only counts (a client
with no handlers does little more).

The frames are decoded in order, over and over, until SECONDS (2.5 by default) have passed.

Prints one JSON line: {"frames_per_s": ..., "mb_per_s": ..., "frames": N, ...}.
"""

import asyncio
import json
import logging
import sys
import time

# chzzkpy logs parser failures with log.exception (and every frame at debug level); a client
# would not print them either.
logging.disable(logging.CRITICAL)

from chzzkpy.unofficial.chat.gateway import ChzzkWebSocket  # noqa: E402
from chzzkpy.unofficial.chat.state import ConnectionState  # noqa: E402


class NullSocket:
    """Stands in for aiohttp's ClientWebSocketResponse: drops what the gateway sends."""

    close_code = None

    async def send_json(self, _data):
        pass

    async def send_str(self, _data):
        pass

    async def close(self):
        pass


class ReadOnlyClient:
    """Stands in for a ChatClient that has not logged in."""

    has_login = False


class Counts:
    def __init__(self):
        self.events = 0
        self.errors = 0

    def dispatch(self, name, *_args, **_kwargs):
        if name == "client_error":
            self.errors += 1
        else:
            self.events += 1


async def run(texts, seconds):
    counts = Counts()
    state = ConnectionState(dispatch=counts.dispatch, handler={}, client=ReadOnlyClient())
    gateway = ChzzkWebSocket(NullSocket(), asyncio.get_running_loop())
    for cmd, parser in state.parsers.items():
        gateway.set_hook(cmd, parser)

    async def one_pass():
        raised = 0
        for text in texts:
            try:
                await gateway.received_message(json.loads(text))
            except Exception:  # noqa: BLE001
                # A frame chzzkpy fails on (not JSON it can read, a refused join, a body its
                # models reject) still counts as processed: its client would have spent this
                # time on it too, then logged the error or stopped.
                raised += 1
        return raised

    raised = await one_pass()  # warm-up, and the per-pass counts
    events, errors = counts.events, counts.errors
    passes = 0
    start = time.perf_counter()
    while True:
        await one_pass()
        passes += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    return passes, elapsed, {"events": events, "parser_errors": errors, "raised": raised}


def main():
    path = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 2.5
    with open(path, encoding="utf-8") as f:
        texts = [fr["text"] for fr in json.load(f)["frames"]]
    size = sum(len(t.encode("utf-8")) for t in texts)
    passes, elapsed, per_pass = asyncio.run(run(texts, seconds))
    print(
        json.dumps(
            {
                "frames_per_s": len(texts) * passes / elapsed,
                "mb_per_s": size * passes / elapsed / 1e6,
                "frames": len(texts),
                "bytes": size,
                "passes": passes,
                "per_pass": per_pass,
            }
        )
    )


if __name__ == "__main__":
    main()
