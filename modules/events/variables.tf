variable "function_name" {
  description = "Function the trigger invokes."
  type        = string
}

variable "trigger_name" {
  description = "Name of the EventBridge trigger."
  type        = string
}

variable "source_bucket" {
  description = "Bucket whose uploads are routed to the function."
  type        = string
}

variable "source_prefix" {
  description = "Only keys under this prefix are routed."
  type        = string
}

variable "created_event_types" {
  description = "OSS event types that mean a finished object."
  type        = list(string)
}

variable "removed_event_types" {
  description = "OSS deletion event types routed too (DeleteObject, DeleteObjects), so the function deletes the variants; empty: deletions are not routed."
  type        = list(string)
  default     = []
}

variable "dead_letter_arn" {
  description = "Queue (EventBridge form, without /messages) for deliveries EventBridge gives up on."
  type        = string
}

variable "async_invocation" {
  description = "Invoke the function asynchronously (see README: what asyncInvocationType means is disputed)."
  type        = bool
}

variable "create_service_linked_roles" {
  description = "Create and own EventBridge's account-wide service-linked roles; destroying the stack then deletes them for the whole account (normally examples/bootstrap-state owns them)."
  type        = bool
}
