# The smallest deployment: every default, a dev environment.
#
#   make package            # at the repository root, builds dist/function.zip
#   terraform init -backend=false && terraform apply
#
# The root module configures the alicloud provider from `region` and reads
# credentials from the environment (ALIBABA_CLOUD_ACCESS_KEY_ID, ...).

module "imgpipe" {
  source = "../.."

  env = "dev"
}

output "upload_to" {
  description = "Upload pictures here."
  value       = "oss://${module.imgpipe.source_bucket}/uploads/"
}

output "variants_in" {
  description = "Variants appear here."
  value       = "oss://${module.imgpipe.target_bucket}/resized/"
}
