"""Run the core benchmark suite and print the ratio table (Markdown, for the README).

    python benchmarks/run.py                      # run everything, print machine info + tables
    python benchmarks/run.py --quick              # shorter timing (noisier), same table
    python benchmarks/run.py --json out.json      # also keep pytest-benchmark's JSON
    python benchmarks/run.py --from-json out.json # only format an existing JSON
    python benchmarks/run.py -- -k P1             # extra arguments go to pytest
    python benchmarks/run.py --update-docs docs/benchmarks.md   # the docs and the README table

or run pytest yourself and format its JSON:

    python -m pytest benchmarks --benchmark-json out.json
    python benchmarks/run.py --from-json out.json

Every ratio compares medians measured in the same run. ``benchmarks/gpu`` is left out unless
``--include-gpu`` is given (its groups are then listed in the table of all medians).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

FRAME, EMPTY, CONTROL = "framealloc", "np.empty", "control"


@dataclass(frozen=True)
class Row:
    """One line of the ratio table: ``subject`` compared with ``reference`` within ``group``.

    kind "faster": ratio = reference / subject, PASS when >= target.
    kind "within": ratio = subject / reference, PASS when <= target.
    kind "seconds": the subject's median wall time, PASS when <= target.
    kind "no-numba": PASS when ``import framealloc`` imported neither numba nor llvmlite.
    A target of None makes a context row (no verdict).
    """

    id: str
    what: str
    group: str
    subject: str
    reference: str | None
    kind: str
    target: float | None


P1 = "P1: 64 B array in @njit"
P2 = "P2: 1000-particle batch in @njit"
P3 = "P3: 64-68 B array per prange iteration, 2 threads"
P5_PY = "P5: end_frame called from Python"
P5_NJIT = "P5: end_frame called from @njit"
P5_CONTROL = "control: after 1 allocation + 6.4 MB of other memory written"
P6 = "P6: frame_array(16, float32) from Python"
P7 = "P7: fresh process, warm numba cache"
KIB4 = "ctx: 4 KiB array in @njit"
TRAP = "ctx: 1024 x 64 KiB written arrays per frame"
P3_STORE = "ctx: P3 with out[i] = a[0] instead of a reduction"
P3_SMALL = "ctx: P3 with 1000 iterations per prange region"
CALL = "ctx: Python -> @njit call with the allocator as argument"
P4 = "P4: typed-pool acquire+release in @njit"
P4_NATURAL = "P4: typed pool, the natural loop and 64-bursts, in @njit"
P4_POOL = "ctx: size-class pool acquire+view+release (64 B) in @njit"
P6_LAYOUT = "P6: frame_layout of 8 arrays (N=1000) from Python"
P6_LAYOUT_FRAME = "ctx: one frame with one 8-array layout (N=1000), frame included"
P1_ORG = "P1 (tags + budgets on): 64 B array in @njit"
TAG_PUSH = "ctx: tag push+pop in @njit"
PY_BUDGET = "ctx: frame_array(16, float32) from Python, budgets on vs off"
PY_POOL_BUDGET = "ctx: pool_box(16 float32) from Python, budgets on vs off"
ORG_ON, ORG_OFF = FRAME + " (tag + 4 budgets)", FRAME + " (no tag, no budget)"
E1 = "E1: begin_frame + end_frame pair in @njit"
E2 = "E2: frame_checkpoint + rollback_to pair in @njit"
E2_SCOPE = "framealloc (scope_begin + scope_end)"
E3 = "E3: one 64 B temporary per loop iteration in @njit"
E3_CP = "framealloc (checkpoint per iteration)"
E4 = "E4: begin_frame + end_frame pair from Python"
E5 = "E5: first call of a user kernel, fresh process, framealloc's kernels cached"
E5_COLD = "E5: first call of a user kernel, fresh process, empty numba cache"
E7 = "E7: P2 1000-particle batch in @njit, tag + 4 budgets on vs off"
D1 = "D1: begin_frame + end_frame pair in @njit, history on vs off"
D2 = "D2: begin_frame + end_frame pair from Python, history on vs off"
HIST_ON, HIST_OFF = FRAME + " (history=600)", FRAME + " (history=0)"
D3 = "D3: frame with one 16-element array in @njit, debug on vs off"
D4 = "D4: frame with one 16-element array from Python, debug on vs off"
DEBUG_ON, DEBUG_OFF = FRAME + " (debug=True)", FRAME + " (debug=False)"
T1 = "T1: numba#8101 `x += np.zeros_like(x)` loop"
T2 = "T2: Lennard-Jones forces, array expressions"
T3 = "T3: Black-Scholes, array expressions"
T4 = "T4: cost outside frames: np.empty(16) loop in @njit"
T_ORIGINAL, T_WRAPPED = "numba (original call)", "transparent frame"
T_NO_ALLOC = "no allocation (the temporary preallocated: the ceiling)"
T_BEFORE, T_AFTER = "compiled before install", "compiled after install, no scope"
T_NOFRAME = "compiled after install, scope open, no frame"
T4_COMPILE = "T4: cold compile of the Lennard-Jones kernel, fresh process"
T_COMPILE_PLAIN, T_COMPILE_INSTALLED = "numba alone", "after fa.install_transparent()"
T5 = "T5: NumPy from Python, `a = x*y + z; b = a*a - x` per step"
T_PLAIN_NUMPY = "NumPy (plain loop)"
T_NUMPY_FRAMES = "transparent frame per step (numpy=True)"
T_FRAMES_ONLY = "frame per step, NumPy's own handler (numpy=False)"
T_NUMPY_ONE_FRAME = "one transparent frame around the loop (numpy=True)"
D5 = "D5: `with alloc.frame():` + one 1 KiB frame_array from Python, behaviour filter on vs off"
D6 = "D6: begin_frame + end_frame pair from Python, behaviour filter on vs off"
BF_ON, BF_OFF = FRAME + " (behaviour filter)", FRAME + " (behaviour=None)"
D7 = "D7: 600 Python frames with one 1 KiB frame_array, trace on vs off"
TRACE_ON, TRACE_OFF = FRAME + " (in alloc.trace)", FRAME + " (no trace)"
X1 = "X1: a - b*b into a new array in @njit, n={}"
X_FUSED, X_CHAIN = "numba fused expression (np.empty)", "framealloc out= ufunc chain"
X2 = "X2: Lennard-Jones cluster potential (numba-examples), 16 x 64 atoms"
X3 = "X3: k-means (numba parfors test), 1000 x 8, k=4, 10 iterations"
X4 = "X4: np.zeros per iteration (numba issue #9132), 200 x 200 int64, 200 iterations"
X_ORIGINAL, X_PORT = "original (numba)", "framealloc port"

ROWS = [
    Row("P1", "64 B `frame_array` in @njit vs `np.empty`", P1, FRAME, EMPTY, "faster", 10),
    Row("P1", "64 B `frame_array` in @njit vs bare-loop control", P1, FRAME, CONTROL, "within", 3),
    Row("P1", "with a tag and 4 budgets on: `frame_array` in @njit vs `np.empty`", P1_ORG, FRAME,
        EMPTY, "faster", 10),
    Row("P1", "with a tag and 4 budgets on: vs bare-loop control", P1_ORG, FRAME, CONTROL,
        "within", 3),
    Row("P2", "1000-particle `frame_alloc_batch` in @njit vs `np.empty`", P2, FRAME, EMPTY,
        "faster", 50),
    Row("P3", "64-68 B `frame_array` per prange iteration (2 threads) vs `np.empty`", P3, FRAME,
        EMPTY, "faster", 10),
    Row("P4", "typed-pool `acquire()` + `release(i)` in @njit", P4, FRAME, None, "seconds", 5e-9),
    Row("P4", "typed-pool acquire+release vs hand-written free-list control", P4, FRAME, CONTROL,
        "within", None),
    Row("P4", "typed-pool acquire+release vs `np.empty(1, PARTICLE)`", P4, FRAME, EMPTY, "faster",
        None),
    Row("P5", "`end_frame` from Python: after 100 000 allocations vs after 1 + the same 6.4 MB "
        "written elsewhere (same cache state)", P5_PY, "after 100000 allocations", P5_CONTROL,
        "within", 2),
    Row("P5", "`end_frame` from @njit: after 100 000 allocations vs after 1 + the same 6.4 MB "
        "written elsewhere (same cache state)", P5_NJIT, "after 100000 allocations", P5_CONTROL,
        "within", 2),
    Row("P6", "`frame_array(16, np.float32)` from Python vs `np.empty`", P6, FRAME, EMPTY,
        "within", 1.5),
    Row("P6", "repeated `frame_layout(...).alloc()` of 8 arrays vs 8 `np.empty`", P6_LAYOUT,
        FRAME, EMPTY, "faster", 20),
    Row("P7", "fresh process, warm cache: import + SmartAlloc + first @njit frame", P7,
        "import + first frame", None, "seconds", 1.0),
    Row("P7", "the same vs a process that only imports numpy and numba", P7,
        "import + first frame", "import numpy, numba", "within", 1.5),
    Row("P4", "typed pool, the natural loop (acquire, write, release each iteration)",
        P4_NATURAL, FRAME + " (natural loop)", None, "seconds", 4e-9),
    Row("P4", "typed pool, bursts of 64 acquires then 64 releases", P4_NATURAL,
        FRAME + " (64-burst)", None, "seconds", 3e-9),
    Row("P7", "`import framealloc` imports no numba (nothing compiled)", P7, "import framealloc",
        None, "no-numba", 0),
    Row("E1", "`begin_frame(); end_frame()` pair in @njit", E1, FRAME, None, "seconds", 3e-9),
    Row("E2", "`frame_checkpoint(); rollback_to(cp)` pair in @njit", E2, FRAME, None,
        "seconds", 3e-9),
    Row("E2", "`s = scope_begin(); scope_end(s)` pair in @njit vs the checkpoint pair", E2,
        E2_SCOPE, FRAME, "within", 1.2),
    Row("E3", "one frame per loop iteration with one 64 B array, @njit, vs `np.empty`", E3,
        FRAME, EMPTY, "faster", 5),
    Row("E3", "one checkpoint per loop iteration (inside one frame) vs `np.empty`", E3, E3_CP,
        EMPTY, "faster", None),
    Row("E4", "`begin_frame(); end_frame()` pair from Python", E4, FRAME, None, "seconds",
        5e-7),
    Row("E5", "first call of a user kernel (begin/frame_array/end) vs the same with `np.empty`, "
        "framealloc's kernels cached", E5, FRAME, EMPTY, "within", 1.5),
    Row("E5", "the same, empty numba cache (a new user's first run)", E5_COLD, FRAME, None,
        "seconds", 3.0),
    Row("E6", "Python -> @njit call taking the SmartAlloc vs taking an int", CALL, FRAME,
        CONTROL, "within", 1.3),
    Row("E6", "the floor: a call taking any numba extension-type object (empty unboxer) vs an "
        "int", CALL, "any extension type (numba's floor)", CONTROL, "within", None),
    Row("E7", "P2 batch with a tag and 4 budgets on vs off", E7, FRAME + " (tag + 4 budgets)",
        FRAME, "within", 1.2),
    Row("D1", "empty frame pair in @njit, frame history on (600) vs off", D1, HIST_ON, HIST_OFF,
        "within", 1.1),
    Row("D2", "empty frame pair from Python, frame history on (600) vs off", D2, HIST_ON,
        HIST_OFF, "within", 1.1),
    Row("D3", "frame with one 16-element array in @njit, debug mode on vs off (may be slow)",
        D3, DEBUG_ON, DEBUG_OFF, "within", None),
    Row("D4", "frame with one 16-element array from Python, debug mode on vs off (may be "
        "slow)", D4, DEBUG_ON, DEBUG_OFF, "within", None),
    Row("D5", "a Python frame with one 1 KiB allocation, behaviour filter on vs off", D5, BF_ON,
        BF_OFF, "within", 1.05),
    Row("D6", "empty frame pair from Python, behaviour filter on vs off", D6, BF_ON, BF_OFF,
        "within", 1.1),
    Row("D7", "600 Python frames with one 1 KiB allocation, trace (JSON written at exit) vs none",
        D7, TRACE_ON, TRACE_OFF, "within", None),
    # Transparent frames (benchmarks/test_transparent.py): the kernels untouched, one frame
    # around the call inside a fa.transparent(alloc) scope, against the call as published.
    *(Row("T1", f"numba#8101 `x += np.zeros_like(x)`, x of {n} float64, transparent vs plain",
          f"{T1}, x of {n} float64", T_WRAPPED, T_ORIGINAL, "faster", 5) for n in (16, 1000)),
    *(Row("T1", f"the ceiling: the same loop with the temporary preallocated (no allocation) vs "
          f"plain, x of {n} float64", f"{T1}, x of {n} float64", T_NO_ALLOC, T_ORIGINAL,
          "faster", None) for n in (16, 1000)),
    *(Row("T2", f"Lennard-Jones forces (array expressions), N={n}, transparent vs plain",
          f"{T2}, N={n}", T_WRAPPED, T_ORIGINAL, "faster", 1.5) for n in (64, 256, 1024)),
    *(Row("T3", f"Black-Scholes in batches of {b}, transparent vs plain",
          f"{T3}, batches of {b} options", T_WRAPPED, T_ORIGINAL, "faster", None)
      for b in (64, 1024, 8192)),
    Row("T4", "np.empty(16) loop outside frames, compiled after the install vs before", T4,
        T_AFTER, T_BEFORE, "within", 1.1),
    Row("T4", "the same loop inside a scope with no frame open vs compiled before the install",
        T4, T_NOFRAME, T_BEFORE, "within", 1.1),
    Row("T4", "cold compile of the Lennard-Jones kernel in a fresh process, after the install vs "
        "numba alone", T4_COMPILE, T_COMPILE_INSTALLED, T_COMPILE_PLAIN, "within", 1.1),
    *(Row("T5", f"NumPy from Python, {n} float64: a transparent frame per step vs the plain loop",
          f"{T5}, {n} float64", T_NUMPY_FRAMES, T_PLAIN_NUMPY, "faster", None) for n in (16, 1000)),
    *(Row("T5", f"the same, {n} float64: transparent (numpy=True) vs frames with NumPy's handler",
          f"{T5}, {n} float64", T_NUMPY_FRAMES, T_FRAMES_ONLY, "faster", None)
      for n in (16, 1000)),
    *(Row("T5", f"the same, {n} float64: one transparent frame around the loop vs the plain loop",
          f"{T5}, {n} float64", T_NUMPY_ONE_FRAME, T_PLAIN_NUMPY, "faster", None)
      for n in (16, 1000)),
    *(Row("X1", f"`alloc.frame_eval(f, a, b)` (f: `x - y*y`) vs numba's fused `a - b*b`, n={n}",
          X1.format(n), FRAME, X_FUSED, "within", 1.1) for n in (1000, 100000)),
    *(Row("X1", f"the hand-written `out=` ufunc chain into a frame array vs the fused `a - b*b`, "
          f"n={n}", X1.format(n), X_CHAIN, X_FUSED, "within", None) for n in (1000, 100000)),
    Row("X2", "port vs original: Lennard-Jones cluster potential (numba-examples)", X2, X_PORT,
        X_ORIGINAL, "faster", None),
    Row("X3", "port vs original: k-means of numba's parfors tests", X3, X_PORT, X_ORIGINAL,
        "faster", None),
    Row("X4", "port vs original: `np.zeros` per iteration (numba issue #9132)", X4, X_PORT,
        X_ORIGINAL, "faster", None),
    # Context: no targets.
    Row("ctx", "P5 from Python, after 100 000 vs after 1 allocation (caches not evicted)",
        P5_PY, "after 100000 allocations", "after 1 allocation", "within", None),
    Row("ctx", "P5 from @njit, after 100 000 vs after 1 allocation (caches not evicted)",
        P5_NJIT, "after 100000 allocations", "after 1 allocation", "within", None),
    Row("ctx", "P5 cache control: 1 allocation + 6.4 MB of unrelated writes, vs 1 allocation",
        P5_PY, P5_CONTROL, "after 1 allocation", "within", None),
    Row("ctx", "P3 vs control (same writes into a preallocated array)", P3, FRAME, CONTROL,
        "within", None),
    Row("ctx", "P3 storing `out[i]` instead of reducing", P3_STORE, FRAME, EMPTY, "faster", None),
    Row("ctx", "P3 with 1000 iterations per prange region (launch-bound)", P3_SMALL, FRAME, EMPTY,
        "faster", None),
    Row("ctx", "4 KiB `frame_array` in @njit vs `np.empty` (a[0] written)", KIB4, FRAME, EMPTY,
        "faster", None),
    Row("ctx", "1024 fully written 64 KiB arrays per frame vs `np.empty` (fresh-memory trap)",
        TRAP, FRAME, EMPTY, "faster", None),
    Row("ctx", "the same with a checkpoint rollback after each array", TRAP,
        FRAME + " + rollback", EMPTY, "faster", None),
    Row("ctx", "`frame_array` from Python vs `np.empty` with a pre-made dtype", P6, FRAME,
        EMPTY + " (pre-made dtype)", "within", None),
    Row("ctx", "tag `push_tag(tid)` + `pop_tag()` in @njit (no allocation between)", TAG_PUSH,
        "push+pop", None, "seconds", None),
    Row("ctx", "tag push + 64 B `frame_array` + pop in @njit", TAG_PUSH, "push+alloc+pop", None,
        "seconds", None),
    Row("ctx", "tag push+pop in @njit with 4 budgets on", TAG_PUSH, "push+pop, 4 budgets", None,
        "seconds", None),
    Row("ctx", "budget check from Python: `frame_array` with a tag + 4 budgets vs none", PY_BUDGET,
        ORG_ON, ORG_OFF, "within", None),
    Row("ctx", "budget check from Python: `pool_alloc` with a tag + 4 budgets vs none",
        PY_POOL_BUDGET, ORG_ON, ORG_OFF, "within", None),
]


def _gpu_rows() -> list[Row]:
    """The GPU rows (benchmarks/gpu/rows.py); shown when a run has their groups."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("_gpu_rows", HERE / "gpu" / "rows.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [Row(*row) for row in module.GPU_ROWS]


ROWS += _gpu_rows()


def run_suite(json_path: Path, quick: bool, include_gpu: bool, extra: list[str]) -> int:
    cmd = [sys.executable, "-m", "pytest", str(HERE), "-q", "-p", "no:cacheprovider",
           f"--benchmark-json={json_path}", "--benchmark-sort=name",
           "--benchmark-columns=median,iqr,rounds"]
    if not include_gpu:
        cmd.append(f"--ignore={HERE / 'gpu'}")
    if quick:
        cmd += ["--benchmark-max-time=0.2", "--benchmark-min-rounds=5"]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]]
                                                       if env.get("PYTHONPATH") else []))
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.call(cmd + extra, cwd=REPO, env=env, stdout=sys.stderr)


# -- formatting ----------------------------------------------------------------------------------

def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            v = seconds / scale
            return f"{v:.3g} {unit}" if v < 1000 else f"{v:.0f} {unit}"
    raise AssertionError


def per_op(bench: dict) -> float:
    """Median seconds per operation (an allocation, a batch, an end_frame, a process...); a
    benchmark that times a subprocess can report the time measured inside it
    (``median_inside_s``)."""
    ei = bench["extra_info"]
    return ei.get("median_inside_s", bench["stats"]["median"]) / ei.get("ops", 1)


def index(data: dict) -> dict:
    out: dict = {}
    for b in data["benchmarks"]:
        comp = b["extra_info"].get("competitor", b["name"])
        out[(b["group"], comp)] = b
    return out


def verdict(row: Row, idx: dict) -> list[str] | None:
    subj = idx.get((row.group, row.subject))
    ref = idx.get((row.group, row.reference)) if row.reference else None
    if subj is None or (row.reference and ref is None):
        return None
    s = per_op(subj)
    unit = subj["extra_info"].get("unit", "op")
    if row.kind == "no-numba":
        imported = subj["extra_info"].get("numba_at_import")
        ok = imported is False
        return [row.id, row.what, "numba imported" if imported else "numba not imported", "",
                "", "no numba", "PASS" if ok else "MISS"]
    if row.kind == "seconds":
        shown = f"{fmt_time(s)}/{unit}" if s < 1e-3 else fmt_time(s)
        if row.target is None:
            return [row.id, row.what, shown, "", "", "context", "—"]
        ok = s <= row.target
        return [row.id, row.what, shown, "", "", f"≤ {fmt_time(row.target)}",
                "PASS" if ok else "MISS"]
    r = per_op(ref)
    if row.kind == "faster":
        ratio = r / s
        text = f"{ratio:.3g}× faster" if ratio >= 1 else f"{1 / ratio:.3g}× slower"
        target = f"≥ {row.target:g}× faster" if row.target is not None else "context"
        ok = row.target is None or ratio >= row.target
    else:
        ratio = s / r
        text = f"{ratio:.3g}× the reference"
        target = f"≤ {row.target:g}×" if row.target is not None else "context"
        ok = row.target is None or ratio <= row.target
    result = "—" if row.target is None else ("PASS" if ok else "MISS")
    return [row.id, row.what, f"{fmt_time(s)}/{unit}", f"{fmt_time(r)} ({row.reference})",
            text, target, result]


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def machine_block(data: dict) -> str:
    mi = data.get("machine_info", {})
    fa = mi.get("framealloc", {})
    cpu = fa.get("cpu_model") or mi.get("cpu", {}).get("brand_raw", "?")
    commit = data.get("commit_info", {})
    lines = [
        f"* CPU: {cpu}; {fa.get('cpu_usable', '?')} usable of {fa.get('cpu_count', '?')} "
        f"logical CPUs",
        f"* Python {fa.get('python', mi.get('python_version', '?'))}, "
        f"NumPy {fa.get('numpy', '?')}, "
        f"Numba {fa.get('numba', '?')} (llvmlite {fa.get('llvmlite', '?')}), "
        f"NUMBA_NUM_THREADS={fa.get('numba_num_threads', '?')}",
        f"* {fa.get('platform', mi.get('system', '?'))}",
        f"* load average at start / end: {fa.get('loadavg_start', '?')} / "
        f"{fa.get('loadavg_end', '?')}",
        f"* run: {data.get('datetime', '?')}, commit {str(commit.get('id', '?'))[:10]}"
        f"{' (dirty tree)' if commit.get('dirty') else ''}",
    ]
    return "\n".join(lines)


def render(data: dict) -> str:
    idx = index(data)
    rows = [v for v in (verdict(r, idx) for r in ROWS) if v is not None]
    out = ["### Machine", "", machine_block(data), "",
           "### Ratios (medians of one run)", "",
           md_table(["#", "benchmark", "framealloc", "reference", "ratio", "target", "result"],
                    rows), ""]
    extras = []
    p7 = idx.get((P7, "import + first frame"))
    if p7:
        ins = p7["extra_info"].get("inside_median_s", {})
        if ins:
            extras.append("P7 inside the process (medians): " + ", ".join(
                f"{k} {fmt_time(v)}" for k, v in ins.items()))
        cold = p7["extra_info"].get("cold_cache_total_inside_s")
        if cold is not None:
            extras.append(f"P7 first run with an empty cache (compiles): {fmt_time(cold)}")
        comp = p7["extra_info"].get("compiled_with_warm_cache")
        if comp is not None:
            extras.append(f"P7 functions compiled in a warm-cache process: {len(comp)}"
                          + (f" ({', '.join(comp)})" if comp else ""))
    if extras:
        out += ["\n".join(f"* {e}" for e in extras), ""]
    all_rows = []
    for b in sorted(data["benchmarks"], key=lambda b: (b["group"] or "", b["name"])):
        ei = b["extra_info"]
        all_rows.append([b["group"] or "", ei.get("competitor", b["name"]),
                         f"{fmt_time(per_op(b))}/{ei.get('unit', 'op')}",
                         f"{b['stats']['iqr'] / b['stats']['median'] * 100:.0f}%",
                         str(b["stats"]["rounds"])])
    out += ["### All medians", "",
            md_table(["group", "competitor", "median", "IQR/median", "rounds"], all_rows), ""]
    return "\n".join(out)


BEGIN = "<!-- BEGIN TABLE"
END = "<!-- END TABLE -->"
README = REPO / "README.md"


TOPIC = "<!-- BEGIN TABLE rows="


def stamped_table(data: dict, ids: set[str] | None = None) -> str:
    """A table stamped with the run it came from: every row with a target (the README's
    Performance table), or with ``ids`` every row (context rows too) whose id is in ``ids``."""
    idx = index(data)
    rows = [v for v in (verdict(r, idx) for r in ROWS
                        if (r.id in ids if ids is not None else r.target is not None))
            if v is not None]
    commit = data.get("commit_info", {})
    mi = data.get("machine_info", {}).get("framealloc", {})
    stamp = (f"Medians of one run on commit {str(commit.get('id', '?'))[:10]}"
             f"{' (dirty tree)' if commit.get('dirty') else ''}, {data.get('datetime', '?')[:10]}, "
             f"{mi.get('cpu_usable', '?')} usable CPUs, Python {mi.get('python', '?')}, "
             f"Numba {mi.get('numba', '?')}; written by `python benchmarks/run.py --update-docs "
             f"docs/benchmarks.md` (ratios side by side in one process, JIT warmed).")
    return stamp + "\n\n" + md_table(["#", "benchmark", "framealloc", "reference", "ratio",
                                      "target", "result"], rows)


def fill_tables(path: Path, data: dict, plain: str | None = None) -> int:
    """Rewrite every table of ``path`` between a BEGIN TABLE and the next END TABLE marker (the
    markers stay): a ``<!-- BEGIN TABLE rows=T1,T2: ... -->`` marker gets those rows of this run,
    a bare one gets ``plain``. Returns how many tables were written."""
    doc = path.read_text()
    out, pos, n = [], 0, 0
    while (b := doc.find(BEGIN, pos)) != -1:
        eol = doc.index("\n", b) + 1
        e = doc.index(END, eol)
        marker = doc[b:eol]
        if marker.startswith(TOPIC):
            ids = set(marker[len(TOPIC):marker.index(":")].split(","))
            missing = ids - {r.id for r in ROWS}
            if missing:
                raise SystemExit(f"{path.name}: no benchmark rows named {sorted(missing)}")
            text = stamped_table(data, ids)
        elif plain is None:
            raise SystemExit(f"{path.name}: a table marker without rows=")
        else:
            text = plain
        out += [doc[pos:eol], "\n", text.strip(), "\n\n"]
        pos, n = e, n + 1
    out.append(doc[pos:])
    path.write_text("".join(out))
    return n


def update_topic_pages(data: dict, folder: Path, skip: Path | None = None) -> list[Path]:
    """Fill the tables of the pages in ``folder`` that carry ``<!-- BEGIN TABLE rows=...``
    markers, so that no page quotes a figure by hand."""
    done, skip = [], skip.resolve() if skip else None
    for page in sorted(folder.glob("*.md")):
        if page.resolve() != skip and TOPIC in page.read_text():
            fill_tables(page, data)
            done.append(page)
    return done


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", type=Path, help="keep pytest-benchmark's JSON here")
    p.add_argument("--from-json", type=Path, help="format this JSON instead of running")
    p.add_argument("--quick", action="store_true", help="0.2 s per benchmark instead of 1 s")
    p.add_argument("--include-gpu", action="store_true", help="also run benchmarks/gpu")
    p.add_argument("--output", type=Path, help="also write the Markdown here")
    p.add_argument("--update-docs", type=Path, metavar="MD",
                   help=f"replace the text between {BEGIN!r} and {END!r} in this file")
    args = p.parse_args(argv)

    rc = 0
    if args.from_json:
        path = args.from_json
    else:
        path = args.json or Path(tempfile.mkstemp(prefix="framealloc-bench-", suffix=".json")[1])
        rc = run_suite(path, args.quick, args.include_gpu, extra)
        if not path.exists() or path.stat().st_size == 0:
            print("no benchmark results were written", file=sys.stderr)
            return rc or 1
    data = json.loads(path.read_text())
    text = render(data)
    print(text)
    if args.output:
        args.output.write_text(text)
    if args.update_docs:
        fill_tables(args.update_docs, data, plain=text)
        if BEGIN in README.read_text():
            fill_tables(README, data, plain=stamped_table(data))
        update_topic_pages(data, args.update_docs.resolve().parent, skip=args.update_docs)
    if not args.from_json and not args.json:
        path.unlink()
    return rc


if __name__ == "__main__":
    sys.exit(main())
