variable "mode" {
  description = "How apps read the variants: none, signed_url or cdn (the stack's `serving.mode`)."
  type        = string
}

variable "cdn_domain" {
  description = "The CDN domain (cdn mode); the stack's variable validates it."
  type        = string
  default     = null
}

variable "cdn_scope" {
  description = "Where the CDN accelerates: domestic, overseas or global."
  type        = string
  default     = "domestic"
}

variable "cdn_cert_id" {
  description = "ID of a Certificate Management Service (CAS) certificate for HTTPS on the CDN domain; null: HTTP only."
  type        = string
  default     = null
}

variable "create_cdn_origin_role" {
  description = "Create the account-wide role AliyunCDNAccessingPrivateOSSRole, limited to this bucket's variants."
  type        = bool
  default     = false
}

variable "region" {
  description = "Region of the target bucket."
  type        = string
}

variable "account_id" {
  description = "Account of the bucket (ARNs)."
  type        = string
}

variable "target_bucket" {
  description = "The bucket the variants are in (private)."
  type        = string
}

variable "variants_prefix" {
  description = "Literal start of key_template: every variant key starts with it."
  type        = string
}

variable "tags" {
  description = "Tags for the CDN domain and the role."
  type        = map(string)
}

variable "function_internet_access" {
  description = "The function's internet_access: cdn mode needs it (the refresh goes to CDN's public API endpoint)."
  type        = bool
  default     = true
}
