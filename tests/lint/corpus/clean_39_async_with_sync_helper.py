"""An async handler that does its frame work in a synchronous helper."""
import numpy as np


def checksum(alloc, payload):
    with alloc.frame():
        buf = alloc.frame_array(len(payload), np.uint8)
        buf[:] = np.frombuffer(payload, np.uint8)
        return int(buf.sum()) & 0xFFFF


async def handle(alloc, reader, writer):
    payload = await reader.read(4096)
    value = checksum(alloc, payload)
    writer.write(value.to_bytes(2, "little"))
    await writer.drain()
