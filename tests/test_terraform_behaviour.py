"""What a deployed stack does, read from the evaluated Terraform and compared with data.

tests/test_terraform.py proves the configuration is well formed and wired;
this file pins the behaviour a user would notice if it changed, as expected
values (cloud-foundation-fabric's "expected plans as data"):

- the trigger: invocation mode, target, delivery schema, retry and
  dead-letter settings, and the exact event pattern;
- the role: every (action, resource) grant, exactly, and no `*` anywhere but
  at the end of an object prefix;
- the dead-letter wiring of both layers into one queue;
- the alarms: when they exist and what they watch;
- Terraform's defaults are the handler's defaults;
- every knob of the complete example reaches its resource (read from the
  example's own file).

Each expectation carries the reason it is what it is; tests/mutations/
terraform.toml lists the mistakes these tests must catch.
"""

from __future__ import annotations

import json

import pytest
from tfexamples import evaluate_example, example_arguments

from fc_handler.settings import Settings
from imgpipe.cloud.eventpattern import matches
from imgpipe.cloud.events import cloudevent
from imgpipe.cloud.terraform import LOCAL_ACCOUNT, LOCAL_REGION, evaluate
from imgproc.config import default_config

ACCOUNT, REGION = LOCAL_ACCOUNT, LOCAL_REGION
DEFAULT_SUFFIXES = [
    ".jpg",
    ".jpeg",
    ".png",
    ".webp",
    ".gif",
    ".tif",
    ".tiff",
    ".bmp",
    ".heic",
    ".heif",
    ".avif",
]
CREATED = ["PutObject", "PostObject", "CopyObject", "CompleteMultipartUpload"]
# delete_variants_with_source (default true): deletions reach the function too
REMOVED = ["DeleteObject", "DeleteObjects"]


def names(env: str, prefix: str = "imgpipe", account: str = ACCOUNT) -> dict[str, str]:
    return {
        "source": f"{prefix}-{env}-src-{account}",
        "target": f"{prefix}-{env}-out-{account}",
        "function": f"{prefix}-{env}-images",
        "queue": f"{prefix}-{env}-dead-letters",
        "log_project": f"{prefix}-{env}-logs-{account}",
        "role": f"{prefix}-{env}-function",
    }


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request):
    return request.param, evaluate({"env": request.param})


@pytest.fixture(scope="module")
def complete():
    return evaluate_example("complete"), example_arguments("complete")


def plain(block: dict) -> dict:
    """A block's arguments, without tfparse's bookkeeping."""
    return {k: v for k, v in block.items() if not k.startswith("__") and k != "id"}


def example_account(ev) -> str:
    """The account tfparse made up for the example's data.alicloud_account."""
    return ev.one("alicloud_account")["id"]


# ---------------------------------------------------------------- the trigger


def expected_trigger_config(queue: str, *, asynchronous: bool = True) -> dict:
    return {
        "triggerEnable": True,
        # FC 3.0's EventBridgeTriggerConfig: false = asynchronous (README,
        # "Which dead-letter path a deployed stack uses"). Asynchronous is what
        # makes FC's retries and its on_failure queue apply.
        "asyncInvocationType": not asynchronous,
        "eventSourceConfig": {"eventSourceType": "Default"},  # OSS events are on the default bus
        # The handler parses CloudEvents (data.oss.bucket / data.oss.object).
        "eventSinkConfig": {
            # FC 3.0's DeliveryOption has no `mode` (FC 2.0's, modules/events/main.tf)
            "deliveryOption": {"eventSchema": "CloudEvents"}
        },
        "runOptions": {
            "mode": "event-driven",
            # Keep delivering after a failure; failed deliveries go to the queue.
            "errorsTolerance": "ALL",
            # A few quick retries: FC's async layer retries the invocation itself.
            "retryStrategy": {"PushRetryStrategy": "BACKOFF_RETRY"},
            # EventBridge takes the queue ARN without /messages.
            "deadLetterQueue": {"Arn": f"acs:mns:{REGION}:{ACCOUNT}:/queues/{queue}"},
        },
    }


def test_trigger_is_the_designed_asynchronous_eventbridge_trigger(stack):
    env, ev = stack
    n = names(env)
    config = dict(ev.trigger_config)
    config.pop("eventRuleFilterPattern")
    assert config == expected_trigger_config(n["queue"])
    trigger = ev.one("alicloud_fcv3_trigger")
    assert (
        trigger["function_name"]
        == n["function"]
        == ev.one("alicloud_fcv3_function")["function_name"]
    )
    assert (trigger["trigger_type"], trigger["qualifier"]) == ("eventbridge", "LATEST")


def test_async_invocation_false_asks_for_a_synchronous_trigger():
    ev = evaluate({"async_invocation": False})
    config = dict(ev.trigger_config)
    config.pop("eventRuleFilterPattern")
    assert config == expected_trigger_config(names("dev")["queue"], asynchronous=False)


def test_service_linked_roles_follow_the_flag():
    wanted = {"AliyunServiceRoleForEventBridgeSendToFC", "AliyunServiceRoleForEventBridgeSendToMNS"}
    roles = evaluate({"create_service_linked_roles": True}).resources(
        "alicloud_event_bridge_service_linked_role"
    )
    assert {r["product_name"] for r in roles} == wanted
    # An account that already has them: creating them again fails the apply.
    ev = evaluate({"create_service_linked_roles": False})
    assert ev.resources("alicloud_event_bridge_service_linked_role") == []
    assert ev.one("alicloud_fcv3_trigger")["trigger_type"] == "eventbridge"


def expected_pattern(bucket: str, prefix: str, *, deletions: bool = True) -> dict:
    """modules/events/main.tf: source, finished-object types, bucket, key prefix.

    No image endings: EventBridge takes at most 5 map expressions per field,
    and the handler filters endings in every case (IMAGE_SUFFIXES).
    """
    return {
        "source": ["acs.oss"],
        "type": [f"oss:ObjectCreated:{t}" for t in CREATED]
        + [f"oss:ObjectRemoved:{t}" for t in (REMOVED if deletions else [])],
        "data": {"oss": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": prefix}]}}},
    }


def test_pattern_is_exactly_the_documented_one(stack):
    env, ev = stack
    assert ev.filter_pattern == expected_pattern(names(env)["source"], "uploads/")
    assert ev.function_environment["IMAGE_SUFFIXES"].split(",") == DEFAULT_SUFFIXES


def test_image_suffixes_decide_what_the_handler_takes():
    ev = evaluate({"image_suffixes": [".jxl", ".JPG"]})
    src = names("dev")["source"]
    assert ev.filter_pattern == expected_pattern(src, "uploads/")
    assert ev.function_environment["IMAGE_SUFFIXES"] == ".jxl,.jpg"
    settings = Settings.from_env(ev.function_environment)
    for key, taken in [("uploads/a.jxl", True), ("uploads/b.JXL", True), ("uploads/c.Jpg", True)]:
        event = cloudevent(src, key, b"x", account=ACCOUNT)
        assert matches(ev.filter_pattern, event), key
        assert settings.is_image_key(key) is taken, key
    assert not settings.is_image_key("uploads/d.png")


def test_complete_example_routes_its_own_bucket_and_prefix(complete):
    ev, args = complete
    src = names(args["env"], args["name_prefix"], example_account(ev))["source"]
    assert ev.filter_pattern == expected_pattern(src, args["source_prefix"])
    wanted = ",".join(dict.fromkeys(s.lower() for s in args["image_suffixes"]))
    assert ev.function_environment["IMAGE_SUFFIXES"] == wanted


# ---------------------------------------------------------------- the role


def grants(ev) -> set[tuple[str, str]]:
    policy = json.loads(ev.one("alicloud_ram_policy")["policy_document"])
    assert policy["Version"] == "1"
    out = set()
    for statement in policy["Statement"]:
        # Only plain Allow statements: no Deny/NotAction/Condition subtleties to reason about.
        assert set(statement) == {"Sid", "Effect", "Action", "Resource"}, statement
        assert statement["Effect"] == "Allow"
        out |= {(a, r) for a in statement["Action"] for r in statement["Resource"]}
    return out


def expected_grants(
    n: dict[str, str],
    *,
    source_prefix: str,
    write_prefixes: list[str],
    region: str = REGION,
    account: str = ACCOUNT,
    deletes: bool = True,
    cdn_domain: str | None = None,
) -> set[tuple[str, str]]:
    # OSS ARNs carry `*` as region, the documented form (modules/iam/main.tf).
    oss = f"acs:oss:*:{account}"
    queue = f"acs:mns:{region}:{account}:/queues/{n['queue']}"
    # serving mode cdn: refresh the cached variants on that one domain (fc_handler/cdn.py)
    cdn = {("cdn:RefreshObjectCaches", f"acs:cdn:*:{account}:domain/{cdn_domain}")}
    return (cdn if cdn_domain else set()) | {
        ("oss:GetObject", f"{oss}:{n['source']}/{source_prefix}*"),  # read the uploads
        *{("oss:PutObject", f"{oss}:{n['target']}/{p}*") for p in write_prefixes},
        # HEAD its own outputs: is the work current? (fc_handler/current.py)
        *{("oss:GetObject", f"{oss}:{n['target']}/{p}*") for p in write_prefixes},
        # delete_variants_with_source: the outputs of a deleted source, nothing else
        *{("oss:DeleteObject", f"{oss}:{n['target']}/{p}*") for p in write_prefixes if deletes},
        # FC sends a finally-failed async invocation with the function's role
        ("mns:SendMessage", queue),
        ("mns:SendMessage", f"{queue}/messages"),
        # its own logstore, in its own project
        (
            "log:PostLogStoreLogs",
            f"acs:log:{region}:{account}:project/{n['log_project']}/logstore/function",
        ),
    }


def test_the_role_may_do_exactly_what_the_handler_does(stack):
    env, ev = stack
    n = names(env)
    assert grants(ev) == expected_grants(
        n,
        source_prefix="uploads/",
        write_prefixes=["resized/", "rejected/"],
    )
    function = ev.one("alicloud_fcv3_function")
    assert function["log_config"]["project"] == n["log_project"]
    assert function["log_config"]["logstore"] == "function"


def test_the_complete_examples_role_follows_its_template_and_prefixes(complete):
    ev, args = complete
    account = example_account(ev)
    n = names(args["env"], args["name_prefix"], account)
    template_head = args["key_template"].split("{")[0]
    assert grants(ev) == expected_grants(
        n,
        source_prefix=args["source_prefix"],
        write_prefixes=[template_head, args["rejected_prefix"]],
        region=args["region"],
        account=account,
        cdn_domain=args["serving"]["cdn_domain"],
    )


def assert_least_privilege(grant_set: set[tuple[str, str]]) -> None:
    """No wildcard action; in a resource, `*` only where it grants nothing more.

    Two places are justified: the end of an OSS object prefix
    (`bucket/prefix/*` is the only way to say "objects under a prefix"), and
    the region of an OSS ARN (Alibaba's documented form `acs:oss:*:<account>`;
    a bucket name is unique worldwide, so it names one bucket either way).
    A `*` anywhere else (account, bucket, project, logstore, queue, key, an
    action) widens the grant beyond what the handler uses.
    """
    for action, resource in grant_set:
        assert "*" not in action, action
        service, region, account, path = resource.split(":", 4)[1:]
        assert "*" not in account, resource
        if service == "cdn":
            # CDN domains are global: RefreshObjectCaches' documented resource is
            # acs:cdn:*:{accountId}:domain/{DomainName}; one named domain, no other `*`.
            assert region == "*" and path.startswith("domain/") and "*" not in path, resource
            continue
        if service != "oss":
            assert "*" not in resource, f"wildcard outside an OSS object ARN: {resource}"
            continue
        bucket, slash, prefix = path.partition("/")
        assert region in ("*", REGION) and "*" not in bucket and slash, resource
        assert prefix.count("*") == 1 and prefix.endswith("*"), resource


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"env": "prod"},
        {"source_prefix": "a/b/", "key_template": "out/{variant}/{name}.{format}"},
        {"serving": {"mode": "cdn", "cdn_domain": "img.example.com"}},
    ],
)
def test_no_grant_is_wider_than_an_object_prefix(variables):
    granted = grants(evaluate(variables))
    assert_least_privilege(granted)
    # and a whole bucket only when the user chose the whole bucket
    assert not any(r.endswith("-out-" + ACCOUNT + "/*") for _, r in granted)


@pytest.mark.parametrize(
    "template",
    [
        "resized/{variant}/{dir}{name}.{ext}",
        "resized/{variant}/{path}.{ext}",
        "variants/{variant}/{dir}{stem}.{ext}",
        "out/{variant}-{stem}.{ext}",  # a head that does not end in '/'
        "img/{stem}/{variant}.{format}",  # {variant} after the first field
    ],
)
def test_the_role_may_write_exactly_where_the_handler_writes(template):
    """Terraform grants key_template's literal head; every prefix the handler writes is under it."""
    ev = evaluate({"key_template": template, "rejected_prefix": "failed/"})
    settings = Settings.from_env(ev.function_environment)
    target = f"acs:oss:*:{ACCOUNT}:{names('dev')['target']}/"
    writable = {r.removeprefix(target) for a, r in grants(ev) if a == "oss:PutObject"}
    assert writable == {template.split("{")[0] + "*", "failed/*"}
    for guarded in settings.guarded_prefixes:
        assert any(guarded.startswith(w.removesuffix("*")) for w in writable), guarded
    assert all(w != "*" for w in writable)  # never the whole bucket


def test_least_privilege_check_rejects_a_wildcard_inside_an_arn():
    """The check above would catch the widened grants of issue 16."""
    for bad in [
        ("log:PostLogStoreLogs", f"acs:log:{REGION}:{ACCOUNT}:project/*/logstore/function"),
        ("oss:GetObject", "acs:oss:*:*:bucket/uploads/*"),
        ("oss:GetObject", f"acs:oss:*:{ACCOUNT}:bucket/*/x/*"),
        ("kms:Decrypt", f"acs:kms:{REGION}:{ACCOUNT}:key/*"),
        ("mns:SendMessage", f"acs:mns:{REGION}:{ACCOUNT}:/queues/*"),
        ("oss:Get*", f"acs:oss:{REGION}:{ACCOUNT}:bucket/uploads/*"),
        ("oss:GetObject", f"acs:oss:{REGION}:{ACCOUNT}:*/uploads/*"),
    ]:
        with pytest.raises(AssertionError):
            assert_least_privilege({bad})


def test_a_kms_key_adds_exactly_that_key():
    """With a customer master key OSS needs the role to use it: that key, two actions."""
    n = names("dev")
    granted = grants(evaluate({"kms_key_id": "key-abc123"}))
    assert granted - grants(evaluate({})) == {
        ("kms:GenerateDataKey", f"acs:kms:{REGION}:{ACCOUNT}:key/key-abc123"),
        ("kms:Decrypt", f"acs:kms:{REGION}:{ACCOUNT}:key/key-abc123"),
    }
    assert_least_privilege(granted)
    assert ("oss:GetObject", f"acs:oss:*:{ACCOUNT}:{n['source']}/uploads/*") in granted


def test_a_kms_key_encrypts_every_bucket():
    ev = evaluate({"kms_key_id": "key-abc123"})
    rules = [b["server_side_encryption_rule"] for b in ev.resources("alicloud_oss_bucket")]
    assert len(rules) == 4  # source, target, logs and the code package
    for rule in rules:
        assert (rule["sse_algorithm"], rule["kms_master_key_id"]) == ("KMS", "key-abc123")


def test_only_function_compute_can_assume_the_role(stack):
    env, ev = stack
    role = ev.one("alicloud_ram_role")
    assert role["role_name"] == names(env)["role"]
    assert json.loads(role["assume_role_policy_document"]) == {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": ["fc.aliyuncs.com"]},
            }
        ],
    }
    attachment = ev.one("alicloud_ram_role_policy_attachment")
    assert attachment == {
        **{k: v for k, v in attachment.items() if k.startswith("__") or k == "id"},
        "role_name": role["role_name"],
        "policy_name": ev.one("alicloud_ram_policy")["policy_name"],
        "policy_type": "Custom",
    }


# ---------------------------------------------------------------- dead letters


def test_both_layers_dead_letter_into_the_one_queue(stack):
    env, ev = stack
    queue = ev.one("alicloud_message_service_queue")["queue_name"]
    assert queue == names(env)["queue"]
    base = f"acs:mns:{REGION}:{ACCOUNT}:/queues/{queue}"
    # EventBridge (failed deliveries): the queue's ARN
    assert ev.trigger_config["runOptions"]["deadLetterQueue"] == {"Arn": base}
    # FC (failed async invocations): the queue's /messages ARN, sent with the function's role
    on_failure = ev.one("alicloud_fcv3_async_invoke_config")["destination_config"]["on_failure"]
    assert on_failure["destination"] == f"{base}/messages"
    assert ("mns:SendMessage", f"{base}/messages") in grants(ev)


# ---------------------------------------------------------------- alarms


@pytest.mark.parametrize(
    ("variables", "alarmed"),
    [
        ({"env": "dev"}, False),
        ({"env": "staging"}, False),
        ({"env": "prod"}, True),
        ({"env": "dev", "enable_alarms": True}, True),
        ({"env": "prod", "enable_alarms": False}, False),
    ],
)
def test_alarms_exist_in_prod_or_when_asked(variables, alarmed):
    alarms = evaluate(variables).resources("alicloud_cms_alarm")
    assert len(alarms) == (2 if alarmed else 0)


def test_alarms_watch_the_functions_errors_and_the_queues_depth():
    ev = evaluate({"env": "prod"})
    n = names("prod")
    alarms = {a["project"]: a for a in ev.resources("alicloud_cms_alarm")}
    fn, dlq = alarms["acs_fc"], alarms["acs_mns_new"]
    assert (
        fn["metric"] == "FunctionFunctionErrors"
    )  # the handler raised, not FC's front-door 4xx (modules/alarms/main.tf)
    assert json.loads(fn["metric_dimensions"]) == [
        {"region": REGION, "functionName": n["function"]}
    ]
    # FC aggregates per 60 s and offers only `Value`: one error in a minute raises it.
    assert fn["period"] == 60
    assert plain(fn["escalations_critical"]) == {
        "statistics": "Value",
        "comparison_operator": ">=",
        "threshold": "1",
        "times": 1,
    }
    # MNS documents the queue's ActiveMessages as this CloudMonitor metric
    assert dlq["metric"] == "NumberOfMessagesVisible"
    assert json.loads(dlq["metric_dimensions"]) == [
        {"userId": ACCOUNT, "region": REGION, "queue": n["queue"]}
    ]
    # The first dead letter raises it.
    assert plain(dlq["escalations_critical"]) == {
        "statistics": "Maximum",
        "comparison_operator": ">=",
        "threshold": "1",
        "times": 1,
    }
    assert dlq["period"] == 300
    for alarm in (fn, dlq):
        assert alarm["enabled"] is True


# ---------------------------------------------------------------- defaults


def test_terraforms_defaults_are_the_handlers_defaults():
    """An unset variable means what the handler (and `imgpipe process`) does by default."""
    deployed = Settings.from_env(evaluate({}).function_environment)
    n = names("dev")
    handler = Settings.from_env({"SOURCE_BUCKET": n["source"], "TARGET_BUCKET": n["target"]})
    assert deployed.processor == handler.processor == default_config()
    assert deployed.source_prefix == handler.source_prefix
    assert deployed.rejected_prefix == handler.rejected_prefix
    assert deployed.max_object_bytes == handler.max_object_bytes
    assert deployed.cache_control == handler.cache_control


# ---------------------------------------------------------------- the complete example


def test_every_knob_of_the_complete_example_reaches_its_resource(complete):
    ev, a = complete
    function = ev.one("alicloud_fcv3_function")
    assert function["runtime"] == a["runtime"]
    assert function["memory_size"] == a["memory_mb"]
    assert function["cpu"] == a["cpu"]
    assert function["timeout"] == a["timeout_seconds"]
    assert function["internet_access"] is a["internet_access"]
    concurrency = ev.one("alicloud_fcv3_concurrency_config")
    assert concurrency["reserved_concurrency"] == a["reserved_concurrency"]
    assert ev.one("alicloud_log_store")["retention_period"] == a["log_retention_days"]

    async_config = ev.one("alicloud_fcv3_async_invoke_config")
    assert async_config["max_async_retry_attempts"] == a["async_retries"]
    assert async_config["max_async_event_age_in_seconds"] == a["async_max_event_age_seconds"]
    queue = ev.one("alicloud_message_service_queue")
    assert queue["message_retention_period"] == a["dlq_retention_seconds"]

    env = ev.function_environment
    assert env["CACHE_CONTROL"] == a["cache_control"]
    # serving: the CDN domain, its private-bucket origin, and the function refreshing it
    domain = ev.one("alicloud_cdn_domain_new")
    assert (domain["domain_name"], domain["scope"]) == (
        a["serving"]["cdn_domain"],
        a["serving"]["cdn_scope"],
    )
    assert env["CDN_REFRESH_DOMAIN"] == a["serving"]["cdn_domain"]
    assert ev.resources("alicloud_ram_role") and not any(
        r["role_name"] == "AliyunCDNAccessingPrivateOSSRole"
        for r in ev.resources("alicloud_ram_role")
    )  # create_cdn_origin_role = false
    assert env["MAX_OBJECT_BYTES"] == str(a["max_object_mb"] * 1024 * 1024)

    buckets = {b["tags"]["role"]: b for b in ev.resources("alicloud_oss_bucket")}
    uploads = buckets["uploads"]["lifecycle_rule"]
    assert uploads["prefix"] == a["source_prefix"]
    assert uploads["expiration"]["days"] == a["upload_expiration_days"]
    assert (
        uploads["noncurrent_version_expiration"]["days"] == a["noncurrent_version_expiration_days"]
    )
    assert uploads["abort_multipart_upload"]["days"] == a["abort_multipart_days"]
    # (cors_rule is a dynamic block, which tfparse does not expand.)
    (ia,) = [r for r in buckets["variants"]["lifecycle_rule"] if "transitions" in r]
    # every variant's key starts with the template's literal head
    assert ia["prefix"] == a["key_template"].split("{", 1)[0]
    assert plain(ia["transitions"]) == {"days": a["variants_ia_days"], "storage_class": "IA"}
    logs = buckets["access-logs"]["lifecycle_rule"]
    assert logs["expiration"]["days"] == a["access_log_retention_days"]

    alarms = {x["project"]: x for x in ev.resources("alicloud_cms_alarm")}
    assert set(alarms) == {"acs_fc", "acs_mns_new"}
    fn_threshold = alarms["acs_fc"]["escalations_critical"]["threshold"]
    assert fn_threshold == str(a["alarm_function_errors"])
    assert alarms["acs_mns_new"]["escalations_critical"]["threshold"] == str(
        a["alarm_dead_letters"]
    )
    for alarm in alarms.values():
        assert alarm["contact_groups"] == a["alarm_contact_groups"]
