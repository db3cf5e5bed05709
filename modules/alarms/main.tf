# Two alarms that say "something is being lost": the function raising, and
# failed events accumulating in the dead-letter queue. Metric names stay
# variables; docs/deploying.md "Known provider issues" says how to confirm them after
# the first apply.

# A handler that raises is a *function* error: CloudMonitor acs_fc
# `FunctionFunctionErrors` ("function execution failures caused by function
# errors"); `FunctionClientErrors` counts 4xx answers at FC's front door
# (404 function missing, 403 denied, 499 client gone) and stays at zero while
# every image fails. FC 3.0 has no services: a function's dimensions are
# {"region", "functionName"}, and every FC metric is aggregated per 60 s
# (FC 3.0 "Monitoring data", alibabacloud.com/help/.../fc-3-0/user-guide/
# monitoring-data). CloudMonitor's metric list for acs_fc gives `Value` as the
# only statistic, so the alarm reads the per-minute value over a 60 s period.
# docs/alibaba-cloud-review.md, point 1.
resource "alicloud_cms_alarm" "function_errors" {
  name    = "${var.name}-function-errors"
  project = "acs_fc"
  metric  = var.function_error_metric
  metric_dimensions = jsonencode([
    { region = var.region, functionName = var.function_name },
  ])
  period         = 60
  contact_groups = var.contact_groups
  silence_time   = 3600
  enabled        = true

  escalations_critical {
    statistics          = "Value"
    comparison_operator = ">="
    threshold           = tostring(var.function_error_threshold)
    times               = 1
  }
}

# Messages waiting in the dead-letter queue: MNS documents a queue's
# ActiveMessages as the CloudMonitor metric `NumberOfMessagesVisible`
# (namespace acs_mns_new, dimensions userId, region, queue; GetQueueAttributes,
# alibabacloud.com/help/en/mns/getqueueattributes, 2026: "ActiveMessages ->
# CloudMonitor metric NumberOfMessagesVisible"). docs/limits.md.
resource "alicloud_cms_alarm" "dead_letters" {
  name    = "${var.name}-dead-letters"
  project = "acs_mns_new"
  metric  = var.queue_depth_metric
  metric_dimensions = jsonencode([
    { userId = var.account_id, region = var.region, queue = var.queue_name },
  ])
  period         = 300
  contact_groups = var.contact_groups
  silence_time   = 3600
  enabled        = true

  escalations_critical {
    statistics          = "Maximum"
    comparison_operator = ">="
    threshold           = tostring(var.queue_depth_threshold)
    times               = 1
  }
}
