"""Fresh after a change: the real handler refreshes exactly the stale keys at a stand-in CDN.

The stand-in (tests/cdnfront.py) checks each call's signature and the API's
limits and records the URLs; the handler runs on real images and real event
shapes, through `index.handler` where the wiring from the environment is
what is tested. docs/serving.md, "Fresh after a change", is the contract.
"""

from __future__ import annotations

import json
import random
from types import SimpleNamespace

import pytest
from cdnfront import CdnStandIn
from conftest import image_bytes

import index
from fc_handler import cdn
from fc_handler.handle import handle_event
from fc_handler.settings import Settings
from fc_handler.storage import LocalStorage
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


def test_the_stand_in_refuses_a_call_over_the_limit(front):
    client = cdn.CdnClient(cdn.Credentials(KEY_ID, SECRET, TOKEN), front.endpoint)
    with pytest.raises(ValueError, match="1 to 1000 URLs"):
        client.refresh_object_caches(URLS * 200)  # the client refuses before sending
    params = cdn.signed_params(
        "RefreshObjectCaches",
        {"ObjectPath": "\n".join(URLS * 200), "ObjectType": "File"},
        cdn.Credentials(KEY_ID, SECRET, TOKEN),
    )
    import urllib.error
    import urllib.request
    from urllib.parse import quote, urlencode

    request = urllib.request.Request(
        front.endpoint + "/", data=urlencode(params, quote_via=quote).encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=5)
    assert json.loads(err.value.read())["Code"] == "InvalidObjectPath.Malformed"


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
