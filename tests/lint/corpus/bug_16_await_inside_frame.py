"""Planted: an async handler awaits while its frame is open (FA703)."""
import numpy as np


def encode(alloc, payload):
    buf = alloc.frame_array(len(payload), np.uint8)
    buf[:] = np.frombuffer(payload, np.uint8)
    return bytes(buf ^ 0x5A)


async def handle(alloc, reader, writer):
    payload = await reader.read(4096)
    alloc.begin_frame()
    writer.write(encode(alloc, payload))
    await writer.drain()  # expect: FA703
    alloc.end_frame()
