"""Our EventBridge matcher against one we did not write, and against Alibaba's documentation.

`imgpipe/cloud/eventpattern.py` and the events the routing tests use are both
written here, so a misreading of EventBridge would be in both (issue 16).
Every case below therefore runs through two matchers:

- ours (`imgpipe.cloud.eventpattern.matches`);
- moto's implementation of Amazon EventBridge's patterns
  (`moto.events.models.EventPattern`), written independently.

and each expected value comes from Alibaba's documentation of event
patterns, "EventBridge: Event patterns"
(https://www.alibabacloud.com/help/en/eventbridge/user-guide/event-patterns,
and its older form https://www.alibabacloud.com/help/en/doc-detail/181432.htm),
whose operator table is the one the pattern in modules/events uses:
exact value, `prefix`, `suffix`, `contains`, `anything-but` (string, number,
list, prefix), `numeric`, `cidr` (IPv4 only), `exists`, null and empty
string; AND across keys, OR within a list; case-sensitive.

Where Alibaba's documented semantics and Amazon's (or moto's reading of
Amazon's) differ, the case says so in `moto_differs` and moto is not asked;
docs/terraform-tests.md lists the differences too:

- `contains` is Alibaba's; Amazon has no such operator (it has `wildcard`),
  and moto treats an operator it does not know as matching everything.
- Numbers: Alibaba's older page says numeric values are compared as
  strings ("300, 300.0 and 3.0e2 are regarded as different values"), as
  Amazon's does; moto compares them as Python numbers (300 == 300.0).
- `exists` on an object (not a leaf): Amazon documents `exists` for leaf
  nodes only and moto never matches an object; Alibaba documents no such
  limit, and ours matches an object that is present. The deployed pattern
  uses no `exists`, so this decides nothing we deploy.
- `cidr` with host bits set (10.0.0.7/24): ours reads it as its network,
  moto refuses it. Alibaba's examples use network addresses only.
- A `true` in a pattern against the number 1 in an event: moto matches
  (Python's True == 1); JSON, Alibaba and ours do not.

The routing cases run the pattern evaluated from this repository's
Terraform (what `terraform apply` deploys) through both matchers, and the
module's pattern for the bucket of Alibaba's own sample OSS event
(tests/data/events/event-samples.json) through both.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from imgpipe import REPO_ROOT
from imgpipe.cloud.eventpattern import matches
from imgpipe.cloud.events import cloudevent
from imgpipe.cloud.terraform import LOCAL_ACCOUNT, evaluate, load


def moto_matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    return EventPattern.load(json.dumps(pattern)).matches_event(event)


# The event of Alibaba's "Event patterns" page (its first example), as printed there.
DOC_EVENT = {
    "id": "7adc8c1a-645d-4476-bdef-5d6fb57f****",
    "source": "acs.oss",
    "specversion": "1.0",
    "type": "oss:ObjectCreated:PostObject",
    "datacontenttype": "application/json",
    "dataschema": "http://example.com/test.json",
    "subject": "acs:oss:cn-hangzhou:1234567:xls-papk/game_apk/123.jpg",
    "time": "2020-08-17T16:04:46.149Asia/Shanghai",
    "data": {"name": "test", "scope": 100},
}

# A richer event for the operators the page shows on other fields.
EVENT = {
    **DOC_EVENT,
    "data": {
        "name": "test",
        "scope": 100,
        "ratio": 2.5,
        "source-ip": "10.0.0.123",
        "state": "running",
        "tags": ["a", "b"],
        "empty": "",
        "nothing": None,
        "flag": True,
        "nested": {"deep": {"leaf": "x"}},
    },
}

# (pattern, event, expected by Alibaba's documentation, why / where moto differs)
CASES: list[tuple[str, dict, dict, bool, str | None]] = [
    # exact values; OR within a list; case-sensitive
    ("exact", {"source": ["acs.oss"]}, DOC_EVENT, True, None),
    ("exact-or", {"source": ["acs.ecs", "acs.oss"]}, DOC_EVENT, True, None),
    ("exact-miss", {"source": ["acs.ecs"]}, DOC_EVENT, False, None),
    ("case-sensitive", {"source": ["ACS.OSS"]}, DOC_EVENT, False, None),
    ("missing-field", {"region": ["cn-hangzhou"]}, DOC_EVENT, False, None),
    ("nested-exact", {"data": {"name": ["test"]}}, DOC_EVENT, True, None),
    ("nested-missing-object", {"data": {"oss": {"key": ["x"]}}}, DOC_EVENT, False, None),
    ("number-exact", {"data": {"scope": [100]}}, DOC_EVENT, True, None),
    ("number-vs-string", {"data": {"scope": ["100"]}}, DOC_EVENT, False, None),
    ("number-as-string-300.0", {"data": {"scope": [100.0]}}, DOC_EVENT, False, "numbers"),
    ("bool-vs-number", {"data": {"scope": [True]}}, {"data": {"scope": 1}}, False, "true==1"),
    ("null", {"data": {"nothing": [None]}}, EVENT, True, None),
    ("empty-string", {"data": {"empty": [""]}}, EVENT, True, None),
    ("empty-string-miss", {"data": {"name": [""]}}, EVENT, False, None),
    # AND across keys
    (
        "and",
        {"source": ["acs.oss"], "type": ["oss:ObjectCreated:PostObject"]},
        DOC_EVENT,
        True,
        None,
    ),
    (
        "and-one-fails",
        {"source": ["acs.oss"], "type": ["oss:ObjectRemoved"]},
        DOC_EVENT,
        False,
        None,
    ),
    # prefix / suffix, and the OR trap the deployed pattern avoids
    ("prefix", {"source": [{"prefix": "acs."}]}, DOC_EVENT, True, None),
    ("prefix-miss", {"source": [{"prefix": "oss"}]}, DOC_EVENT, False, None),
    ("suffix", {"subject": [{"suffix": ".jpg"}]}, DOC_EVENT, True, None),
    ("suffix-case", {"subject": [{"suffix": ".JPG"}]}, DOC_EVENT, False, None),
    (
        "prefix-or-suffix",
        {"subject": [{"prefix": "zzz"}, {"suffix": ".jpg"}]},
        DOC_EVENT,
        True,
        None,
    ),
    (
        "prefix-and-suffix-on-two-fields",
        {"subject": [{"suffix": ".png"}], "source": [{"prefix": "acs."}]},
        DOC_EVENT,
        False,
        None,
    ),
    ("prefix-on-number", {"data": {"scope": [{"prefix": "1"}]}}, DOC_EVENT, False, None),
    # contains (Alibaba only)
    ("contains", {"type": [{"contains": "Created"}]}, DOC_EVENT, True, "contains"),
    ("contains-miss", {"type": [{"contains": "Removed"}]}, DOC_EVENT, False, "contains"),
    # anything-but
    (
        "anything-but-string",
        {"data": {"state": [{"anything-but": "initializing"}]}},
        EVENT,
        True,
        None,
    ),
    (
        "anything-but-string-hit",
        {"data": {"state": [{"anything-but": "running"}]}},
        EVENT,
        False,
        None,
    ),
    ("anything-but-number", {"data": {"scope": [{"anything-but": 123}]}}, EVENT, True, None),
    ("anything-but-number-hit", {"data": {"scope": [{"anything-but": 100}]}}, EVENT, False, None),
    (
        "anything-but-list",
        {"data": {"state": [{"anything-but": ["stopped", "overloaded"]}]}},
        EVENT,
        True,
        None,
    ),
    (
        "anything-but-list-hit",
        {"data": {"state": [{"anything-but": ["stopped", "running"]}]}},
        EVENT,
        False,
        None,
    ),
    (
        "anything-but-prefix",
        {"data": {"state": [{"anything-but": {"prefix": "init"}}]}},
        EVENT,
        True,
        None,
    ),
    (
        "anything-but-prefix-hit",
        {"source": [{"anything-but": {"prefix": "acs."}}]},
        EVENT,
        False,
        None,
    ),
    ("anything-but-missing-field", {"data": {"gone": [{"anything-but": "x"}]}}, EVENT, False, None),
    # numeric
    ("numeric-range", {"data": {"scope": [{"numeric": [">", 0, "<=", 100]}]}}, EVENT, True, None),
    ("numeric-open", {"data": {"scope": [{"numeric": [">", 100]}]}}, EVENT, False, None),
    ("numeric-equal", {"data": {"ratio": [{"numeric": ["=", 2.5]}]}}, EVENT, True, None),
    ("numeric-on-string", {"data": {"name": [{"numeric": [">", 0]}]}}, EVENT, False, None),
    # cidr (IPv4)
    ("cidr", {"data": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, EVENT, True, None),
    ("cidr-miss", {"data": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}, EVENT, False, None),
    ("cidr-host-bits", {"data": {"source-ip": [{"cidr": "10.0.0.7/24"}]}}, EVENT, True, "cidr"),
    ("cidr-not-an-ip", {"data": {"name": [{"cidr": "10.0.0.0/24"}]}}, EVENT, False, None),
    # exists
    ("exists-true", {"data": {"state": [{"exists": True}]}}, EVENT, True, None),
    ("exists-true-missing", {"data": {"gone": [{"exists": True}]}}, EVENT, False, None),
    ("exists-false-missing", {"data": {"gone": [{"exists": False}]}}, EVENT, True, None),
    ("exists-false-present", {"data": {"state": [{"exists": False}]}}, EVENT, False, None),
    ("exists-on-object", {"data": {"nested": [{"exists": True}]}}, EVENT, True, "exists-object"),
    (
        "exists-deep-leaf",
        {"data": {"nested": {"deep": {"leaf": [{"exists": True}]}}}},
        EVENT,
        True,
        None,
    ),
    # arrays in the event: any element
    ("array-any", {"data": {"tags": ["b"]}}, EVENT, True, None),
    ("array-none", {"data": {"tags": ["c"]}}, EVENT, False, None),
    ("array-prefix", {"data": {"tags": [{"prefix": "a"}]}}, EVENT, True, None),
]

MOTO_DIFFERS = {
    "numbers": "moto compares numbers as numbers (100 == 100.0); Alibaba and Amazon as strings",
    "true==1": "moto compares with Python ==, where True == 1",
    "contains": "Amazon has no `contains`; moto matches any operator it does not know",
    "cidr": "moto refuses a CIDR with host bits set; Alibaba's examples use network addresses",
    "exists-object": "Amazon and moto: `exists` matches leaves only; Alibaba documents no limit",
}


@pytest.mark.parametrize(
    ("name", "pattern", "event", "expected", "differs"), CASES, ids=[c[0] for c in CASES]
)
def test_documented_semantics(name, pattern, event, expected, differs):
    assert matches(pattern, event) is expected, (
        f"ours disagrees with Alibaba's documentation: {name}"
    )
    if differs is None:
        assert moto_matches(pattern, event) is expected, f"moto disagrees: {name}"


@pytest.mark.parametrize("reason", sorted(MOTO_DIFFERS))
def test_every_stated_difference_is_real(reason):
    """A difference we claim must still exist in moto; otherwise ask moto again."""
    cases = [c for c in CASES if c[4] == reason]
    disagreements = [
        name
        for name, pattern, event, expected, _ in cases
        if moto_matches(pattern, event) is not expected
    ]
    assert disagreements, f"moto now agrees on every `{reason}` case: drop the exception"


# ---------------------------------------------------------------- the deployed pattern

SRC = f"imgpipe-prod-src-{LOCAL_ACCOUNT}"
DST = f"imgpipe-prod-out-{LOCAL_ACCOUNT}"


@pytest.fixture(scope="module")
def deployed():
    return evaluate({"env": "prod"}).filter_pattern


ROUTED = [
    (SRC, key, api)
    for api in (
        "PutObject",
        "PostObject",
        "CopyObject",
        "CompleteMultipartUpload",
        # delete_variants_with_source (default true): the variants follow the source
        "ObjectRemoved:DeleteObject",
        "ObjectRemoved:DeleteObjects",
    )
    for key in (
        "uploads/a.jpg",
        "uploads/deep/dir/IMG_0001.JPG",
        "uploads/x.Jpeg",
        "uploads/p.heic",
        "uploads/s.png",
        "uploads/with space.webp",
        "uploads/t.TIFF",
        "uploads/b.Avif",
        # Routed too: the pattern filters no endings (EventBridge's 5
        # expressions per field); the handler ignores non-images unread.
        "uploads/a.jPG",
        "uploads/notes.txt",
        "uploads/a.jpg.txt",
    )
]
FILTERED = [
    (SRC, "uploads/a.jpg", "ObjectRemoved:AbortMultipartUpload"),
    (SRC, "elsewhere/a.jpg", "ObjectRemoved:DeleteObjects"),
    (SRC, "uploads/a.jpg", "InitiateMultipartUpload"),
    (SRC, "uploads/a.jpg", "UploadPart"),
    (SRC, "uploads/a.jpg", "AppendObject"),
    (SRC, "elsewhere/a.jpg", "PutObject"),
    (SRC, "uploadsX/a.jpg", "PutObject"),
    ("someone-elses-bucket", "uploads/a.jpg", "PutObject"),
    (DST, "resized/large/a.jpg", "PutObject"),
    (DST, "uploads/a.jpg", "PutObject"),
]


@pytest.mark.parametrize(
    ("bucket", "key", "api", "routed"),
    [(*c, True) for c in ROUTED] + [(*c, False) for c in FILTERED],
)
def test_both_matchers_route_the_deployed_pattern_alike(deployed, bucket, key, api, routed):
    event = cloudevent(bucket, key, b"x", api=api, account=LOCAL_ACCOUNT)
    assert matches(deployed, event) is routed
    assert moto_matches(deployed, event) is routed


def test_alibabas_sample_oss_event_against_the_modules_pattern():
    """The events module's pattern for the bucket of Alibaba's own sample event."""
    samples = json.loads(
        (Path(__file__).parent / "data" / "events" / "event-samples.json").read_text()
    )
    event = samples["eventbridge_cloudevent_oss_object_created"]["event"]
    blocks = load(
        REPO_ROOT / "modules" / "events",
        {
            "function_name": "f",
            "trigger_name": "t",
            "source_bucket": event["data"]["oss"]["bucket"]["name"],
            "source_prefix": "input/",
            "created_event_types": ["PutObject", "PostObject"],
            "dead_letter_arn": "acs:mns:cn-hangzhou:1:/queues/q",
            "async_invocation": True,
            "create_service_linked_roles": False,
        },
    )
    (trigger,) = blocks["alicloud_fcv3_trigger"]
    pattern = json.loads(json.loads(trigger["trigger_config"])["eventRuleFilterPattern"])
    for matcher in (matches, moto_matches):
        assert matcher(pattern, event) is True
        for path, value in [
            (("type",), "oss:ObjectRemoved:DeleteObject"),
            (("data", "oss", "object", "key"), "output/x.csv"),
            (("data", "oss", "bucket", "name"), "other"),
            (("source",), "acs.ecs"),
        ]:
            changed = copy.deepcopy(event)
            node = changed
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = value
            assert matcher(pattern, changed) is False, (matcher.__name__, path)
