"""GPU tests (Vulkan on lavapipe with validation, and the null backend)."""
