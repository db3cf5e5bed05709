# GitHub Actions -> Alibaba Cloud without long-lived keys: an OIDC identity
# provider for GitHub's token issuer, and two roles per environment:
#
# - plan:  read-only (ReadOnlyAccess) plus the state bucket and lock table;
#          assumable only by jobs in the unprotected `<env>-plan` environment;
# - apply: what the stack needs to create and change, with RAM limited to
#          this stack's own roles and policies; assumable only by jobs in the
#          protected `<env>` environment (required reviewers).
#
#   terraform init && terraform apply -var account_id=... -var github_repository=owner/repo
#
# Then set the repository variables from the outputs (README, "CI").

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    alicloud = {
      source  = "aliyun/alicloud"
      version = ">= 1.292.0, < 2.0.0"
    }
  }
}

variable "region" {
  description = "Region of the stack."
  type        = string
  default     = "cn-hangzhou"
}

variable "account_id" {
  description = "Account the roles live in."
  type        = string
}

variable "github_repository" {
  description = "owner/name of the repository whose workflows may assume the roles."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name."
  }
}

variable "environments" {
  description = "Environments CI deploys."
  type        = list(string)
  default     = ["dev", "staging", "prod"]
}

variable "state_bucket" {
  description = "The state bucket from examples/bootstrap-state."
  type        = string
}

variable "lock_instance" {
  description = "The Tablestore instance from examples/bootstrap-state."
  type        = string
  default     = "imgpipe-tflock"
}

variable "name_prefix" {
  description = "Prefix of the stack's resource names (RAM is limited to it)."
  type        = string
  default     = "imgpipe"
}

provider "alicloud" {
  region = var.region
}

resource "alicloud_ims_oidc_provider" "github" {
  oidc_provider_name = "github-actions"
  issuer_url         = "https://token.actions.githubusercontent.com"
  client_ids         = ["sts.aliyuncs.com"]
  fingerprints       = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]
  description        = "GitHub Actions of ${var.github_repository}"
}

locals {
  oidc_arn = "acs:ram::${var.account_id}:oidc-provider/${alicloud_ims_oidc_provider.github.oidc_provider_name}"

  trust = {
    for kind in ["plan", "apply"] : kind => {
      for env in var.environments : env => jsonencode({
        Version = "1"
        Statement = [{
          Effect    = "Allow"
          Action    = "sts:AssumeRole"
          Principal = { Federated = [local.oidc_arn] }
          Condition = {
            StringEquals = {
              "oidc:iss" = "https://token.actions.githubusercontent.com"
              "oidc:aud" = "sts.aliyuncs.com"
              "oidc:sub" = "repo:${var.github_repository}:environment:${kind == "plan" ? "${env}-plan" : env}"
            }
          }
        }]
      })
    }
  }

  state_access = jsonencode({
    Version = "1"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["oss:GetObject", "oss:PutObject", "oss:ListObjects", "oss:GetBucketInfo"]
        Resource = ["acs:oss:*:${var.account_id}:${var.state_bucket}", "acs:oss:*:${var.account_id}:${var.state_bucket}/imgpipe/*"]
      },
      {
        Effect   = "Allow"
        Action   = ["ots:GetRow", "ots:PutRow", "ots:UpdateRow", "ots:DeleteRow", "ots:DescribeTable"]
        Resource = ["acs:ots:${var.region}:${var.account_id}:instance/${var.lock_instance}/table/terraform_lock"]
      },
    ]
  })

  # RAM only for this stack's own role and policy (and EventBridge's
  # service-linked roles, used only when a stack sets
  # create_service_linked_roles = true; normally examples/bootstrap-state owns
  # them); the rest of the account's identities are out of reach.
  stack_ram = jsonencode({
    Version = "1"
    Statement = [
      {
        Effect = "Allow"
        Action = [
          "ram:CreateRole", "ram:GetRole", "ram:UpdateRole", "ram:DeleteRole", "ram:PassRole",
          "ram:ListPoliciesForRole", "ram:AttachPolicyToRole", "ram:DetachPolicyFromRole",
          "ram:CreatePolicy", "ram:GetPolicy", "ram:DeletePolicy", "ram:GetPolicyVersion",
          "ram:ListPolicyVersions", "ram:CreatePolicyVersion", "ram:DeletePolicyVersion",
          "ram:TagResources", "ram:UntagResources", "ram:ListTagResources",
        ]
        Resource = [
          "acs:ram::${var.account_id}:role/${var.name_prefix}-*",
          "acs:ram::${var.account_id}:policy/${var.name_prefix}-*",
        ]
      },
      {
        Effect   = "Allow"
        Action   = ["ram:CreateServiceLinkedRole", "ram:GetRole"]
        Resource = ["acs:ram::${var.account_id}:role/aliyunserviceroleforeventbridge*"]
      },
    ]
  })

  apply_system_policies = [
    "AliyunOSSFullAccess", "AliyunFCFullAccess", "AliyunEventBridgeFullAccess", "AliyunMNSFullAccess",
    "AliyunLogFullAccess", "AliyunCloudMonitorFullAccess",
  ]
}

resource "alicloud_ram_role" "plan" {
  for_each                    = toset(var.environments)
  role_name                   = "${var.name_prefix}-ci-plan-${each.key}"
  assume_role_policy_document = local.trust.plan[each.key]
  description                 = "GitHub Actions plan jobs (${each.key}) of ${var.github_repository}"
  max_session_duration        = 3600
}

resource "alicloud_ram_role" "apply" {
  for_each                    = toset(var.environments)
  role_name                   = "${var.name_prefix}-ci-apply-${each.key}"
  assume_role_policy_document = local.trust.apply[each.key]
  description                 = "GitHub Actions apply jobs (${each.key}, protected environment) of ${var.github_repository}"
  max_session_duration        = 3600
}

resource "alicloud_ram_policy" "state" {
  policy_name     = "${var.name_prefix}-ci-state"
  policy_document = local.state_access
  description     = "Read and lock the Terraform state"
  # RAM keeps five versions of a policy and does not drop the oldest by
  # itself: without this the sixth edit fails (provider docs, ram_policy).
  rotate_strategy = "DeleteOldestNonDefaultVersionWhenLimitExceeded"
}

resource "alicloud_ram_policy" "stack_ram" {
  policy_name     = "${var.name_prefix}-ci-stack-ram"
  policy_document = local.stack_ram
  description     = "Manage only the stack's own RAM role and policy"
  # RAM keeps five versions of a policy and does not drop the oldest by
  # itself: without this the sixth edit fails (provider docs, ram_policy).
  rotate_strategy = "DeleteOldestNonDefaultVersionWhenLimitExceeded"
}

resource "alicloud_ram_role_policy_attachment" "plan_readonly" {
  for_each    = alicloud_ram_role.plan
  role_name   = each.value.role_name
  policy_name = "ReadOnlyAccess"
  policy_type = "System"
}

resource "alicloud_ram_role_policy_attachment" "plan_state" {
  for_each    = alicloud_ram_role.plan
  role_name   = each.value.role_name
  policy_name = alicloud_ram_policy.state.policy_name
  policy_type = "Custom"
}

resource "alicloud_ram_role_policy_attachment" "apply_state" {
  for_each    = alicloud_ram_role.apply
  role_name   = each.value.role_name
  policy_name = alicloud_ram_policy.state.policy_name
  policy_type = "Custom"
}

resource "alicloud_ram_role_policy_attachment" "apply_ram" {
  for_each    = alicloud_ram_role.apply
  role_name   = each.value.role_name
  policy_name = alicloud_ram_policy.stack_ram.policy_name
  policy_type = "Custom"
}

resource "alicloud_ram_role_policy_attachment" "apply_services" {
  for_each = {
    for pair in setproduct(var.environments, local.apply_system_policies) : "${pair[0]}/${pair[1]}" => pair
  }
  role_name   = alicloud_ram_role.apply[each.value[0]].role_name
  policy_name = each.value[1]
  policy_type = "System"
}

output "oidc_provider_arn" {
  description = "Repository variable ALIBABA_CLOUD_OIDC_PROVIDER_ARN."
  value       = local.oidc_arn
}

output "plan_role_arns" {
  description = "Per environment: the `<env>-plan` environment's variable ALIBABA_CLOUD_PLAN_ROLE_ARN."
  value       = { for env, role in alicloud_ram_role.plan : env => role.arn }
}

output "apply_role_arns" {
  description = "Per environment: the protected `<env>` environment's variable ALIBABA_CLOUD_APPLY_ROLE_ARN."
  value       = { for env, role in alicloud_ram_role.apply : env => role.arn }
}
