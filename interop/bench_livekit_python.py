"""Decode speed of the Python SDK's legacy chat (livekit==0.21.3) on the payloads of
`crates/livekit-chat/benches/decode.rs`, for the ratio `cargo xtask bench` reports.

Usage: bench_livekit_python.py PAYLOADS_JSON [SECONDS]

PAYLOADS_JSON is what that bench writes to `PAYLOADS_OUT`:
    {"legacy": {"short": [payload, ...], "1k": [...], "40k": [...]}}

Each payload is decoded the way `ChatManager` decodes a packet on `lk-chat-topic`:
`ChatMessage.from_jsondict(json.loads(data))` with `data` the packet's bytes. The payloads of
a size are decoded in order, over and over, for SECONDS / 3 (SECONDS is 3 by default).

Prints one JSON line: {"legacy": {size: {"msgs_per_s", "mb_per_s", "messages", "bytes"}}}.
"""

import json
import sys
import time

from livekit.rtc import ChatMessage


def rate(payloads, seconds):
    """Messages and bytes per second over whole passes of `payloads` taking `seconds`."""
    for data in payloads:  # warm-up
        ChatMessage.from_jsondict(json.loads(data))
    passes = 0
    start = time.perf_counter()
    while True:
        for data in payloads:
            ChatMessage.from_jsondict(json.loads(data))
        passes += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    size = sum(len(p) for p in payloads)
    return {
        "msgs_per_s": len(payloads) * passes / elapsed,
        "mb_per_s": size * passes / elapsed / 1e6,
        "messages": len(payloads),
        "bytes": size,
    }


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        sizes = json.load(f)["legacy"]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    per_size = seconds / max(len(sizes), 1)
    out = {}
    for name, texts in sizes.items():
        out[name] = rate([t.encode("utf-8") for t in texts], per_size)
    print(json.dumps({"legacy": out}))


if __name__ == "__main__":
    main()
