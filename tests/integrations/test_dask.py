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


# -- snapshots merged ------------------------------------------------------------------------

def _leaves(d, path=()):
    """Every numeric leaf of a stats dict, by path; lists of size classes by size."""
    for k, v in d.items():
        if k in ("threads", "budget_events", "workers"):
            continue
        if isinstance(v, dict):
            yield from _leaves(v, path + (k,))
        elif k == "classes":
            for row in v:
                yield from _leaves({f: x for f, x in row.items() if f != "size"},
                                   path + (k, row["size"]))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            yield path + (k,), v


def _expected_leaf(path, values):
    if path[-1] in ("max_bytes", "max_allocations", "max_wall_ns"):
        return max(values)
    if path[-1] in ("depth", "size"):
        return values[0]
    return sum(values)


def _busy_allocators(n):
    """``n`` allocators with different work of every kind: frames, tags, phases, pool, heap,
    a tag budget with soft events, on two threads of the first."""
    import threading
    allocs, held = [], []
    for k in range(n):
        a = fa.SmartAlloc()
        a.set_tag_budget("sim", soft=64 * (k + 1))
        for f in range(k + 2):
            with a.frame(), a.phase("step"):
                with a.tag("sim"):
                    a.frame_array(10 * (k + 1) + f, np.float64)
                with a.phase("io"):
                    a.frame_array(7, np.uint8)
        held.append(a.pool_box(np.zeros(k + 1)))
        held.append(a.heap_array(3 * (k + 1), np.float32))
        if k == 0:
            def other(a=a):
                with a.frame():
                    a.frame_array(5)
            t = threading.Thread(target=other)
            t.start()
            t.join()
        allocs.append(a)
    return allocs, held


@pytest.mark.filterwarnings("ignore::framealloc.BudgetWarning")
def test_merge_snapshots_sums_every_figure_exactly():
    allocs, held = _busy_allocators(3)
    parts = {f"tcp://10.0.0.{k}:1": a.snapshot() for k, a in enumerate(allocs)}
    merged = fa.merge_snapshots(parts)
    again = fa.Snapshot.from_json(merged.to_json())      # a valid snapshot, saved and loaded
    per_part = [dict(_leaves(p.stats)) for p in parts.values()]
    leaves = dict(_leaves(again.stats))
    assert set(leaves) == set().union(*per_part)
    for path, value in leaves.items():
        values = [p[path] for p in per_part if path in p]
        assert value == _expected_leaf(path, values), path
    assert again.stats["frame"]["allocated"] == sum(a.stats().frame.allocated for a in allocs)
    assert again.stats["tags"]["sim"]["allocated"] == sum(
        a.stats().tags["sim"].allocated for a in allocs)
    # threads, histories, events and warnings stay per part, slots renumbered consistently
    threads = again.stats["threads"]
    assert all(t["slot"] in (i, None) for i, t in enumerate(threads))  # None: an ended thread
    assert any(t["slot"] is None for t in threads)
    assert [t["worker"] for t in threads] == [w for w, p in parts.items()
                                              for _ in p.stats["threads"]]
    by_slot = {t["slot"]: t for t in threads}
    assert sorted(len(h) for h in again.history) == sorted(
        len(h) for p in parts.values() for h in p.history)
    for h in again.history:
        part = parts[by_slot[h.thread_slot]["worker"]]
        old = by_slot[h.thread_slot]["thread_name"].split(": ", 1)[1]
        slot = next(t["slot"] for t in part.stats["threads"] if t["thread_name"] == old)
        mine = next(x for x in part.history if x.thread_slot == slot)
        assert h["frame_bytes"].tolist() == mine["frame_bytes"].tolist()
    events = again.stats["budget_events"]
    assert len(events) == sum(len(p.stats["budget_events"]) for p in parts.values()) > 0
    for ev in events:
        assert by_slot[ev["thread_slot"]]["worker"] in parts
    assert len(again.warnings) == sum(len(p.warnings) for p in parts.values())
    for name, p in parts.items():
        w = again.stats["workers"][name]
        assert w["frame"]["allocated"] == p.stats["frame"]["allocated"]
        assert w["total_current"] == p.stats["total_current"]
        assert w["frames_ended"] == p.stats["frame"]["frames_ended"]


@pytest.mark.filterwarnings("ignore::framealloc.BudgetWarning")
def test_merged_report_html_has_the_worker_table():
    allocs, held = _busy_allocators(2)
    parts = {"w<0>": allocs[0].snapshot(), "w1": allocs[1].snapshot()}
    merged = fa.merge_snapshots(parts, label="two")
    page = merged.to_html()
    assert 'id="workers"' in page and "Workers (2)" in page
    assert "w&lt;0&gt;" in page and "w<0>" not in page         # names are escaped
    assert page.count('<table class="workers">') == 1
    assert 'id="workers"' not in parts["w1"].to_html()         # one allocator: no such table
    r = DaskReport.merge({k: a.stats() for k, a in zip(parts, allocs)}, parts)
    assert r.to_html() == r.merged.to_html() and r.to_html("w1") == parts["w1"].to_html()
    with pytest.raises(fa.IntegrationError) as ei:
        DaskReport.merge({"w1": allocs[1].stats()}).to_html()
    assert ei.value.code == "FA180"


def test_merge_snapshots_refuses_bad_input():
    with pytest.raises(ValueError):
        fa.merge_snapshots({})
    with pytest.raises(TypeError):
        fa.merge_snapshots({"w": fa.SmartAlloc().stats()})


def test_cluster_snapshots_merge_into_one_report(client):
    import dask_particles as ex
    chunks, n = 6, 300
    _, report = ex.run(client, chunks, n)
    local = fa.SmartAlloc()
    for s in range(chunks):
        ex.simulate(s, n, alloc=local)
    one = local.snapshot().stats
    m = report.merged.stats
    assert set(report.snapshots) == set(report.workers) and len(report.snapshots) == 2
    # the merged statistics equal the single-process run's, figure by figure
    for kind in ("frame",):
        for f in ("allocated", "freed", "allocations", "current", "frames_ended"):
            assert m[kind][f] == one[kind][f] == report.total[kind][f], (kind, f)
    for f in ("allocated", "allocations", "freed"):
        assert m["tags"][""][f] == one["tags"][""][f]
    assert m["total_allocated"] == one["total_allocated"]
    # history per worker: every frame a worker thread ended is in its own history
    workers = {t["slot"]: t["worker"] for t in m["threads"]}
    frames = {}
    for h in report.merged.history:
        frames[workers[h.thread_slot]] = frames.get(workers[h.thread_slot], 0) + len(h)
    for addr, snap in report.snapshots.items():
        assert frames.get(addr, 0) == snap.stats["frame"]["frames_ended"]
        assert m["workers"][addr]["frames_ended"] == snap.stats["frame"]["frames_ended"]
    assert sum(frames.values()) == chunks * ex.STEPS
    page = report.to_html()
    assert all(addr in page for addr in report.snapshots) and "Workers (2)" in page
