"""Infrastructure: the compressor of every event store (eventsourcing's `Compressor` strategy).

zlib with a 4 KiB window and a small memory level. `zlib.compress` with its defaults (a 32 KiB
window, memory level 8) sets up ~256 KiB of state per call, which cost ~52 us per event on this
machine however small the event; this set-up costs ~5.5 us and compresses events of a few
hundred bytes to the same size (docs/performance.md). The output is a standard zlib stream:
`zlib.decompress` reads it, and what eventsourcing's `ZlibCompressor` wrote stays readable.
"""
from __future__ import annotations

import zlib

from eventsourcing.persistence import Compressor

WINDOW_BITS = 12        # 4 KiB: an event or a snapshot of a record
MEMORY_LEVEL = 4


class SmallWindowZlib(Compressor):
    def compress(self, data: bytes) -> bytes:
        compressor = zlib.compressobj(6, zlib.DEFLATED, WINDOW_BITS, MEMORY_LEVEL)
        return compressor.compress(data) + compressor.flush()

    def decompress(self, data: bytes) -> bytes:
        return zlib.decompress(data)
