# The ARN is handed out only once the policy is attached: everything that
# takes it (the function, and through the function its async invoke config)
# is then created after the role may read, write, log and dead-letter. The
# provider's docs for the async invoke config: without the destination
# permission "the API will return a generic error"
# (website/docs/r/fc_function_async_invoke_config.html.markdown, line 23).
# RAM may still take a few seconds to propagate; see
# docs/alibaba-cloud-review.md, point 3.
output "role_arn" {
  description = "ARN of the function's role (available once its policy is attached)."
  value       = alicloud_ram_role.function.arn
  depends_on  = [alicloud_ram_role_policy_attachment.function]
}

output "role_name" {
  description = "Name of the function's role."
  value       = alicloud_ram_role.function.role_name
}

output "policy_document" {
  description = "The function's permissions, as JSON."
  value       = alicloud_ram_policy.function.policy_document
}
