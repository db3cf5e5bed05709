"""No silent overwrites by default (issue 15).

`a/x.jpg` and `a/x.png` used to share `resized/large/a/x.jpg` under the old
default template `resized/{variant}/{path}.{ext}`: the second upload replaced
the first one's variants. The default now keeps the source's extension.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from conftest import image_bytes
from PIL import Image

from fc_handler.handle import handle_event
from fc_handler.settings import Settings
from fc_handler.storage import LocalStorage
from imgpipe.cloud.events import cloudevent
from imgproc import default_config, output_key, parse_config
from imgproc.config import DEFAULT_KEY_TEMPLATE

ROOT = Path(__file__).resolve().parent.parent
SRC, DST = "photos-src", "photos-dst"


def _png_of(jpeg: bytes) -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


def test_same_stem_different_extension_keeps_two_sets_of_variants(tmp_path):
    storage = LocalStorage(tmp_path)
    settings = Settings.from_env({"SOURCE_BUCKET": SRC, "TARGET_BUCKET": DST})
    jpg = image_bytes("flower.jpg")  # 480x360
    png = _png_of(image_bytes("hopper.jpg"))  # 128x128
    outputs = {}
    for key, data in (("uploads/a/x.jpg", jpg), ("uploads/a/x.png", png)):
        storage.put(SRC, key, data, content_type="application/octet-stream")
        (outcome,) = handle_event(
            cloudevent(SRC, key, data),
            settings=settings,
            storage=storage,
            request_id="r",
            log=lambda _r: None,
        )
        assert outcome.outcome == "processed", outcome
        outputs[key] = set(outcome.outputs)
    assert outputs["uploads/a/x.jpg"].isdisjoint(outputs["uploads/a/x.png"])
    assert len(outputs["uploads/a/x.jpg"]) == len(outputs["uploads/a/x.png"]) == 6
    # Both sets are still there, each made from its own source.
    for key, size in (("a/x.jpg", (480, 360)), ("a/x.png", (128, 128))):
        for variant in ("large", "medium", "small"):
            for ext in ("jpg", "webp"):
                out = storage.get(DST, f"resized/{variant}/{key}.{ext}")
                w, h = Image.open(io.BytesIO(out)).size
                assert w <= size[0] and abs(w / h - size[0] / size[1]) < 0.02
                meta = storage.head(DST, f"resized/{variant}/{key}.{ext}").metadata
                assert meta["source-key"] == f"uploads/{key}"


def test_the_default_template_is_injective_over_sources_and_formats():
    cfg = default_config()
    assert cfg.key_template == DEFAULT_KEY_TEMPLATE
    sources = ["x.jpg", "x.png", "x", "x.jpg.jpg", "a/x.jpg", "a/x.JPG", ".jpg", "a.b/x", "a/b.x"]
    keys = [
        output_key(cfg.key_template, s, v.name, f)
        for s in sources
        for v in cfg.variants
        for f in ("jpeg", "webp", "png", "avif")
    ]
    assert len(set(keys)) == len(keys)
    assert output_key(cfg.key_template, "a/x.png", "large", "webp") == "resized/large/a/x.png.webp"


def test_a_deployment_that_sets_its_own_template_keeps_it():
    old = "resized/{variant}/{path}.{ext}"
    cfg = parse_config({"key_template": old})
    assert output_key(cfg.key_template, "a/x.jpg", "large", "jpeg") == "resized/large/a/x.jpg"
    assert cfg.output_prefixes() == default_config().output_prefixes()


def test_terraform_default_is_the_handlers_default():
    text = (ROOT / "variables.tf").read_text()
    block = re.search(r'variable "key_template" \{.*?\n\}', text, re.S).group(0)
    (default,) = re.findall(r'default\s*=\s*"([^"]*)"', block)
    assert default == DEFAULT_KEY_TEMPLATE
