output "function_name" {
  description = "Name of the function."
  value       = alicloud_fcv3_function.this.function_name
}

output "function_arn" {
  description = "ARN of the function."
  value       = alicloud_fcv3_function.this.function_arn
}

output "log_project" {
  description = "SLS project of the function's logs."
  value       = alicloud_log_project.this.project_name
}

output "logstore" {
  description = "SLS logstore of the function's logs."
  value       = alicloud_log_store.this.logstore_name
}
