"""What a newcomer sees after `make demo`: the console table and `.demo/report.html`.

The report is opened in real headless Chromium (Debian's `chromium`) when
it is installed: no console errors, every <img> decoded at the size the
page gives it, and a full-page screenshot kept in
build/test-artifacts/report.png. Without Chromium that one test is skipped
with the line that installs it (it is ~100 MB, so `make setup` does not).
"""

from __future__ import annotations

import html.parser
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import chromium
import pytest
from PIL import Image

from imgpipe.commands.demo.pipeline import Row, outcome_text, run, table
from imgpipe.commands.demo.samples import SAMPLES

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "build" / "test-artifacts"
PHONE = Path(__file__).parent / "data" / "images" / "hopper_orientation_6.jpg"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """`imgpipe demo` as `make demo` runs it: (stdout, work dir)."""
    work = tmp_path_factory.mktemp("demo") / ".demo"
    done = subprocess.run(
        [sys.executable, "-m", "imgpipe", "demo", "--work-dir", str(work)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr, work


# ------------------------------------------------------------ the table


def test_table_never_cuts_a_cell():
    rows = [
        Row(key="uploads/" + "a-long-folder-name/" * 3 + "IMG_0001.jpg", routed=True,
            outcome="dead-lettered", reason="FileExistsError", attempts=4, ms=812.3),
        Row(key="uploads/x.jpg", routed=True, outcome="rejected",
            reason="too-many-pixels-for-memory", attempts=1, ms=2.0),
    ]  # fmt: skip
    text = table(rows)
    assert rows[0].key in text and "dead-lettered x4" in text
    assert "too-many-pixels-for-memory" in text and "812.3" in text
    widths = {len(line) for line in text.splitlines()}
    assert len(widths) == 1  # the columns line up


def test_a_filtered_upload_says_so_once_and_has_no_time():
    row = Row(key="uploads/notes.txt", routed=False)
    assert outcome_text(row) == "not invoked"
    line = table([row]).splitlines()[-1]
    assert line.split() == ["uploads/notes.txt", "filtered", "not", "invoked", "0", "-"]


def test_a_dead_lettered_upload_is_billed_for_every_attempt(tmp_path):
    def break_target(buckets, target_bucket):
        (buckets / target_bucket / "resized").write_text("in the way")

    result = run(
        [("phone/IMG_0006.jpg", PHONE)], tmp_path / ".demo", progress=False, prepare=break_target
    )
    (row,) = result.rows
    assert row.outcome == "dead-lettered" and row.attempts == 4
    assert row.ms > 0  # was 0.0: the cost left failed uploads out
    assert row.dead_letter is not None and row.detail
    assert "dead-lettered x4" in table(result.rows)


def test_the_demo_prints_a_clean_table_and_the_reports_path(demo_run):
    stdout, stderr, work = demo_run
    assert "filtered filtered" not in stdout
    for sample in SAMPLES:
        assert f"uploads/{sample.name}" in stdout
    assert f"Report (open it in a browser, no server needed): {work / 'report.html'}" in stdout
    assert "Warning" not in stderr and "warning" not in stderr.lower()


def test_make_package_builds_no_checkov_venv():
    dry = subprocess.run(
        ["make", "-n", "-B", "package"], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    assert "build.py" in dry and "-m venv .venv" in dry
    assert "checkov" not in dry


def test_the_editable_install_notice_is_not_printed_by_make_demo():
    dry = subprocess.run(
        ["make", "-n", "-B", "demo"], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    (install,) = [line for line in dry.splitlines() if "install --quiet --no-deps -e ." in line]
    assert install.startswith('PYTHONWARNINGS="ignore:Editable installation"')


# ------------------------------------------------------------ the report


class _Images(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict] = []
        self.links: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if a.get("id"):
            self.ids.append(a["id"])


def _cards(page: str) -> dict[str, str]:
    """id -> the HTML of each upload's card."""
    return dict(re.findall(r'<section class="upload" id="([^"]+)">(.*?)</section>', page, re.S))


def test_every_id_is_unique_and_each_row_links_its_own_card(demo_run):
    _, _, work = demo_run
    page = (work / "report.html").read_text(encoding="utf-8")
    parsed = _Images()
    parsed.feed(page)
    assert len(parsed.ids) == len(set(parsed.ids)), sorted(
        i for i in parsed.ids if parsed.ids.count(i) > 1
    )
    table = page.split("</table>")[0]
    rows = re.findall(
        r'<tr><td><a href="#([^"]+)">.*?</td><td>[^<]*</td><td class="[^"]*">([^<]*)<', table
    )
    assert len(rows) == len(parsed.links) > 8
    cards = _cards(page)
    for anchor, outcome in rows:  # the card a row links to tells the row's outcome
        assert f">{outcome}</span>" in cards[anchor], (anchor, outcome)


def test_the_outage_card_says_it_was_simulated_and_shows_the_redrive(demo_run):
    _, _, work = demo_run
    page = (work / "report.html").read_text(encoding="utf-8")
    (card,) = [c for c in _cards(page).values() if "uploads/later/IMG_0008.jpg" in c]
    assert "simulated outage" in card and "imgpipe redrive" in card
    redriven = re.findall(r'<img src="([^"]+)"[^>]*alt="resized/', card)
    assert len(redriven) == 6  # the variants the re-drive wrote, shown
    assert all((work / unquote(src)).is_file() for src in redriven)


def test_the_report_shows_every_upload_beside_its_real_variants(demo_run):
    _, _, work = demo_run
    page = (work / "report.html").read_text(encoding="utf-8")
    parsed = _Images()
    parsed.feed(page)
    assert "http://" not in page and "https://" not in page and "<script" not in page
    variants = [i for i in parsed.images if i["alt"] != "source"]
    # the four images' six each, the re-drive's six, the replaced copy's six (its CDN refresh)
    assert len(variants) == 6 * 4 + 6 + 6
    for img in parsed.images:
        path = work / unquote(img["src"])
        assert path.is_file(), img["src"]
        if img["alt"] != "source":  # at its real size: the file's own pixels
            with Image.open(path) as im:
                assert (int(img["width"]), int(img["height"])) == im.size
    for sample in SAMPLES:
        assert f"uploads/{sample.name}" in page
    assert "EXIF orientation 6" in page and "4000&times;3000" in page
    assert "rejection record" in page and "&quot;reason&quot;: &quot;corrupt&quot;" in page
    assert "routed: the event matches every field" in page  # the routing decision, in words
    assert "not-an-image-suffix" in page  # notes.txt: routed, ignored by the handler unread
    # the dead letter of the outage upload, and that redrive took it
    dead = page.split("<h2>Dead letters</h2>")[1].split("<h2>")[0]
    assert "uploads/later/IMG_0008.jpg" in dead and "re-driven by imgpipe redrive" in dead
    assert all(link.startswith("#u-") for link in parsed.links)
    for link in parsed.links:
        assert f'id="{link[1:]}"' in page


def test_the_report_in_a_real_browser(demo_run):
    binary = chromium.find()
    if binary is None:
        pytest.skip("chromium not installed: apt-get install -y chromium (~100 MB) to run this")
    _, _, work = demo_run
    page = chromium.load(work / "report.html", binary)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.write_bytes(page.screenshot)
    assert page.title == "imgpipe demo report"
    assert page.errors == []
    assert len(page.images) >= 4 + 6 * 4
    broken = [i["src"] for i in page.images if not (i["complete"] and i["naturalWidth"] > 0)]
    assert broken == []
    for img in page.images:
        if re.search(r"/resized/", img["src"]):  # variants at their real size
            assert (img["width"], img["height"]) == (img["naturalWidth"], img["naturalHeight"])
    with Image.open(shot) as im:
        assert im.width >= 1200 and im.height > 5000  # the whole page, not the viewport


_FRAMES = """JSON.stringify([...document.querySelectorAll('.frame')].map(f => {
  const i = f.querySelector('img'), fr = f.getBoundingClientRect(), ir = i.getBoundingClientRect();
  const left = fr.left + f.clientLeft - ir.left, top = fr.top + f.clientTop - ir.top;
  return {src: i.getAttribute('src'), left: left, top: top,
          right: left + f.clientWidth, bottom: top + f.clientHeight};
}))"""


def test_each_watermark_is_in_view_without_scrolling_its_frame(demo_run):
    """What a frame shows first (its visible part, in the image's pixels)
    holds every watermark stamp the processor put on that variant."""
    binary = chromium.find()
    if binary is None:
        pytest.skip("chromium not installed: apt-get install -y chromium (~100 MB) to run this")
    from imgpipe.cloud.stack import Stack
    from imgproc.watermark import applies, stamp_boxes

    _, _, work = demo_run
    wm = Stack.local().config.watermark
    page = chromium.load(work / "report.html", binary, expressions={"frames": _FRAMES})
    checked = 0
    for frame in page.values["frames"]:
        with Image.open(work / unquote(frame["src"])) as im:
            size = im.size
        boxes = stamp_boxes(wm, size) if applies(wm, size[0]) else []
        seen = [
            b
            for b in boxes
            if b[0] >= frame["left"] - 1
            and b[1] >= frame["top"] - 1
            and b[2] <= frame["right"] + 1
            and b[3] <= frame["bottom"] + 1
        ]
        if boxes:
            checked += 1
            assert seen == boxes if wm.position != "tiled" else seen, (frame, boxes)
    assert checked >= 4 * 4  # large and medium of each processed sample carry one


def test_a_users_odd_file_names_are_escaped_and_still_link(tmp_path):
    from imgpipe.commands.demo import report

    name = "trip/a b#1 & 'x' <y>.png"
    folder = tmp_path / "mine"
    (folder / "trip").mkdir(parents=True)
    Image.new("RGB", (800, 500), (40, 80, 160)).save(folder / name)
    result = run([(name, folder / name)], tmp_path / ".demo", progress=False)
    page = report.write(result).read_text(encoding="utf-8")
    assert "<y>" not in page and "&lt;y&gt;" in page
    parsed = _Images()
    parsed.feed(page)
    assert len(parsed.images) == 1 + 6
    for img in parsed.images:
        assert (result.work_dir / unquote(img["src"])).is_file(), img["src"]
