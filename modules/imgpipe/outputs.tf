output "source_bucket" {
  description = "Bucket to upload pictures to (under source_prefix)."
  value       = module.storage.source_bucket
}

output "target_bucket" {
  description = "Bucket the variants and rejection records are written to."
  value       = module.storage.target_bucket
}

output "logs_bucket" {
  description = "Bucket holding the other buckets' access logs."
  value       = module.storage.logs_bucket
}

output "function_name" {
  description = "Name of the FC function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the FC function."
  value       = module.function.function_arn
}

output "function_role_arn" {
  description = "ARN of the function's RAM role."
  value       = module.iam.role_arn
}

output "trigger_name" {
  description = "Name of the EventBridge trigger on the function."
  value       = module.events.trigger_name
}

output "event_filter_pattern" {
  description = "The EventBridge pattern uploads must match to reach the function (JSON)."
  value       = module.events.filter_pattern
}

output "queue_name" {
  description = "Name of the MNS dead-letter queue."
  value       = module.dlq.queue_name
}

output "queue_arn" {
  description = "ARN of the dead-letter queue as FC's async config uses it."
  value       = module.dlq.queue_arn
}

output "log_project" {
  description = "SLS project of the function's logs."
  value       = module.function.log_project
}

output "logstore" {
  description = "SLS logstore with one JSON line per processed object."
  value       = module.function.logstore
}

output "package_checksum" {
  description = "CRC-64 of the deployed package (from dist/function.json)."
  value       = local.package == null ? null : local.package.crc64
}

output "serving_mode" {
  description = "How apps read the variants: none, signed_url or cdn (docs/serving.md)."
  value       = module.serving.mode
}

output "variants_base_url" {
  description = "Prefix of every variant's URL: append the variant's key, percent-encoded (docs/serving.md). The CDN domain in cdn mode; the target bucket's endpoint in signed_url mode, where each URL must also be signed; null in none mode."
  value       = module.serving.variants_base_url
}

output "cdn_domain" {
  description = "The CDN domain serving the variants (cdn mode), else null."
  value       = module.serving.cdn_domain
}

output "cdn_cname" {
  description = "Where cdn_domain's DNS CNAME record must point (cdn mode), else null."
  value       = module.serving.cdn_cname
}

output "serving_signer_policy" {
  description = "RAM policy (JSON) for the identity that signs variant URLs in signed_url mode: oss:GetObject on the variants' prefix only; null in the other modes."
  value       = module.serving.signer_policy
}

output "pipeline_config" {
  description = "What the function was configured with, as JSON (source_prefix, rejected_prefix, max_object_bytes, processor, serving): `imgpipe smoke` reads it to know which variants to expect, `imgpipe backfill` which objects are current."
  value = jsonencode({
    source_prefix    = var.source_prefix
    rejected_prefix  = var.rejected_prefix
    max_object_bytes = var.max_object_mb * 1024 * 1024
    image_suffixes   = distinct([for s in var.image_suffixes : lower(s)])
    processor        = local.processor_config
    # cdn_domain from the variable, not the domain resource: the same value,
    # and one the tests' tfparse evaluation resolves when no domain exists.
    serving = {
      mode              = module.serving.mode
      variants_base_url = module.serving.variants_base_url
      cdn_domain        = var.serving.mode == "cdn" ? var.serving.cdn_domain : null
    }
  })

  # A pixel limit the memory cannot hold: an 8-bit RGBA PNG at max_megapixels needs
  # max(150 + 4.4 x MP, 112 + 4.9 x MP) MB (function_src/imgproc/memory.py, tests/test_memory_fit.py).
  precondition {
    condition     = var.memory_mb >= max(150 + 4.4 * var.max_megapixels, 112 + 4.9 * var.max_megapixels)
    error_message = "memory_mb = ${var.memory_mb} cannot hold a ${var.max_megapixels} MP upload: it needs ${ceil(max(150 + 4.4 * var.max_megapixels, 112 + 4.9 * var.max_megapixels) / 64) * 64} MB, or lower max_megapixels to ${floor(min((var.memory_mb - 150) / 4.4, (var.memory_mb - 112) / 4.9))}."
  }
}
