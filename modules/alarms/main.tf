# Two alarms that say "something is being lost": the function raising, and
# failed events accumulating in the dead-letter queue. Metric names are
# variables because CloudMonitor's names could not be checked from here;
# README "Alarms" says how to confirm them after the first apply.

resource "alicloud_cms_alarm" "function_errors" {
  name    = "${var.name}-function-errors"
  project = "acs_fc"
  metric  = var.function_error_metric
  metric_dimensions = jsonencode([
    { region = var.region, functionName = var.function_name },
  ])
  period         = 300
  contact_groups = var.contact_groups
  silence_time   = 3600
  enabled        = true

  escalations_critical {
    statistics          = "Sum"
    comparison_operator = ">="
    threshold           = tostring(var.function_error_threshold)
    times               = 1
  }
}

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
