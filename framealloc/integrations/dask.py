"""Dask integration: a SmartAlloc per Dask worker, reached by tasks, reported back merged.

:class:`FrameAllocPlugin` is a ``distributed.WorkerPlugin``: the client ships it (with its
:class:`~framealloc.AllocConfig`) to every worker, present and future; each worker creates its
own :class:`~framealloc.SmartAlloc` at setup and closes it at teardown. A task reaches its
worker's allocator with :func:`get_alloc` (each of the worker's threads has its own frame arena
in it, as always). :func:`gather_report` collects every worker's ``alloc.stats()`` and
``alloc.snapshot()`` into one :class:`DaskReport`: the sums over workers per kind and per tag,
the per-worker breakdown, and the snapshots merged into one (:func:`~framealloc.merge_snapshots`:
statistics summed exactly, each worker's threads and frame histories kept) that renders as one
HTML report with a per-worker table (``report.to_html()``).

The same code runs on one machine (``LocalCluster``) and on many: point ``Client`` at the
scheduler of a real cluster (``Client("tcp://scheduler:8786")``) and register the plugin the
same way; workers need framealloc installed (``pip install 'framealloc[dask]'``).

Example (docs/integrations.md runs it on a two-process LocalCluster)::

    from distributed import Client, LocalCluster
    import numpy as np, framealloc as fa
    from framealloc.integrations.dask import FrameAllocPlugin, gather_report, get_alloc

    def chunk(seed):
        alloc = get_alloc()
        with alloc.frame():
            x = alloc.frame_array(1000, np.float64)
            x[:] = np.random.default_rng(seed).random(1000)
            return float(x.sum())

    with LocalCluster(n_workers=2, processes=True) as cluster, Client(cluster) as client:
        client.register_plugin(FrameAllocPlugin(fa.AllocConfig()))
        sums = client.gather(client.map(chunk, range(8)))
        report = gather_report(client)
        assert report.total["frame"]["allocated"] == 8 * 8000
        assert report.merged.stats["frame"]["allocated"] == 8 * 8000
        html = report.to_html()        # merged, with the per-worker table
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..config import AllocConfig
from ..errors import error
from ..kernels import status as ST
from ..snapshot import Snapshot, merge_snapshots
from . import require

# FrameAllocPlugin is made on first use (module __getattr__ below).
__all__ = ["FrameAllocPlugin", "get_alloc", "gather_report", "DaskReport", "KINDS",  # noqa: F822
           "merge_snapshots"]

#: The kinds a report sums over workers (the AllocStats sections of one statistics shape).
KINDS = ("frame", "pool", "typed_pools", "heap", "scratch")

_allocs: dict = {}          # worker address -> its SmartAlloc (one process may hold several)


def _plugin_base():
    return require("distributed", "dask").WorkerPlugin


def _make_plugin_class():
    base = _plugin_base()

    class FrameAllocPlugin(base):
        """Creates a SmartAlloc on each worker (``setup``), closes it (``teardown``).

        ``config``: the :class:`~framealloc.AllocConfig` every worker's allocator uses
        (``None``: defaults; FA180 for anything else). Its ``max_threads`` must cover the
        worker's threads.
        """

        name = "framealloc"

        def __init__(self, config: AllocConfig | None = None):
            if config is not None and not isinstance(config, AllocConfig):
                raise error(ST.INTEGRATION_ARG,
                            what=f"config must be a framealloc.AllocConfig or None, got "
                                 f"{type(config).__name__}",
                            advice="pass AllocConfig(...) built on the client")
            self.config = config

        def setup(self, worker) -> None:
            from ..alloc import SmartAlloc

            old = _allocs.pop(worker.address, None)
            if old is not None:
                old.close()
            _allocs[worker.address] = SmartAlloc(self.config)

        def teardown(self, worker) -> None:
            alloc = _allocs.pop(worker.address, None)
            if alloc is not None:
                alloc.close()

    FrameAllocPlugin.__module__ = __name__
    FrameAllocPlugin.__qualname__ = "FrameAllocPlugin"
    return FrameAllocPlugin


def __getattr__(name):
    # The plugin class derives from distributed.WorkerPlugin: made on first use, so importing
    # this module without distributed installed works (and FA181 says what to install).
    if name == "FrameAllocPlugin":
        cls = _make_plugin_class()
        globals()["FrameAllocPlugin"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _worker():
    distributed = require("distributed", "dask")
    try:
        return distributed.get_worker()
    except ValueError:
        return None


def get_alloc(worker=None):
    """The SmartAlloc of the Dask worker running the calling task (FA184 where there is none:
    outside a worker, or the plugin was not registered). ``worker``: the worker itself, for
    functions run by ``client.run`` (they get it as ``dask_worker``), which are not tasks."""
    if worker is None:
        worker = _worker()
    if worker is None:
        raise error(ST.NO_WORKER_ALLOC, where="this process (not inside a Dask task)")
    alloc = _allocs.get(worker.address)
    if alloc is None or alloc.closed:
        raise error(ST.NO_WORKER_ALLOC, where=f"worker {worker.address}")
    return alloc


def _worker_report(dask_worker=None):
    """On a worker (``client.run``): its allocator's stats and snapshot (as JSON data), or None.
    Taken one after the other: equal while the worker runs no task."""
    alloc = _allocs.get(dask_worker.address) if dask_worker is not None else None
    if alloc is None or alloc.closed:
        return None
    return alloc.stats(), alloc.snapshot(label=dask_worker.address).to_dict()


def _sum_fields(items) -> dict:
    out: dict = {}
    for obj in items:
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            if isinstance(v, int) and not isinstance(v, bool):
                out[f.name] = out.get(f.name, 0) + v
    return out


@dataclass
class DaskReport:
    """Every worker's statistics and their sums.

    ``workers``: worker address -> its :class:`~framealloc.AllocStats`; ``total``: kind (see
    :data:`KINDS`) -> each integer field summed over workers; ``tags``: tag path -> its fields
    summed; ``missing``: workers without an allocator (plugin not registered there). Sums of
    ``peak`` add each worker's own peak: a bound on the cluster's peak, not a simultaneous one.
    ``snapshots``: worker address -> its :class:`~framealloc.Snapshot`; ``merged``: them merged
    into one (:func:`~framealloc.merge_snapshots`; None without snapshots), which
    :meth:`to_html` renders.
    """

    workers: dict = field(default_factory=dict)
    total: dict = field(default_factory=dict)
    tags: dict = field(default_factory=dict)
    missing: list = field(default_factory=list)
    snapshots: dict = field(default_factory=dict)
    merged: Snapshot | None = None

    def to_html(self, worker: str | None = None) -> str:
        """The HTML report (self-contained, offline) of the merged snapshot, with a table of the
        workers; ``worker``: that worker's own report instead (KeyError for an unknown one).

        >>> import framealloc as fa
        >>> from framealloc.integrations.dask import DaskReport
        >>> a = fa.SmartAlloc()
        >>> with a.frame(): _ = a.frame_array(10)
        >>> r = DaskReport.merge({"w1": a.stats()}, {"w1": a.snapshot()})
        >>> 'id="workers"' in r.to_html(), 'id="workers"' in r.to_html("w1")
        (True, False)
        """
        if worker is not None:
            return self.snapshots[worker].to_html()
        if self.merged is None:
            raise error(ST.INTEGRATION_ARG, what="this report holds no snapshots",
                        advice="build it with gather_report(client) or pass snapshots to "
                               "DaskReport.merge")
        return self.merged.to_html()

    @classmethod
    def merge(cls, per_worker: dict, snapshots: dict | None = None) -> "DaskReport":
        """Merge ``{address: AllocStats or None}`` (and ``{address: Snapshot}``, if given).

        >>> import framealloc as fa
        >>> from framealloc.integrations.dask import DaskReport
        >>> a, b = fa.SmartAlloc(), fa.SmartAlloc()
        >>> with a.frame(): _ = a.frame_array(10)
        >>> with b.frame(): _ = b.frame_array(5)
        >>> r = DaskReport.merge({"w1": a.stats(), "w2": b.stats(), "w3": None})
        >>> r.total["frame"]["allocated"], r.missing
        (120, ['w3'])
        """
        workers = {k: v for k, v in sorted(per_worker.items()) if v is not None}
        missing = sorted(k for k, v in per_worker.items() if v is None)
        total = {kind: _sum_fields(getattr(s, kind) for s in workers.values()) for kind in KINDS}
        tags: dict = {}
        for s in workers.values():
            for path, t in s.tags.items():
                acc = tags.setdefault(path, {})
                for k, v in _sum_fields([t]).items():
                    acc[k] = acc.get(k, 0) + v
        snaps = dict(sorted((snapshots or {}).items()))
        merged = merge_snapshots(snaps, label=f"{len(snaps)} Dask workers") if snaps else None
        return cls(workers, total, tags, missing, snaps, merged)


def gather_report(client) -> DaskReport:
    """Ask every worker of ``client``'s cluster for its allocator's stats and snapshot; merge
    them. The snapshots travel as JSON data, checked against the snapshot schema on the client
    (FA500 for one that does not match)."""
    require("distributed", "dask")
    if not hasattr(client, "run"):
        raise error(ST.INTEGRATION_ARG,
                    what=f"client must be a distributed.Client, got {type(client).__name__}",
                    advice="pass the Client connected to your cluster")
    got = client.run(_worker_report)
    stats = {addr: (r[0] if r is not None else None) for addr, r in got.items()}
    snaps = {addr: Snapshot.from_dict(r[1]) for addr, r in got.items() if r is not None}
    return DaskReport.merge(stats, snaps)
