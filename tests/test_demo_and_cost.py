"""make demo end to end, and the cost model against the article's figures."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageOps, ImageStat

from imgpipe import pricing as cost
from imgpipe.cloud.eventpattern import matches
from imgpipe.cloud.terraform import evaluate
from imgpipe.commands.demo.pipeline import run
from imgpipe.commands.demo.samples import write_samples

# small shipped images, for the tests that need an upload, not a real-size one
IMAGES = Path(__file__).parent / "data" / "images"
PHONE = IMAGES / "hopper_orientation_6.jpg"
LOGO = IMAGES / "avif_star.png"

EXPECTED = {
    "camera/IMG_4032.jpg": ("processed", None),
    "design/logo.png": ("processed", None),
    "screenshots/settings-tall.png": ("processed", None),
    "print/brochure-cmyk.jpg": ("processed", None),
    "broken/truncated.jpg": ("rejected", "corrupt"),
    "broken/not-a-photo.jpg": ("rejected", "unsupported"),
    # routed (the pattern filters no endings), ignored by the handler unread
    "notes.txt": ("ignored", "not-an-image-suffix"),
}


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> dict[str, Path]:
    return dict(write_samples(tmp_path_factory.mktemp("samples")))


@pytest.fixture(scope="module")
def demo(tmp_path_factory, samples):
    work = tmp_path_factory.mktemp("demo") / ".demo"
    return run(list(samples.items()), work, progress=False)


def test_every_sample_has_its_outcome(demo):
    assert {r.key.removeprefix("uploads/"): (r.outcome, r.reason) for r in demo.rows} == EXPECTED
    for row in demo.rows:
        assert row.routed == (row.outcome != "filtered")
        if row.outcome == "processed":
            assert row.variants == 6 and row.attempts == 1
    assert not demo.dead_letter_file.exists()


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    return sum(ImageStat.Stat(diff).mean) / 3


def test_demo_outputs_are_real_and_correct(demo, samples):
    target = demo.work_dir / "buckets" / demo.target_bucket
    outputs = {r.key.removeprefix("uploads/"): r.outputs for r in demo.rows}

    def output(name: str, variant: str, ext: str) -> Path:
        (key,) = [k for k in outputs[name] if f"/{variant}/" in k and k.endswith(ext)]
        return target / key

    # the 12 MP photo stored on its side comes out upright, without its GPS
    with Image.open(samples["camera/IMG_4032.jpg"]) as src:
        assert src.size == (4000, 3000)  # a real camera size, stored on its side
        exif = src.getexif()
        assert exif.get(0x0112) == 6 and exif.get_ifd(0x8825)  # orientation and GPS
        upright = ImageOps.exif_transpose(src).resize((1200, 1600))
    with Image.open(output("camera/IMG_4032.jpg", "large", ".jpg")) as im:
        assert im.size == (1200, 1600) and not im.getexif()
        assert mean_abs_diff(im, upright) < 6  # resampling and JPEG only (and a watermark)
        assert mean_abs_diff(im, upright.rotate(180)) > 20  # the picture is not symmetric
    with Image.open(output("design/logo.png", "small", ".webp")) as im:
        assert im.mode == "RGBA" and im.getpixel((0, 0))[3] == 0  # transparency kept
    with Image.open(output("design/logo.png", "small", ".jpg")) as im:
        assert im.mode == "RGB" and im.getpixel((0, 0)) == (255, 255, 255)  # the background
    with Image.open(output("screenshots/settings-tall.png", "medium", ".jpg")) as im:
        assert im.size == (600, 3077)  # fitted by width, the whole page kept
    with Image.open(samples["print/brochure-cmyk.jpg"]) as src:
        assert src.mode == "CMYK" and src.size == (1748, 2480)
    with Image.open(output("print/brochure-cmyk.jpg", "large", ".jpg")) as im:
        assert im.mode == "RGB" and im.size == (1200, 1703)
    record = json.loads((target / "rejected" / "broken" / "truncated.jpg.json").read_text())
    assert record["reason"] == "corrupt"
    log_lines = (demo.work_dir / "function.log").read_text().splitlines()
    assert len(log_lines) == 7  # one per routed upload (notes.txt too: ignored, logged)
    outcomes = {json.loads(line)["outcome"] for line in log_lines}
    assert outcomes == {"processed", "rejected", "ignored"}


def test_demo_routes_with_the_pattern_terraform_deploys(demo, tmp_path, monkeypatch):
    # the demo has no pattern of its own: it is the evaluated trigger_config's
    pattern = evaluate({"env": "dev"}).filter_pattern
    assert pattern["data"]["oss"]["bucket"]["name"] == [demo.source_bucket]
    assert matches(pattern, {"source": "acs.oss"}) is False
    # ... and the handler's settings are the evaluated function environment's,
    # so a change to the Terraform variables changes what the demo processes
    import imgpipe.commands.demo.pipeline as demo_module

    real_evaluate = demo_module.evaluate

    def only_png(variables):
        return real_evaluate({**variables, "image_suffixes": [".png"]})

    monkeypatch.setattr(demo_module, "evaluate", only_png)
    files = [("phone/IMG_0006.jpg", PHONE), ("design/logo-alpha.png", LOGO)]
    result = run(files, tmp_path / ".demo", progress=False)
    assert {r.key: (r.routed, r.outcome) for r in result.rows} == {
        "uploads/phone/IMG_0006.jpg": (True, "ignored"),
        "uploads/design/logo-alpha.png": (True, "processed"),
    }


def test_transient_failure_is_retried_then_dead_lettered(tmp_path):
    def break_target(buckets, target_bucket):
        # a file where the handler needs a folder: every write fails, as an
        # unreachable OSS would make it fail
        (buckets / target_bucket / "resized").write_text("in the way")

    result = run(
        [("phone/IMG_0006.jpg", PHONE)], tmp_path / ".demo", progress=False, prepare=break_target
    )
    (row,) = result.rows
    assert row.outcome == "dead-lettered"
    assert row.attempts == result.retries + 1 == 4  # async_retries = 3 in Terraform
    (line,) = result.dead_letter_file.read_text().splitlines()
    message = json.loads(line)
    assert message["QueueName"] == "imgpipe-dev-dead-letters"
    body = json.loads(message["MessageBody"])
    assert body["requestContext"]["approximateInvokeCount"] == 4
    assert body["requestContext"]["condition"] == "RetriesExhausted"
    original = json.loads(body["requestPayload"])
    assert original["data"]["oss"]["object"]["key"] == "uploads/phone/IMG_0006.jpg"
    assert original["type"] == "oss:ObjectCreated:PutObject"
    log = (result.work_dir / "function.log").read_text()
    assert log.count('"outcome": "failed"') == 4


def test_make_demo_command_prints_the_table(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "imgpipe",
            "demo",
            "--work-dir",
            str(tmp_path / "w"),
            "--monthly",
            "5000000",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"routed +processed", done.stdout) and "not-an-image-suffix" in done.stdout
    assert "Cost if this mix arrived 5,000,000 times a month" in done.stdout
    # FC's report is labelled FC only; the whole bill follows (tests/test_bill.py)
    assert "The whole bill, month 12 of 5,000,000 uploads a month" in done.stdout


def test_demo_on_a_users_folder(tmp_path):
    folder = tmp_path / "mine"
    (folder / "trip").mkdir(parents=True)
    (folder / "trip" / "beach.PNG").write_bytes(_png((40, 80, 160)))
    (folder / "readme.md").write_text("not an image")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "imgpipe",
            "demo",
            "--source",
            str(folder),
            "--work-dir",
            str(tmp_path / "w"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "uploads/trip/beach.PNG" in done.stdout
    out = tmp_path / "w" / "buckets" / "imgpipe-dev-out-1234567890123456" / "resized"
    # beach.webp, or beach.PNG.webp under a template that keeps the extension
    assert [p.name for p in (out / "small" / "trip").glob("beach.*webp")]


def _png(colour):
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), colour).save(buf, "PNG")
    return buf.getvalue()


# ---------------------------------------------------------------- cost


def test_article_worked_example():
    est = cost.estimate(5_000_000, 512, 200)
    assert round(est.total_cny, 2) == 16.38
    assert round(est.invocations_cny, 2) == 5.32 and round(est.compute_cny, 4) == 11.0592
    assert est.gib_seconds == 500_000 and est.billable_gib_seconds == 100_000


@pytest.mark.parametrize(
    ("requests", "expected"),
    [
        # 1 M at 512 MiB / 200 ms = 100,000 GiB-s: inside the free tier (the table says 3.00)
        (1_000_000, 0.0),
        (5_000_000, 16.3792),
        # 10 M: 9 M billable calls (11.97) + 600,000 billable GiB-s (66.3552)
        (10_000_000, 78.3252),
        # 50 M: 49 M calls (65.17) + 4,600,000 GiB-s (508.7232)
        (50_000_000, 573.8932),
    ],
)
def test_table_volumes_follow_from_the_rates(requests, expected):
    assert cost.estimate(requests, 512, 200).total_cny == pytest.approx(expected, abs=1e-6)


def test_traffic_and_overridden_rates():
    est = cost.estimate(0, 512, 200, egress_gib=10)
    assert est.traffic_cny == 5.0 and est.total_cny == 5.0
    rates = cost.Rates(per_10k_invocations=0.02, free_invocations=0, free_gib_seconds=0)
    assert cost.estimate(10_000, 1024, 1000, rates=rates).total_cny == pytest.approx(
        0.02 + 10_000 * 0.000110592
    )


def test_crossover_with_an_always_on_instance():
    n = cost.crossover_requests(100.0, 512, 200)
    assert cost.estimate(n, 512, 200).total_cny >= 100.0
    assert cost.estimate(n - 1, 512, 200).total_cny < 100.0


def test_cost_command_json():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "imgpipe",
            "cost",
            "--pricing",
            "article",
            "--requests",
            "5000000",
            "--memory-mb",
            "512",
            "--duration-ms",
            "200",
            "--egress-gib",
            "2",
            "--ecs-monthly-cny",
            "100",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(done.stdout)
    assert out["total_cny"] == pytest.approx(16.3792 + 1.0)
    assert {"invocations_cny", "compute_cny", "traffic_cny", "crossover_requests"} <= set(out)
    assert out["rates"]["per_gib_second"] == 0.000110592
