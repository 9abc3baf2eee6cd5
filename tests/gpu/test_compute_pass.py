"""The compute pass on frame buffers (framealloc.gpu.vk.compute): the particle update as a
Vulkan compute shader, against the CPU @njit version, validation-clean (synchronization
validation on, leak report at vkDestroyDevice), with negative controls."""
from __future__ import annotations

import doctest
import gc
import io
import os
import pathlib
import re

import numpy as np
import pytest

from framealloc.gpu import GpuAllocator, GpuError, GpuMemoryIntent as Intent

pytestmark = pytest.mark.gpu

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def C():
    try:
        from framealloc.gpu.vk import compute
        compute.compile_shader()
    except GpuError as e:  # pragma: no cover - depends on the machine
        pytest.skip(f"compute pass unavailable: {e}")
    return compute


def _state(C, n: int, seed: int) -> np.ndarray:
    """Particles near the floor with little life left: bounces and deaths within a few frames."""
    rng = np.random.default_rng(seed)
    p = np.zeros(n, C.PARTICLE)
    p["pos"] = rng.uniform(-1.0, 1.0, (n, 3))
    p["pos"][:, 1] = rng.uniform(-0.01, 0.05, n)
    p["vel"] = rng.normal(0.0, 1.0, (n, 3))
    p["life"] = rng.uniform(-0.02, 0.1, n)
    return p


def _assert_close(C, gpu_p, cpu_p, gpu_died, cpu_died, edge):
    """Equal within float32 tolerance, except particles that a step left within C.EDGE of the
    floor or of death (rounding may take the other branch there; there are few)."""
    assert edge.sum() <= max(2, len(edge) // 100)
    keep = ~edge
    for k in ("pos", "vel", "life"):
        np.testing.assert_allclose(gpu_p[k][keep], cpu_p[k][keep], rtol=1e-5, atol=1e-5,
                                   err_msg=k)
    assert C.max_difference(gpu_p, cpu_p, edge) <= 1e-4
    assert np.array_equal(gpu_died[keep], cpu_died[keep])


@pytest.mark.parametrize("n", [1, 63, 64, 65, 1000, 4099])
@pytest.mark.parametrize("steps", [1, 3])
def test_gpu_equals_cpu_njit_over_frames(vk_gpu, C, n, steps):
    """Each frame the GPU steps its own particles (uploaded from the last readback) and the
    CPU @njit version steps the same input; the frame ring recycles the buffers meanwhile."""
    rng = np.random.default_rng(n)
    g = _state(C, n, seed=n)
    deaths = bounces = 0
    with C.ParticlePass(vk_gpu) as pp:
        for _ in range(4):
            forces = rng.normal(0.0, 5.0, (n, 3)).astype(np.float32)
            forces[:, 1] -= 9.8
            c = g.copy()
            before = c["vel"][:, 1].copy()
            with vk_gpu.frame():
                g, died_g = pp.step(g, forces, steps)
            edge = np.zeros(n, np.bool_)
            died_c = C.cpu_step(c, forces, steps, edge)
            _assert_close(C, g, c, died_g, died_c, edge)
            deaths += int(died_c.sum())
            bounces += int(((before < 0) & (c["vel"][:, 1] > 0)).sum())
        assert pp.dispatches == 4
    if n >= 1000:   # the test reaches both branches of the shader
        assert deaths and bounces


def test_pipeline_objects_are_made_once(vk_gpu, C):
    with C.ParticlePass(vk_gpu) as pp:
        handles = (pp._module, pp._dsl, pp._layout, pp._pipeline, pp._dpool, pp._cpool,
                   [(s.cmd, s.fence, s.dset) for s in pp._slots])
        assert len(pp._slots) == vk_gpu.frames_in_flight
        p = C.particles_like_demo(300)
        for _ in range(5):
            with vk_gpu.frame():
                p, _ = pp.step(p, C.demo_forces(p))
        assert (pp._module, pp._dsl, pp._layout, pp._pipeline, pp._dpool, pp._cpool,
                [(s.cmd, s.fence, s.dset) for s in pp._slots]) == handles
    assert pp.closed and pp._pipeline is None
    pp.close()                                  # idempotent


def test_dispatch_on_frame_ranges_several_frames_in_flight(vk_gpu, C):
    """Lower level: dispatches on frame allocations without a readback per frame."""
    n = 500
    p0 = C.particles_like_demo(n)
    f = C.demo_forces(p0)
    ref = p0.copy()
    with C.ParticlePass(vk_gpu) as pp:
        for frame in range(4):
            vk_gpu.begin_frame()
            a = vk_gpu.allocate_frame(n * 28, Intent.DEVICE_LOCAL)
            b = vk_gpu.allocate_frame(n * 12, Intent.DEVICE_LOCAL)
            d = vk_gpu.allocate_frame(n * 4, Intent.DEVICE_LOCAL)
            vk_gpu.upload(a, p0)
            vk_gpu.upload(b, f)
            vk_gpu.submit()
            pp.dispatch(a, b, d, n, steps=frame + 1)
            if frame == 3:
                out = vk_gpu.readback(a, C.PARTICLE, n)
            vk_gpu.end_frame()
    edge = np.zeros(n, np.bool_)
    C.cpu_step(ref, f, 4, edge)
    _assert_close(C, out, ref, np.zeros(n), np.zeros(n), edge)


def test_pass_keeps_the_device_until_closed(vk_context, C):
    gpu = GpuAllocator.vulkan(context=vk_context)
    pp = C.ParticlePass(gpu)
    gpu.close()
    with pytest.raises(GpuError) as e:
        pp.step(C.particles_like_demo(4), np.zeros((4, 3), np.float32))
    assert e.value.code == "FA413"
    vk_context.close()
    assert not vk_context.destroyed                 # the pass still holds pipeline objects
    pp.close()
    assert vk_context.destroyed


def test_errors_change_nothing(vk_gpu, C):
    other = GpuAllocator.null()
    foreign = other.allocate_persistent(64, Intent.DEVICE_LOCAL)
    with C.ParticlePass(vk_gpu) as pp:
        p = C.particles_like_demo(10)
        f = np.zeros((10, 3), np.float32)
        cases = [
            ("FA411", lambda: pp.step(p, f)),                             # outside a frame
        ]
        for code, call in cases:
            with pytest.raises(GpuError) as e:
                call()
            assert e.value.code == code
        with vk_gpu.frame():
            before = vk_gpu.stats().current
            bad = [
                ("FA412", lambda: pp.step(np.zeros(10, [("x", "f8")]), f)),  # not PARTICLE
                ("FA412", lambda: pp.step(p, f[:5])),                     # wrong shape
                ("FA412", lambda: pp.step(p, f.astype(np.float64))),      # wrong dtype
                ("FA401", lambda: pp.dispatch(*[vk_gpu.allocate_frame(64, Intent.DEVICE_LOCAL)]
                                              * 3, 1, steps=0)),
                ("FA401", lambda: pp.dispatch(*[vk_gpu.allocate_frame(64, Intent.DEVICE_LOCAL)]
                                              * 3, pp.max_groups * C.WORKGROUP + 1)),
                ("FA412", lambda: pp.dispatch(*[vk_gpu.allocate_frame(64, Intent.DEVICE_LOCAL)]
                                              * 3, 10)),                  # ranges too small
                ("FA412", lambda: pp.dispatch(*[vk_gpu.allocate_frame(64, Intent.STAGING)]
                                              * 3, 1)),                   # not STORAGE usage
                ("FA412", lambda: pp.dispatch(*[foreign] * 3, 1)),        # another allocator
                ("FA412", lambda: pp.dispatch(*[np.zeros(64, np.uint8)] * 3, 1)),
            ]
            for code, call in bad:
                dispatches = pp.dispatches
                with pytest.raises(GpuError) as e:
                    call()
                assert e.value.code == code, e.value
                assert pp.dispatches == dispatches
            assert vk_gpu.stats().current - before <= 4 * 64   # only the test's own ranges
            out, died = pp.step(p[:0], f[:0])                  # zero particles: nothing to do
            assert out.shape == (0,) and died.shape == (0,)
    with pytest.raises(GpuError) as e:
        pp.step(p, f)
    assert e.value.code == "FA413"                             # closed
    other.close()


def test_needs_a_vulkan_allocator(C):
    with GpuAllocator.null() as gpu:
        with pytest.raises(GpuError) as e:
            C.ParticlePass(gpu)
    assert e.value.code == "FA414"


# -- negative controls: the validation layer does see what these tests assert absent ---------
def _hazard_pass(C, gpu, *, omit: bool, where: str):
    """A pass that also records, in its own command buffer, a copy that writes the particles
    range before the first barrier (``where="before"``) or reads it after the last one."""
    scratch = gpu.allocate_persistent(64 * 28, Intent.DEVICE_LOCAL)

    class Hazard(C.ParticlePass):
        target = None

        def _copy(self, cmd, into_particles):
            r = self.ffi.new("VkBufferCopy*")
            buf, off, _ = self.target.descriptor()
            sbuf, soff, _ = scratch.descriptor()
            r.srcOffset, r.dstOffset, r.size = (soff, off, 64) if into_particles else (off, soff,
                                                                                       64)
            src, dst = (sbuf, buf) if into_particles else (buf, sbuf)
            self.lib.vkCmdCopyBuffer(cmd, src, dst, 1, r)

        def _prologue(self, cmd):
            if where == "before":
                self._copy(cmd, True)

        def _epilogue(self, cmd):
            if where == "after":
                self._copy(cmd, False)

    return Hazard(gpu, _omit_barriers=omit), scratch


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize("omit", [False, True])
def test_sync_validation_sees_missing_barriers(vulkan_instance, C, omit, where):
    parent, log = vulkan_instance
    assert not log.take()
    ctx = parent.new_device()
    gpu = GpuAllocator.vulkan(context=ctx)
    pp, scratch = _hazard_pass(C, gpu, omit=omit, where=where)
    try:
        with gpu.frame():
            a = gpu.allocate_frame(64 * 28, Intent.DEVICE_LOCAL)
            b = gpu.allocate_frame(64 * 12, Intent.DEVICE_LOCAL)
            d = gpu.allocate_frame(64 * 4, Intent.DEVICE_LOCAL)
            pp.target = a
            pp.dispatch(a, b, d, 64)
    finally:
        pp.close()
        scratch.free()
        gpu.close()
        gc.collect()
        ctx.close()
    names = {m.id_name for m in log.take()}
    if omit:
        expected = "SYNC-HAZARD-WRITE-AFTER-WRITE" if where == "before" \
            else "SYNC-HAZARD-READ-AFTER-WRITE"
        assert expected in names, names
    else:
        assert not names, names


def test_leak_report_sees_an_unclosed_pass(vulkan_instance, C):
    """If the pass's objects outlived the device, the layer would say so at vkDestroyDevice:
    the leak check of every test (vk_context) can fail."""
    parent, log = vulkan_instance
    assert not log.take()
    ctx = parent.new_device()
    gpu = GpuAllocator.vulkan(context=ctx)
    pp = C.ParticlePass(gpu)
    gpu.close()
    pp._retained = False              # forget the pass's hold on the device...
    ctx._block_destroyed()
    ctx.close()                       # ...so the device is destroyed under it
    assert ctx.destroyed
    pp._closed = True                 # its handles died with the device
    messages = log.take()
    assert any("VUID-vkDestroyDevice-device-00378" in m.id_name for m in messages), \
        [m.id_name for m in messages]
    leaked = " ".join(m.message for m in messages)
    for kind in ("VkPipeline", "VkShaderModule", "VkCommandPool", "VkDescriptorPool", "VkFence"):
        assert kind in leaked, kind


# -- the shader compiler -------------------------------------------------------------------------
def test_shader_is_compiled_once_into_the_cache(C, tmp_path):
    spirv = C.compile_shader(cache_dir=tmp_path)
    assert spirv[:4] == b"\x03\x02\x23\x07"                  # SPIR-V magic, little endian
    files = list(tmp_path.glob("particles-*.spv"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    assert C.compile_shader(cache_dir=tmp_path) == spirv
    assert files[0].stat().st_mtime_ns == stamp
    edited = tmp_path / "particles.comp"
    edited.write_text(C.shader_source().replace("0.6 *", "0.5 *"))
    other = C.compile_shader(edited, cache_dir=tmp_path)
    assert other != spirv and len(list(tmp_path.glob("particles-*.spv"))) == 2


def test_shader_errors_say_what_to_do(C, tmp_path, monkeypatch):
    broken = tmp_path / "broken.comp"
    broken.write_text("#version 450\nvoid main() { undefined_thing = 1; }\n")
    with pytest.raises(GpuError) as e:
        C.compile_shader(broken, cache_dir=tmp_path)
    assert e.value.code == "FA414" and "undefined_thing" in str(e.value)
    assert not list(tmp_path.glob("*.spv"))                  # nothing half-written is kept
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GpuError) as e:
        C.compile_shader(cache_dir=tmp_path)
    assert e.value.code == "FA414" and "glslang-tools" in str(e.value)


def test_cache_dir_follows_the_environment(C, tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMEALLOC_CACHE_DIR", str(tmp_path / "a"))
    assert C._cache_dir() == tmp_path / "a"
    monkeypatch.delenv("FRAMEALLOC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert C._cache_dir() == tmp_path / "x" / "framealloc"


# -- the demo and the docs -----------------------------------------------------------------------
def test_demo_gpu_flag_runs_the_pass(C, capsys):
    from framealloc import demo
    assert demo.main(["--gpu", "--frames", "3", "--particles", "1000"]) == 0
    out = capsys.readouterr().out
    assert len(re.findall(r"^frame +\d+ +gpu .* max \|gpu - cpu\| ", out, re.M)) == 3
    assert "median per frame" in out and "(ok)" in out


def test_run_demo_measures_and_compares(C):
    buf = io.StringIO()
    run = C.run_demo(frames=4, particles=130, steps=2, out=buf)
    assert run.ok and len(run.gpu_s) == len(run.cpu_s) == len(run.max_diff) == 4
    assert all(t > 0 for t in run.gpu_s + run.cpu_s)


def test_docs_section_runs_on_vulkan(C):
    """docs/gpu.md's compute-pass section is marked +SKIP for the null-backend doc run; here
    its examples run on Vulkan."""
    text = (ROOT / "docs" / "gpu.md").read_text()
    start = text.index("## A compute pass on frame buffers")
    end = text.index("\n## ", start + 1)
    section = text[start:end].replace("# doctest: +SKIP", "")
    parser = doctest.DocTestParser()
    test = parser.get_doctest(section, {}, "gpu.md#compute", "docs/gpu.md", 0)
    assert len(test.examples) >= 5
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0


def test_shader_ships_with_the_package():
    text = (ROOT / "pyproject.toml").read_text()
    assert '"gpu/shaders/*.comp"' in text
    assert (ROOT / "framealloc" / "gpu" / "shaders" / "particles.comp").is_file()
    install = (ROOT / "scripts" / "install-vulkan.sh").read_text()
    assert "glslang-tools" in install
    assert os.access(ROOT / "scripts" / "install-vulkan.sh", os.X_OK)
