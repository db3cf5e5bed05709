"""The demo's HTML report (`.demo/report.html`): what happened, to look at.

One static page, openable from the file system (file://) with no server
and no script: each upload beside its variants, the variants at their real
pixel size (`width`/`height` are the file's own; a tall one scrolls inside
its frame rather than being shrunk), with format, dimensions, bytes, the
handler's ms, the outcome and its reason, the routing decision, then the
dead letters and the day-two steps. Images are linked by relative paths
into the demo's local buckets, so the page shows the files the handler
wrote, not copies.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from urllib.parse import quote

from PIL import Image

# Formats a browser shows in <img>; anything else gets a line, not a broken image.
BROWSER_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "AVIF", "BMP"}
# EXIF orientation values, for the source's caption
_ORIENTATION = {
    1: "upright",
    3: "upside down",
    6: "on its side (view rotated 90° clockwise)",
    8: "on its side (view rotated 90° anticlockwise)",
}

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1d1d1f; background: #fafafa; }
h1 { margin: 0 0 4px; } h2 { margin: 32px 0 8px; }
table { border-collapse: collapse; background: #fff; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.upload { background: #fff; border: 1px solid #ddd; border-radius: 8px; margin: 16px 0;
  padding: 12px; }
.upload h3 { margin: 0 0 8px; font-family: ui-monospace, monospace; font-size: 15px; }
.row { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
figure { margin: 0; flex: none; }
figcaption { font-size: 12px; color: #444; max-width: 420px; }
.source img { max-width: 360px; max-height: 640px; width: auto; height: auto;
  border: 1px solid #ccc; }
.frame { width: fit-content; max-height: 700px; max-width: 1240px; overflow: auto;
  border: 1px solid #ccc;
  background: repeating-conic-gradient(#eee 0 25%, #fff 0 50%) 0 0 / 16px 16px; }
.frame img { display: block; }
/* A frame starts scrolled to the variant's watermark (no script: a flex column
   laid out from the bottom, right-to-left, starts at the bottom right). */
.frame.wm-bottom { display: flex; flex-direction: column-reverse; }
.frame.wm-right { direction: rtl; }
.frame.wm-vcenter { max-height: none; } .frame.wm-hcenter { max-width: none; }
.note { background: #fff8c5; border-left: 3px solid #d4a72c; padding: 4px 8px; }
.processed { color: #1a7f37; } .rejected { color: #9a6700; }
.dead-lettered, .failed { color: #cf222e; } .filtered { color: #57606a; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; font-size: 12px; max-width: 1100px; }
"""


def _href(path: Path, base: Path) -> str:
    return quote(path.relative_to(base).as_posix())


def _facts(path: Path) -> dict | None:
    """Format, size, mode and EXIF orientation from the header; None if not an image."""
    try:
        with Image.open(path) as im:
            return {
                "format": im.format,
                "size": im.size,
                "mode": im.mode,
                "orientation": im.getexif().get(0x0112),
            }
    except Exception:  # noqa: BLE001 - anything Pillow cannot open is "not an image" here
        return None


def _cell(value) -> str:
    return html.escape("" if value is None else str(value))


def render(result, day_two=None, *, pattern: dict | None = None, watermark=None) -> str:
    """The report for a `demo.DemoResult` (and its `demo.DayTwo`), as HTML text.

    `watermark` (the processor's `Watermark`) places each frame's first view
    on the watermark, so it is seen without scrolling inside the frame."""
    work = result.work_dir
    buckets = work / "buckets"
    src_dir, out_dir = buckets / result.source_bucket, buckets / result.target_bucket
    rows = list(result.rows) + (day_two.rows() if day_two is not None else [])
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>imgpipe demo report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>imgpipe demo</h1>",
        "<p>Every upload went through the pipeline on this machine: the EventBridge "
        "pattern evaluated from the Terraform, the real handler, FC's retries "
        f"({result.retries}) and a dead-letter file. Memory {result.memory_mb} MB. "
        f"Source bucket <code>{_cell(result.source_bucket)}</code>, target bucket "
        f"<code>{_cell(result.target_bucket)}</code> (both folders under "
        f"<code>{_cell(buckets)}</code>). Variants are shown at their real pixel size.</p>",
        "<h2>Uploads</h2>",
        "<table><tr><th>object</th><th>routing</th><th>outcome</th><th>reason</th>"
        "<th>variants</th><th>ms</th><th>attempts</th></tr>",
    ]
    anchors = _anchors(rows)
    for r, anchor in zip(rows, anchors):
        parts.append(
            f'<tr><td><a href="#{anchor}">{_cell(r.key)}</a></td>'
            f"<td>{'routed' if r.routed else 'filtered'}</td>"
            f'<td class="{_cell(r.outcome)}">{_cell(outcome_text(r))}</td>'
            f'<td>{_cell(r.reason)}</td><td class="n">{r.variants}</td>'
            f'<td class="n">{f"{r.ms:.1f}" if r.routed else "-"}</td>'
            f'<td class="n">{r.attempts}</td></tr>'
        )
    parts.append("</table>")
    for r, anchor in zip(rows, anchors):
        parts.append(_upload(r, anchor, work, src_dir, out_dir, watermark=watermark))
    parts.append(_dead_letters(rows, day_two))
    if day_two is not None:
        parts.append("<h2>Day two</h2><pre>" + _cell("\n".join(day_two.lines()[2:])) + "</pre>")
    if pattern is not None:
        parts.append(
            "<h2>The EventBridge pattern (evaluated from Terraform)</h2>"
            "<details><summary>show the pattern</summary><pre>"
            + _cell(json.dumps(pattern, indent=1))
            + "</pre></details>"
        )
    parts.append("</body></html>\n")
    return "\n".join(parts)


def outcome_text(row) -> str:
    """The outcome column, of the console table and of this page: never the
    routing again, always the attempt count."""
    if not row.routed:
        return "not invoked"
    return row.outcome + (f" x{row.attempts}" if row.attempts > 1 else "")


def _anchor(key: str) -> str:
    return "u-" + quote(key, safe="").replace("%", "_")


def _anchors(rows) -> list[str]:
    """One id per card: a key delivered again (day two's duplicate, the copy
    uploaded then deleted) gets `-2`, `-3`, so each table row links its own."""
    seen: dict[str, int] = {}
    out = []
    for r in rows:
        seen[r.key] = seen.get(r.key, 0) + 1
        out.append(_anchor(r.key) + (f"-{seen[r.key]}" if seen[r.key] > 1 else ""))
    return out


def _upload(r, anchor: str, work: Path, src_dir: Path, out_dir: Path, *, watermark) -> str:
    src = src_dir / r.key
    note = getattr(r, "note", None)
    head = (
        f'<section class="upload" id="{anchor}"><h3>{_cell(r.key)}</h3>'
        + (f'<p class="note">{_cell(note)}</p>' if note else "")
        + f"<p><b>routing:</b> {_cell(r.routing)}<br><b>outcome:</b> "
        f'<span class="{_cell(r.outcome)}">{_cell(outcome_text(r))}</span>'
        + (f" ({_cell(r.reason)})" if r.reason else "")
        + (f": {_cell(r.detail)}" if r.detail else "")
        + (f" &middot; {r.ms:.1f} ms" if r.routed else "")
        + (f" &middot; {r.attempts} attempts" if r.attempts > 1 else "")
        + "</p>"
    )
    figures = [_source_figure(src, work)]
    if r.outcome == "processed":
        # smallest first: the small ones sit beside the source, the large wrap below
        shown = sorted(_variant_figure(out_dir / key, key, work, watermark) for key in r.outputs)
        figures += [fig for _, fig in shown]
    elif getattr(r, "redrive_outputs", None):
        figures.append(
            "<figure><figcaption><b>after <code>imgpipe redrive</code>:</b> "
            f"{len(r.redrive_outputs)} variants written</figcaption></figure>"
        )
        shown = sorted(
            _variant_figure(out_dir / key, key, work, watermark) for key in r.redrive_outputs
        )
        figures += [fig for _, fig in shown]
    elif r.outcome == "rejected":
        for key in r.outputs:
            record = out_dir / key
            if record.is_file():
                figures.append(
                    f"<figure><figcaption>rejection record <code>{_cell(key)}</code>"
                    f"</figcaption><pre>{_cell(record.read_text(encoding='utf-8'))}</pre></figure>"
                )
    return head + '<div class="row">' + "".join(figures) + "</div></section>"


def _source_figure(src: Path, work: Path) -> str:
    if not src.is_file():
        return "<figure><figcaption>source: deleted (day two)</figcaption></figure>"
    size = src.stat().st_size
    facts = _facts(src)
    if facts is None:
        return (
            f'<figure class="source"><figcaption>source: {size:,} bytes, '
            "not an image Pillow can open</figcaption></figure>"
        )
    w, h = facts["size"]
    orientation = facts["orientation"]
    caption = (
        f"source: {facts['format']} {w}&times;{h} {facts['mode']}, {size:,} bytes"
        + (
            f", EXIF orientation {orientation} ({_ORIENTATION.get(orientation, '')})"
            if orientation and orientation != 1
            else ""
        )
        + ". Shown scaled to fit"
        + (", turned by your browser" if orientation and orientation != 1 else "")
        + "."
    )
    if facts["format"] not in BROWSER_FORMATS:
        caption += " (no browser preview)"
        return f'<figure class="source"><figcaption>{caption}</figcaption></figure>'
    return (
        f'<figure class="source"><img src="{_href(src, work)}" alt="source"'
        f' loading="eager"><figcaption>{caption}</figcaption></figure>'
    )


def _frame_classes(watermark, width: int) -> str:
    """The frame's classes that start its view at the watermark."""
    from imgproc.watermark import applies

    if watermark is None or not applies(watermark, width) or watermark.position == "tiled":
        return "frame"
    if watermark.position == "center":
        return "frame wm-vcenter wm-hcenter"
    vertical, horizontal = watermark.position.split("-")
    down = {"top": None, "bottom": "wm-bottom", "center": "wm-vcenter"}[vertical]
    across = {"left": None, "right": "wm-right", "center": "wm-hcenter"}[horizontal]
    return " ".join(c for c in ("frame", down, across) if c)


def _variant_figure(path: Path, key: str, work: Path, watermark=None) -> tuple[int, str]:
    """(width, figure): the variant at its real size, or a line saying it is missing."""
    if not path.is_file():
        why = "removed since (its source was deleted)"
        return 0, f"<figure><figcaption><code>{_cell(key)}</code>: {why}</figcaption></figure>"
    facts = _facts(path) or {"format": "?", "size": (0, 0), "mode": "?"}
    w, h = facts["size"]
    variant = key.split("/")[1] if key.count("/") >= 2 else key
    return w, (
        f'<figure><div class="{_frame_classes(watermark, w)}">'
        f'<img src="{_href(path, work)}" width="{w}" height="{h}"'
        f' alt="{_cell(key)}" loading="eager"></div><figcaption><b>{_cell(variant)}</b> '
        f"{facts['format']} {w}&times;{h} {facts['mode']}, {path.stat().st_size:,} bytes<br>"
        f"<code>{_cell(key)}</code></figcaption></figure>"
    )


def _dead_letters(rows, day_two) -> str:
    dead = [r for r in rows if r.dead_letter is not None]
    out = ["<h2>Dead letters</h2>"]
    if not dead:
        out.append("<p>None: every routed upload was handled.</p>")
        return "".join(out)
    out.append(
        "<table><tr><th>object</th><th>queue</th><th>message id</th><th>attempts</th>"
        "<th>error</th><th>then</th></tr>"
    )
    for r in dead:
        body = json.loads(r.dead_letter["MessageBody"])
        error = json.loads(body["responsePayload"])
        then = "re-driven by imgpipe redrive" if r.redriven else "still in the queue"
        if getattr(r, "note", None):
            then += " (the outage was simulated by the demo)"
        out.append(
            f"<tr><td>{_cell(r.key)}</td><td>{_cell(r.dead_letter['QueueName'])}</td>"
            f"<td><code>{_cell(r.dead_letter['MessageId'])}</code></td>"
            f'<td class="n">{body["requestContext"]["approximateInvokeCount"]}</td>'
            f"<td>{_cell(error['errorType'])}: {_cell(error['errorMessage'])}</td>"
            f"<td>{then}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def write(result, day_two=None, *, pattern: dict | None = None, watermark=None) -> Path:
    """Write `report.html` in the demo's work directory; its path."""
    path = result.work_dir / "report.html"
    page = render(result, day_two, pattern=pattern, watermark=watermark)
    path.write_text(page, encoding="utf-8")
    return path
