"""The OSS front of the moto stand-in (tests/ossfront.py): issue 27's flaky
smoke test, at its cause.

Signatures are made deterministic by fixing the request's Date (oss2 reads
it from `oss2.utils.http_date`); a seeded search then finds keys whose
signature holds exactly four "/", the shape moto once misread as a SigV4
credential scope in about one request in 1,400.
"""

from __future__ import annotations

import http.client
import random
import threading

import oss2
import pytest
from conftest import moto_oss
from ossfront import OssFront, canonical_resource, signature

KEY_ID, SECRET = "front-key", "front-secret"
BUCKET = "front-bucket"
DATE = "Fri, 04 Dec 2026 12:00:00 GMT"
VERBS = ("PUT", "HEAD", "GET", "DELETE")


def _headers(verb: str) -> dict[str, str]:
    """What oss2 signs for put/head/get/delete_object(key) with no options."""
    return {"Date": DATE, "Content-Type": "image/jpeg"} if verb == "PUT" else {"Date": DATE}


def _keys_with_slashes(verb: str, slashes: int, n: int, rng: random.Random) -> list[str]:
    found = []
    while len(found) < n:
        key = f"uploads/{rng.getrandbits(48):012x} ü.jpg"
        resource = canonical_resource(f"/{BUCKET}/{key}", [])
        if signature(SECRET, verb, _headers(verb), resource).count("/") == slashes:
            found.append(key)
    return found


def _serve(app):
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_bare_moto_misroutes_an_oss_signature_with_four_slashes(capsys):
    """The hazard the front exists for, shown deterministically: without it,
    a four-slash signature is a 500 and a line on stdout; three is routed."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    rng = random.Random(27)
    server = _serve(DomainDispatcherApplication(create_backend_app))
    try:
        statuses = {}
        for slashes in (3, 4):
            [key] = _keys_with_slashes("PUT", slashes, 1, rng)
            resource = canonical_resource(f"/{BUCKET}/{key}", [])
            sig = signature(SECRET, "PUT", _headers("PUT"), resource)
            conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
            conn.request(
                "PUT",
                oss2.urlquote(f"/{BUCKET}/{key}"),
                body=b"x",
                headers={**_headers("PUT"), "Authorization": f"OSS {KEY_ID}:{sig}"},
            )
            statuses[slashes] = conn.getresponse().status
            conn.close()
    finally:
        server.shutdown()
        server.server_close()
    assert statuses == {3: 404, 4: 500}  # 404: S3 answered NoSuchBucket; 500: no backend
    assert "Unable to find appropriate backend" in capsys.readouterr().out


def test_four_slash_signatures_from_oss2_reach_s3_with_nothing_printed(monkeypatch, capfd):
    """Each verb the tools use, three keys each whose oss2 signature holds
    exactly four "/": all answered, all stored and removed, stdout empty."""
    monkeypatch.setattr(oss2.utils, "http_date", lambda *_a: DATE)
    rng = random.Random(26)
    keys = {verb: _keys_with_slashes(verb, 4, 3, rng) for verb in VERBS}
    every = [k for ks in keys.values() for k in ks]
    with moto_oss((BUCKET,), KEY_ID, SECRET) as moto:
        bucket = oss2.Bucket(oss2.Auth(KEY_ID, SECRET), moto.endpoint, BUCKET)
        for key in every:
            bucket.put_object(key, key.encode())
        for key in every:
            assert bucket.head_object(key).content_length == len(key.encode())
            assert bucket.get_object(key).read() == key.encode()
        for key in every:
            bucket.delete_object(key)
        assert moto.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
        four = [s for s in moto.front.signatures if s.count("/") == 4]
    assert len(four) >= 3 * len(VERBS)  # the predicted signatures were the ones sent
    assert capfd.readouterr().out == ""


def test_the_front_checks_signatures_as_oss_does():
    """A wrong secret is OSS's 403 SignatureDoesNotMatch, and counted; metadata
    headers, a non-ASCII key and a subresource (`?tagging`) are signed and accepted."""
    with moto_oss((BUCKET,), KEY_ID, SECRET) as moto:
        good = oss2.Bucket(oss2.Auth(KEY_ID, SECRET), moto.endpoint, BUCKET)
        key = "uploads/ünï code/a b%+.jpg"
        good.put_object(key, b"data", headers={"x-oss-meta-Owner": "me", "X-Oss-Meta-b": "2"})
        rule = oss2.models.TaggingRule()
        rule.add("t", "1")
        assert good.put_object_tagging(key, oss2.models.Tagging(rule)).status == 200
        assert good.get_object_tagging(key).status == 200  # (moto's XML: S3's namespace)
        assert good.head_object(key).content_length == 4
        wrong = oss2.Bucket(oss2.Auth(KEY_ID, "not-the-secret"), moto.endpoint, BUCKET)
        with pytest.raises(oss2.exceptions.ServerError) as refused:
            wrong.get_object(key)
        assert (refused.value.status, refused.value.code) == (403, "SignatureDoesNotMatch")
        assert moto.front.bad_signatures == 1
        moto.front.bad_signatures = 0  # seen; the fixture fails on any other


def test_signature_reads_x_oss_date_before_date_and_sorts_oss_headers():
    a = signature(SECRET, "GET", {"Date": "d1", "x-oss-date": "d2", "X-Oss-B": "2"}, "/b/k")
    b = signature(SECRET, "GET", {"Date": "other", "x-oss-b": "2", "x-oss-date": "d2"}, "/b/k")
    assert a == b
    assert canonical_resource("/b/k%20x", [("uploadId", "u"), ("acl", ""), ("foo", "1")]) == (
        "/b/k x?acl&uploadId=u"
    )


def test_requests_signed_for_aws_pass_unchanged():
    seen = []

    def app(environ, start_response):
        seen.append(environ.get("HTTP_AUTHORIZATION"))
        start_response("200 OK", [])
        return [b""]

    front = OssFront(app, KEY_ID, SECRET)
    aws = "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/s3/aws4_request, Signature=1"
    front({"HTTP_AUTHORIZATION": aws, "REQUEST_METHOD": "GET"}, lambda *_: None)
    assert seen == [aws]
