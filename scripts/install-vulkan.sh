#!/usr/bin/env bash
# Install what the GPU tests need: the Vulkan loader, Mesa's CPU Vulkan driver (lavapipe), the
# Khronos validation layer and glslang-tools (glslangValidator compiles the compute pass's GLSL
# shader to SPIR-V at first use); and Xvfb, the virtual X server the demo's --window test draws in.
# Idempotent: does nothing when the packages are already installed.
#
# * root on Debian/Ubuntu with packages missing: `apt-get update` then `apt-get install -y ...`
# * not root, or not a Debian-like system: print what to install and exit 0, so a test command
#   that calls this script carries on (GPU tests then skip with a clear reason outside CI).
set -u

# xvfb: the X display of the demo's --window test; chromium: the headless browser that renders
# the HTML report in tests/diagnostics/test_report.py.
PACKAGES=(libvulkan1 mesa-vulkan-drivers vulkan-validationlayers glslang-tools xvfb chromium)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for pkg in "${PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        if [ "$status" != "install ok installed" ]; then
            missing+=("$pkg")
        fi
    done
else
    echo "install-vulkan: not a Debian-like system (no dpkg-query)."
    echo "install-vulkan: install a Vulkan loader, a Vulkan driver (Mesa lavapipe works without a GPU)"
    echo "install-vulkan: and the Khronos validation layer with your package manager."
    exit 0
fi

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-vulkan: already installed: ${PACKAGES[*]}"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-vulkan: not root; please install: ${missing[*]}"
    echo "install-vulkan:   sudo apt-get install -y ${missing[*]}"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y "${missing[@]}"
