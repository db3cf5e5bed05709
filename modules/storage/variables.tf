variable "name_prefix" {
  description = "Prefix of every bucket name."
  type        = string
}

variable "env" {
  description = "Environment name, part of every bucket name."
  type        = string
}

variable "name_suffix" {
  description = "Suffix that makes bucket names globally unique (the account ID)."
  type        = string
}

variable "source_prefix" {
  description = "Folder of the source bucket that uploads go to."
  type        = string
}

variable "variants_prefix" {
  description = "Literal prefix of every variant's key in the target bucket (moved to IA with age)."
  type        = string
}

variable "upload_expiration_days" {
  description = "Days after which uploads under the source prefix expire (the variants stay)."
  type        = number
}

variable "variants_ia_days" {
  description = "Days after which variants move to Infrequent Access."
  type        = number
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted source versions are removed."
  type        = number
}

variable "abort_multipart_days" {
  description = "Days after which unfinished multipart uploads are aborted."
  type        = number
}

variable "access_log_retention_days" {
  description = "Days the access-log bucket keeps its logs."
  type        = number
}

variable "kms_key_id" {
  description = "KMS key for server-side encryption; null uses OSS-managed keys (AES256)."
  type        = string
  default     = null
}

variable "cors_allowed_origins" {
  description = "Origins allowed to upload to the source bucket from browsers (POST, PUT) and to read the target bucket with fetch (GET, HEAD: the ready manifest, docs/uploading.md); empty: no CORS."
  type        = list(string)
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete buckets that still hold objects."
  type        = bool
}

variable "tags" {
  description = "Tags for every bucket."
  type        = map(string)
}

variable "code_bucket" {
  description = "Create a private bucket for the function's code package (the module uploads it there)."
  type        = bool
  default     = true
}
