# Several stacks from one configuration: the module with for_each, one stack
# per environment, each with its own buckets, function, queue and alarms.
# The stack configures no provider and no backend, so for_each, count and
# depends_on work on it.
#
#   make package            # at the repository root
#   terraform init -backend=false && terraform plan
#
# EventBridge allows 50 rules on the default bus per region, and each stack
# adds one (docs/limits.md): a region holds at most that many stacks.

provider "alicloud" {
  region = "cn-hangzhou"
}

locals {
  environments = {
    dev     = { memory_mb = 1024, enable_alarms = false }
    staging = { memory_mb = 2048, enable_alarms = true }
  }
}

module "imgpipe" {
  source   = "../../modules/imgpipe"
  for_each = local.environments

  env           = each.key
  memory_mb     = each.value.memory_mb
  enable_alarms = each.value.enable_alarms
  package_dir   = "../../dist"
}

output "upload_to" {
  description = "Upload pictures here, per environment."
  value       = { for env, stack in module.imgpipe : env => "oss://${stack.source_bucket}/uploads/" }
}
