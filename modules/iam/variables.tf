variable "name" {
  description = "Name of the function's RAM role and policy."
  type        = string
}

variable "region" {
  description = "Region of the buckets, queue and logstore (part of every resource ARN)."
  type        = string
}

variable "account_id" {
  description = "Account that owns the resources (part of every resource ARN)."
  type        = string
}

variable "source_bucket" {
  description = "Bucket the function reads uploads from."
  type        = string
}

variable "source_prefix" {
  description = "Only objects under this prefix of the source bucket are readable."
  type        = string
}

variable "target_bucket" {
  description = "Bucket the function writes variants and rejection records to."
  type        = string
}

variable "write_prefixes" {
  description = "Prefixes of the target bucket the function may write (outputs and rejection records)."
  type        = list(string)
}

variable "delete_outputs" {
  description = "Allow oss:DeleteObject under write_prefixes (and nowhere else): the function deletes the variants and rejection record of a deleted source."
  type        = bool
  default     = false
}

variable "queue_name" {
  description = "Dead-letter queue FC sends failed invocations to on the function's behalf."
  type        = string
}

variable "log_project" {
  description = "SLS project of the function's logs."
  type        = string
}

variable "logstore" {
  description = "SLS logstore of the function's logs."
  type        = string
}

variable "tags" {
  description = "Tags for the role and policy."
  type        = map(string)
}

variable "kms_key_id" {
  description = "KMS key the buckets are encrypted with; null (OSS-managed AES256) needs no KMS permission."
  type        = string
  default     = null
}

variable "cdn_refresh_domain" {
  description = "serving mode cdn: the CDN domain whose cached copies the function refreshes (cdn:RefreshObjectCaches on that domain only); empty: no CDN permission."
  type        = string
  default     = ""
  nullable    = false
}
