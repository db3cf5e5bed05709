# GitHub Actions -> Alibaba Cloud without long-lived keys: an OIDC identity
# provider for GitHub's token issuer, and two roles per environment:
#
# - plan:  read-only (ReadOnlyAccess) and read-only on the state (CI plans
#          with -lock=false); assumable only by jobs in the unprotected
#          `<env>-plan` environment, which any same-repository pull request
#          reaches, so it can change nothing;
# - apply: what the stack needs to create and change, with RAM limited to
#          this stack's own roles and policies, the state and its lock;
#          assumable only by jobs in the protected `<env>` environment
#          (required reviewers, its branch only).
#
# Run once, as an account administrator, after examples/bootstrap-state
# (docs/ci.md, steps 1-4):
#
#   gh api repos/OWNER/REPO --jq '"owner_id=\(.owner.id) repository_id=\(.id)"'
#   terraform init && terraform apply \
#     -var account_id=<account ID> -var github_repository=OWNER/REPO \
#     -var github_owner_id=<owner_id> -var github_repository_id=<repository_id> \
#     -var state_bucket=<bootstrap output state_bucket> \
#     -var lock_instance=<bootstrap output lock_instance> \
#     -var 'oidc_fingerprints=["<sha1 from docs/ci.md, step 3>"]'
#
# Then set the repository and environment variables from the outputs.

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

# GitHub's OIDC subject names the repository in one of two forms. Since the
# changelog of 2026-04-23 ("Immutable subject claims for GitHub Actions OIDC
# tokens"), repositories created, renamed or transferred from 2026-07-15 on
# (and any an owner opts in) carry immutable IDs:
#   repo:octo-org@123456/octo-repo@456789:environment:prod
# older ones keep the name-only form, repo:octo-org/octo-repo:environment:prod.
# The trust policies accept both, so a rename or the switch needs no change
# here; the IDs never change and are never reused. Read them with
#   gh api repos/OWNER/REPO --jq '.owner.id, .id'
variable "github_owner_id" {
  description = "Numeric ID of the repository's owner (user or organization), for the immutable OIDC subject."
  type        = string
  validation {
    condition     = can(regex("^[1-9][0-9]*$", var.github_owner_id))
    error_message = "github_owner_id is the owner's numeric ID: gh api repos/OWNER/REPO --jq .owner.id"
  }
}

variable "github_repository_id" {
  description = "Numeric ID of the repository, for the immutable OIDC subject."
  type        = string
  validation {
    condition     = can(regex("^[1-9][0-9]*$", var.github_repository_id))
    error_message = "github_repository_id is the repository's numeric ID: gh api repos/OWNER/REPO --jq .id"
  }
}

# Fingerprints (SHA-1, hex) of the CA certificate of GitHub's issuer
# endpoint, which Alibaba checks the issuer's HTTPS certificate against
# (RAM, CreateOIDCProvider: "the fingerprints of HTTPS certificate authority
# (CA) certificates ... obtained from an external IdP"; at most five).
# GitHub's chain rotates, so there is no default: derive the current one
# with openssl (docs/ci.md, step 3) and, when GitHub announces a new chain,
# add the new fingerprint here before the old one is retired.
variable "oidc_fingerprints" {
  description = "SHA-1 fingerprints of the CA certificate(s) of token.actions.githubusercontent.com (docs/ci.md, step 3)."
  type        = list(string)
  validation {
    condition = (
      length(var.oidc_fingerprints) >= 1 && length(var.oidc_fingerprints) <= 5 &&
      alltrue([for f in var.oidc_fingerprints : can(regex("^[0-9a-f]{40}$", f))])
    )
    error_message = "oidc_fingerprints: one to five SHA-1 fingerprints, 40 lowercase hex digits without colons."
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
  description = "The Tablestore instance of the state lock: examples/bootstrap-state's output lock_instance."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{1,14}[A-Za-z0-9]$", var.lock_instance))
    error_message = "lock_instance is a Tablestore instance name (3-16 letters, digits, hyphens): examples/bootstrap-state's output lock_instance."
  }
}

variable "lock_region" {
  description = "Region of the state bucket and lock table (examples/bootstrap-state's region); defaults to var.region."
  type        = string
  default     = null
}

variable "lock_table" {
  description = "The lock table: examples/bootstrap-state's output lock_table."
  type        = string
  default     = "terraform_lock"
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
  fingerprints       = var.oidc_fingerprints
  description        = "GitHub Actions of ${var.github_repository}"
}

locals {
  oidc_arn    = "acs:ram::${var.account_id}:oidc-provider/${alicloud_ims_oidc_provider.github.oidc_provider_name}"
  lock_region = coalesce(var.lock_region, var.region)
  owner_name  = split("/", var.github_repository)[0]
  repo_name   = split("/", var.github_repository)[1]
  # Both forms of GitHub's subject for a job in `environment`.
  subjects = {
    for env in flatten([for e in var.environments : [e, "${e}-plan"]]) : env => [
      "repo:${var.github_repository}:environment:${env}",
      "repo:${local.owner_name}@${var.github_owner_id}/${local.repo_name}@${var.github_repository_id}:environment:${env}",
    ]
  }

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
              # Several values of one key: any of them matches (RAM policy
              # conditions: values of a key are ORed, keys are ANDed).
              "oidc:sub" = local.subjects[kind == "plan" ? "${env}-plan" : env]
            }
          }
        }]
      })
    }
  }

  state_objects = [
    "acs:oss:*:${var.account_id}:${var.state_bucket}",
    "acs:oss:*:${var.account_id}:${var.state_bucket}/imgpipe/*",
  ]

  # Plan: read the state, nothing else (CI plans with -lock=false).
  state_read = jsonencode({
    Version = "1"
    Statement = [{
      Effect   = "Allow"
      Action   = ["oss:GetObject", "oss:ListObjects", "oss:GetBucketInfo"]
      Resource = local.state_objects
    }]
  })

  # Apply: write the state and hold the lock.
  state_write = jsonencode({
    Version = "1"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["oss:GetObject", "oss:PutObject", "oss:ListObjects", "oss:GetBucketInfo"]
        Resource = local.state_objects
      },
      {
        Effect   = "Allow"
        Action   = ["ots:GetRow", "ots:PutRow", "ots:UpdateRow", "ots:DeleteRow", "ots:DescribeTable"]
        Resource = ["acs:ots:${local.lock_region}:${var.account_id}:instance/${var.lock_instance}/table/${var.lock_table}"]
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

resource "alicloud_ram_policy" "state_read" {
  policy_name     = "${var.name_prefix}-ci-state-read"
  policy_document = local.state_read
  description     = "Read the Terraform state (plan)"
  # RAM keeps five versions of a policy and does not drop the oldest by
  # itself: without this the sixth edit fails (provider docs, ram_policy).
  rotate_strategy = "DeleteOldestNonDefaultVersionWhenLimitExceeded"
}

resource "alicloud_ram_policy" "state" {
  policy_name     = "${var.name_prefix}-ci-state"
  policy_document = local.state_write
  description     = "Read, write and lock the Terraform state (apply)"
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
  policy_name = alicloud_ram_policy.state_read.policy_name
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
