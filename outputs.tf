# The stack's outputs (modules/imgpipe/outputs.tf), passed through: what
# `terraform output -json` gives imgpipe smoke, backfill and redrive.

output "source_bucket" {
  description = "Bucket to upload pictures to (under source_prefix)."
  value       = module.imgpipe.source_bucket
}

output "target_bucket" {
  description = "Bucket the variants and rejection records are written to."
  value       = module.imgpipe.target_bucket
}

output "logs_bucket" {
  description = "Bucket holding the other buckets' access logs."
  value       = module.imgpipe.logs_bucket
}

output "function_name" {
  description = "Name of the FC function."
  value       = module.imgpipe.function_name
}

output "function_arn" {
  description = "ARN of the FC function."
  value       = module.imgpipe.function_arn
}

output "function_role_arn" {
  description = "ARN of the function's RAM role."
  value       = module.imgpipe.function_role_arn
}

output "trigger_name" {
  description = "Name of the EventBridge trigger on the function."
  value       = module.imgpipe.trigger_name
}

output "event_filter_pattern" {
  description = "The EventBridge pattern uploads must match to reach the function (JSON)."
  value       = module.imgpipe.event_filter_pattern
}

output "queue_name" {
  description = "Name of the MNS dead-letter queue."
  value       = module.imgpipe.queue_name
}

output "queue_arn" {
  description = "ARN of the dead-letter queue as FC's async config uses it."
  value       = module.imgpipe.queue_arn
}

output "log_project" {
  description = "SLS project of the function's logs."
  value       = module.imgpipe.log_project
}

output "logstore" {
  description = "SLS logstore with one JSON line per processed object."
  value       = module.imgpipe.logstore
}

output "package_checksum" {
  description = "CRC-64 of the deployed package (from dist/function.json)."
  value       = module.imgpipe.package_checksum
}

output "pipeline_config" {
  description = "What the function was configured with, as JSON (source_prefix, rejected_prefix, max_object_bytes, processor): `imgpipe smoke` reads it to know which variants to expect, `imgpipe backfill` which objects are current."
  value       = module.imgpipe.pipeline_config
}
