variable "function_name" {
  description = "Name of the FC function."
  type        = string
}

variable "runtime" {
  description = "FC runtime: python3.10 or python3.12 (build the package for the same one)."
  type        = string
}

variable "role_arn" {
  description = "RAM role the function runs as."
  type        = string
}

variable "zip_path" {
  description = "Path of the package built by `make package` (inline upload); null with code_oss_*."
  type        = string
  default     = null
}

variable "code_checksum" {
  description = "CRC-64 of the package (dist/function.json `crc64`): FC verifies the upload, and only a new checksum redeploys."
  type        = string
}

variable "code_oss_bucket" {
  description = "Bucket holding an uploaded package, instead of an inline upload."
  type        = string
  default     = null
}

variable "code_oss_object" {
  description = "Object key of the uploaded package (include its hash in the key)."
  type        = string
  default     = null
}

variable "layer_arns" {
  description = "FC layers (for example the dependencies layer from `make package LAYER=1`)."
  type        = list(string)
}

variable "memory_mb" {
  description = "Memory of an instance in MB."
  type        = number
}

variable "cpu" {
  description = "vCPUs of an instance (FC 3.0 requires memory GB : vCPU between 1:1 and 4:1)."
  type        = number
}

variable "timeout_seconds" {
  description = "Longest an invocation may run."
  type        = number
}

variable "reserved_concurrency" {
  description = "Instances reserved for the function; null leaves it unreserved."
  type        = number
  default     = null
}

variable "internet_access" {
  description = "Whether the function may reach the internet (it only needs OSS's internal endpoint)."
  type        = bool
}

variable "environment" {
  description = "The handler's environment variables."
  type        = map(string)
}

variable "log_project" {
  description = "SLS project created for the function's logs (globally unique)."
  type        = string
}

variable "logstore" {
  description = "SLS logstore created for the function's logs."
  type        = string
}

variable "log_retention_days" {
  description = "Days the logstore keeps logs."
  type        = number
}

variable "dead_letter_arn" {
  description = "Queue ARN failed asynchronous invocations are sent to."
  type        = string
}

variable "async_success_destination" {
  description = "Destination for successful async invocations; null sends none (see versions.tf for the provider bug this relates to)."
  type        = string
  default     = null
}

variable "max_async_retry_attempts" {
  description = "Retries of a failed asynchronous invocation (0 to 8)."
  type        = number
}

variable "max_async_event_age_seconds" {
  description = "Age after which an undelivered event is dead-lettered (1 to 86400)."
  type        = number
}

variable "tags" {
  description = "Tags for the function and log project."
  type        = map(string)
}
