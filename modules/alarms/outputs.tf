output "alarm_ids" {
  description = "IDs of the alarms."
  value       = [alicloud_cms_alarm.function_errors.id, alicloud_cms_alarm.dead_letters.id]
}
