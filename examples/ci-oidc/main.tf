# GitHub Actions -> Alibaba Cloud without long-lived keys: an OIDC identity
# provider for GitHub's token issuer, and three roles per environment:
#
# - plan:  reads the state (and its lock table's digest row) and what the
#          stack's plan refreshes, the stack's own resources only (a custom
#          policy, not ReadOnlyAccess: every same-repository pull request
#          reaches this role before anyone reviews it); assumable only by
#          jobs in the unprotected `<env>-plan` environment;
# - apply: what the stack needs to create and change, with RAM limited to
#          this stack's own roles and policies, the state and its lock;
#          assumable only by jobs in the gated `<env>` environment (its
#          branch only; docs/ci.md, "Which gate protects an apply");
# - smoke: reads the state, writes and deletes only imgpipe-smoke/ objects
#          in the stack's buckets and reads the dead-letter queue; for the
#          `<env>-smoke` environment, whose job installs packages.
#
# Several repositories can share one account: give each its own
# `name_prefix` (role and policy names, the state prefix) and let the
# second one reuse the first one's OIDC provider (`oidc_provider_arn`).
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
  description = "The stack's name_prefix: its resource names start with it, and so do the CI's role and policy names (one prefix per repository sharing the account)."
  type        = string
  default     = "imgpipe"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,13}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix is the stack's name_prefix: 3-15 lower-case letters, digits or '-'."
  }
}

variable "state_prefix" {
  description = "Key prefix of this repository's state in the state bucket (repository variable TF_STATE_PREFIX); defaults to name_prefix."
  type        = string
  default     = null
}

variable "oidc_provider_arn" {
  description = "ARN of an OIDC provider for GitHub that another repository's ci-oidc created in this account: reuse it instead of creating one."
  type        = string
  default     = null
}

provider "alicloud" {
  region = var.region
}

resource "alicloud_ims_oidc_provider" "github" {
  count              = var.oidc_provider_arn == null ? 1 : 0
  oidc_provider_name = "${var.name_prefix}-github-actions" # local.oidc_arn names it
  issuer_url         = "https://token.actions.githubusercontent.com"
  client_ids         = ["sts.aliyuncs.com"]
  fingerprints       = var.oidc_fingerprints
  description        = "GitHub Actions of ${var.github_repository}"
}

locals {
  oidc_arn = (
    var.oidc_provider_arn != null ? var.oidc_provider_arn :
    "acs:ram::${var.account_id}:oidc-provider/${var.name_prefix}-github-actions"
  )
  lock_region  = coalesce(var.lock_region, var.region)
  state_prefix = coalesce(var.state_prefix, var.name_prefix)
  # Tablestore: "use lowercase letters" for the instance name in a Resource
  # (Tablestore, "Custom RAM policy", Resource definition).
  lock_arn   = "acs:ots:${local.lock_region}:${var.account_id}:instance/${lower(var.lock_instance)}/table/${var.lock_table}"
  owner_name = split("/", var.github_repository)[0]
  repo_name  = split("/", var.github_repository)[1]
  # Both forms of GitHub's subject for a job in `environment`.
  subjects = {
    for env in flatten([for e in var.environments : [e, "${e}-plan", "${e}-smoke"]]) : env => [
      "repo:${var.github_repository}:environment:${env}",
      "repo:${local.owner_name}@${var.github_owner_id}/${local.repo_name}@${var.github_repository_id}:environment:${env}",
    ]
  }

  trust = {
    for kind in ["plan", "apply", "smoke"] : kind => {
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
              "oidc:sub" = local.subjects[kind == "apply" ? env : "${env}-${kind}"]
            }
          }
        }]
      })
    }
  }

  state_objects = [
    "acs:oss:*:${var.account_id}:${var.state_bucket}",
    "acs:oss:*:${var.account_id}:${var.state_bucket}/${local.state_prefix}/*",
  ]

  # Read the state, as Terraform's OSS backend does with -lock=false
  # (hashicorp/terraform v1.11.4, internal/backend/remote-state/oss):
  # ListObjects to list workspaces (backend_state.go:58-66, fatal),
  # GetObject for the state (client.go:409-422, getObj), DescribeTable
  # whenever tablestore_table is set (backend_state.go:43-50: "error
  # describing table store", fatal) and GetRow for the state's digest row
  # (client.go:207-228, getMD5; an error there is only a warning). No
  # PutObject, PutRow or DeleteRow: the lock is never taken, so it can
  # never be broken.
  state_read_statements = [
    {
      Effect   = "Allow"
      Action   = ["oss:GetObject", "oss:ListObjects"]
      Resource = local.state_objects
    },
    {
      Effect   = "Allow"
      Action   = ["ots:DescribeTable", "ots:GetRow"]
      Resource = [local.lock_arn]
    },
  ]

  # What the plan's refresh reads, per resource type of the stack (the root
  # module and modules/; tests/test_ci_oidc_roles.py fails when a type is
  # added there and not here), on the stack's own resources: every name the
  # stack gives starts with name_prefix. Read actions only. Evidence: each
  # type's Read in aliyun/terraform-provider-alicloud (commit 81c43b6,
  # 2026-08-21), the API its Describe* function calls, as noted per line.
  stack_arn = {
    oss = ["acs:oss:*:${var.account_id}:${var.name_prefix}-*"]
    # objects only in the stacks' code buckets (<prefix>-<env>-code-<account>),
    # never the uploads or the variants
    code = ["acs:oss:*:${var.account_id}:${var.name_prefix}-*-code-*/*"]
    fc   = ["acs:fc:${var.region}:${var.account_id}:functions/${var.name_prefix}-*", "acs:fc:${var.region}:${var.account_id}:functions/${var.name_prefix}-*/*"]
    mns  = ["acs:mns:${var.region}:${var.account_id}:/queues/${var.name_prefix}-*"]
    log  = ["acs:log:${var.region}:${var.account_id}:project/${var.name_prefix}-*", "acs:log:${var.region}:${var.account_id}:project/${var.name_prefix}-*/*"]
    ram  = ["acs:ram::${var.account_id}:role/${var.name_prefix}-*", "acs:ram::${var.account_id}:policy/${var.name_prefix}-*"]
    # the CDN domain is the user's own name (serving.cdn_domain), not under
    # name_prefix: the account's domains, read actions only
    cdn = ["acs:cdn:*:${var.account_id}:domain/*"]
    # CloudMonitor's alarm rules and EventBridge's role check have no
    # resource-level ARN: only their read actions below get "*".
    all  = ["*"]
    none = []
  }
  plan_reads = {
    # resource_alicloud_oss_bucket.go Read: GetBucketInfo, GetBucketCORS, GetBucketLifecycle, GetBucketLogging, GetBucketReferer, GetBucketWebsite, ...
    alicloud_oss_bucket = { arn = "oss", actions = ["oss:GetBucket*"] }
    # service_alicloud_oss_v2.go DescribeOssBucketAcl: GET /?acl
    alicloud_oss_bucket_acl = { arn = "oss", actions = ["oss:GetBucketAcl"] }
    # DescribeOssBucketPublicAccessBlock: GET /?publicAccessBlock
    alicloud_oss_bucket_public_access_block = { arn = "oss", actions = ["oss:GetBucketPublicAccessBlock"] }
    # resource_alicloud_oss_bucket_object.go Read (v1.289.0): GetObjectDetailedMeta, a HEAD, authorised by oss:GetObject
    alicloud_oss_bucket_object = { arn = "code", actions = ["oss:GetObject"] }
    # service_alicloud_fcv3_v2.go DescribeFcv3Function: GET /2023-03-30/functions/{name}; tags
    alicloud_fcv3_function = { arn = "fc", actions = ["fc:GetFunction", "fc:ListTagResources"] }
    # DescribeFcv3Trigger: GET .../functions/{name}/triggers/{trigger}
    alicloud_fcv3_trigger = { arn = "fc", actions = ["fc:GetTrigger"] }
    # DescribeFcv3AsyncInvokeConfig: GET .../functions/{name}/async-invoke-config
    alicloud_fcv3_async_invoke_config = { arn = "fc", actions = ["fc:GetAsyncInvokeConfig"] }
    # resource_alicloud_fcv3_provision_config.go Read: GET .../functions/{name}/provision-config
    alicloud_fcv3_provision_config = { arn = "fc", actions = ["fc:GetProvisionConfig"] }
    # DescribeFcv3ConcurrencyConfig: GET .../functions/{name}/concurrency
    alicloud_fcv3_concurrency_config = { arn = "fc", actions = ["fc:GetConcurrencyConfig"] }
    # service_alicloud_message_service_v2.go DescribeMessageServiceQueue: GetQueueAttributes (tags included)
    alicloud_message_service_queue = { arn = "mns", actions = ["mns:GetQueueAttributes"] }
    # resource_alicloud_log_project.go Read: GetProject (sls_v2 "/"), ListTagResources, GetProjectPolicy
    alicloud_log_project = { arn = "log", actions = ["log:GetProject", "log:ListTagResources", "log:GetProjectPolicy"] }
    # resource_alicloud_log_store.go Read: GetLogStore, GetLogStoreMeteringMode
    alicloud_log_store = { arn = "log", actions = ["log:GetLogStore", "log:GetLogStoreMeteringMode"] }
    # resource_alicloud_log_store_index.go Read: GetLogStore, then GetIndex
    alicloud_log_store_index = { arn = "log", actions = ["log:GetLogStore", "log:GetIndex"] }
    # service_alicloud_ram_v2.go DescribeRamRole: GetRole; DescribeRoleListTagResources: ListTagResources
    alicloud_ram_role = { arn = "ram", actions = ["ram:GetRole", "ram:ListTagResources"] }
    # DescribeRamPolicy: GetPolicy; DescribePolicyListTagResources: ListTagResources
    alicloud_ram_policy = { arn = "ram", actions = ["ram:GetPolicy", "ram:ListTagResources"] }
    # DescribeRamRolePolicyAttachment: ListPoliciesForRole
    alicloud_ram_role_policy_attachment = { arn = "ram", actions = ["ram:ListPoliciesForRole"] }
    # service_alicloud_eventbridge.go DescribeEventBridgeServiceLinkedRole: CheckRoleForProduct
    alicloud_event_bridge_service_linked_role = { arn = "all", actions = ["eventbridge:CheckRoleForProduct"] }
    # resource_alicloud_cms_alarm.go Read: DescribeAlarm (DescribeMetricRuleList), DescribeMetricRuleTargets
    alicloud_cms_alarm = { arn = "all", actions = ["cms:DescribeMetricRuleList", "cms:DescribeMetricRuleTargets"] }
    # serving mode cdn (modules/serving). service_alicloud_cdn_v2.go: DescribeCdnDomain ->
    # DescribeCdnDomainDetail, DescribeDomainCertificateInfo, ListTagResources (lines 25, 63, 105);
    # service_alicloud_cdn.go DescribeCdnDomainConfig -> DescribeCdnDomainConfigs (line 66).
    alicloud_cdn_domain_new    = { arn = "cdn", actions = ["cdn:DescribeCdnDomainDetail", "cdn:DescribeDomainCertificateInfo", "cdn:ListTagResources"] }
    alicloud_cdn_domain_config = { arn = "cdn", actions = ["cdn:DescribeCdnDomainConfigs"] }
    # data "alicloud_account" calls sts:GetCallerIdentity, which every
    # identity may call (STS API reference, GetCallerIdentity).
    data_alicloud_account = { arn = "none", actions = [] }
  }

  # Plan: the state and the stack's own resources, read-only.
  plan_policy = jsonencode({
    Version = "1"
    Statement = concat(local.state_read_statements, [
      for arn in distinct([for r in values(local.plan_reads) : r.arn if length(r.actions) > 0]) : {
        Effect   = "Allow"
        Action   = sort(distinct(flatten([for r in values(local.plan_reads) : r.actions if r.arn == arn])))
        Resource = local.stack_arn[arn]
      }
    ])
  })

  # Smoke: the state (for `terraform output`), the smoke test's own objects
  # (imgpipe-smoke/<run>/..., every version) and the dead-letter queue.
  smoke_policy = jsonencode({
    Version = "1"
    Statement = concat(local.state_read_statements, [
      {
        Effect = "Allow"
        Action = [
          "oss:PutObject", "oss:GetObject", "oss:GetObjectVersion", "oss:DeleteObject",
          "oss:DeleteObjectVersion",
        ]
        Resource = ["acs:oss:*:${var.account_id}:${var.name_prefix}-*/*imgpipe-smoke/*"]
      },
      {
        Effect   = "Allow"
        Action   = ["oss:ListObjects", "oss:ListObjectVersions"]
        Resource = local.stack_arn.oss
      },
      {
        Effect   = "Allow"
        Action   = ["mns:ReceiveMessage", "mns:DeleteMessage", "mns:ChangeMessageVisibility"]
        Resource = local.stack_arn.mns
      },
    ])
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
        Resource = [local.lock_arn]
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
  depends_on                  = [alicloud_ims_oidc_provider.github] # the trust names it
  role_name                   = "${var.name_prefix}-ci-plan-${each.key}"
  assume_role_policy_document = local.trust.plan[each.key]
  description                 = "GitHub Actions plan jobs (${each.key}) of ${var.github_repository}"
  max_session_duration        = 3600
}

resource "alicloud_ram_role" "apply" {
  for_each                    = toset(var.environments)
  depends_on                  = [alicloud_ims_oidc_provider.github] # the trust names it
  role_name                   = "${var.name_prefix}-ci-apply-${each.key}"
  assume_role_policy_document = local.trust.apply[each.key]
  description                 = "GitHub Actions apply jobs (${each.key}, protected environment) of ${var.github_repository}"
  max_session_duration        = 3600
}

resource "alicloud_ram_role" "smoke" {
  for_each                    = toset(var.environments)
  depends_on                  = [alicloud_ims_oidc_provider.github] # the trust names it
  role_name                   = "${var.name_prefix}-ci-smoke-${each.key}"
  assume_role_policy_document = local.trust.smoke[each.key]
  description                 = "GitHub Actions smoke tests (${each.key}) of ${var.github_repository}"
  max_session_duration        = 3600
}

resource "alicloud_ram_policy" "plan" {
  policy_name     = "${var.name_prefix}-ci-plan"
  policy_document = local.plan_policy
  description     = "Read the Terraform state and the stack's own resources (plan)"
  # RAM keeps five versions of a policy and does not drop the oldest by
  # itself: without this the sixth edit fails (provider docs, ram_policy).
  rotate_strategy = "DeleteOldestNonDefaultVersionWhenLimitExceeded"
}

resource "alicloud_ram_policy" "smoke" {
  policy_name     = "${var.name_prefix}-ci-smoke"
  policy_document = local.smoke_policy
  description     = "Read the state; write and delete only the smoke test's objects; read the dead-letter queue"
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

resource "alicloud_ram_role_policy_attachment" "plan" {
  for_each    = alicloud_ram_role.plan
  role_name   = each.value.role_name
  policy_name = alicloud_ram_policy.plan.policy_name
  policy_type = "Custom"
}

resource "alicloud_ram_role_policy_attachment" "smoke" {
  for_each    = alicloud_ram_role.smoke
  role_name   = each.value.role_name
  policy_name = alicloud_ram_policy.smoke.policy_name
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

output "smoke_role_arns" {
  description = "Per environment: the `<env>-smoke` environment's variable ALIBABA_CLOUD_SMOKE_ROLE_ARN."
  value       = { for env, role in alicloud_ram_role.smoke : env => role.arn }
}

output "state_prefix" {
  description = "Repository variable TF_STATE_PREFIX."
  value       = local.state_prefix
}

output "plan_read_types" {
  description = "The stack's resource and data source types whose refresh the plan role may read."
  value       = sort(keys(local.plan_reads))
}

output "apply_role_arns" {
  description = "Per environment: the protected `<env>` environment's variable ALIBABA_CLOUD_APPLY_ROLE_ARN."
  value       = { for env, role in alicloud_ram_role.apply : env => role.arn }
}
