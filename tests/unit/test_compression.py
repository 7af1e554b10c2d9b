"""Unit tier: the event stores' compressor writes standard zlib streams, and reads what
eventsourcing's own `ZlibCompressor` wrote (stores written before it stay readable)."""
import json
import random
import zlib

from eventsourcing.compressor import ZlibCompressor

from shared.compression import SmallWindowZlib


def payload(size: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    words = ["beigang", "xilin", "urban", "rural", "2007-07", "officer-li", "430.00", "approved"]
    body = {"payments": {f"2007-{m:02d}": f"{rng.randint(100, 900)}.00" for m in range(1, 13)}}
    while len(json.dumps(body)) < size:
        body[f"k{len(body)}"] = " ".join(rng.choice(words) for _ in range(8))
    return json.dumps(body).encode()


def test_what_it_writes_is_a_zlib_stream_that_both_compressors_read():
    for size in (40, 400, 4_000, 40_000):
        data = payload(size)
        written = SmallWindowZlib().compress(data)
        assert zlib.decompress(written) == data
        assert ZlibCompressor().decompress(written) == data


def test_it_reads_what_eventsourcings_compressor_wrote():
    data = payload(2_000)
    assert SmallWindowZlib().decompress(ZlibCompressor().compress(data)) == data


def test_events_of_a_few_hundred_bytes_compress_as_well_as_with_zlibs_defaults():
    for size in (300, 1_000, 3_000):
        data = payload(size)
        assert len(SmallWindowZlib().compress(data)) <= len(zlib.compress(data)) * 1.05
