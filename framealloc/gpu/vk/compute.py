"""A compute pass on frame buffers: the demo's particle update as a Vulkan compute shader.

:class:`ParticlePass` runs ``framealloc/gpu/shaders/particles.comp`` (the fountain's
``integrate`` of ``framealloc._demo_kernels``, one invocation per particle) on storage buffers
taken from the allocator's frame ring. One :meth:`ParticlePass.step`, inside a frame:

1. three DEVICE_LOCAL frame allocations (particles, forces, died flags);
2. ``gpu.upload`` of particles and forces through staging memory, submitted at once
   (``gpu.submit()``);
3. a command buffer of its own: a transfer -> compute barrier, ``steps`` dispatches separated by
   compute -> compute barriers, a compute -> transfer barrier; submitted on the allocator's queue;
4. ``gpu.readback`` of particles and died flags (which waits for the GPU).

The pipeline objects (shader module, descriptor set layout, pipeline layout, pipeline,
descriptor pool and sets, command pool and buffers, fences) are created once and destroyed by
:meth:`ParticlePass.close`. The shader is compiled to SPIR-V by ``glslangValidator -V``
(Debian: ``glslang-tools``) on first use and cached in the user's cache directory
(``$FRAMEALLOC_CACHE_DIR``, else ``$XDG_CACHE_HOME/framealloc``, else ``~/.cache/framealloc``),
keyed by the source and the compiler's version: nothing is downloaded.

>>> import numpy as np
>>> from framealloc.gpu import GpuAllocator
>>> from framealloc.gpu.vk.compute import ParticlePass, particles_like_demo
>>> with GpuAllocator.vulkan() as gpu, ParticlePass(gpu) as pp:   # doctest: +SKIP
...     parts = particles_like_demo(1000)
...     with gpu.frame():
...         parts, died = pp.step(parts, np.zeros((1000, 3), np.float32))
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ..allocation import GpuAllocation
from ..allocator import GpuAllocator
from ..errors import (GpuDeviceError, GpuFrameStateError, GpuSizeError, GpuTimeoutError,
                      GpuTransferError, GpuUnavailableError)
from ..intents import BufferUsage, GpuMemoryIntent
from . import _api
from .backend import VulkanBackend

__all__ = ["ParticlePass", "PARTICLE", "DT", "WORKGROUP", "EDGE", "compile_shader",
           "shader_source", "particles_like_demo", "cpu_step", "max_difference", "demo_forces",
           "DemoRun", "run_demo"]

#: The demo's particle record (``framealloc._demo_kernels.PARTICLE``): 7 packed float32.
PARTICLE = np.dtype([("pos", "f4", 3), ("vel", "f4", 3), ("life", "f4")])
DT = 1.0 / 60.0             # the demo's time step (``_demo_kernels.DT``)
WORKGROUP = 64              # local_size_x of particles.comp
SHADER = Path(__file__).resolve().parent.parent / "shaders" / "particles.comp"

_USAGE = int(BufferUsage.STORAGE | BufferUsage.TRANSFER_DST | BufferUsage.TRANSFER_SRC)
_STAGE_TRANSFER = 0x1000
_STAGE_COMPUTE = 0x800
_ACCESS_SHADER_READ = 0x20
_ACCESS_SHADER_WRITE = 0x40
_ACCESS_TRANSFER_READ = 0x800
_ACCESS_TRANSFER_WRITE = 0x1000
_DESCRIPTOR_STORAGE_BUFFER = 7
_SHADER_STAGE_COMPUTE = 0x20
_BIND_POINT_COMPUTE = 1
_NS = 1_000_000_000


# -- the shader --------------------------------------------------------------------------------
def shader_source() -> str:
    """The GLSL source of the particle update (shipped in the package)."""
    return SHADER.read_text()


def _cache_dir() -> Path:
    env = os.environ.get("FRAMEALLOC_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "framealloc"


def _glslang() -> str:
    exe = shutil.which("glslangValidator")
    if exe is None:
        raise GpuUnavailableError(
            "glslangValidator was not found: the compute pass compiles its GLSL shader with it; "
            "install glslang-tools (scripts/install-vulkan.sh, or apt-get install glslang-tools)",
            code="FA414")
    return exe


def compile_shader(source: Path = SHADER, *, cache_dir: Path | None = None) -> bytes:
    """SPIR-V of ``source`` compiled by ``glslangValidator -V``, cached on disk.

    The cache file's name is a hash of the source and the compiler's version, so editing the
    shader or upgrading glslang compiles again. FA414 without glslangValidator or when it
    rejects the source (its messages are in the error).
    """
    exe = _glslang()
    text = Path(source).read_bytes()
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    key = hashlib.sha256(text + b"\0" + version.encode()).hexdigest()[:20]
    directory = Path(cache_dir) if cache_dir is not None else _cache_dir()
    target = directory / f"{Path(source).stem}-{key}.spv"
    if target.is_file():
        return target.read_bytes()
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".spv", dir=directory)
    os.close(fd)
    try:
        done = subprocess.run([exe, "-V", str(source), "-o", tmp], capture_output=True, text=True)
        if done.returncode != 0:
            raise GpuUnavailableError(
                f"glslangValidator could not compile {Path(source).name}:\n"
                f"{done.stdout.strip()}\n{done.stderr.strip()}", code="FA414")
        os.replace(tmp, target)          # atomic: a concurrent reader sees all or nothing
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target.read_bytes()


# -- the CPU reference -------------------------------------------------------------------------
def particles_like_demo(n: int, seed: int = 0) -> np.ndarray:
    """``n`` particles spread like the fountain's spawns (positions, velocities, lives)."""
    h = ((np.arange(n) * 7919 + seed * 104729) % 1000) / 1000.0
    p = np.zeros(n, PARTICLE)
    p["pos"][:, 0] = 2.0 * h - 1.0
    p["pos"][:, 1] = 2.0 * ((np.arange(n) * 31) % 97) / 97.0
    p["pos"][:, 2] = 1.0 - 2.0 * h
    p["vel"][:, 0] = 0.5 - h
    p["vel"][:, 1] = 3.0 * h
    p["vel"][:, 2] = h - 0.5
    p["life"] = 1.0 + 2.0 * h
    return p


EDGE = 1e-5     # |height| or |life| this close to 0: rounding may take the other branch


def cpu_step(particles: np.ndarray, forces: np.ndarray, steps: int = 1,
             edge: np.ndarray | None = None) -> np.ndarray:
    """The CPU ``@njit`` version in place: ``_demo_kernels.integrate`` ``steps`` times over all
    particles; returns the died flags (uint32) of the last step.

    ``edge`` (bool, one per particle), when given, is set where a step left a particle within
    :data:`EDGE` of the floor or of death: there float32 rounding on the GPU may take the other
    branch of the update (bounce or not, dead or not), so those particles cannot be compared.
    """
    from framealloc._demo_kernels import integrate     # imports numba: only when used

    n = len(particles)
    idx = np.arange(n, dtype=np.int64)
    died = np.zeros(n, np.bool_)
    for _ in range(steps):
        integrate(particles, idx, forces, died)
        if edge is not None:
            edge |= (np.abs(particles["pos"][:, 1]) < EDGE) | (np.abs(particles["life"]) < EDGE)
    return died.astype(np.uint32)


def max_difference(gpu: np.ndarray, cpu: np.ndarray, edge: np.ndarray | None = None) -> float:
    """Largest absolute difference of positions, velocities and lives, over the particles not
    flagged in ``edge`` (see :func:`cpu_step`)."""
    keep = slice(None) if edge is None else ~edge
    if not len(gpu[keep]):
        return 0.0
    return max(float(np.abs(gpu[k][keep] - cpu[k][keep]).max()) for k in ("pos", "vel", "life"))


# -- the pass ----------------------------------------------------------------------------------
class _Slot:
    __slots__ = ("cmd", "fence", "dset", "pending")

    def __init__(self, cmd: Any, fence: Any, dset: Any) -> None:
        self.cmd, self.fence, self.dset = cmd, fence, dset
        self.pending = False


class ParticlePass:
    """The particle update as a compute pipeline on ``gpu``'s device and queue.

    ``gpu`` must be a Vulkan allocator (``GpuAllocator.vulkan()``; FA414 otherwise). The pass
    keeps the device alive until :meth:`close` (also by ``with``), which destroys every Vulkan
    object it created. Use it from the thread that uses ``gpu``.

    ``_omit_barriers`` (tests only) records the dispatches without their barriers, so that the
    synchronization validation test has a negative control (with copies recorded by the
    ``_prologue``/``_epilogue`` hooks in the same command buffer).
    """

    def __init__(self, gpu: GpuAllocator, *, slots: int | None = None,
                 _omit_barriers: bool = False) -> None:
        backend = gpu.backend
        if not isinstance(backend, VulkanBackend):
            raise GpuUnavailableError(
                "the compute pass runs a Vulkan shader: create the allocator with "
                "GpuAllocator.vulkan()", code="FA414")
        if backend.closed:
            raise GpuUnavailableError("the allocator is closed", code="FA414")
        self._gpu = gpu
        self._ctx = ctx = backend.context
        self.ffi = ffi = backend.ffi
        self.lib = lib = backend.lib
        self._vk = vk = backend._vk
        self._device = backend._device
        self._queue = ctx.queue
        self._omit = _omit_barriers
        self._closed = False
        self._retained = False
        self._module = self._dsl = self._layout = self._pipeline = None
        self._dpool = self._cpool = None
        self._slots: list[_Slot] = []
        self._next = 0
        self.dispatches = 0
        self.max_groups = int(ctx.properties.limits.maxComputeWorkGroupCount[0])
        self.max_range = int(ctx.properties.limits.maxStorageBufferRange)
        self._lock = threading.RLock()    # its reused structures: one dispatch at a time
        spirv = compile_shader()                      # FA414 before any Vulkan object exists
        try:
            self._create(vk, ffi, lib, spirv, max(1, slots or gpu.frames_in_flight))
        except BaseException:
            self.close()
            raise
        ctx._block_created()        # the device outlives the allocator until close()
        self._retained = True

    # -- creation ----------------------------------------------------------------------------
    def _create(self, vk: Any, ffi: Any, lib: Any, spirv: bytes, nslots: int) -> None:
        dev = self._device
        code = ffi.new("uint32_t[]", len(spirv) // 4)
        ffi.memmove(code, spirv, len(spirv))
        smi = ffi.new("VkShaderModuleCreateInfo*")
        smi.sType = vk.VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO
        smi.codeSize = len(spirv)
        smi.pCode = code
        p = ffi.new("VkShaderModule*")
        _api.check(lib.vkCreateShaderModule(dev, smi, ffi.NULL, p), "vkCreateShaderModule")
        self._module = p[0]

        bindings = ffi.new("VkDescriptorSetLayoutBinding[]", 3)
        for i in range(3):
            bindings[i].binding = i
            bindings[i].descriptorType = _DESCRIPTOR_STORAGE_BUFFER
            bindings[i].descriptorCount = 1
            bindings[i].stageFlags = _SHADER_STAGE_COMPUTE
        dli = ffi.new("VkDescriptorSetLayoutCreateInfo*")
        dli.sType = vk.VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO
        dli.bindingCount = 3
        dli.pBindings = bindings
        p = ffi.new("VkDescriptorSetLayout*")
        _api.check(lib.vkCreateDescriptorSetLayout(dev, dli, ffi.NULL, p),
                   "vkCreateDescriptorSetLayout")
        self._dsl = p[0]

        pcr = ffi.new("VkPushConstantRange*")
        pcr.stageFlags = _SHADER_STAGE_COMPUTE
        pcr.offset = 0
        pcr.size = 8
        layouts = ffi.new("VkDescriptorSetLayout[]", [self._dsl])
        pli = ffi.new("VkPipelineLayoutCreateInfo*")
        pli.sType = vk.VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO
        pli.setLayoutCount = 1
        pli.pSetLayouts = layouts
        pli.pushConstantRangeCount = 1
        pli.pPushConstantRanges = pcr
        p = ffi.new("VkPipelineLayout*")
        _api.check(lib.vkCreatePipelineLayout(dev, pli, ffi.NULL, p), "vkCreatePipelineLayout")
        self._layout = p[0]

        entry = ffi.new("char[]", b"main")
        cpi = ffi.new("VkComputePipelineCreateInfo*")
        cpi.sType = vk.VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO
        cpi.stage.sType = vk.VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO
        cpi.stage.stage = _SHADER_STAGE_COMPUTE
        cpi.stage.module = self._module
        cpi.stage.pName = entry
        cpi.layout = self._layout
        cpi.basePipelineIndex = -1
        p = ffi.new("VkPipeline*")
        _api.check(lib.vkCreateComputePipelines(dev, ffi.NULL, 1, cpi, ffi.NULL, p),
                   "vkCreateComputePipelines")
        self._pipeline = p[0]

        size = ffi.new("VkDescriptorPoolSize*")
        size.type = _DESCRIPTOR_STORAGE_BUFFER
        size.descriptorCount = 3 * nslots
        dpi = ffi.new("VkDescriptorPoolCreateInfo*")
        dpi.sType = vk.VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO
        dpi.maxSets = nslots
        dpi.poolSizeCount = 1
        dpi.pPoolSizes = size
        p = ffi.new("VkDescriptorPool*")
        _api.check(lib.vkCreateDescriptorPool(dev, dpi, ffi.NULL, p), "vkCreateDescriptorPool")
        self._dpool = p[0]

        cpci = ffi.new("VkCommandPoolCreateInfo*")
        cpci.sType = vk.VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO
        cpci.flags = vk.VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT
        cpci.queueFamilyIndex = self._ctx.queue_family_index
        p = ffi.new("VkCommandPool*")
        _api.check(lib.vkCreateCommandPool(dev, cpci, ffi.NULL, p), "vkCreateCommandPool")
        self._cpool = p[0]

        dsai = ffi.new("VkDescriptorSetAllocateInfo*")
        dsai.sType = vk.VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO
        dsai.descriptorPool = self._dpool
        dsai.descriptorSetCount = nslots
        set_layouts = ffi.new("VkDescriptorSetLayout[]", [self._dsl] * nslots)  # kept alive
        dsai.pSetLayouts = set_layouts
        sets = ffi.new("VkDescriptorSet[]", nslots)
        _api.check(lib.vkAllocateDescriptorSets(dev, dsai, sets), "vkAllocateDescriptorSets")
        cbai = ffi.new("VkCommandBufferAllocateInfo*")
        cbai.sType = vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO
        cbai.commandPool = self._cpool
        cbai.level = vk.VK_COMMAND_BUFFER_LEVEL_PRIMARY
        cbai.commandBufferCount = nslots
        cmds = ffi.new("VkCommandBuffer[]", nslots)
        _api.check(lib.vkAllocateCommandBuffers(dev, cbai, cmds), "vkAllocateCommandBuffers")
        fci = ffi.new("VkFenceCreateInfo*")
        fci.sType = vk.VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
        for i in range(nslots):
            p = ffi.new("VkFence*")
            _api.check(lib.vkCreateFence(dev, fci, ffi.NULL, p), "vkCreateFence")
            self._slots.append(_Slot(cmds[i], p[0], sets[i]))

        # Structures reused by every dispatch.
        self._infos = ffi.new("VkDescriptorBufferInfo[]", 3)
        self._writes = ffi.new("VkWriteDescriptorSet[]", 3)
        for i in range(3):
            w = self._writes[i]
            w.sType = vk.VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET
            w.dstBinding = i
            w.descriptorCount = 1
            w.descriptorType = _DESCRIPTOR_STORAGE_BUFFER
            w.pBufferInfo = self._infos + i
        self._begin = ffi.new("VkCommandBufferBeginInfo*")
        self._begin.sType = vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO
        self._begin.flags = vk.VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT
        self._submit = ffi.new("VkSubmitInfo*")
        self._submit.sType = vk.VK_STRUCTURE_TYPE_SUBMIT_INFO
        self._submit.commandBufferCount = 1
        self._pcmd = ffi.new("VkCommandBuffer[1]")
        self._submit.pCommandBuffers = self._pcmd
        self._pset = ffi.new("VkDescriptorSet[1]")
        self._push = ffi.new("uint32_t[2]")
        self._pfence = ffi.new("VkFence[1]")
        self._mb = ffi.new("VkMemoryBarrier*")
        self._mb.sType = vk.VK_STRUCTURE_TYPE_MEMORY_BARRIER

    # -- dispatch ----------------------------------------------------------------------------
    def _barrier(self, cmd: Any, src_stage: int, src: int, dst_stage: int, dst: int) -> None:
        if self._omit:
            return
        self._mb.srcAccessMask = src
        self._mb.dstAccessMask = dst
        self.lib.vkCmdPipelineBarrier(cmd, src_stage, dst_stage, 0, 1, self._mb, 0,
                                      self.ffi.NULL, 0, self.ffi.NULL)

    def _wait(self, slot: _Slot) -> None:
        if not slot.pending:
            return
        timeout = self._gpu.config.fence_timeout_s
        pf = self._pfence
        pf[0] = slot.fence
        result = self.lib.vkWaitForFences(self._device, 1, pf, 1, int(timeout * _NS))
        if result == _api.VK_TIMEOUT:
            raise GpuTimeoutError(
                f"a compute dispatch has not finished after {timeout} s; raise "
                "GpuConfig.fence_timeout_s", code="FA416")
        _api.check(result, "vkWaitForFences")
        _api.check(self.lib.vkResetFences(self._device, 1, pf), "vkResetFences")
        slot.pending = False

    def _prologue(self, cmd: Any) -> None:
        """Commands recorded before the first barrier (none; tests record copies here)."""

    def _epilogue(self, cmd: Any) -> None:
        """Commands recorded after the last barrier (none; tests record copies here)."""

    def dispatch(self, particles: GpuAllocation, forces: GpuAllocation, died: GpuAllocation,
                 n: int, steps: int = 1, dt: float = DT) -> None:
        """Record and submit ``steps`` updates of ``n`` particles on three storage ranges.

        ``particles`` (``n`` PARTICLE records, read and written), ``forces`` (``n`` x 3
        float32, read), ``died`` (``n`` uint32, written): allocations of ``gpu`` with STORAGE
        usage, e.g. DEVICE_LOCAL frame allocations. Ordered after everything submitted earlier
        on the queue (``gpu.submit()`` your uploads first) and before later copies; does not
        wait (``gpu.readback`` does). Inside a frame, the frame's fence covers it.
        """
        with self._lock:
            self._dispatch(particles, forces, died, n, steps, dt)

    def _dispatch(self, particles: GpuAllocation, forces: GpuAllocation, died: GpuAllocation,
                  n: int, steps: int, dt: float) -> None:
        self._check_open()
        n, steps = int(n), int(steps)
        if steps < 1:
            raise GpuSizeError(f"steps must be at least 1, got {steps}", code="FA401")
        groups = -(-n // WORKGROUP)
        most = min(self.max_groups * WORKGROUP, self.max_range // PARTICLE.itemsize)
        if not 1 <= n <= most:
            raise GpuSizeError(
                f"{n} particles: the pass takes 1 to {most} on this device "
                f"(maxComputeWorkGroupCount[0] = {self.max_groups} groups of {WORKGROUP}, "
                f"maxStorageBufferRange = {self.max_range} bytes); split the particles",
                code="FA401")
        ranges = []
        for alloc, need, what in ((particles, n * PARTICLE.itemsize, "particles"),
                                  (forces, n * 12, "forces"), (died, n * 4, "died")):
            # FA412 unless a live range of this allocator with STORAGE usage (so aligned to
            # minStorageBufferOffsetAlignment); FA409 when stale.
            self._gpu._transfer_target(alloc, f"{what} range", BufferUsage.STORAGE)
            buf, off, size = alloc.descriptor()
            if size < need:
                raise GpuTransferError(f"the {what} allocation has {size} bytes; {n} particles "
                                       f"need {need}", code="FA412")
            ranges.append((buf, off, need))
        ffi, lib = self.ffi, self.lib
        slot = self._slots[self._next]
        self._wait(slot)                     # the set and buffer of this slot are free again
        for i, (buf, off, size) in enumerate(ranges):
            info = self._infos[i]
            info.buffer = buf
            info.offset = off
            info.range = size
            self._writes[i].dstSet = slot.dset
        lib.vkUpdateDescriptorSets(self._device, 3, self._writes, 0, ffi.NULL)
        cmd = slot.cmd
        _api.check(lib.vkBeginCommandBuffer(cmd, self._begin), "vkBeginCommandBuffer")
        self._prologue(cmd)
        # The uploads (transfer writes) before the shader reads and writes the buffers.
        self._barrier(cmd, _STAGE_TRANSFER, _ACCESS_TRANSFER_WRITE, _STAGE_COMPUTE,
                      _ACCESS_SHADER_READ | _ACCESS_SHADER_WRITE)
        lib.vkCmdBindPipeline(cmd, _BIND_POINT_COMPUTE, self._pipeline)
        self._pset[0] = slot.dset
        lib.vkCmdBindDescriptorSets(cmd, _BIND_POINT_COMPUTE, self._layout, 0, 1, self._pset,
                                    0, ffi.NULL)
        self._push[0] = n
        self._push[1] = int(np.float32(dt).view(np.uint32))
        lib.vkCmdPushConstants(cmd, self._layout, _SHADER_STAGE_COMPUTE, 0, 8, self._push)
        for s in range(steps):
            if s:   # each step reads what the one before wrote
                self._barrier(cmd, _STAGE_COMPUTE, _ACCESS_SHADER_WRITE, _STAGE_COMPUTE,
                              _ACCESS_SHADER_READ | _ACCESS_SHADER_WRITE)
            lib.vkCmdDispatch(cmd, groups, 1, 1)
        # The shader's writes before the readback copies (and later uploads) touch the buffers.
        self._barrier(cmd, _STAGE_COMPUTE, _ACCESS_SHADER_WRITE, _STAGE_TRANSFER,
                      _ACCESS_TRANSFER_READ | _ACCESS_TRANSFER_WRITE)
        self._epilogue(cmd)
        _api.check(lib.vkEndCommandBuffer(cmd), "vkEndCommandBuffer")
        self._pcmd[0] = cmd
        _api.check(lib.vkQueueSubmit(self._queue, 1, self._submit, slot.fence), "vkQueueSubmit")
        slot.pending = True
        self._next = (self._next + 1) % len(self._slots)
        self.dispatches += 1

    def step(self, particles: np.ndarray, forces: np.ndarray,
             steps: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Upload, dispatch ``steps`` updates, read back: ``(particles, died)`` as new arrays.

        Call inside ``gpu.frame()`` (FA411 otherwise): the buffers are frame allocations.
        ``particles``: ``n`` records of :data:`PARTICLE`; ``forces``: ``(n, 3)`` float32.
        Bad inputs raise FA412 before anything is allocated.
        """
        with self._lock:
            return self._step(particles, forces, steps)

    def _step(self, particles: np.ndarray, forces: np.ndarray,
              steps: int) -> tuple[np.ndarray, np.ndarray]:
        self._check_open()
        gpu = self._gpu
        parts = np.asarray(particles)
        f = np.asarray(forces)
        n = len(parts) if parts.ndim else 0
        if parts.dtype != PARTICLE or parts.ndim != 1:
            raise GpuTransferError(f"particles must be a 1-D array of {PARTICLE}, got "
                                   f"{parts.dtype} with shape {parts.shape}", code="FA412")
        if f.dtype != np.float32 or f.shape != (n, 3):
            raise GpuTransferError(f"forces must be float32 with shape ({n}, 3), got {f.dtype} "
                                   f"with shape {f.shape}", code="FA412")
        if not gpu.in_frame:
            raise GpuFrameStateError("ParticlePass.step uses frame allocations: call it inside "
                                     "gpu.frame() (or between begin_frame and end_frame)",
                                     code="FA411")
        if n == 0:
            return parts.copy(), np.zeros(0, np.uint32)
        local = GpuMemoryIntent.DEVICE_LOCAL
        usage = BufferUsage(_USAGE)
        p = gpu.allocate_frame(n * PARTICLE.itemsize, local, usage, name="particles")
        fo = gpu.allocate_frame(n * 12, local, usage, name="forces")
        d = gpu.allocate_frame(n * 4, local, usage, name="died")
        gpu.upload(p, parts)
        gpu.upload(fo, f)
        gpu.submit()                      # the copies go before the dispatch on the queue
        self._dispatch(p, fo, d, n, steps, DT)
        out = gpu.readback(p, PARTICLE, n)
        died = gpu.readback(d, np.uint32, n)
        return out, died

    # -- teardown ----------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise GpuDeviceError("the ParticlePass is closed", code="FA413")
        if self._gpu.closed:
            raise GpuDeviceError("the allocator of this ParticlePass is closed; close the pass",
                                 code="FA413")

    def close(self) -> None:
        """Wait for its dispatches, destroy every Vulkan object it created. Idempotent."""
        lock = getattr(self, "_lock", None)
        if lock is None:                    # __init__ failed before the lock existed
            self._destroy()
            return
        with lock:
            self._destroy()

    def _destroy(self) -> None:
        if self._closed:
            return
        self._closed = True
        ffi, lib, dev = self.ffi, self.lib, self._device
        for slot in self._slots:
            if slot.pending:
                pf = self._pfence
                pf[0] = slot.fence
                lib.vkWaitForFences(dev, 1, pf, 1, 60 * _NS)
            lib.vkDestroyFence(dev, slot.fence, ffi.NULL)
        self._slots = []
        if self._cpool is not None:
            lib.vkDestroyCommandPool(dev, self._cpool, ffi.NULL)    # frees its command buffers
        if self._dpool is not None:
            lib.vkDestroyDescriptorPool(dev, self._dpool, ffi.NULL)  # frees its sets
        if self._pipeline is not None:
            lib.vkDestroyPipeline(dev, self._pipeline, ffi.NULL)
        if self._layout is not None:
            lib.vkDestroyPipelineLayout(dev, self._layout, ffi.NULL)
        if self._dsl is not None:
            lib.vkDestroyDescriptorSetLayout(dev, self._dsl, ffi.NULL)
        if self._module is not None:
            lib.vkDestroyShaderModule(dev, self._module, ffi.NULL)
        self._cpool = self._dpool = self._pipeline = self._layout = self._dsl = None
        self._module = None
        if self._retained:
            self._retained = False
            self._ctx._block_destroyed()     # the device may now be destroyed

    def __enter__(self) -> ParticlePass:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass

    def __repr__(self) -> str:
        return f"<ParticlePass {'closed' if self._closed else 'open'}>"


# -- the demo ------------------------------------------------------------------------------------
@dataclass
class DemoRun:
    """Per-frame wall times (seconds) of the GPU pass and of the CPU ``@njit`` version, the
    largest difference between their particles after each frame and how many particles were
    skipped for being at a branch edge (see :func:`cpu_step`)."""

    particles: int
    device: str
    gpu_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    max_diff: list[float] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)     # particles at a branch edge

    def median_ms(self, which: str) -> float:
        t = self.gpu_s if which == "gpu" else self.cpu_s
        return float(np.median(t[len(t) // 2:])) * 1e3 if t else float("nan")

    @property
    def ok(self) -> bool:
        return bool(self.max_diff) and max(self.max_diff) <= 1e-4


def demo_forces(parts: np.ndarray) -> np.ndarray:
    """The fountain's forces without its neighbour grid: gravity and a pull to the axis."""
    f = np.empty((len(parts), 3), np.float32)
    f[:, 0] = -0.3 * parts["pos"][:, 0]
    f[:, 1] = -9.8
    f[:, 2] = -0.3 * parts["pos"][:, 2]
    return f


def run_demo(frames: int = 60, particles: int = 100_000, steps: int = 1,
             out: TextIO | None = None, gpu: GpuAllocator | None = None) -> DemoRun:
    """Run the particle update on the GPU and on the CPU side by side for ``frames`` frames.

    Each frame: the forces, the GPU step (upload, dispatch, readback) and the CPU ``@njit``
    step from the same particles, timed separately; then the largest difference of positions,
    velocities and lives (skipping the particles that end the frame within :data:`EDGE` of the
    floor or of death, where rounding may pick the other branch). The GPU's particles carry on
    to the next frame. Prints one line per frame to ``out``.
    """
    own = gpu is None
    if gpu is None:
        gpu = GpuAllocator.vulkan()
    try:
        with ParticlePass(gpu) as pp:
            run = DemoRun(particles, gpu.device_info().name)
            g = particles_like_demo(particles)
            cpu_step(g.copy(), demo_forces(g), steps)     # compile (or load) the kernel
            for frame in range(frames):
                forces = demo_forces(g)
                c = g.copy()                              # the CPU steps from the same state
                again = g.copy()
                t0 = time.perf_counter()
                with gpu.frame():
                    g, _ = pp.step(g, forces, steps)
                t1 = time.perf_counter()
                cpu_step(c, forces, steps)
                t2 = time.perf_counter()
                edge = np.zeros(particles, np.bool_)      # untimed: which particles to skip
                cpu_step(again, forces, steps, edge)
                diff = max_difference(g, c, edge)
                run.gpu_s.append(t1 - t0)
                run.cpu_s.append(t2 - t1)
                run.max_diff.append(diff)
                run.skipped.append(int(edge.sum()))
                if out is not None:
                    print(f"frame {frame:4d}  gpu {1e3 * (t1 - t0):8.3f} ms  "
                          f"cpu @njit {1e3 * (t2 - t1):8.3f} ms  max |gpu - cpu| {diff:.2e}"
                          + (f" ({run.skipped[-1]} at an edge skipped)" if run.skipped[-1] else ""),
                          file=out)
            if out is not None:
                print(f"{run.device}: {particles} particles, median per frame (second half): "
                      f"gpu {run.median_ms('gpu'):.3f} ms (upload + dispatch + readback), "
                      f"cpu @njit {run.median_ms('cpu'):.3f} ms; largest difference "
                      f"{max(run.max_diff, default=0.0):.2e} "
                      f"({'ok' if run.ok else 'TOO LARGE'})", file=out)
            return run
    finally:
        if own:
            gpu.close()
