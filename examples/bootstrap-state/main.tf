# One-time bootstrap of the remote state that CI plans and applies against:
# an OSS bucket for the state files and a Tablestore table for the lock.
# Run it once per account with local state (this directory's own state is
# tiny; keep it safe or import the two resources later):
#
#   terraform init && terraform apply -var account_id=<your account ID>
#
# then put the outputs into backend.hcl (see backend.hcl.example) and the
# repository variables TF_STATE_BUCKET, TF_STATE_REGION, TF_LOCK_ENDPOINT,
# TF_LOCK_TABLE (README, "Remote state"; docs/ci.md, steps 1 and 5), and pass
# state_bucket, lock_instance and region to examples/ci-oidc.
#
# It also owns what is account-wide and must exist before any stack: the
# services the pipeline uses are activated, and EventBridge's service-linked
# roles are created here, once, and never destroyed by a stack
# (docs/alibaba-cloud-review.md, points 4 and 8). Run it as an account
# administrator: activation goes through the billing API.

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
  description = "Region of the state bucket and the lock table."
  type        = string
  default     = "cn-hangzhou"
}

variable "account_id" {
  description = "Account ID, to make the bucket name globally unique."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of the bucket name."
  type        = string
  default     = "imgpipe"
}

# A Tablestore instance name is unique within a region across all accounts
# (its endpoint is https://<name>.<region>.ots.aliyuncs.com), 3-16 letters,
# digits and hyphens, starts with a letter, does not end with a hyphen, and
# may not contain ali, ay, ots, taobao or admin (Tablestore API,
# CreateInstance, InstanceName). A fixed name such as imgpipe-tflock would
# collide with the second user in a region, so the default is derived from
# the account ID: "tfl" and its last 13 digits.
variable "lock_instance_name" {
  description = "Tablestore instance of the state lock; default tfl<last 13 digits of account_id>."
  type        = string
  default     = null
  validation {
    condition = (
      can(regex("^[A-Za-z][A-Za-z0-9-]{1,14}[A-Za-z0-9]$", coalesce(var.lock_instance_name, "tfl"))) &&
      !can(regex("(?i)(ali|ay|ots|taobao|admin)", coalesce(var.lock_instance_name, "tfl")))
    )
    error_message = "lock_instance_name: 3-16 letters, digits or hyphens, starting with a letter, not ending with a hyphen, without the words ali, ay, ots, taobao, admin (Tablestore naming rules)."
  }
}

locals {
  lock_instance = coalesce(
    var.lock_instance_name,
    "tfl${substr(var.account_id, max(0, length(var.account_id) - 13), 13)}",
  )
}

provider "alicloud" {
  region = var.region
}

resource "alicloud_oss_bucket" "state" {
  # checkov:skip=CKV_ALI_11: transfer acceleration is for remote uploaders; CI reaches the state bucket's region directly, so it would only add cost
  # checkov:skip=CKV_ALI_6: the state is encrypted with OSS-managed AES256; a customer master key adds a KMS dependency to every plan, which the bootstrap leaves to you
  bucket        = "${var.name_prefix}-tfstate-${var.account_id}"
  storage_class = "Standard"

  # Every state version is kept: a bad apply can be rolled back.
  versioning {
    status = "Enabled"
  }

  server_side_encryption_rule {
    sse_algorithm = "AES256"
  }

  logging {
    target_bucket = "${var.name_prefix}-tfstate-${var.account_id}"
    target_prefix = "access-log/"
  }

  lifecycle_rule {
    id      = "old-state-versions"
    enabled = true
    prefix  = ""
    noncurrent_version_expiration {
      days = 90
    }
  }

  # `acl` is left unset (Optional+Computed): the ACL resource below sets it,
  # with no diff here and no "Deprecated attribute" warning.
  lifecycle {
    prevent_destroy = true
  }
}

resource "alicloud_oss_bucket_acl" "state" {
  bucket = alicloud_oss_bucket.state.bucket
  acl    = "private"
}

resource "alicloud_oss_bucket_public_access_block" "state" {
  bucket              = alicloud_oss_bucket.state.bucket
  block_public_access = true
}

resource "alicloud_ots_instance" "lock" {
  name          = local.lock_instance
  description   = "Terraform state locks"
  accessed_by   = "Any"
  instance_type = "Capacity"

  lifecycle {
    precondition {
      condition = (
        can(regex("^[A-Za-z][A-Za-z0-9-]{1,14}[A-Za-z0-9]$", local.lock_instance)) &&
        !can(regex("(?i)(ali|ay|ots|taobao|admin)", local.lock_instance))
      )
      error_message = "The lock instance name ${local.lock_instance} breaks Tablestore's naming rules: set lock_instance_name."
    }
  }
}

# The OSS backend's lock table: one primary key column, LockID (string).
resource "alicloud_ots_table" "lock" {
  instance_name = alicloud_ots_instance.lock.name
  table_name    = "terraform_lock"
  time_to_live  = -1
  max_version   = 1
  primary_key {
    name = "LockID"
    type = "String"
  }
}

# ------------------------------------------------------- account prerequisites

# Activation is a data source with `enable = "On"`: it opens the service and
# treats "already opened" as success (provider v1.289.0,
# data_source_alicloud_event_bridge_service.go: ORDER.OPEND;
# data_source_alicloud_mns_service.go: Forbidden.Opened;
# data_source_alicloud_fc_service.go, data_source_alicloud_log_service.go).
data "alicloud_event_bridge_service" "on" {
  enable = "On"
}

data "alicloud_fc_service" "on" {
  enable = "On"
}

data "alicloud_mns_service" "on" {
  enable = "On"
}

data "alicloud_log_service" "on" {
  enable = "On"
}

# EventBridge's service-linked roles are account-wide: destroying the
# resource deletes the role for every stack in the account
# (resource_alicloud_event_bridge_service_linked_role.go: Delete calls
# ResourceManager DeleteServiceLinkedRole on the role name). So they live
# here, protected, and the stacks only use them. If the account already has
# them, import instead of creating:
#   terraform import alicloud_event_bridge_service_linked_role.send_to_fc AliyunServiceRoleForEventBridgeSendToFC
#   terraform import alicloud_event_bridge_service_linked_role.send_to_mns AliyunServiceRoleForEventBridgeSendToMNS
resource "alicloud_event_bridge_service_linked_role" "send_to_fc" {
  product_name = "AliyunServiceRoleForEventBridgeSendToFC"
  depends_on   = [data.alicloud_event_bridge_service.on, data.alicloud_fc_service.on]

  lifecycle {
    prevent_destroy = true
  }
}

resource "alicloud_event_bridge_service_linked_role" "send_to_mns" {
  product_name = "AliyunServiceRoleForEventBridgeSendToMNS"
  depends_on   = [data.alicloud_event_bridge_service.on, data.alicloud_mns_service.on]

  lifecycle {
    prevent_destroy = true
  }
}

output "state_bucket" {
  description = "examples/ci-oidc's state_bucket; repository variable TF_STATE_BUCKET."
  value       = alicloud_oss_bucket.state.bucket
}

output "lock_instance" {
  description = "examples/ci-oidc's lock_instance."
  value       = alicloud_ots_instance.lock.name
}

output "lock_table" {
  description = "examples/ci-oidc's lock_table; repository variable TF_LOCK_TABLE."
  value       = alicloud_ots_table.lock.table_name
}

output "backend_config" {
  description = "Lines for backend.hcl (add key = \"<env>.tfstate\")."
  value = {
    bucket              = alicloud_oss_bucket.state.bucket
    region              = var.region
    prefix              = "imgpipe"
    encrypt             = true
    tablestore_endpoint = "https://${alicloud_ots_instance.lock.name}.${var.region}.ots.aliyuncs.com"
    tablestore_table    = alicloud_ots_table.lock.table_name
  }
}
