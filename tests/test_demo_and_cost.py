"""make demo end to end, and the cost model against the article's figures."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageOps, ImageStat

from imgpipe import cost
from imgpipe.demo import SAMPLES, run
from imgpipe.eventpattern import matches
from imgpipe.terraform import evaluate

EXPECTED = {
    "phone/IMG_0006.jpg": ("processed", None),
    "design/logo-alpha.png": ("processed", None),
    "print/brochure-cmyk.jpg": ("processed", None),
    "camera/DSC_1200.jpg": ("processed", None),
    "phone/IMG_0007-gps.jpg": ("processed", None),
    "broken/truncated.jpg": ("rejected", "corrupt"),
    "broken/not-a-photo.jpg": ("rejected", "unsupported"),
    "notes.txt": ("filtered", None),
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo") / ".demo"
    return run([(n, p) for n, p, _ in SAMPLES], work, progress=False)


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


def test_demo_outputs_are_real_and_correct(demo):
    target = demo.work_dir / "buckets" / demo.target_bucket
    outputs = {r.key.removeprefix("uploads/"): r.outputs for r in demo.rows}

    def output(name: str, variant: str, ext: str) -> Path:
        (key,) = [k for k in outputs[name] if f"/{variant}/" in k and k.endswith(ext)]
        return target / key

    # the rotated phone photo comes out upright: same pixels as the EXIF-corrected source
    phone = dict((n, p) for n, p, _ in SAMPLES)["phone/IMG_0006.jpg"]
    with Image.open(phone) as src:
        assert src.getexif().get(0x0112) == 6  # the sample really is stored on its side
        upright = ImageOps.exif_transpose(src)
        stored = src.convert("RGB")
    with Image.open(output("phone/IMG_0006.jpg", "large", ".jpg")) as im:
        assert im.size == upright.size and not im.getexif()
        assert mean_abs_diff(im, upright) < 3  # JPEG re-encoding only
        assert mean_abs_diff(im, stored) > 20  # what skipping the rotation gives
    with Image.open(output("camera/DSC_1200.jpg", "large", ".jpg")) as im:
        assert im.size == (1200, 900)
    with Image.open(output("design/logo-alpha.png", "small", ".webp")) as im:
        assert im.mode == "RGBA"
    record = json.loads((target / "rejected" / "broken" / "truncated.jpg.json").read_text())
    assert record["reason"] == "corrupt"
    log_lines = (demo.work_dir / "function.log").read_text().splitlines()
    assert len(log_lines) == 7  # one per routed upload
    assert {json.loads(line)["outcome"] for line in log_lines} == {"processed", "rejected"}


def test_demo_routes_with_the_pattern_terraform_deploys(demo, tmp_path, monkeypatch):
    # the demo has no pattern of its own: it is the evaluated trigger_config's
    pattern = evaluate({"env": "dev"}).filter_pattern
    assert pattern["data"]["oss"]["bucket"]["name"] == [demo.source_bucket]
    assert matches(pattern, {"source": "acs.oss"}) is False
    # ... so a change to the Terraform variables changes what the demo routes
    import imgpipe.demo as demo_module

    real_evaluate = demo_module.evaluate

    def only_png(variables):
        return real_evaluate({**variables, "image_suffixes": [".png"]})

    monkeypatch.setattr(demo_module, "evaluate", only_png)
    samples = dict((n, p) for n, p, _ in SAMPLES)
    files = [(n, samples[n]) for n in ("phone/IMG_0006.jpg", "design/logo-alpha.png")]
    result = run(files, tmp_path / ".demo", progress=False)
    assert {r.key: (r.routed, r.outcome) for r in result.rows} == {
        "uploads/phone/IMG_0006.jpg": (False, "filtered"),
        "uploads/design/logo-alpha.png": (True, "processed"),
    }


def test_transient_failure_is_retried_then_dead_lettered(tmp_path):
    def break_target(buckets, target_bucket):
        # a file where the handler needs a folder: every write fails, as an
        # unreachable OSS would make it fail
        (buckets / target_bucket / "resized").write_text("in the way")

    photo = SAMPLES[0][1]
    result = run(
        [("phone/IMG_0006.jpg", photo)], tmp_path / ".demo", progress=False, prepare=break_target
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
    assert "routed   processed" in done.stdout and "filtered" in done.stdout
    assert "Cost if this mix arrived 5,000,000 times a month" in done.stdout


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
