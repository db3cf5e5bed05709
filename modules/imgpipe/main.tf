# The whole stack, as a reusable module: OSS upload -> EventBridge ->
# Function Compute 3.0 -> variants in a second bucket; failures to an MNS
# dead-letter queue. It configures no provider and no backend (versions.tf),
# so it can be called with for_each, count and depends_on; the repository
# root (../../main.tf) is the deployable root that calls it once.
#
#   module "imgpipe" {
#     source      = "<this directory>"
#     env         = "prod"
#     package_dir = "dist"   # where `make package` wrote function.zip, from your root
#   }

data "alicloud_account" "current" {
  count = var.account_id == null ? 1 : 0
}

locals {
  account_id  = var.account_id != null ? var.account_id : data.alicloud_account.current[0].id
  name        = "${var.name_prefix}-${var.env}"
  log_project = "${var.name_prefix}-${var.env}-logs-${local.account_id}"
  tags        = merge({ app = "imgpipe", env = var.env, managed-by = "terraform" }, var.tags)

  # What the function may write (and delete) in the target bucket: the
  # literal start of key_template, before its first field, and the
  # rejection records. One ARN for all variants, not one per variant: 24
  # variants with 64-character names made a policy of 11,911 characters,
  # past RAM's 6,144 (docs/limits.md). The target bucket holds nothing else.
  write_prefixes = distinct([split("{", var.key_template)[0], var.rejected_prefix])

  # serving mode cdn: the domain whose cached variants the function refreshes
  # ("": none; an empty string rather than null, which the tests' tfparse
  # evaluation of the environment cannot filter).
  cdn_refresh_domain = var.serving.mode == "cdn" ? var.serving.cdn_domain : ""

  # The processor configuration the handler parses (function_src/imgproc/config.py).
  processor_config = {
    variants = [
      for v in var.variants : { for k, val in {
        name    = v.name
        width   = v.width
        height  = v.height
        formats = v.formats
      } : k => val if val != null }
    ]
    quality    = var.quality
    background = var.background
    watermark  = var.watermark.text == "" && var.watermark.image == "" ? null : var.watermark
    # null when unused: the handler's default, and the config fingerprint of
    # a deployment that does not use it stays as it was.
    metadata       = length(var.metadata.keep) > 0 ? var.metadata : null
    max_megapixels = var.max_megapixels
    key_template   = var.key_template
  }

  # The package `make package` wrote (build.py): function.zip and its
  # manifest function.json (sha256, crc64, content_md5, size). A relative
  # package_dir is relative to the root module Terraform runs in. Without a
  # manifest the function module stops the plan and says to run make package.
  package_dir = startswith(var.package_dir, "/") ? var.package_dir : "${path.root}/${var.package_dir}"
  manifest = (
    var.code_oss_bucket == null && fileexists("${local.package_dir}/function.json")
    ? jsondecode(file("${local.package_dir}/function.json")) : null
  )
  package = local.manifest == null ? null : {
    zip         = "${local.package_dir}/function.zip"
    sha256      = local.manifest.sha256
    crc64       = local.manifest.crc64
    content_md5 = local.manifest.content_md5
    size        = local.manifest.size
  }
}

module "storage" {
  source = "../storage"

  name_prefix                        = var.name_prefix
  env                                = var.env
  name_suffix                        = local.account_id
  source_prefix                      = var.source_prefix
  variants_prefix                    = split("{", var.key_template)[0]
  upload_expiration_days             = var.upload_expiration_days
  variants_ia_days                   = var.variants_ia_days
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  abort_multipart_days               = var.abort_multipart_days
  access_log_retention_days          = var.access_log_retention_days
  kms_key_id                         = var.kms_key_id
  cors_allowed_origins               = var.cors_allowed_origins
  force_destroy                      = var.force_destroy
  code_bucket                        = var.code_oss_bucket == null && var.code_upload == "oss"
  tags                               = local.tags
}

module "dlq" {
  source = "../dlq"

  queue_name                = "${local.name}-dead-letters"
  region                    = var.region
  account_id                = local.account_id
  message_retention_seconds = var.dlq_retention_seconds
  tags                      = local.tags
}

module "iam" {
  source = "../iam"

  name           = "${local.name}-function"
  region         = var.region
  account_id     = local.account_id
  source_bucket  = module.storage.source_bucket
  source_prefix  = var.source_prefix
  target_bucket  = module.storage.target_bucket
  write_prefixes = local.write_prefixes
  delete_outputs = var.delete_variants_with_source
  queue_name     = module.dlq.queue_name
  log_project    = local.log_project
  logstore       = "function"
  kms_key_id     = var.kms_key_id
  tags           = local.tags

  cdn_refresh_domain = local.cdn_refresh_domain
}

module "function" {
  source = "../function"

  function_name   = "${local.name}-images"
  runtime         = var.runtime
  role_arn        = module.iam.role_arn
  package         = local.package
  package_dir     = local.package_dir
  code_upload     = var.code_upload
  code_bucket     = module.storage.code_bucket
  code_oss_bucket = var.code_oss_bucket
  code_oss_object = var.code_oss_object
  layer_arns      = var.layer_arns
  memory_mb       = var.memory_mb
  cpu             = var.cpu
  timeout_seconds = var.timeout_seconds

  reserved_concurrency = var.reserved_concurrency
  warm_instances       = var.warm_instances
  internet_access      = var.internet_access
  log_project          = local.log_project
  logstore             = "function"
  log_retention_days   = var.log_retention_days

  dead_letter_arn             = module.dlq.queue_arn
  async_success_destination   = var.async_success_destination
  max_async_retry_attempts    = var.async_retries
  max_async_event_age_seconds = var.async_max_event_age_seconds

  # The handler's configuration (README, "Function environment").
  environment = merge({
    SOURCE_BUCKET    = module.storage.source_bucket
    TARGET_BUCKET    = module.storage.target_bucket
    SOURCE_PREFIX    = var.source_prefix
    IMAGE_SUFFIXES   = join(",", distinct([for s in var.image_suffixes : lower(s)]))
    IMGPIPE_CONFIG   = jsonencode(local.processor_config)
    REJECTED_PREFIX  = var.rejected_prefix
    MAX_OBJECT_BYTES = tostring(var.max_object_mb * 1024 * 1024)
    CACHE_CONTROL    = var.cache_control

    DELETE_VARIANTS_WITH_SOURCE = tostring(var.delete_variants_with_source)
    # Only in cdn mode: the environment's 4 KB (docs/limits.md) is not spent otherwise.
  }, { for k, v in { CDN_REFRESH_DOMAIN = local.cdn_refresh_domain } : k => v if v != "" })

  tags = local.tags
}

module "events" {
  source = "../events"

  function_name               = module.function.function_name
  trigger_name                = "oss-uploads"
  source_bucket               = module.storage.source_bucket
  source_prefix               = var.source_prefix
  created_event_types         = ["PutObject", "PostObject", "CopyObject", "CompleteMultipartUpload"]
  removed_event_types         = var.delete_variants_with_source ? ["DeleteObject", "DeleteObjects"] : []
  dead_letter_arn             = module.dlq.eventbridge_dlq_arn
  async_invocation            = var.async_invocation
  create_service_linked_roles = var.create_service_linked_roles
}

module "alarms" {
  source = "../alarms"
  count  = coalesce(var.enable_alarms, var.env == "prod") ? 1 : 0

  name                     = local.name
  function_name            = module.function.function_name
  queue_name               = module.dlq.queue_name
  region                   = var.region
  account_id               = local.account_id
  contact_groups           = var.alarm_contact_groups
  function_error_threshold = var.alarm_function_errors
  queue_depth_threshold    = var.alarm_dead_letters
  function_error_metric    = var.alarm_function_error_metric
  queue_depth_metric       = var.alarm_queue_depth_metric
}

module "serving" {
  source = "../serving"

  mode                     = var.serving.mode
  cdn_domain               = var.serving.cdn_domain
  cdn_scope                = var.serving.cdn_scope
  cdn_cert_id              = var.serving.cdn_cert_id
  create_cdn_origin_role   = var.serving.create_cdn_origin_role
  function_internet_access = var.internet_access
  region                   = var.region
  account_id               = local.account_id
  target_bucket            = module.storage.target_bucket
  variants_prefix          = split("{", var.key_template)[0]
  tags                     = local.tags
}
