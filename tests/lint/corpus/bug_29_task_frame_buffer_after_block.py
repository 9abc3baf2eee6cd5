"""Planted: an asyncio handler reads its task-frame buffer after the task frame ended (FA605)."""
import numpy as np


async def handle(alloc, reader, writer):
    async with alloc.task_frame():
        buf = alloc.frame_array(4096, np.uint8)
        n = await reader.readinto(buf)
        checksum = int(buf[:n].sum()) & 0xFFFF
    writer.write(checksum.to_bytes(2, "little"))
    writer.write(bytes(buf[:n]))  # expect: FA605
    await writer.drain()
