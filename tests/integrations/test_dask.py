"""Dask integration on LocalCluster(n_workers=2, processes=True): an allocator per worker
process, results equal a single-process run, stats merged exactly, coded errors."""
from __future__ import annotations

import doctest
import sys
from pathlib import Path

import distributed
import numpy as np
import pytest

import framealloc as fa
from framealloc.integrations import dask as fa_dask
from framealloc.integrations.dask import DaskReport, FrameAllocPlugin, gather_report, get_alloc

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def client():
    # The worker processes import the example module by name, as the workers of a real cluster
    # import your code: examples/ goes on the path they start with (multiprocessing's spawn
    # gives them this process's sys.path).
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster) as c:
            yield c
    finally:
        sys.path.remove(str(ROOT / "examples"))


def _pid_and_alloc_id(dask_worker):
    import os
    return os.getpid(), get_alloc(dask_worker)._id, get_alloc(dask_worker).closed


def test_simulation_split_across_workers_equals_one_process(client):
    import dask_particles as ex
    chunks, n = 8, 500
    results, report = ex.run(client, chunks, n)
    local = fa.SmartAlloc()
    assert results == [ex.simulate(s, n, alloc=local) for s in range(chunks)]
    # every chunk: STEPS frames of 3 arrays of n float64, nothing else
    expected = chunks * ex.STEPS * 3 * n * 8
    assert len(report.workers) == 2 and report.missing == []
    assert report.total["frame"]["allocated"] == expected
    assert report.total["frame"]["frames_ended"] == chunks * ex.STEPS
    assert sum(s.frame.allocated for s in report.workers.values()) == expected
    assert report.tags[""]["allocated"] == expected
    assert report.total["frame"]["current"] == 0


def test_each_worker_process_has_its_own_allocator(client):
    client.register_plugin(FrameAllocPlugin())
    seen = client.run(_pid_and_alloc_id)
    pids = {pid for pid, _, _ in seen.values()}
    assert len(seen) == 2 and len(pids) == 2 and not any(c for _, _, c in seen.values())
    import os
    assert os.getpid() not in pids


def test_config_is_shipped_to_the_workers(client):
    client.register_plugin(FrameAllocPlugin(fa.AllocConfig(max_threads=7,
                                                           frame_chunk_size=fa.KiB(128))))
    got = client.run(lambda dask_worker: (get_alloc(dask_worker).config.max_threads,
                                          get_alloc(dask_worker).config.frame_chunk_size))
    assert set(got.values()) == {(7, 128 * 1024)}
    client.register_plugin(FrameAllocPlugin())       # back to the defaults


def test_teardown_closes_and_get_alloc_then_refuses(client):
    client.register_plugin(FrameAllocPlugin())
    before = client.run(lambda dask_worker: get_alloc(dask_worker)._id)
    client.unregister_worker_plugin("framealloc")
    closed = client.run(lambda: [a.closed for a in fa_dask._allocs.values()])
    assert all(v == [] for v in closed.values())

    def ask(k):
        try:
            get_alloc()                     # inside a task
        except fa.IntegrationError as e:
            return e.code
        return None

    assert set(client.gather(client.map(ask, range(4), pure=False))) == {"FA184"}
    assert gather_report(client).missing == sorted(before)
    client.register_plugin(FrameAllocPlugin())


def test_errors_on_the_client():
    with pytest.raises(fa.IntegrationError) as ei:
        get_alloc()                                   # not in a Dask task
    assert ei.value.code == "FA184"
    with pytest.raises(fa.IntegrationError) as ei:
        FrameAllocPlugin({"max_threads": 4})
    assert ei.value.code == "FA180"
    with pytest.raises(fa.IntegrationError) as ei:
        gather_report("client")
    assert ei.value.code == "FA180"


def test_missing_extra_is_FA181(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(fa.MissingExtraError) as ei:
        fa_dask.get_alloc()
    assert ei.value.code == "FA181" and "framealloc[dask]" in str(ei.value)


def test_merge_sums_every_kind_and_tag():
    allocs = [fa.SmartAlloc() for _ in range(3)]
    held = []
    for k, a in enumerate(allocs):
        with a.frame():
            with a.tag("sim"):
                a.frame_array(10 * (k + 1), np.float64)
        held.append(a.heap_array(4 * (k + 1), np.float64))
    r = DaskReport.merge({f"w{k}": a.stats() for k, a in enumerate(allocs)})
    assert r.total["frame"]["allocated"] == 8 * 60 and r.total["heap"]["current"] == 8 * 24
    assert r.tags["sim"]["allocated"] == 8 * 60
    assert list(r.workers) == ["w0", "w1", "w2"]


def test_docstring_examples():
    result = doctest.testmod(fa_dask, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
