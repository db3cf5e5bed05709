output "source_bucket" {
  description = "Name of the bucket users upload to."
  value       = alicloud_oss_bucket.source.bucket
}

output "target_bucket" {
  description = "Name of the bucket the variants are written to."
  value       = alicloud_oss_bucket.target.bucket
}

output "logs_bucket" {
  description = "Name of the bucket holding the other buckets' access logs."
  value       = alicloud_oss_bucket.logs.bucket
}

output "code_bucket" {
  description = "Name of the bucket holding the function's code package (null without code_bucket)."
  value       = one(alicloud_oss_bucket.code[*].bucket)
}
