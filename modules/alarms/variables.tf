variable "name" {
  description = "Prefix of the alarm names."
  type        = string
}

variable "function_name" {
  description = "Function whose errors are watched."
  type        = string
}

variable "queue_name" {
  description = "Dead-letter queue whose depth is watched."
  type        = string
}

variable "region" {
  description = "Region of the function and queue (a metric dimension)."
  type        = string
}

variable "account_id" {
  description = "Account of the queue (a metric dimension)."
  type        = string
}

variable "contact_groups" {
  description = "CloudMonitor contact groups notified."
  type        = list(string)
}

variable "function_error_threshold" {
  description = "Function errors in one minute that raise the alarm."
  type        = number
}

variable "queue_depth_threshold" {
  description = "Messages waiting in the dead-letter queue that raise the alarm."
  type        = number
}

variable "function_error_metric" {
  description = "CloudMonitor metric (project acs_fc) counting the function's errors (FunctionFunctionErrors: the handler raised)."
  type        = string
}

variable "queue_depth_metric" {
  description = "CloudMonitor metric (project acs_mns_new) counting messages in a queue."
  type        = string
}
