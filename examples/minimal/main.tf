# The smallest deployment: every default, a dev environment.
#
#   make package            # at the repository root, builds dist/function.zip
#   terraform init -backend=false && terraform apply
#
# The stack (modules/imgpipe) configures no provider: a configuration that
# calls it does, here from the environment's credentials
# (ALIBABA_CLOUD_ACCESS_KEY_ID, ...) and the stack's default region.

provider "alicloud" {
  region = "cn-hangzhou"
}

module "imgpipe" {
  source = "../../modules/imgpipe"

  env         = "dev"
  package_dir = "../../dist" # what `make package` wrote, relative to this directory
}

output "upload_to" {
  description = "Upload pictures here."
  value       = "oss://${module.imgpipe.source_bucket}/uploads/"
}

output "variants_in" {
  description = "Variants appear here."
  value       = "oss://${module.imgpipe.target_bucket}/resized/"
}
