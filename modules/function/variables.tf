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

variable "package" {
  description = "The package `make package` built: path of function.zip and its manifest's sha256, crc64 (FC's code.checksum), content_md5 and size; null with code_oss_* (or when no manifest was found)."
  type = object({
    zip         = string
    sha256      = string
    crc64       = string
    content_md5 = string
    size        = number
  })
  default = null
}

variable "package_dir" {
  description = "Where the package was looked for (named in the error when it is missing)."
  type        = string
  default     = "dist"
}

variable "code_upload" {
  description = "\"oss\": upload the package to code_bucket and let FC read it there; \"inline\": send it base64 in the request (small packages only)."
  type        = string
  default     = "oss"
}

variable "code_bucket" {
  description = "Bucket the package is uploaded to with code_upload = \"oss\" (the stack's code bucket)."
  type        = string
  default     = null
}

variable "code_oss_bucket" {
  description = "Bucket holding a package uploaded outside Terraform (then package is not used)."
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

variable "warm_instances" {
  description = "Provisioned instances: target at all times and scheduled targets (the stack's variable of the same name); target 0 and no schedule: none."
  type = object({
    target = number
    schedule = list(object({
      name      = string
      cron      = string
      target    = number
      time_zone = string
    }))
  })
  default = { target = 0, schedule = [] }
}
