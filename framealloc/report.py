"""The HTML report of a :class:`~framealloc.Snapshot`: one self-contained file, readable offline.

No script, no network: the timeline is inline SVG drawn here, the styles are inline, and a
Content-Security-Policy meta tag forbids everything else (``default-src 'none'``). Every string
that comes from the snapshot (tag paths, phase, budget and thread names, labels, messages) is
HTML-escaped, so a tag named ``<script>alert(1)</script>`` shows as text.

>>> import numpy as np, framealloc as fa
>>> alloc = fa.SmartAlloc()
>>> with alloc.frame(), alloc.tag("<script>alert(1)</script>"):
...     _ = alloc.frame_array(100, np.uint8)
>>> page = alloc.snapshot().to_html()
>>> "<script>" in page, "&lt;script&gt;alert(1)&lt;/script&gt;" in page
(False, True)
"""
from __future__ import annotations

import datetime
from html import escape

__all__ = ["render", "compact_html", "history_html", "diff_html", "CSP"]

#: The page's Content-Security-Policy: nothing but its own inline styles and data: images.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; " \
      "form-action 'none'"

_COLORS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;
background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.meta{color:#666} table{border-collapse:collapse;margin:6px 0}
th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left} th{background:#f6f6f6}
.bar{display:inline-block;height:9px;background:#4e79a7;vertical-align:middle}
.code{font-family:ui-monospace,Menlo,Consolas,monospace;font-weight:600}
.explain{white-space:pre-wrap;color:#555;margin:2px 0 10px 0;font-size:13px}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px}
.cards div{display:inline-block;margin:0 22px 8px 0} .cards b{display:block;font-size:20px}
svg text{font:11px system-ui,sans-serif;fill:#444}
"""


def _fmt_bytes(n) -> str:
    if n is None:
        return "-"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover


def _e(v) -> str:
    return escape(str(v), quote=True)


def _table(headers, rows, cls="") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


# -- the timeline --------------------------------------------------------------------------------

def _series(history, by: str):
    """``[(name, values)]`` stacked per frame: by kind (frame, other kinds) or by tag."""
    if by == "tag" and history.tags:
        return [(name or "(untagged)", history.tags[name].tolist()) for name in history.tags]
    out = [("frame", history["frame_bytes"].tolist()),
           ("pool/heap/scratch", [max(0, v) for v in history["other_bytes"].tolist()])]
    tp = history["transparent_bytes"] if "transparent_bytes" in history.columns else None
    if tp is not None and tp.any():         # transparent frames (fa.transparent) served some
        out.insert(1, ("transparent", tp.tolist()))
    return out


def timeline_svg(history, by: str = "kind", budgets=None, width: int = 860,
                 height: int = 220) -> str:
    """An SVG of memory per frame for one thread's history: stacked bars by kind or tag, a
    marker at each frame's peak, and dashed lines at budget limits (``{name: bytes}``)."""
    n = len(history)
    if n == 0:
        return '<p class="meta">No frames in the history (AllocConfig.history=0, or no frame ' \
               'ended yet).</p>'
    series = _series(history, by)
    totals = [sum(vals[i] for _, vals in series) for i in range(n)]
    peaks = history["peak"].tolist()
    limits = {k: v for k, v in (budgets or {}).items() if v}
    top = max([1] + totals + peaks + list(limits.values()))
    left, bottom, right, top_pad = 64, 24, 10, 10
    pw, ph = width - left - right, height - bottom - top_pad
    bw = pw / n
    y = lambda v: top_pad + ph - ph * v / top     # noqa: E731
    parts = [f'<svg width="{width}" height="{height}" '
             f'role="img" class="timeline" aria-label="memory per frame">']
    for frac in (0, 0.5, 1):
        yy = y(top * frac)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}" '
                     f'stroke="#eee"/><text x="{left - 6}" y="{yy + 4:.1f}" '
                     f'text-anchor="end">{_e(_fmt_bytes(top * frac))}</text>')
    frames = history["frame"].tolist()
    for i in range(n):
        base = 0
        x = left + i * bw
        for k, (name, vals) in enumerate(series):
            v = vals[i]
            if v <= 0:
                continue
            parts.append(f'<rect x="{x:.2f}" y="{y(base + v):.2f}" width="{max(bw - 0.5, 0.5):.2f}"'
                         f' height="{ph * v / top:.2f}" fill="{_COLORS[k % len(_COLORS)]}">'
                         f'<title>frame {frames[i]}: {_e(name)} {_e(_fmt_bytes(v))}</title>'
                         '</rect>')
            base += v
        if peaks[i] > totals[i]:
            parts.append(f'<line class="peak" x1="{x:.2f}" x2="{x + max(bw - 0.5, 0.5):.2f}" '
                         f'y1="{y(peaks[i]):.2f}" y2="{y(peaks[i]):.2f}" stroke="#222" '
                         f'stroke-width="2"><title>frame {frames[i]}: peak '
                         f'{_e(_fmt_bytes(peaks[i]))}</title></line>')
    for name, v in limits.items():
        yy = y(v)
        parts.append(f'<line class="budget" x1="{left}" x2="{width - right}" y1="{yy:.1f}" '
                     f'y2="{yy:.1f}" stroke="#e15759" stroke-dasharray="5 4"/>'
                     f'<text x="{width - right - 4}" y="{yy - 3:.1f}" text-anchor="end">'
                     f'{_e(name)} {_e(_fmt_bytes(v))}</text>')
    parts.append(f'<text x="{left}" y="{height - 6}">frame {frames[0]}</text>'
                 f'<text x="{width - right}" y="{height - 6}" text-anchor="end">frame '
                 f'{frames[-1]}</text></svg>')
    # Inline styles: a notebook shows this without the report's style sheet.
    span = '<span style="display:inline-block;margin-right:14px">'
    swatch = "display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px"
    legend = "".join(f'{span}<i style="{swatch};background:{_COLORS[k % len(_COLORS)]}"></i>'
                     f'{_e(name)}</span>' for k, (name, _) in enumerate(series))
    return f'<div class="legend">{legend}{span}&#9644; peak</span></div>' + "".join(parts)


def _budget_lines(stats) -> dict:
    out = {}
    for name, b in stats.get("budgets", {}).items():
        for kind in ("soft", "hard"):
            if b.get(kind) is not None and (name in ("total", "frame") or
                                            name.startswith("thread")):
                out[f"{name} {kind}"] = b[kind]
    return out


# -- sections ------------------------------------------------------------------------------------

_KINDS = ("frame", "pool", "typed_pools", "heap", "scratch", "handles", "streaming")


def _kinds_table(stats) -> str:
    rows = []
    for k in _KINDS:
        s = stats.get(k, {})
        rows.append((_e(k), *(_e(_fmt_bytes(s.get(f))) for f in
                              ("current", "peak", "reserved", "allocated")),
                     _e(s.get("allocations", "-"))))
    rows.append(("<b>total</b>", _e(_fmt_bytes(stats.get("total_current"))), "",
                 _e(_fmt_bytes(stats.get("total_reserved"))),
                 _e(_fmt_bytes(stats.get("total_allocated"))), ""))
    return _table(("kind", "current", "peak", "reserved", "allocated", "allocations"), rows)


def _tag_tree(stats) -> str:
    tags = stats.get("tags", {})
    if not tags:
        return '<p class="meta">No tags.</p>'
    total = sum(t.get("allocated", 0) for t in tags.values()) or 1
    rows = []
    for path in sorted(tags, key=lambda p: p.split("::")):
        t = tags[path]
        depth = path.count("::") + (1 if path else 0)
        share = t.get("allocated", 0) / total
        name = path.rsplit("::", 1)[-1] if path else "(untagged)"
        rows.append((f'<span class="tag" style="padding-left:{14 * depth}px">{_e(name)}</span>',
                     _e(_fmt_bytes(t.get("current"))), _e(_fmt_bytes(t.get("peak"))),
                     _e(_fmt_bytes(t.get("allocated"))), _e(t.get("allocations", 0)),
                     f'<span class="bar" style="width:{120 * share:.0f}px"></span> '
                     f'{100 * share:.1f}%'))
    return _table(("tag", "current", "peak", "allocated", "allocations", "share"), rows,
                  "tags")


def _phases_table(stats) -> str:
    paths = stats.get("phases", {}).get("paths", {})
    if not paths:
        return '<p class="meta">No phases.</p>'
    rows = [(f'<span style="padding-left:{14 * p.get("depth", 0)}px">{_e(path)}</span>',
             _e(p.get("frames", 0)), f'{p.get("wall_ns", 0) / 1e6:.3f}',
             _e(_fmt_bytes(p.get("bytes"))), _e(p.get("allocations", 0)))
            for path, p in paths.items()]
    return _table(("phase", "frames", "wall ms", "bytes", "allocations"), rows, "phases")


def _threads_table(stats) -> str:
    rows = [(_e(t.get("thread_name")), _e("-" if t.get("slot") is None else t["slot"]),
             _e("yes" if t.get("in_frame") else "no"), _e(t.get("frame_number")),
             _e(_fmt_bytes(t.get("frame", {}).get("allocated"))),
             _e(_fmt_bytes(t.get("frame", {}).get("peak"))))
            for t in stats.get("threads", [])]
    return _table(("thread", "slot", "in frame", "frames", "frame bytes allocated",
                   "frame peak"), rows, "threads")


def _workers_section(stats) -> str:
    """The per-worker table of a merged snapshot (:func:`framealloc.merge_snapshots`); empty for
    the snapshot of one allocator."""
    workers = stats.get("workers")
    if not isinstance(workers, dict) or not workers:
        return ""
    total = sum(w.get("total_allocated") or 0 for w in workers.values()) or 1
    rows = []
    for name, w in workers.items():
        share = (w.get("total_allocated") or 0) / total
        rows.append((_e(name), _e(w.get("threads", 0)), _e(w.get("frames_ended", 0)),
                     _e(_fmt_bytes(w.get("frame", {}).get("allocated"))),
                     _e(_fmt_bytes(w.get("frame", {}).get("peak"))),
                     _e(_fmt_bytes(w.get("pool", {}).get("current"))),
                     _e(_fmt_bytes(w.get("heap", {}).get("current"))),
                     _e(_fmt_bytes(w.get("total_current"))),
                     _e(_fmt_bytes(w.get("total_reserved"))), _e(w.get("warnings", 0)),
                     f'<span class="bar" style="width:{120 * share:.0f}px"></span> '
                     f'{100 * share:.1f}%'))
    table = _table(("worker", "threads", "frames ended", "frame allocated", "frame peak",
                    "pool live", "heap live", "live now", "reserved", "warnings",
                    "share of allocated"), rows, "workers")
    return (f'<h2 id="workers">Workers ({len(workers)})</h2>\n<p class="meta">Merged from '
            f'{len(workers)} snapshots: the sections below add the workers up; each peak is '
            f'that worker\'s own.</p>\n{table}\n')


def _explain(code: str) -> str:
    from .errors import explain
    try:
        return explain(code)
    except KeyError:
        return ""


def _warnings_list(warnings) -> str:
    if not warnings:
        return '<p class="meta">No warnings or events.</p>'
    out = []
    for w in warnings:
        where = "" if w.get("frame", -1) < 0 else \
            f" (frame {_e(w['frame'])}, thread slot {_e(w.get('thread_slot'))})"
        out.append(f'<li><span class="code">{_e(w["code"])}</span> {_e(w.get("category", ""))}:'
                   f' {_e(w.get("message", ""))}{where}'
                   f'<div class="explain">{_e(_explain(w["code"]))}</div></li>')
    return f'<ul class="warnings">{"".join(out)}</ul>'


def _cards(snapshot) -> str:
    s = snapshot.stats
    frames = s.get("frame", {}).get("frames_ended", 0)
    items = (("live now", _fmt_bytes(s.get("total_current"))),
             ("reserved", _fmt_bytes(s.get("total_reserved"))),
             ("allocated ever", _fmt_bytes(s.get("total_allocated"))),
             ("frames ended", frames), ("threads", len(s.get("threads", []))),
             ("warnings", len(snapshot.warnings)))
    return '<div class="cards">' + "".join(f"<div><b>{_e(v)}</b>{_e(k)}</div>"
                                           for k, v in items) + "</div>"


def render(snapshot) -> str:
    """The full report page (what ``snapshot.to_html()`` returns)."""
    when = datetime.datetime.fromtimestamp(snapshot.created_unix).isoformat(
        sep=" ", timespec="seconds") if snapshot.created_unix else "?"
    title = f"framealloc report{': ' + snapshot.label if snapshot.label else ''}"
    budgets = _budget_lines(snapshot.stats)
    names = {t.get("slot"): t.get("thread_name") for t in snapshot.stats.get("threads", [])}
    timelines = []
    for h in snapshot.history:
        name = names.get(h.thread_slot, f"slot {h.thread_slot}")
        timelines.append(f"<h3>{_e(name)} &middot; last {len(h)} frames, by kind</h3>"
                         + timeline_svg(h, "kind", budgets))
        if len(h.tags) > 1:
            timelines.append(f"<h3>{_e(name)} &middot; by tag</h3>"
                             + timeline_svg(h, "tag", budgets))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{_STYLE}</style></head>
<body>
<h1>{_e(title)}</h1>
<p class="meta">snapshot taken {_e(when)} &middot; framealloc {_e(snapshot.framealloc_version)}
&middot; history {_e(snapshot.config.get("history", "?"))} frames per thread</p>
{_cards(snapshot)}
<h2 id="timeline">Memory per frame</h2>
{"".join(timelines) or '<p class="meta">No thread has a history.</p>'}
{_workers_section(snapshot.stats)}<h2 id="kinds">Kinds of memory</h2>
{_kinds_table(snapshot.stats)}
<h2 id="tags">Tags</h2>
{_tag_tree(snapshot.stats)}
<h2 id="phases">Phases</h2>
{_phases_table(snapshot.stats)}
<h2 id="threads">Threads</h2>
{_threads_table(snapshot.stats)}
<h2 id="warnings">Warnings and events</h2>
{_warnings_list(snapshot.warnings)}
</body></html>
"""


def compact_html(snapshot) -> str:
    """What a notebook shows for a snapshot: the kinds table and the first thread's timeline
    (stacked by tag when the thread tagged anything, else by kind)."""
    first = snapshot.history[0] if snapshot.history else None
    by = "tag" if first is not None and len(first.tags) > 1 else "kind"
    tl = timeline_svg(first, by, _budget_lines(snapshot.stats), 640, 160) \
        if first is not None else ""
    label = f" {_e(snapshot.label)}" if snapshot.label else ""
    return (f"<div><b>framealloc snapshot{label}</b> &middot; {len(snapshot.warnings)} "
            f"warning(s){_kinds_table(snapshot.stats)}{tl}</div>")


def stats_html(stats) -> str:
    """What a notebook shows for :class:`~framealloc.AllocStats`: the kinds table, the tags."""
    d = stats.to_dict()
    return f"<div><b>framealloc stats</b>{_kinds_table(d)}{_tag_tree(d)}</div>"


def history_html(history) -> str:
    """What a notebook shows for a :class:`~framealloc.FrameHistory`: its timeline."""
    return timeline_svg(history, "tag" if len(history.tags) > 1 else "kind", None, 640, 160)


def diff_html(diff) -> str:
    """What a notebook shows for a :class:`~framealloc.SnapshotDiff`: what changed."""
    rows = [(_e(k), _e(f"{v:+,}" if isinstance(v, int) else f"{v:+.3g}"))
            for k, v in sorted(diff.changed().items())]
    head = f"<b>{_e(diff.after_label or 'after')} - {_e(diff.before_label or 'before')}</b>"
    return f"<div>{head}{_table(('field', 'change'), rows)}</div>" if rows else \
        f"<div>{head}: no change</div>"

