# Routing: OSS -> EventBridge (default bus) -> the function.
#
# The FC-native EventBridge trigger makes FC create the EventBridge rule on
# the default bus itself. EventBridge patterns AND across keys and OR within
# a list, so a prefix and suffixes in one list would match either: the
# bucket is matched on data.oss.bucket.name, the folder on
# data.oss.object.key (prefix), and the image extension on `subject`
# (acs:oss:<region>:<account>:<bucket>/<key>, suffix), which needs no
# account ID. Matching is case-sensitive, hence the case variants. Deletions
# (removed_event_types) share the bucket, prefix and suffix rules: deleting
# `uploads/a.jpg` reaches the function, which deletes a.jpg's variants.

locals {
  suffixes = distinct(flatten([
    for s in var.image_suffixes : [lower(s), upper(s), title(lower(s))]
  ]))

  filter_pattern = {
    source = ["acs.oss"]
    type = concat(
      [for t in var.created_event_types : "oss:ObjectCreated:${t}"],
      [for t in var.removed_event_types : "oss:ObjectRemoved:${t}"],
    )
    subject = [for s in local.suffixes : { suffix = s }]
    data = {
      oss = {
        bucket = { name = [var.source_bucket] }
        object = { key = [{ prefix = var.source_prefix }] }
      }
    }
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
  description    = "OSS uploads to ${var.source_bucket}/${var.source_prefix} (images only)."
  trigger_config = jsonencode(local.trigger_config)

  depends_on = [
    alicloud_event_bridge_service_linked_role.send_to_fc,
    alicloud_event_bridge_service_linked_role.send_to_mns,
  ]
}
