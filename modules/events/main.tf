# Routing: OSS -> EventBridge (default bus) -> the function.
#
# The FC-native EventBridge trigger makes FC create the EventBridge rule on
# the default bus itself. EventBridge patterns AND across keys and OR within
# a list: the bucket is matched on data.oss.bucket.name, the folder on
# data.oss.object.key (prefix), the finished-object (and, with
# delete-follow, deletion) event types on `type`.
#
# Which keys are images is decided by the function, not by the pattern
# (fc_handler.settings IMAGE_SUFFIXES, case-insensitively). EventBridge
# allows at most 5 expressions of the map form ({prefix}, {suffix}, ...) per
# field ("Expressions per field in stringExpression mode | 5 (map
# structure)", https://help.aliyun.com/en/eventbridge/product-overview/limits),
# and its matching is case-sensitive, so the 11 default endings in three
# cases each were 33 expressions on `subject`: a rule EventBridge refuses.
# No pattern within 5 expressions routes .jpg, .JPG and .Jpg of 11 endings;
# the handler ignores a non-image key from the event alone (no OSS request,
# a few milliseconds: 75 CU per 10,000 such invocations, docs/cost.md), and
# it matches every case, which the pattern never did (.jPg). Every field
# here carries at most one map expression; the precondition below and the
# stand-in provider hold that at 5 (docs/limits.md).

locals {
  filter_pattern = {
    source = ["acs.oss"]
    type = concat(
      [for t in var.created_event_types : "oss:ObjectCreated:${t}"],
      [for t in var.removed_event_types : "oss:ObjectRemoved:${t}"],
    )
    data = {
      oss = {
        bucket = { name = [var.source_bucket] }
        object = { key = [{ prefix = var.source_prefix }] }
      }
    }
  }

  # Map expressions per field, for the limit of 5 (one entry per leaf list).
  pattern_expressions = {
    source = length([for v in local.filter_pattern.source : v if can(keys(v))])
    type   = length([for v in local.filter_pattern.type : v if can(keys(v))])
    bucket = length([for v in local.filter_pattern.data.oss.bucket.name : v if can(keys(v))])
    key    = length([for v in local.filter_pattern.data.oss.object.key : v if can(keys(v))])
  }

  # asyncInvocationType: FC 3.0's API reference (EventBridgeTriggerConfig,
  # 2026) says true = synchronous, default false; FC 2.0's says true =
  # asynchronous. This module follows the FC 3.0 reference (the trigger is an
  # FC 3.0 resource) and does not depend on the answer: failed deliveries are
  # dead-lettered here (runOptions) and failed asynchronous invocations by
  # the function's async invoke config. README: "Which dead-letter path a
  # deployed stack uses".
  trigger_config = {
    triggerEnable          = true
    asyncInvocationType    = !var.async_invocation
    eventSourceConfig      = { eventSourceType = "Default" }
    eventRuleFilterPattern = jsonencode(local.filter_pattern)
    # FC 3.0's DeliveryOption has `concurrency` (Kafka sources only) and
    # `eventSchema`; `mode` is FC 2.0's, deprecated there and absent from
    # 3.0, so FC would drop it and every plan would show a change (point 6).
    eventSinkConfig = {
      deliveryOption = { eventSchema = "CloudEvents" }
    }
    runOptions = {
      mode            = "event-driven"
      errorsTolerance = "ALL"
      retryStrategy   = { PushRetryStrategy = "BACKOFF_RETRY" }
      deadLetterQueue = { Arn = var.dead_letter_arn }
    }
  }
}

# EventBridge's service-linked roles are account-wide: a stack that owns
# them deletes them for every stack on `terraform destroy`. They belong to
# examples/bootstrap-state (created once per account, prevent_destroy);
# create_service_linked_roles = true is only for a single-stack account that
# accepts that (docs/alibaba-cloud-review.md, point 4).
resource "alicloud_event_bridge_service_linked_role" "send_to_fc" {
  count        = var.create_service_linked_roles ? 1 : 0
  product_name = "AliyunServiceRoleForEventBridgeSendToFC"
}

resource "alicloud_event_bridge_service_linked_role" "send_to_mns" {
  count        = var.create_service_linked_roles ? 1 : 0
  product_name = "AliyunServiceRoleForEventBridgeSendToMNS"
}

resource "alicloud_fcv3_trigger" "oss_uploads" {
  function_name  = var.function_name
  trigger_name   = var.trigger_name
  trigger_type   = "eventbridge"
  qualifier      = "LATEST"
  description    = "OSS uploads to ${var.source_bucket}/${var.source_prefix} (the function ignores non-images)."
  trigger_config = jsonencode(local.trigger_config)

  depends_on = [
    alicloud_event_bridge_service_linked_role.send_to_fc,
    alicloud_event_bridge_service_linked_role.send_to_mns,
  ]

  lifecycle {
    precondition {
      condition     = alltrue([for n in values(local.pattern_expressions) : n <= 5])
      error_message = "The event pattern has more than 5 map expressions in a field (${jsonencode(local.pattern_expressions)}): EventBridge allows 5 per field in stringExpression mode (https://help.aliyun.com/en/eventbridge/product-overview/limits)."
    }
  }
}
