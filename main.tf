# imgpipe: OSS upload -> EventBridge -> Function Compute 3.0 -> variants in a
# second bucket; failures to an MNS dead-letter queue.
#
#   make package
#   terraform init -backend-config=backend.hcl
#   terraform plan -var env=prod -out prod.tfplan && terraform apply prod.tfplan
#
# This directory is the deployable root: it configures the provider (here)
# and the state backend (versions.tf), and deploys the stack, which is the
# reusable module modules/imgpipe/ (all of it: buckets, function, routing,
# dead letters, alarms). Call that module from your own configuration to
# deploy several stacks (for_each over environments, examples/multi-env).
# variables.tf is modules/imgpipe/variables.tf (a symbolic link): one list
# of inputs, each passed through below; tests/test_terraform.py checks that
# none is left out.

provider "alicloud" {
  region = var.region
}

module "imgpipe" {
  source = "./modules/imgpipe"

  env                                = var.env
  region                             = var.region
  account_id                         = var.account_id
  name_prefix                        = var.name_prefix
  tags                               = var.tags
  source_prefix                      = var.source_prefix
  image_suffixes                     = var.image_suffixes
  variants                           = var.variants
  quality                            = var.quality
  watermark                          = var.watermark
  metadata                           = var.metadata
  background                         = var.background
  max_megapixels                     = var.max_megapixels
  key_template                       = var.key_template
  rejected_prefix                    = var.rejected_prefix
  delete_variants_with_source        = var.delete_variants_with_source
  max_object_mb                      = var.max_object_mb
  cache_control                      = var.cache_control
  serving                            = var.serving
  runtime                            = var.runtime
  package_dir                        = var.package_dir
  code_upload                        = var.code_upload
  code_oss_bucket                    = var.code_oss_bucket
  code_oss_object                    = var.code_oss_object
  layer_arns                         = var.layer_arns
  memory_mb                          = var.memory_mb
  cpu                                = var.cpu
  timeout_seconds                    = var.timeout_seconds
  reserved_concurrency               = var.reserved_concurrency
  warm_instances                     = var.warm_instances
  internet_access                    = var.internet_access
  log_retention_days                 = var.log_retention_days
  async_invocation                   = var.async_invocation
  async_retries                      = var.async_retries
  async_max_event_age_seconds        = var.async_max_event_age_seconds
  async_success_destination          = var.async_success_destination
  dlq_retention_seconds              = var.dlq_retention_seconds
  create_service_linked_roles        = var.create_service_linked_roles
  upload_expiration_days             = var.upload_expiration_days
  variants_ia_days                   = var.variants_ia_days
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  abort_multipart_days               = var.abort_multipart_days
  access_log_retention_days          = var.access_log_retention_days
  kms_key_id                         = var.kms_key_id
  cors_allowed_origins               = var.cors_allowed_origins
  force_destroy                      = var.force_destroy
  enable_alarms                      = var.enable_alarms
  alarm_contact_groups               = var.alarm_contact_groups
  alarm_function_errors              = var.alarm_function_errors
  alarm_dead_letters                 = var.alarm_dead_letters
  alarm_function_error_metric        = var.alarm_function_error_metric
  alarm_queue_depth_metric           = var.alarm_queue_depth_metric
}
