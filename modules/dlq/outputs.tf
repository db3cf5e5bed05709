output "queue_name" {
  description = "Name of the dead-letter queue."
  value       = alicloud_message_service_queue.dlq.queue_name
}

output "queue_arn" {
  description = "ARN FC's async invoke config sends failures to (acs:mns:<region>:<account>:/queues/<name>/messages)."
  value       = "acs:mns:${var.region}:${var.account_id}:/queues/${alicloud_message_service_queue.dlq.queue_name}/messages"
}

output "eventbridge_dlq_arn" {
  description = "ARN EventBridge's dead-letter setting takes (acs:mns:<region>:<account>:/queues/<name>)."
  value       = "acs:mns:${var.region}:${var.account_id}:/queues/${alicloud_message_service_queue.dlq.queue_name}"
}
