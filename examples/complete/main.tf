# Every knob, as a production deployment might set them.

provider "alicloud" {
  region = "cn-shanghai" # the same region as the stack's `region`
}

module "imgpipe" {
  source = "../../modules/imgpipe"

  env         = "prod"
  region      = "cn-shanghai"
  package_dir = "../../dist"
  code_upload = "oss" # the default: the 20 MiB package cannot go inline (docs/limits.md)
  name_prefix = "photos"
  tags        = { team = "platform", cost-center = "web" }

  source_prefix  = "incoming/"
  image_suffixes = [".jpg", ".jpeg", ".png", ".heic", ".webp"]
  variants = [
    { name = "hero", width = 2048, formats = ["jpeg", "webp", "avif"] },
    { name = "card", width = 800, height = 800 },
    { name = "thumb", width = 200, height = 200, formats = ["webp"] },
  ]
  quality = { jpeg = 82, webp = 78, avif = 55, png = 6 }
  # A logo (a PNG with alpha in function_src/watermarks/, shipped in the
  # package) instead of text: its longer side 12% of each variant's shorter
  # side; position is one of nine, or "tiled".
  watermark = {
    text        = ""
    image       = "imgpipe-logo.png"
    image_scale = 0.12
    opacity     = 0.35
    position    = "bottom-left"
    min_width   = 800
  }
  # Outputs keep the photographer's credit; GPS and serials never travel.
  metadata       = { keep = ["copyright", "artist"] }
  background     = "#f4f4f4"
  max_megapixels = 80
  # {name} keeps the source's extension: with {stem}, a/x.jpg and a/x.png
  # would overwrite each other's variants.
  key_template    = "variants/{variant}/{dir}{name}.{ext}"
  rejected_prefix = "rejected/"
  max_object_mb   = 40
  cache_control   = "public, max-age=604800"

  # Browsers read the variants through a CDN domain (docs/serving.md): the
  # target bucket stays private, CDN fetches it with its own signed requests,
  # and the function refreshes the cached copies of variants it rewrites or
  # deletes. Point img.example.com's CNAME at the output cdn_cname. The
  # account's CDN origin role comes from the console's one-time
  # authorization here; create_cdn_origin_role = true would create it,
  # limited to this stack's variants (one stack per account).
  serving = {
    mode                   = "cdn"
    cdn_domain             = "img.example.com"
    cdn_scope              = "global"
    create_cdn_origin_role = false
  }

  runtime              = "python3.12"
  memory_mb            = 2048
  cpu                  = 1
  timeout_seconds      = 120
  reserved_concurrency = 20
  # Internet access, because of the CDN: the function refreshes its caches
  # through CDN's public API endpoint (docs/serving.md; a plan refuses cdn
  # mode without it). Without a CDN, false hardens it: the function then
  # reaches OSS's internal endpoint, the only one it uses, through the
  # function network (FC "Configure network settings",
  # help.aliyun.com/document_detail/2513536.html; docs/limits.md).
  internet_access    = true
  log_retention_days = 90

  async_retries               = 4
  async_max_event_age_seconds = 21600
  dlq_retention_seconds       = 604800

  upload_expiration_days             = 14
  variants_ia_days                   = 60
  noncurrent_version_expiration_days = 14
  abort_multipart_days               = 3
  access_log_retention_days          = 180
  cors_allowed_origins               = ["https://upload.example.com"]

  enable_alarms         = true
  alarm_contact_groups  = ["platform-oncall"]
  alarm_function_errors = 5
  alarm_dead_letters    = 1
}

output "source_bucket" {
  description = "Upload pictures here, under incoming/."
  value       = module.imgpipe.source_bucket
}

output "queue_arn" {
  description = "Where failed events go."
  value       = module.imgpipe.queue_arn
}

output "logstore" {
  description = "One JSON line per processed object."
  value       = "${module.imgpipe.log_project}/${module.imgpipe.logstore}"
}

output "variants_base_url" {
  description = "Variant URLs are this plus the variant's key (percent-encoded)."
  value       = module.imgpipe.variants_base_url
}

output "cdn_cname" {
  description = "Point img.example.com's DNS CNAME record here."
  value       = module.imgpipe.cdn_cname
}
