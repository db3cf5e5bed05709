output "trigger_name" {
  description = "Name of the EventBridge trigger."
  value       = alicloud_fcv3_trigger.oss_uploads.trigger_name
}

output "filter_pattern" {
  description = "The EventBridge event pattern, as JSON."
  value       = jsonencode(local.filter_pattern)
}
