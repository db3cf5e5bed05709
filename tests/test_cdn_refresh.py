"""Fresh after a change: the real handler refreshes exactly the stale keys at a stand-in CDN.

The stand-in (imgpipe/cloud/cdn_standin.py) checks each call's signature and the API's
limits and records the URLs; the handler runs on real images and real event
shapes, through `index.handler` where the wiring from the environment is
what is tested. docs/serving.md, "Fresh after a change", is the contract.
"""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote, urlencode

import pytest
from conftest import image_bytes

import index
from fc_handler import cdn
from fc_handler.handle import handle_event
from fc_handler.settings import Settings
from fc_handler.storage import LocalStorage
from imgpipe.cloud.cdn_standin import CdnStandIn, expected_signature
from imgpipe.cloud.events import cloudevent

SRC, DST = "photos-src", "photos-dst"
DOMAIN = "img.example.com"
KEY_ID, SECRET, TOKEN = "STS.stand-in", "s3cret", "token-1"
VARIANTS = [
    f"resized/{v}/a/x.jpg.{e}" for v in ("large", "medium", "small") for e in ("jpg", "webp")
]
URLS = [f"http://{DOMAIN}/{k}" for k in VARIANTS]


@pytest.fixture
def front():
    with CdnStandIn(DOMAIN, {KEY_ID: SECRET}, sts_keys=frozenset({KEY_ID})) as server:
        yield server


@pytest.fixture
def storage(tmp_path) -> LocalStorage:
    return LocalStorage(tmp_path / "buckets")


def context() -> SimpleNamespace:
    creds = SimpleNamespace(access_key_id=KEY_ID, access_key_secret=SECRET, security_token=TOKEN)
    return SimpleNamespace(request_id="req-1", credentials=creds, region="cn-hangzhou")


@pytest.fixture
def invoke(storage, monkeypatch, capsys):
    """index.handler with the environment Terraform sets (cdn mode unless told otherwise)."""

    def run(event, *, domain: str = DOMAIN, endpoint: str = "") -> list[dict]:
        for name in list(index.VARIABLES):
            monkeypatch.delenv(name, raising=False)
        env = {
            "SOURCE_BUCKET": SRC,
            "TARGET_BUCKET": DST,
            "IMGPIPE_LOCAL_BUCKETS": str(storage.root),
            "CDN_REFRESH_DOMAIN": domain,
            "CDN_ENDPOINT": endpoint,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        index.handler(json.dumps(event).encode(), context())
        return [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    return run


def upload(storage, key="uploads/a/x.jpg", name="flower.jpg") -> dict:
    data = image_bytes(name)
    storage.put(SRC, key, data, content_type="image/jpeg")
    return cloudevent(SRC, key, data)


def test_a_new_upload_refreshes_nothing_a_replaced_one_exactly_its_variants(storage, front, invoke):
    (first,) = invoke(upload(storage), endpoint=front.endpoint)
    assert first["outcome"] == "processed" and "cdn_refresh" not in first
    assert front.requests == []  # nothing was cached under keys that did not exist

    (second,) = invoke(upload(storage, name="hopper.jpg"), endpoint=front.endpoint)
    assert second["outcome"] == "processed"
    assert sorted(front.urls) == sorted(URLS)
    (call,) = front.refreshed
    assert call.token == TOKEN  # the function role's STS token, as OSS gets it
    assert second["cdn_refresh"] == {"outcome": "refreshed", "urls": 6, "tasks": ["1001"]}
    assert sorted(second["stale"]) == sorted(VARIANTS)


def test_a_duplicate_delivery_refreshes_nothing(storage, front, invoke):
    event = upload(storage)
    invoke(event, endpoint=front.endpoint)
    (again,) = invoke(event, endpoint=front.endpoint)
    assert again["outcome"] == "current"
    assert front.requests == []


def test_a_deleted_source_refreshes_exactly_its_deleted_variants(storage, front, invoke):
    invoke(upload(storage), endpoint=front.endpoint)
    invoke(upload(storage, "uploads/a/other.jpg"), endpoint=front.endpoint)
    storage.delete(SRC, "uploads/a/x.jpg")
    event = cloudevent(SRC, "uploads/a/x.jpg", b"", api="ObjectRemoved:DeleteObject")
    (line,) = invoke(event, endpoint=front.endpoint)
    assert line["outcome"] == "deleted"
    assert "rejected/a/x.jpg.json" in line["outputs"]  # deleted, but never served: not refreshed
    assert sorted(front.urls) == sorted(URLS)
    assert line["cdn_refresh"]["outcome"] == "refreshed"


def test_an_image_overwritten_by_a_non_image_refreshes_its_deleted_variants(storage, front, invoke):
    invoke(upload(storage), endpoint=front.endpoint)
    data = b"<html>not an image</html>"
    storage.put(SRC, "uploads/a/x.jpg", data, content_type="image/jpeg")
    (line,) = invoke(cloudevent(SRC, "uploads/a/x.jpg", data), endpoint=front.endpoint)
    assert line["outcome"] == "rejected"
    assert sorted(front.urls) == sorted(URLS)


@pytest.mark.parametrize("mode", ["none", "signed_url"])
def test_without_a_cdn_nothing_is_refreshed(storage, front, invoke, mode):
    """Both modes deploy CDN_REFRESH_DOMAIN empty (modules/imgpipe/main.tf)."""
    invoke(upload(storage), domain="", endpoint=front.endpoint)
    storage.delete(SRC, "uploads/a/x.jpg")
    event = cloudevent(SRC, "uploads/a/x.jpg", b"", api="ObjectRemoved:DeleteObject")
    (line,) = invoke(event, domain="", endpoint=front.endpoint)
    assert line["outcome"] == "deleted" and "cdn_refresh" not in line
    assert front.requests == []


def test_throttled_once_is_tried_again_and_refreshes(storage, front, invoke, monkeypatch):
    monkeypatch.setattr(cdn.time, "sleep", lambda _s: None)
    invoke(upload(storage), endpoint=front.endpoint)
    front.fail_next(400, "Throttling.User")
    (line,) = invoke(upload(storage, name="hopper.jpg"), endpoint=front.endpoint)
    assert line["cdn_refresh"]["outcome"] == "refreshed"
    assert front.refused == ["Throttling.User"] and sorted(front.urls) == sorted(URLS)


@pytest.mark.parametrize(
    "case",
    [
        (400, "Throttling.User", "throttled", True),
        (503, "ServiceUnavailable", "unavailable", True),
        (500, "InternalError", "unavailable", True),
        (400, "QuotaExceeded.Refresh", "quota-exceeded", False),
        (403, "Forbidden.RAM", "denied", False),
        (404, "InvalidDomain.NotFound", "rejected", False),
    ],
)
def test_a_failed_refresh_is_classified_logged_and_loses_nothing(
    storage, front, invoke, monkeypatch, case
):
    """The invocation succeeds (no raise, no retry, no dead letter) and the variants stay."""
    status, code, outcome, retryable = case
    monkeypatch.setattr(cdn.time, "sleep", lambda _s: None)
    invoke(upload(storage), endpoint=front.endpoint)
    front.fail_next(status, code, times=2)
    (line,) = invoke(upload(storage, name="hopper.jpg"), endpoint=front.endpoint)
    assert line["outcome"] == "processed"
    result = line["cdn_refresh"]
    assert (result["outcome"], result["code"], result["retryable"]) == (outcome, code, retryable)
    assert result["urls"] == 6 and result["refreshed"] == 0
    assert front.refused == [code] * (2 if retryable else 1)  # one more try only if it can help
    for key in VARIANTS:
        assert (storage.root / DST / key).stat().st_size > 0


def test_an_unreachable_cdn_api_is_unavailable_and_loses_nothing(storage, invoke, monkeypatch):
    monkeypatch.setattr(cdn.time, "sleep", lambda _s: None)
    invoke(upload(storage), endpoint="http://127.0.0.1:9")
    (line,) = invoke(upload(storage, name="hopper.jpg"), endpoint="http://127.0.0.1:9")
    assert line["outcome"] == "processed"
    assert (line["cdn_refresh"]["outcome"], line["cdn_refresh"]["retryable"]) == (
        "unavailable",
        True,
    )


def test_a_wrong_secret_is_denied_by_the_signature_check(front):
    client = cdn.CdnClient(cdn.Credentials(KEY_ID, "wrong", TOKEN), front.endpoint)
    with pytest.raises(cdn.RefreshError) as err:
        client.refresh_object_caches(URLS)
    assert (err.value.outcome, err.value.code) == ("denied", "SignatureDoesNotMatch")
    assert front.refreshed == []


def test_keys_that_need_encoding_are_signed_and_refreshed_as_browsers_send_them(front):
    """Spaces, `+`, `%`, `*`, `~` and non-ASCII in keys: the signature holds for every one."""
    keys = ["resized/large/a b+c%d*e~f.jpg.jpg", "resized/small/照片/ü.png.webp"]
    result = cdn.Refresher(
        cdn.CdnClient(cdn.Credentials(KEY_ID, SECRET, TOKEN), front.endpoint), DOMAIN
    ).refresh(keys)
    assert result["outcome"] == "refreshed", (result, front.refused)
    assert front.urls == [
        f"http://{DOMAIN}/resized/large/a%20b%2Bc%25d%2Ae~f.jpg.jpg",
        f"http://{DOMAIN}/resized/small/%E7%85%A7%E7%89%87/%C3%BC.png.webp",
    ]


def test_more_urls_than_one_call_takes_are_batched_within_the_limit(front):
    rng = random.Random(25)
    keys = [
        f"resized/v{rng.randrange(10**6)}/{i}.jpg" for i in range(2 * cdn.MAX_URLS_PER_CALL + 7)
    ]
    refresher = cdn.Refresher(
        cdn.CdnClient(cdn.Credentials(KEY_ID, SECRET, TOKEN), front.endpoint), DOMAIN
    )
    result = refresher.refresh(keys)
    assert result["outcome"] == "refreshed" and result["urls"] == len(keys)
    assert [len(c.urls) for c in front.refreshed] == [1000, 1000, 7]
    assert front.urls == cdn.object_urls(DOMAIN, keys)


def _post(front, params: dict[str, str]) -> tuple[int, dict]:
    """One signed form POST to the stand-in, bypassing the client's own checks."""
    request = urllib.request.Request(
        front.endpoint + "/",
        data=urlencode(params, quote_via=quote).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_stand_in_refuses_a_call_over_the_limit(front):
    client = cdn.CdnClient(cdn.Credentials(KEY_ID, SECRET, TOKEN), front.endpoint)
    with pytest.raises(ValueError, match="1 to 1000 URLs"):
        client.refresh_object_caches(URLS * 200)  # the client refuses before sending
    with pytest.raises(ValueError, match="1 to 1000 URLs"):
        client.refresh_object_caches([])
    params = cdn.signed_params(
        "RefreshObjectCaches",
        {"ObjectPath": "\n".join(URLS * 200), "ObjectType": "File"},
        cdn.Credentials(KEY_ID, SECRET, TOKEN),
    )
    assert _post(front, params) == (
        400,
        {
            "RequestId": "stand-in",
            "HostId": "cdn.aliyuncs.com",
            "Code": "InvalidObjectPath.Malformed",
            "Message": "1200 URLs",
        },
    )


def test_the_daily_quota_running_out_is_quota_exceeded_partway(storage):
    with CdnStandIn(DOMAIN, {KEY_ID: SECRET}, daily_quota=1500) as small:
        client = cdn.CdnClient(cdn.Credentials(KEY_ID, SECRET), small.endpoint)
        keys = [f"resized/large/{i}.jpg" for i in range(2000)]
        result = cdn.Refresher(client, DOMAIN, sleep=lambda _s: None).refresh(keys)
    assert result["outcome"] == "quota-exceeded" and result["refreshed"] == 1000
    assert result["retryable"] is False


def test_settings_refuse_a_cdn_domain_that_is_not_a_host_name():
    from fc_handler.settings import SettingsError

    base = {"SOURCE_BUCKET": SRC, "TARGET_BUCKET": DST}
    assert Settings.from_env({**base, "CDN_REFRESH_DOMAIN": DOMAIN}).cdn_refresh_domain == DOMAIN
    for bad in ("https://img.example.com", "img.example.com/", ".example.com", "IMG.example.com"):
        with pytest.raises(SettingsError, match="CDN_REFRESH_DOMAIN"):
            Settings.from_env({**base, "CDN_REFRESH_DOMAIN": bad})


def test_handle_event_without_a_refresher_keeps_its_old_shape(storage):
    """The local tools call handle_event without `refresh`: stale keys are logged, nothing sent."""
    settings = Settings.from_env({"SOURCE_BUCKET": SRC, "TARGET_BUCKET": DST})
    log: list[dict] = []
    for name in ("flower.jpg", "hopper.jpg"):
        handle_event(
            upload(storage, name=name),
            settings=settings,
            storage=storage,
            request_id="r",
            log=log.append,
        )
    assert "stale" not in log[0] and sorted(log[1]["stale"]) == sorted(VARIANTS)
    assert "cdn_refresh" not in log[1]


# ---------------------------------------------------------------- the parts, one by one

CLASSIFIED = [
    (429, "", "throttled"),
    (400, "Throttling", "throttled"),
    (400, "Throttling.User", "throttled"),
    (400, "QuotaExceeded.Refresh", "quota-exceeded"),
    (400, "RefreshQuotaExceed", "quota-exceeded"),
    (500, "", "unavailable"),
    (502, "Whatever", "unavailable"),
    (400, "ServiceUnavailable", "unavailable"),
    (400, "InternalError", "unavailable"),
    (403, "", "denied"),
    (400, "Forbidden.RAM", "denied"),
    (400, "NoPermission", "denied"),
    (404, "InvalidAccessKeyId.NotFound", "denied"),
    (400, "SignatureDoesNotMatch", "denied"),
    (400, "IncompleteSignature", "denied"),
    (400, "InvalidSecurityToken.Expired", "denied"),
    (400, "InvalidObjectPath.Malformed", "rejected"),
    (404, "InvalidDomain.NotFound", "rejected"),
    (400, "", "rejected"),
]


@pytest.mark.parametrize(("status", "code", "outcome"), CLASSIFIED)
def test_each_answer_is_classified(status, code, outcome):
    assert cdn.classify(status, code) == outcome
    assert cdn.RefreshError(outcome, code, "").retryable is (
        outcome in ("throttled", "unavailable")
    )


def test_an_error_names_its_status_code_and_message(front):
    front.fail_next(503, "ServiceUnavailable")
    client = cdn.CdnClient(cdn.Credentials(KEY_ID, SECRET, TOKEN), front.endpoint)
    with pytest.raises(cdn.RefreshError) as err:
        client.refresh_object_caches(URLS)
    assert (err.value.outcome, err.value.code) == ("unavailable", "ServiceUnavailable")
    assert err.value.detail == "HTTP 503 ServiceUnavailable"
    assert str(err.value) == "unavailable: ServiceUnavailable HTTP 503 ServiceUnavailable"


class _Answer(CdnStandIn):
    """Answers every call with one fixed (status, body)."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(DOMAIN, {})
        self.fixed = (status, {"Content-Type": "application/json"}, body)

    def answer(self, req):
        return self.fixed


@pytest.mark.parametrize(
    ("status", "body", "outcome", "code"),
    [
        (200, b'{"RequestId": "r"}', "unavailable", ""),  # no RefreshTaskId
        (200, b"<html>not json</html>", "unavailable", ""),
        (200, b"[1, 2]", "unavailable", ""),
        (502, b"<html>bad gateway</html>", "unavailable", ""),
        (
            400,
            b'{"Code": "Throttling.User", "Message": "slow down"}',
            "throttled",
            "Throttling.User",
        ),
    ],
)
def test_odd_answers_are_classified_not_raised(status, body, outcome, code):
    with _Answer(status, body) as server:
        client = cdn.CdnClient(cdn.Credentials(KEY_ID, SECRET), server.endpoint)
        result = cdn.Refresher(client, DOMAIN, sleep=lambda _s: None).refresh(VARIANTS)
    assert (result["outcome"], result["code"]) == (outcome, code)
    assert result["urls"] == 6 and result["refreshed"] == 0


def test_a_task_id_is_returned_as_a_string():
    with _Answer(200, b'{"RefreshTaskId": 12345}') as server:
        client = cdn.CdnClient(cdn.Credentials(KEY_ID, SECRET), server.endpoint)
        assert client.refresh_object_caches(URLS[:1]) == "12345"


def test_a_bug_in_the_refresh_is_logged_not_raised():
    class Broken:
        def refresh_object_caches(self, urls):
            raise KeyError("a bug")

    result = cdn.Refresher(Broken(), DOMAIN).refresh(VARIANTS)  # type: ignore[arg-type]
    assert result == {"outcome": "unavailable", "code": "KeyError", "detail": "'a bug'"}


def test_the_pause_before_the_second_try(front):
    pauses: list[float] = []
    front.fail_next(400, "Throttling.User")
    client = cdn.CdnClient(cdn.Credentials(KEY_ID, SECRET, TOKEN), front.endpoint)
    result = cdn.Refresher(client, DOMAIN, sleep=pauses.append).refresh(VARIANTS)
    assert result["outcome"] == "refreshed" and pauses == [1.0]


def test_signed_params_are_the_documented_common_parameters():
    when = datetime(2026, 12, 4, 12, 0, 5, tzinfo=timezone.utc)
    params = cdn.signed_params(
        "RefreshObjectCaches",
        {"ObjectPath": URLS[0]},
        cdn.Credentials("id", "secret", "tok"),
        now=when,
        nonce="n-1",
    )
    assert params == {
        "Action": "RefreshObjectCaches",
        "Version": "2018-05-10",
        "Format": "JSON",
        "AccessKeyId": "id",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": "n-1",
        "Timestamp": "2026-12-04T12:00:05Z",
        "ObjectPath": URLS[0],
        "SecurityToken": "tok",
        "Signature": params["Signature"],
    }
    unsigned = {k: v for k, v in params.items() if k != "Signature"}
    assert params["Signature"] == expected_signature("secret", "POST", unsigned)
    without_token = cdn.signed_params("X", {}, cdn.Credentials("id", "secret"), nonce="n")
    assert "SecurityToken" not in without_token
    assert (
        cdn.signed_params("X", {}, cdn.Credentials("i", "s"))["SignatureNonce"]
        != (cdn.signed_params("X", {}, cdn.Credentials("i", "s"))["SignatureNonce"])
    )


def test_percent_encoding_is_rfc_3986():
    assert cdn.percent_encode("a b*c~d/e+é") == "a%20b%2Ac~d%2Fe%2B%C3%A9"
    assert cdn.string_to_sign("POST", {"b": "2", "a": "1 x"}) == "POST&%2F&a%3D1%2520x%26b%3D2"


def test_credentials_come_from_the_context_then_the_environment():
    ctx = context()
    assert cdn.credentials(ctx, {}) == cdn.Credentials(KEY_ID, SECRET, TOKEN)
    no_token = SimpleNamespace(
        credentials=SimpleNamespace(access_key_id="k", access_key_secret="s")
    )
    assert cdn.credentials(no_token, {}) == cdn.Credentials("k", "s", None)
    env = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "ek",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "es",
        "ALIBABA_CLOUD_SECURITY_TOKEN": "et",
    }
    # python3.12: no context.credentials, or an empty one
    assert cdn.credentials(SimpleNamespace(), env) == cdn.Credentials("ek", "es", "et")
    empty = SimpleNamespace(credentials=SimpleNamespace(access_key_id=""))
    assert cdn.credentials(empty, env) == cdn.Credentials("ek", "es", "et")
    assert cdn.credentials(None, {**env, "ALIBABA_CLOUD_SECURITY_TOKEN": ""}) == (
        cdn.Credentials("ek", "es", None)
    )
    assert cdn.credentials(None, {"ALIBABA_CLOUD_ACCESS_KEY_ID": "ek"}) is None
    assert cdn.credentials(None, {"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "es"}) is None


def test_the_refresher_from_the_environment(front, monkeypatch):
    assert cdn.refresher_from("", front.endpoint, context()) is None
    made = cdn.refresher_from(DOMAIN, "", context())
    assert (made.domain, made.client.endpoint) == (DOMAIN, "https://cdn.aliyuncs.com")
    assert made.client.creds == cdn.Credentials(KEY_ID, SECRET, TOKEN)
    # python3.12 from the environment, through the stand-in
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", TOKEN)
    from_env = cdn.refresher_from(DOMAIN, front.endpoint + "/", SimpleNamespace())
    assert from_env.refresh(VARIANTS)["outcome"] == "refreshed"
    assert front.refreshed[-1].token == TOKEN
    # no credentials at all (a local run): every refresh is denied, nothing raised
    lone = cdn.refresher_from(DOMAIN, front.endpoint, SimpleNamespace(), env={})
    result = lone.refresh(VARIANTS)
    assert (result["outcome"], result["code"]) == ("denied", "InvalidAccessKeyId.NotFound")


def test_a_stale_timestamp_or_a_replayed_nonce_is_refused(front):
    creds = cdn.Credentials(KEY_ID, SECRET, TOKEN)
    base = {"ObjectPath": URLS[0], "ObjectType": "File"}
    old = datetime.now(timezone.utc) - timedelta(minutes=20)
    stale = cdn.signed_params("RefreshObjectCaches", base, creds, now=old)
    assert _post(front, stale)[1]["Code"] == "InvalidTimeStamp.Expired"
    fresh = cdn.signed_params("RefreshObjectCaches", base, creds, nonce="once")
    assert _post(front, fresh)[0] == 200
    assert _post(front, fresh)[1]["Code"] == "SignatureNonceUsed"


def test_the_demo_refreshes_exactly_the_replaced_copys_variants_at_its_stand_in_cdn(tmp_path):
    """Issue 25: in the local demo, a replaced source refreshes exactly its keys.

    `imgpipe demo`'s day two uploads a copy, replaces it with other bytes and
    runs the real handler with CDN_REFRESH_DOMAIN set against the stand-in
    CDN, which checks each signed call; the URLs it was asked to refresh are
    the copy's six variants, and no other upload of the demo refreshed any.
    """
    from imgpipe.commands.demo import pipeline

    data = Path(__file__).parent / "data"
    samples = [
        ("phone/IMG_0006.jpg", data / "images" / "hopper_orientation_6.jpg"),
        ("design/logo-alpha.png", data / "images" / "avif_star.png"),
        ("print/brochure-cmyk.jpg", data / "images" / "pil_sample_cmyk.jpg"),
        ("broken/truncated.jpg", data / "images" / "truncated_jpeg.jpg"),
    ]
    result = pipeline.run(samples, tmp_path / ".demo", progress=False)
    two = pipeline.day_two(result)
    assert two.replaced is not None and two.replaced.outcome == "processed"
    stack = pipeline.Stack.local()
    variants = stack.outputs(two.replaced.key).variant_keys
    assert len(variants) == 6
    assert sorted(two.refreshed) == sorted(cdn.object_urls(pipeline.DEMO_CDN_DOMAIN, variants))
    assert any("refreshed at a stand-in CDN" in line for line in two.lines())
