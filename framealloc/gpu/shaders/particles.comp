// The fountain's particle update (framealloc/_demo_kernels.py: integrate) as a compute shader.
//
// One invocation per particle. The particles are the demo's PARTICLE records exactly as NumPy
// stores them (pos f4[3], vel f4[3], life f4: 7 packed floats, 28 bytes), so a structured
// array is uploaded and read back as it is.
//
// Compiled to SPIR-V by glslangValidator -V (Debian: glslang-tools) at first use; see
// framealloc/gpu/vk/compute.py.
#version 450

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) buffer Particles { float p[]; };
layout(std430, set = 0, binding = 1) readonly buffer Forces { float f[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Died { uint died[]; };

layout(push_constant) uniform Params {
    uint n;      // particles
    float dt;    // time step (the demo's DT = 1/60)
} pc;

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= pc.n) {
        return;      // the last workgroup's invocations past the end
    }
    uint b = 7u * i;
    for (uint c = 0u; c < 3u; ++c) {
        precise float v = p[b + 3u + c] + f[3u * i + c] * pc.dt;
        p[b + 3u + c] = v;
        p[b + c] = p[b + c] + v * pc.dt;
    }
    if (p[b + 1u] < 0.0) {               // bounce on the floor
        p[b + 1u] = -p[b + 1u];
        p[b + 4u] = -0.6 * p[b + 4u];
    }
    precise float life = p[b + 6u] - pc.dt;
    p[b + 6u] = life;
    died[i] = life <= 0.0 ? 1u : 0u;
}
