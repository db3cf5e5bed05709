"""Uploading from a client: the PostObject policy, and OSS holding a browser to it.

The policy is built by `imgpipe.cloud.upload_policy` (and `imgpipe upload-policy`
from the evaluated Terraform's outputs); it is checked by the local OSS
stand-in (`imgpipe.cloud.upload_standin`, over HTTP, with the real multipart
bodies urllib3 sends) with `imgpipe.cloud.oss_post`, written from OSS's pages
rather than from the builder. A request outside the policy is refused with
OSS's error and nothing is written; a signed GET URL from `imgpipe.cloud.urls`
(oss2's signer) opens a private object and nothing else does.
"""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import urllib3
from conftest import image_bytes

from fc_handler.storage import LocalStorage
from imgpipe.cli import main
from imgpipe.cloud import oss_post, upload_policy, urls
from imgpipe.cloud.terraform import evaluate
from imgpipe.cloud.upload_standin import LocalOss

SRC, DST = "photos-src", "photos-dst"
KEY_ID, SECRET = "LTAI-test", "test-secret"
NOW = datetime(2026, 12, 4, 20, 0, tzinfo=timezone.utc)
PREFIX = "uploads/web/abc123/"
MAX = 100_000
HTTP = urllib3.PoolManager(retries=False)


# ------------------------------------------------------------------ pure


def test_the_signature_matches_openssl():
    """V1: base64(hmac-sha1(secret, base64 policy)). The expected value was
    computed with openssl, not with Python:
    printf '%s' "$POLICY" | openssl dgst -sha1 -hmac "$SECRET" -binary | base64"""
    doc = {
        "expiration": "2026-12-04T12:00:00.000Z",
        "conditions": [["content-length-range", 0, 10485760]],
    }
    policy = upload_policy.encode(doc)
    assert policy == (
        "eyJleHBpcmF0aW9uIjoiMjAyNi0xMi0wNFQxMjowMDowMC4wMDBaIiwiY29uZGl0aW9ucyI6W1siY29u"
        "dGVudC1sZW5ndGgtcmFuZ2UiLDAsMTA0ODU3NjBdXX0="
    )
    secret = "OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV"
    assert upload_policy.sign(secret, policy) == "afnt3mHCC0s3NtRJJ8VjV1lomF8="


def test_the_document_holds_every_condition():
    doc = upload_policy.document(
        bucket=SRC,
        key_prefix=PREFIX,
        max_bytes=MAX,
        types=["image/jpeg", "image/png"],
        expiration=NOW + timedelta(minutes=10),
    )
    assert doc == {
        "expiration": "2026-12-04T20:10:00.000Z",
        "conditions": [
            {"bucket": SRC},
            ["starts-with", "$key", PREFIX],
            ["content-length-range", 1, MAX],
            ["in", "$content-type", ["image/jpeg", "image/png"]],
            ["not-in", "$x-oss-object-acl", ["public-read", "public-read-write"]],
        ],
    }


@pytest.mark.parametrize("max_bytes", [0, 5 * 1024**3 + 1])
def test_sizes_outside_postobject_s_range_are_refused(max_bytes):
    with pytest.raises(upload_policy.PolicyError, match="5 GB"):
        upload_policy.document(
            bucket=SRC, key_prefix=PREFIX, max_bytes=max_bytes, types=["image/jpeg"], expiration=NOW
        )


def test_the_types_are_those_of_the_endings_the_function_processes():
    from fc_handler.settings import Settings

    suffixes = Settings.image_suffixes
    assert upload_policy.content_types(suffixes) == [
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "image/tiff",
        "image/bmp",
        "image/heic",
        "image/heif",
        "image/avif",
    ]
    assert upload_policy.content_type_for("IMG_1.JPEG", suffixes) == "image/jpeg"
    assert upload_policy.content_type_for("notes.txt", suffixes) is None
    with pytest.raises(upload_policy.PolicyError):
        upload_policy.content_types([".txt"])


def test_the_form_action_is_the_bucket_s_url():
    assert (
        upload_policy.bucket_url(SRC, "https://oss-cn-hangzhou.aliyuncs.com")
        == "https://photos-src.oss-cn-hangzhou.aliyuncs.com"
    )
    assert (
        upload_policy.bucket_url(SRC, "http://127.0.0.1:8080") == "http://127.0.0.1:8080/photos-src"
    )


# ------------------------------------------------------ the stand-in, HTTP


class Clock:
    def __init__(self) -> None:
        self.now = NOW.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def oss(tmp_path):
    for bucket in (SRC, DST):
        (tmp_path / bucket).mkdir()
    delivered: list[tuple[str, str, bytes]] = []
    server = LocalOss(
        tmp_path,
        {
            KEY_ID: oss_post.Credential(SECRET),
            "STS.key": oss_post.Credential("sts-secret", security_token="tok/en+="),
        },
        on_upload=lambda b, k, d: delivered.append((b, k, d)),
        cors_origins=("http://app.example",),
        clock=Clock(),
    )
    server.delivered = delivered
    server.root = tmp_path
    yield server
    server.close()


def make_form(**overrides) -> upload_policy.Form:
    args = {
        "url": "unused",
        "bucket": SRC,
        "key_prefix": PREFIX,
        "max_bytes": MAX,
        "types": ["image/jpeg", "image/png"],
        "expiration": NOW + timedelta(minutes=10),
        "access_key_id": KEY_ID,
        "access_key_secret": SECRET,
        **overrides,
    }
    return upload_policy.form(**args)


def post(oss, fields, *, bucket=SRC, headers=None):
    return HTTP.request("POST", f"{oss.endpoint}/{bucket}", fields=fields, headers=headers or {})


def fields_of(form, data, *, name="cat.jpg", ctype="image/jpeg", extra=()):
    return [
        *form.fields.items(),
        *extra,
        ("Content-Type", ctype),
        ("file", (name, data, ctype)),
    ]


def stored(oss) -> list[str]:
    return sorted(
        p.relative_to(oss.root).as_posix()
        for p in oss.root.rglob("*")
        if p.is_file() and ".imgpipe-meta" not in p.parts
    )


def test_an_upload_inside_the_policy_is_written_and_delivered(oss):
    data = image_bytes("flower.jpg")
    r = post(oss, fields_of(make_form(), data), headers={"Origin": "http://app.example"})
    assert r.status == 200 and r.data == b""
    etag = r.headers["ETag"].strip('"')
    assert stored(oss) == [f"{SRC}/{PREFIX}cat.jpg"]
    storage = LocalStorage(oss.root)
    assert storage.get(SRC, PREFIX + "cat.jpg") == data
    assert storage.head(SRC, PREFIX + "cat.jpg").etag == etag
    assert storage.metadata(SRC, PREFIX + "cat.jpg")["headers"]["Content-Type"] == "image/jpeg"
    assert oss.wait_idle(10) and oss.delivered == [(SRC, PREFIX + "cat.jpg", data)]
    # the browser may read the answer and its ETag (the module's CORS rule)
    assert r.headers["Access-Control-Allow-Origin"] == "http://app.example"
    assert "ETag" in r.headers["Access-Control-Expose-Headers"]


def test_another_origin_gets_no_cors_headers(oss):
    r = post(oss, fields_of(make_form(), b"\xff\xd8x"), headers={"Origin": "http://evil.example"})
    assert r.status == 200 and "Access-Control-Allow-Origin" not in r.headers


def _tampered_policy(form):
    doc = json.loads(base64.b64decode(form.fields["policy"]))
    doc["conditions"][2] = ["content-length-range", 1, 10 * MAX]
    return [("policy", upload_policy.encode(doc))]


def _replace(fields, name, value):
    return [(n, value if n == name else v) for n, v in fields]


REFUSALS = {
    # what the browser changed -> (status, code, message part)
    "key outside the prefix": (
        lambda f, d: _replace(fields_of(f, d), "key", "uploads/elsewhere/cat.jpg"),
        403,
        "AccessDenied",
        '["starts-with","$key","uploads/web/abc123/"]',
    ),
    "key outside the source prefix": (
        lambda f, d: _replace(fields_of(f, d), "key", "resized/large/cat.jpg.jpg"),
        403,
        "AccessDenied",
        "Policy Condition failed",
    ),
    "too large": (
        lambda f, d: fields_of(f, d + b"\0" * (MAX - len(d) + 1)),
        400,
        "EntityTooLarge",
        f"> {MAX}",
    ),
    "empty": (lambda f, d: fields_of(f, b""), 400, "EntityTooSmall", "< 1"),
    "wrong type": (
        lambda f, d: fields_of(f, d, name="page.html", ctype="text/html"),
        403,
        "AccessDenied",
        '["in","$content-type"',
    ),
    "type overridden by x-oss-content-type": (
        lambda f, d: fields_of(f, d, extra=[("x-oss-content-type", "text/html")]),
        403,
        "AccessDenied",
        '["in","$content-type"',
    ),
    "made public": (
        lambda f, d: fields_of(f, d, extra=[("x-oss-object-acl", "public-read")]),
        403,
        "AccessDenied",
        "x-oss-object-acl",
    ),
    "tampered signature": (
        lambda f, d: _replace(fields_of(f, d), "Signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        403,
        "SignatureDoesNotMatch",
        "signature",
    ),
    "policy widened, signature kept": (
        lambda f, d: _replace(fields_of(f, d), "policy", _tampered_policy(f)[0][1]),
        403,
        "SignatureDoesNotMatch",
        "signature",
    ),
    "unknown key id": (
        lambda f, d: _replace(fields_of(f, d), "OSSAccessKeyId", "LTAI-nobody"),
        403,
        "InvalidAccessKeyId",
        "does not exist",
    ),
    "unsigned": (
        lambda f, d: [(n, v) for n, v in fields_of(f, d) if n not in ("policy", "Signature")],
        403,
        "AccessDenied",
        "no right",
    ),
    "file not last": (
        lambda f, d: [("file", ("cat.jpg", d, "image/jpeg")), *f.fields.items()],
        400,
        "MalformedPOSTRequest",
        "multipart/form-data",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_request_outside_the_policy_is_refused_and_nothing_is_written(oss, case):
    build, status, code, message = REFUSALS[case]
    r = post(oss, build(make_form(), image_bytes("flower.jpg")[: MAX // 2]))
    assert r.status == status, r.data
    error = ET.fromstring(r.data)
    assert error.findtext("Code") == code
    assert message in error.findtext("Message")
    assert stored(oss) == [] and oss.delivered == []
    assert oss.refused == [(code, error.findtext("Message"))]


def test_an_expired_policy_is_refused(oss):
    form = make_form(expiration=NOW + timedelta(seconds=30))
    oss.clock.now += 31
    r = post(oss, fields_of(form, b"\xff\xd8\xff"))
    assert r.status == 403
    assert ET.fromstring(r.data).findtext("Message") == (
        "Invalid according to Policy: Policy expired."
    )
    assert stored(oss) == []


def test_a_policy_for_another_bucket_is_refused_there(oss):
    r = post(oss, fields_of(make_form(), b"\xff\xd8\xff"), bucket=DST)
    assert r.status == 403 and '{"bucket":"photos-src"}' in r.data.decode()
    assert stored(oss) == []


def test_sts_credentials_need_their_token(oss):
    form = make_form(
        access_key_id="STS.key", access_key_secret="sts-secret", security_token="tok/en+="
    )
    without = [(n, v) for n, v in fields_of(form, b"\xff\xd8\xff") if n != "x-oss-security-token"]
    r = post(oss, without)
    assert r.status == 403 and b"InvalidAccessKeyId" in r.data and stored(oss) == []
    assert post(oss, fields_of(form, b"\xff\xd8\xff")).status == 200


def test_a_prefix_form_takes_the_file_s_name(oss):
    r = post(oss, fields_of(make_form(), b"\xff\xd8\xff", name="IMG_0001.jpg"))
    assert r.status == 200 and stored(oss) == [f"{SRC}/{PREFIX}IMG_0001.jpg"]


def test_an_exact_key_form_takes_that_key_only(oss):
    form = make_form(key_prefix=PREFIX + "one.jpg", exact_key=True)
    assert form.fields["key"] == PREFIX + "one.jpg"
    changed = _replace(fields_of(form, b"\xff\xd8\xff"), "key", PREFIX + "two.jpg")
    assert post(oss, changed).status == 403
    assert post(oss, fields_of(form, b"\xff\xd8\xff")).status == 200
    assert stored(oss) == [f"{SRC}/{PREFIX}one.jpg"]


# ------------------------------------------------------------ signed GETs


def test_a_signed_url_opens_a_private_object_and_nothing_else_does(oss):
    LocalStorage(oss.root).put(DST, "resized/large/a b.jpg.jpg", b"jpeg", content_type="image/jpeg")
    signer = urls.Signer(oss.endpoint, KEY_ID, SECRET)
    oss.clock.now = datetime.now(timezone.utc).timestamp()  # oss2 signs with the real clock
    url = urls.variant_url(signer, DST, "resized/large/a b.jpg.jpg", 60)
    r = HTTP.request("GET", url)
    assert (r.status, r.data, r.headers["Content-Type"]) == (200, b"jpeg", "image/jpeg")
    unsigned = url.split("?")[0]
    assert b"AccessDenied" in HTTP.request("GET", unsigned).data
    other = url.replace("a%20b.jpg.jpg", "other.jpg.jpg")
    assert b"SignatureDoesNotMatch" in HTTP.request("GET", other).data
    oss.clock.now += 61
    r = HTTP.request("GET", url)
    assert r.status == 403 and b"expired" in r.data


def test_an_sts_signed_url_carries_its_token(oss):
    LocalStorage(oss.root).put(DST, "resized/x.jpg", b"jpeg", content_type="image/jpeg")
    oss.clock.now = datetime.now(timezone.utc).timestamp()
    url = urls.variant_url(
        urls.Signer(oss.endpoint, "STS.key", "sts-secret", "tok/en+="), DST, "resized/x.jpg", 60
    )
    assert "security-token=" in url and HTTP.request("GET", url).status == 200
    assert HTTP.request("GET", url.replace("tok%2Fen", "tok%2Fxx")).status == 403


def test_expiry_is_bounded():
    with pytest.raises(ValueError, match="7 days"):
        urls.variant_url(urls.Signer("http://127.0.0.1:1", "k", "s"), DST, "x", 8 * 86400)


# ------------------------------------------------------------- the CLI


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    """The dev stack's outputs, from the evaluated Terraform (as after apply)."""
    ev = evaluate({"env": "dev"})
    names = ("source_bucket", "target_bucket", "queue_arn", "pipeline_config")
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({n: {"value": ev.output(n)} for n in names}))
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
    return ev, path


@pytest.fixture
def dev_oss(tmp_path, outputs):
    ev, _ = outputs
    root = tmp_path / "buckets"
    for name in ("source_bucket", "target_bucket"):
        (root / ev.output(name)).mkdir(parents=True)
    server = LocalOss(root, {KEY_ID: oss_post.Credential(SECRET)})
    server.root = root
    yield server
    server.close()


def test_upload_policy_prints_a_form_the_bucket_accepts(outputs, dev_oss, capsys):
    ev, path = outputs
    code = main(
        ["upload-policy", "--outputs", str(path), "--json", "--oss-endpoint", dev_oss.endpoint]
    )
    assert code == 0
    form = json.loads(capsys.readouterr().out)
    pipeline = json.loads(ev.output("pipeline_config"))
    assert form["max_bytes"] == pipeline["max_object_bytes"]
    assert form["key_prefix"].startswith(pipeline["source_prefix"] + "web/")
    assert form["url"] == f"{dev_oss.endpoint}/{ev.output('source_bucket')}"
    photo = (Path(__file__).parent / "data" / "bench" / "photo-12mp.jpg").read_bytes()
    fields = [*form["fields"].items(), ("Content-Type", "image/jpeg"), ("file", ("p.jpg", photo))]
    r = HTTP.request("POST", form["url"], fields=fields)
    assert r.status == 200
    assert stored(dev_oss) == [f"{ev.output('source_bucket')}/{form['key_prefix']}p.jpg"]


def test_max_mb_may_lower_the_stack_s_limit_never_raise_it(outputs, capsys):
    _, path = outputs
    assert main(["upload-policy", "--outputs", str(path), "--json", "--max-mb", "0.5"]) == 0
    assert json.loads(capsys.readouterr().out)["max_bytes"] == 524288
    assert main(["upload-policy", "--outputs", str(path), "--max-mb", "51"]) == 2
    err = capsys.readouterr().err
    assert "over the stack's max_object_mb (50)" in err and "Traceback" not in err


def test_upload_policy_without_credentials_says_which(outputs, monkeypatch, capsys):
    _, path = outputs
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    assert main(["upload-policy", "--outputs", str(path)]) == 2
    assert "ALIBABA_CLOUD_ACCESS_KEY_SECRET" in capsys.readouterr().err


@pytest.mark.parametrize("prefix", ["/web/", "web", "a/../b/"])
def test_a_key_prefix_must_be_a_folder(outputs, prefix, capsys):
    _, path = outputs
    with pytest.raises(SystemExit) as exc:
        main(["upload-policy", "--outputs", str(path), "--key-prefix", prefix])
    assert exc.value.code == 2 and "--key-prefix" in capsys.readouterr().err


def test_url_prints_a_url_the_bucket_serves(outputs, dev_oss, capsys):
    ev, path = outputs
    target = ev.output("target_bucket")
    LocalStorage(dev_oss.root).put(
        target, "resized/small/p.jpg.webp", b"webp", content_type="image/webp"
    )
    dev_oss.clock = lambda: datetime.now(timezone.utc).timestamp()
    args = ["url", "resized/small/p.jpg.webp", "--outputs", str(path), "--expires", "60"]
    assert main([*args, "--oss-endpoint", dev_oss.endpoint]) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith(f"{dev_oss.endpoint}/{target}/resized/small/p.jpg.webp?")
    assert HTTP.request("GET", url).data == b"webp"


# ------------------------------------------------- properties (derandomized)

from conftest import budget  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from urllib3 import encode_multipart_formdata  # noqa: E402

_KEYS = st.one_of(
    st.text(alphabet="abc/._-", max_size=12).map(lambda t: PREFIX + t),
    st.text(alphabet="abcu/._-", max_size=30),
)


@settings(max_examples=budget(200))
@given(
    key=_KEYS,
    size=st.integers(min_value=0, max_value=MAX + 2),
    ctype=st.sampled_from(["image/jpeg", "image/png", "image/gif", "text/html", ""]),
)
def test_accepted_exactly_when_every_condition_holds(key, size, ctype):
    """OSS's rule, over many forms: stored if and only if the key is under the
    prefix, the size within 1..MAX and the type listed."""
    form = make_form()
    # an empty Content-Type field counts as none: the file part's type decides
    part = ("f.jpg", b"\0" * size, "application/octet-stream")
    fields = [*form.fields.items(), ("Content-Type", ctype), ("file", part)]
    fields = _replace(fields, "key", key)
    body, content_type = encode_multipart_formdata(fields)
    parsed = oss_post.parse(content_type, body)
    credentials = {KEY_ID: oss_post.Credential(SECRET)}
    inside = key.startswith(PREFIX) and 1 <= size <= MAX and ctype in ("image/jpeg", "image/png")
    try:
        upload = oss_post.check(parsed, bucket=SRC, credentials=credentials, now=NOW)
    except oss_post.PostRefused as refused:
        assert not inside, refused
        codes = ("AccessDenied", "EntityTooLarge", "EntityTooSmall")
        assert refused.code in codes or (key, refused.code) == ("", "MalformedPOSTRequest")
    else:
        assert inside and (upload.key, len(upload.data)) == (key, size)
