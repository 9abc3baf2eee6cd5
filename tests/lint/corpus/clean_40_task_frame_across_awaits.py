"""Each asyncio task fills and filters its own task-frame buffers across awaits."""
import numpy as np


async def handle(alloc, reader, writer, kernel):
    async with alloc.task_frame():
        buf = alloc.frame_array(4096, np.uint8)
        n = await reader.readinto(buf)
        out = alloc.frame_zeros(n, np.float32)
        kernel(buf[:n], out)
        await writer.drain()
        writer.write(out.tobytes())
        total = float(out.sum())
    await writer.drain()
    return total
