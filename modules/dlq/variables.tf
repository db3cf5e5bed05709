variable "queue_name" {
  description = "Name of the dead-letter queue."
  type        = string
}

variable "region" {
  description = "Region of the queue (part of its ARN)."
  type        = string
}

variable "account_id" {
  description = "Account that owns the queue (part of its ARN)."
  type        = string
}

variable "message_retention_seconds" {
  description = "How long failed events stay in the queue (60 to 604800)."
  type        = number
}

variable "tags" {
  description = "Tags for the queue."
  type        = map(string)
}
