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

output "serving_mode" {
  description = "How apps read the variants: none, signed_url or cdn (docs/serving.md)."
  value       = module.imgpipe.serving_mode
}

output "variants_base_url" {
  description = "Prefix of every variant's URL: append the variant's key, percent-encoded (docs/serving.md). The CDN domain in cdn mode; the target bucket's endpoint in signed_url mode, where each URL must also be signed; null in none mode."
  value       = module.imgpipe.variants_base_url
}

output "cdn_domain" {
  description = "The CDN domain serving the variants (cdn mode), else null."
  value       = module.imgpipe.cdn_domain
}

output "cdn_cname" {
  description = "Where cdn_domain's DNS CNAME record must point (cdn mode), else null."
  value       = module.imgpipe.cdn_cname
}

output "serving_signer_policy" {
  description = "RAM policy (JSON) for the identity that signs variant URLs in signed_url mode: oss:GetObject on the variants' prefix only; null in the other modes."
  value       = module.imgpipe.serving_signer_policy
}

output "pipeline_config" {
  description = "What the function was configured with, as JSON (source_prefix, rejected_prefix, max_object_bytes, processor, serving): `imgpipe smoke` reads it to know which variants to expect, `imgpipe backfill` which objects are current."
  value       = module.imgpipe.pipeline_config
}
