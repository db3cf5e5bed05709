# Where failed events end up: FC's asynchronous invocation sends an event
# here after its retries are exhausted, and the EventBridge trigger sends
# deliveries it could not make. Messages are at most 64 KB; an OSS event is
# about 1.5 KB.

resource "alicloud_message_service_queue" "dlq" {
  queue_name               = var.queue_name
  message_retention_period = var.message_retention_seconds
  maximum_message_size     = 65536
  visibility_timeout       = 60
  logging_enabled          = true
  tags                     = var.tags
}
