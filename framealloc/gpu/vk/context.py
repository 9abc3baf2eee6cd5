"""VulkanContext: a Vulkan instance, physical device, device and queue, created or adopted.

>>> from framealloc.gpu.vk import VulkanContext
>>> with VulkanContext() as ctx:                       # doctest: +SKIP
...     print(ctx.device_name, ctx.queue_family_index)
llvmpipe (LLVM 15.0.6, 256 bits) 0

Create one (optionally with the Khronos validation layer and a debug callback), or wrap the
handles of an existing renderer with :meth:`VulkanContext.adopt` (they are then never destroyed
by framealloc). All calls go through ``vulkan.lib`` (the raw cffi functions) with structures
built by hand, which is an order of magnitude cheaper than the package's wrapper functions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..errors import GpuUnavailableError
from . import _api

__all__ = ["VulkanContext", "DebugMessage", "SEVERITY_WARNING", "SEVERITY_ERROR"]

SEVERITY_VERBOSE = 0x1
SEVERITY_INFO = 0x10
SEVERITY_WARNING = 0x100
SEVERITY_ERROR = 0x1000
_TYPE_ALL = 0x1 | 0x2 | 0x4   # general | validation | performance

_VALIDATION_LAYER = "VK_LAYER_KHRONOS_validation"
_DEVICE_TYPE_NAMES = {0: "other", 1: "integrated", 2: "discrete", 3: "virtual", 4: "cpu"}
_DEVICE_TYPE_RANK = {2: 0, 1: 1, 3: 2, 4: 3, 0: 4}   # discrete first, CPU devices last
_QUEUE_GRAPHICS, _QUEUE_COMPUTE, _QUEUE_TRANSFER = 0x1, 0x2, 0x4


@dataclass(frozen=True)
class DebugMessage:
    """One message of the debug-utils messenger (validation layer output)."""

    severity: int
    types: int
    id_name: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity >= SEVERITY_ERROR

    @property
    def is_warning_or_error(self) -> bool:
        return self.severity >= SEVERITY_WARNING


def _version_str(v: int) -> str:
    return f"{v >> 22}.{(v >> 12) & 0x3FF}.{v & 0xFFF}"


def _make_version(major: int, minor: int, patch: int = 0) -> int:
    return (major << 22) | (minor << 12) | patch


class VulkanContext:
    """Owns (or borrows) the Vulkan objects the backend needs.

    Parameters (all optional):

    * ``validation``: enable ``VK_LAYER_KHRONOS_validation`` and a debug-utils messenger.
    * ``sync_validation``: also enable the layer's synchronization validation.
    * ``debug_callback``: called with each :class:`DebugMessage` of severity >= ``min_severity``
      (default warning). Keep one Python debug callback per process: that is what the
      ``vulkan`` package's cffi callbacks handle reliably.
    * ``device_index``: pick a physical device by index; by default the first discrete GPU,
      then integrated, virtual, then CPU devices.
    * ``timeline_semaphores``: enable the Vulkan 1.2 ``timelineSemaphore`` feature.

    Raises :class:`~framealloc.gpu.GpuUnavailableError` (FA414) when Vulkan, the device or a
    requested layer is missing.
    """

    def __init__(self, *, validation: bool = False, sync_validation: bool = False,
                 debug_callback: Callable[[DebugMessage], None] | None = None,
                 min_severity: int = SEVERITY_WARNING, device_index: int | None = None,
                 timeline_semaphores: bool = False, application_name: str = "framealloc",
                 instance_extensions: Sequence[str] = (),
                 device_extensions: Sequence[str] = ()) -> None:
        vk = _api.load()
        self._vk = vk
        self.ffi = vk.ffi
        self.lib = vk.lib
        self.owns_handles = True
        self._closed = False
        self._destroyed = False
        self._close_pending = False
        self._live_blocks = 0
        self._open_children = 0
        self._parent: VulkanContext | None = None
        self.instance: Any = None
        self.device: Any = None
        self._messenger: Any = None
        self._callback: Any = None      # the cffi callback must outlive the messenger
        self._destroy_messenger: Any = None
        self._user_callback = debug_callback
        self._min_severity = min_severity
        self._keep: list[Any] = []       # cdata that must live as long as the handles
        try:
            self._create_instance(validation, sync_validation, application_name,
                                  list(instance_extensions))
            self._pick_physical_device(device_index)
            self._create_device(list(device_extensions), timeline_semaphores)
        except BaseException:
            self.close()
            raise

    @classmethod
    def adopt(cls, instance: Any, physical_device: Any, device: Any, queue: Any,
              queue_family_index: int, *, memory_budget: bool = False,
              timeline_semaphores: bool = False) -> VulkanContext:
        """Wrap handles created elsewhere (e.g. by your renderer, through the ``vulkan``
        package). framealloc never destroys them. Before you destroy the device, close the
        allocator and drop its host views (``gpu.deferred_blocks() == 0``), exactly as you
        would wait for any other user of the device. ``memory_budget``: VK_EXT_memory_budget
        was enabled on ``device``; ``timeline_semaphores``: that feature was enabled."""
        vk = _api.load()
        self = cls.__new__(cls)
        self._vk = vk
        self.ffi = vk.ffi
        self.lib = vk.lib
        self.owns_handles = False
        self._closed = False
        self._destroyed = False
        self._close_pending = False
        self._live_blocks = 0
        self._open_children = 0
        self._parent = None
        self._messenger = self._callback = self._destroy_messenger = None
        self._user_callback = None
        self._min_severity = SEVERITY_WARNING
        self._keep = []
        self.instance = instance
        self.physical_device = physical_device
        self.device = device
        self.queue = queue
        self.queue_family_index = int(queue_family_index)
        self.validation = False
        self.memory_budget = memory_budget
        self.timeline_semaphores = timeline_semaphores
        self._read_properties()
        return self

    # -- creation ---------------------------------------------------------------------------
    def _cstrings(self, names: Sequence[str]) -> Any:
        arr = [self.ffi.new("char[]", n.encode()) for n in names]
        self._keep.extend(arr)
        ptrs = self.ffi.new("char*[]", arr) if arr else self.ffi.NULL
        self._keep.append(ptrs)
        return ptrs

    def _instance_layers(self) -> set[str]:
        ffi, lib = self.ffi, self.lib
        count = ffi.new("uint32_t*")
        _api.check(lib.vkEnumerateInstanceLayerProperties(count, ffi.NULL),
                   "vkEnumerateInstanceLayerProperties", creating=True)
        props = ffi.new("VkLayerProperties[]", count[0])
        _api.check(lib.vkEnumerateInstanceLayerProperties(count, props),
                   "vkEnumerateInstanceLayerProperties", creating=True)
        return {ffi.string(props[i].layerName).decode() for i in range(count[0])}

    def _instance_extensions(self, layer: str | None = None) -> set[str]:
        ffi, lib = self.ffi, self.lib
        name = ffi.NULL if layer is None else ffi.new("char[]", layer.encode())
        count = ffi.new("uint32_t*")
        _api.check(lib.vkEnumerateInstanceExtensionProperties(name, count, ffi.NULL),
                   "vkEnumerateInstanceExtensionProperties", creating=True)
        props = ffi.new("VkExtensionProperties[]", count[0])
        _api.check(lib.vkEnumerateInstanceExtensionProperties(name, count, props),
                   "vkEnumerateInstanceExtensionProperties", creating=True)
        return {ffi.string(props[i].extensionName).decode() for i in range(count[0])}

    def _create_instance(self, validation: bool, sync_validation: bool, app_name: str,
                         extensions: list[str]) -> None:
        ffi, lib, vk = self.ffi, self.lib, self._vk
        version = ffi.new("uint32_t*")
        if lib.vkEnumerateInstanceVersion(version) != _api.VK_SUCCESS:
            version[0] = _make_version(1, 0)
        api = min(version[0], _make_version(1, 3))
        if api < _make_version(1, 1):
            raise GpuUnavailableError(
                f"the Vulkan loader only offers Vulkan {_version_str(api)}; framealloc needs 1.1 "
                "or newer (update libvulkan1)", code="FA414")
        self.api_version = api
        layers: list[str] = []
        debug = validation or self._user_callback is not None
        available_ext = self._instance_extensions()
        if validation:
            if _VALIDATION_LAYER not in self._instance_layers():
                raise GpuUnavailableError(
                    f"validation=True needs the layer {_VALIDATION_LAYER}; install "
                    "vulkan-validationlayers (scripts/install-vulkan.sh)", code="FA414")
            layers.append(_VALIDATION_LAYER)
            available_ext |= self._instance_extensions(_VALIDATION_LAYER)
        if debug:
            extensions.append("VK_EXT_debug_utils")
        if sync_validation:
            extensions.append("VK_EXT_validation_features")
        missing = [e for e in extensions if e not in available_ext]
        if missing:
            raise GpuUnavailableError(f"instance extensions not available: {missing}",
                                      code="FA414")
        self.validation = validation

        app = ffi.new("VkApplicationInfo*")
        app.sType = vk.VK_STRUCTURE_TYPE_APPLICATION_INFO
        app_name_c = ffi.new("char[]", app_name.encode())
        engine_c = ffi.new("char[]", b"framealloc")
        self._keep += [app_name_c, engine_c]
        app.pApplicationName = app_name_c
        app.pEngineName = engine_c
        app.apiVersion = api
        info = ffi.new("VkInstanceCreateInfo*")
        info.sType = vk.VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO
        info.pApplicationInfo = app
        info.enabledLayerCount = len(layers)
        info.ppEnabledLayerNames = self._cstrings(layers)
        info.enabledExtensionCount = len(extensions)
        info.ppEnabledExtensionNames = self._cstrings(extensions)
        chain = ffi.NULL
        msgr = None
        if debug:
            self._callback = ffi.callback("PFN_vkDebugUtilsMessengerCallbackEXT",
                                          self._on_debug_message)
            msgr = ffi.new("VkDebugUtilsMessengerCreateInfoEXT*")
            msgr.sType = vk.VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT
            msgr.messageSeverity = SEVERITY_WARNING | SEVERITY_ERROR | (
                SEVERITY_INFO if self._min_severity <= SEVERITY_INFO else 0) | (
                SEVERITY_VERBOSE if self._min_severity <= SEVERITY_VERBOSE else 0)
            msgr.messageType = _TYPE_ALL
            msgr.pfnUserCallback = self._callback
            self._keep.append(msgr)
            chain = msgr
        if sync_validation:
            enables = ffi.new("VkValidationFeatureEnableEXT[]",
                              [vk.VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT])
            feats = ffi.new("VkValidationFeaturesEXT*")
            feats.sType = vk.VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT
            feats.pNext = chain
            feats.enabledValidationFeatureCount = 1
            feats.pEnabledValidationFeatures = enables
            self._keep += [enables, feats]
            chain = feats
        info.pNext = chain
        p = ffi.new("VkInstance*")
        _api.check(lib.vkCreateInstance(info, ffi.NULL, p), "vkCreateInstance", creating=True)
        self.instance = p[0]
        if debug:
            create = ffi.cast("PFN_vkCreateDebugUtilsMessengerEXT", lib.vkGetInstanceProcAddr(
                self.instance, b"vkCreateDebugUtilsMessengerEXT"))
            self._destroy_messenger = ffi.cast(
                "PFN_vkDestroyDebugUtilsMessengerEXT",
                lib.vkGetInstanceProcAddr(self.instance, b"vkDestroyDebugUtilsMessengerEXT"))
            pm = ffi.new("VkDebugUtilsMessengerEXT*")
            _api.check(create(self.instance, msgr, ffi.NULL, pm),
                       "vkCreateDebugUtilsMessengerEXT", creating=True)
            self._messenger = pm[0]

    def _on_debug_message(self, severity: int, types: int, data: Any, user: Any) -> int:
        try:
            if severity < self._min_severity or self._user_callback is None:
                return 0
            ffi = self.ffi
            msg = ffi.string(data.pMessage).decode("utf-8", "replace") \
                if data.pMessage != ffi.NULL else ""
            name = ffi.string(data.pMessageIdName).decode("utf-8", "replace") \
                if data.pMessageIdName != ffi.NULL else ""
            self._user_callback(DebugMessage(int(severity), int(types), name, msg))
        except Exception:  # noqa: BLE001 - never let an exception cross into the driver
            pass
        return 0

    def _pick_physical_device(self, device_index: int | None) -> None:
        ffi, lib = self.ffi, self.lib
        count = ffi.new("uint32_t*")
        _api.check(lib.vkEnumeratePhysicalDevices(self.instance, count, ffi.NULL),
                   "vkEnumeratePhysicalDevices", creating=True)
        if count[0] == 0:
            raise GpuUnavailableError(
                "the Vulkan loader found no device; install a driver (mesa-vulkan-drivers gives "
                "the CPU device lavapipe: scripts/install-vulkan.sh)", code="FA414")
        devices = ffi.new("VkPhysicalDevice[]", count[0])
        _api.check(lib.vkEnumeratePhysicalDevices(self.instance, count, devices),
                   "vkEnumeratePhysicalDevices", creating=True)
        props = ffi.new("VkPhysicalDeviceProperties*")
        candidates = []
        for i in range(count[0]):
            lib.vkGetPhysicalDeviceProperties(devices[i], props)
            candidates.append((_DEVICE_TYPE_RANK.get(props.deviceType, 5), i, devices[i]))
        if device_index is not None:
            if not 0 <= device_index < count[0]:
                raise GpuUnavailableError(
                    f"device_index {device_index} is out of range: {count[0]} device(s)",
                    code="FA414")
            self.physical_device = devices[device_index]
        else:
            self.physical_device = min(candidates)[2]

    def _device_extensions(self) -> set[str]:
        ffi, lib = self.ffi, self.lib
        count = ffi.new("uint32_t*")
        _api.check(lib.vkEnumerateDeviceExtensionProperties(self.physical_device, ffi.NULL,
                                                            count, ffi.NULL),
                   "vkEnumerateDeviceExtensionProperties", creating=True)
        props = ffi.new("VkExtensionProperties[]", count[0])
        _api.check(lib.vkEnumerateDeviceExtensionProperties(self.physical_device, ffi.NULL,
                                                            count, props),
                   "vkEnumerateDeviceExtensionProperties", creating=True)
        return {ffi.string(props[i].extensionName).decode() for i in range(count[0])}

    def _create_device(self, extensions: list[str], timeline: bool) -> None:
        ffi, lib, vk = self.ffi, self.lib, self._vk
        count = ffi.new("uint32_t*")
        lib.vkGetPhysicalDeviceQueueFamilyProperties(self.physical_device, count, ffi.NULL)
        fams = ffi.new("VkQueueFamilyProperties[]", count[0])
        lib.vkGetPhysicalDeviceQueueFamilyProperties(self.physical_device, count, fams)
        family = None
        # Prefer the universal (graphics+compute) family, so users can share the queue.
        for want in (_QUEUE_GRAPHICS | _QUEUE_COMPUTE, _QUEUE_COMPUTE, _QUEUE_TRANSFER):
            for i in range(count[0]):
                if fams[i].queueCount > 0 and fams[i].queueFlags & want == want:
                    family = i
                    break
            if family is not None:
                break
        if family is None:
            raise GpuUnavailableError("the device has no queue family that can copy buffers",
                                      code="FA414")
        self.queue_family_index = family
        available = self._device_extensions()
        missing = [e for e in extensions if e not in available]
        if missing:
            raise GpuUnavailableError(f"device extensions not available: {missing}",
                                      code="FA414")
        self.memory_budget = "VK_EXT_memory_budget" in available
        if self.memory_budget:
            extensions.append("VK_EXT_memory_budget")
        prio = ffi.new("float[]", [1.0])
        qinfo = ffi.new("VkDeviceQueueCreateInfo*")
        qinfo.sType = vk.VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO
        qinfo.queueFamilyIndex = family
        qinfo.queueCount = 1
        qinfo.pQueuePriorities = prio
        dinfo = ffi.new("VkDeviceCreateInfo*")
        dinfo.sType = vk.VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO
        dinfo.queueCreateInfoCount = 1
        dinfo.pQueueCreateInfos = qinfo
        dinfo.enabledExtensionCount = len(extensions)
        dinfo.ppEnabledExtensionNames = self._cstrings(extensions)
        self.timeline_semaphores = False
        if timeline:
            feat = ffi.new("VkPhysicalDeviceTimelineSemaphoreFeatures*")
            feat.sType = vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES
            f2 = ffi.new("VkPhysicalDeviceFeatures2*")
            f2.sType = vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2
            f2.pNext = feat
            lib.vkGetPhysicalDeviceFeatures2(self.physical_device, f2)
            if not feat.timelineSemaphore:
                raise GpuUnavailableError("timeline_semaphores=True but the device lacks them",
                                          code="FA414")
            dinfo.pNext = feat
            self._keep.append(feat)
            self.timeline_semaphores = True
        p = ffi.new("VkDevice*")
        _api.check(lib.vkCreateDevice(self.physical_device, dinfo, ffi.NULL, p), "vkCreateDevice",
                   creating=True)
        self.device = p[0]
        pq = ffi.new("VkQueue*")
        lib.vkGetDeviceQueue(self.device, family, 0, pq)
        self.queue = pq[0]
        self._read_properties()

    def _read_properties(self) -> None:
        ffi, lib = self.ffi, self.lib
        props = ffi.new("VkPhysicalDeviceProperties*")
        lib.vkGetPhysicalDeviceProperties(self.physical_device, props)
        self.device_name = ffi.string(props.deviceName).decode("utf-8", "replace")
        self.device_type = _DEVICE_TYPE_NAMES.get(props.deviceType, "other")
        self.device_api_version = props.apiVersion
        self.properties = props

    # -- teardown ---------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called (the objects may outlive it, see :meth:`close`)."""
        return self._closed

    @property
    def destroyed(self) -> bool:
        """True once the Vulkan objects this context created are really destroyed."""
        return self._destroyed

    def close(self) -> None:
        """Destroy what this context created: its device, and its messenger and instance unless
        they belong to a parent context (:meth:`new_device`). Idempotent.

        Safe with live host views: while device memory of this device is still alive (a NumPy
        view of a released block), or a child device of :meth:`new_device` is open, destruction
        waits until the last of them is gone.
        """
        if self._closed:
            return
        self._closed = True
        if self.owns_handles:
            self._close_pending = True
            self._destroy_if_unused()

    def _block_created(self) -> None:
        self._live_blocks += 1

    def _block_destroyed(self) -> None:
        self._live_blocks -= 1
        self._destroy_if_unused()

    def _destroy_if_unused(self) -> None:
        if not self._close_pending or self._live_blocks or self._open_children:
            return
        self._close_pending = False
        self._destroyed = True
        lib, ffi = self.lib, self.ffi
        if self.device is not None:
            lib.vkDeviceWaitIdle(self.device)
            lib.vkDestroyDevice(self.device, ffi.NULL)
            self.device = None
        if self._parent is not None:
            self._parent._open_children -= 1
            self._parent._destroy_if_unused()
            return
        if self._messenger is not None:
            self._destroy_messenger(self.instance, self._messenger, ffi.NULL)
            self._messenger = None
        if self.instance is not None:
            lib.vkDestroyInstance(self.instance, ffi.NULL)
            self.instance = None

    def new_device(self, *, timeline_semaphores: bool = False,
                   device_extensions: Sequence[str] = ()) -> VulkanContext:
        """A context with a new logical device on this context's instance and physical device.

        It shares the instance and debug messenger (so validation messages reach the same
        callback) and destroys only its own device on close; close it before this context.
        Useful to get the validation layer's leak report per device.
        """
        if self._closed or self._parent is not None or not self.owns_handles:
            raise GpuUnavailableError("new_device() needs an open context that created its own "
                                      "instance", code="FA414")
        child = type(self).__new__(type(self))
        child.__dict__.update({k: v for k, v in self.__dict__.items()
                               if k in ("_vk", "ffi", "lib", "instance", "physical_device",
                                        "validation", "api_version", "_min_severity",
                                        "_user_callback")})
        child.owns_handles = True
        child._closed = False
        child._destroyed = False
        child._close_pending = False
        child._live_blocks = 0
        child._open_children = 0
        child._parent = self
        child._messenger = child._callback = child._destroy_messenger = None
        child._keep = []
        child.device = None
        child._create_device(list(device_extensions), timeline_semaphores)
        self._open_children += 1
        return child

    def __enter__(self) -> VulkanContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        name = getattr(self, "device_name", "?")
        return f"<VulkanContext {name!r} {'closed' if self._closed else 'open'}>"
