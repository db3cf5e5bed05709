output "role_arn" {
  description = "ARN of the function's role."
  value       = alicloud_ram_role.function.arn
}

output "role_name" {
  description = "Name of the function's role."
  value       = alicloud_ram_role.function.role_name
}

output "policy_document" {
  description = "The function's permissions, as JSON."
  value       = alicloud_ram_policy.function.policy_document
}
