# ---------------------------------------------------------------- placement

variable "env" {
  description = "Environment: dev, staging or prod. Part of every name; prod turns alarms on."
  type        = string
  validation {
    condition     = contains(["dev", "staging", "prod"], var.env)
    error_message = "env must be one of dev, staging, prod."
  }
}

variable "region" {
  description = "Region of the whole stack. Only regions where OSS events reach EventBridge work."
  type        = string
  default     = "cn-hangzhou"
  validation {
    condition = contains([
      "cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-zhangjiakou", "cn-shenzhen", "cn-chengdu",
      "us-west-1", "ap-southeast-1", "ap-northeast-1", "ap-northeast-2",
    ], var.region)
    error_message = "region must be one where OSS events reach EventBridge: cn-hangzhou, cn-shanghai, cn-beijing, cn-zhangjiakou, cn-shenzhen, cn-chengdu, us-west-1 (Silicon Valley), ap-southeast-1 (Singapore), ap-northeast-1 (Tokyo), ap-northeast-2 (Seoul)."
  }
}

variable "account_id" {
  description = "Alibaba Cloud account ID (bucket names, ARNs). null reads it from the provider's credentials."
  type        = string
  default     = null
  validation {
    condition     = var.account_id == null || can(regex("^[0-9]{10,20}$", var.account_id))
    error_message = "account_id must be the numeric account ID."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "imgpipe"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,13}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-15 lower-case letters, digits or '-', starting with a letter (bucket names must stay under 63 characters)."
  }
}

variable "tags" {
  description = "Tags added to every resource that takes tags."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------- what the function does

variable "source_prefix" {
  description = "Folder of the source bucket whose uploads are processed; outputs keep the path below it."
  type        = string
  default     = "uploads/"
  validation {
    condition     = var.source_prefix == "" || (endswith(var.source_prefix, "/") && !startswith(var.source_prefix, "/"))
    error_message = "source_prefix must be empty or end with '/' (and not start with '/')."
  }
  # It is in the function's RAM policy (at most 6,144 characters).
  validation {
    condition     = length(var.source_prefix) <= 256
    error_message = "source_prefix is at most 256 characters: it is part of the function's RAM policy, which RAM limits to 6,144 characters (docs/limits.md)."
  }
}

variable "image_suffixes" {
  description = "Key endings the function processes, in any case (.jpg also takes .JPG and .Jpg); other keys under source_prefix reach the function and are ignored unread (the event pattern cannot filter endings: docs/limits.md)."
  type        = list(string)
  default     = [".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp", ".heic", ".heif", ".avif"]
  # The handler's rule (fc_handler/settings.py `_SUFFIX`); at most 32, so the
  # function's environment stays within FC's 4 KB.
  validation {
    condition = (
      length(var.image_suffixes) > 0 && length(var.image_suffixes) <= 32 &&
      alltrue([for s in var.image_suffixes : can(regex("^\\.[A-Za-z0-9][A-Za-z0-9._+-]{0,15}$", s))])
    )
    error_message = "image_suffixes must be 1-32 endings like .jpg: a '.', then 1-16 letters, digits, '.', '_', '+' or '-'."
  }
}

variable "variants" {
  description = "The variants made of every upload: name, maximum width and/or height, formats (jpeg, webp, avif, png)."
  type = list(object({
    name    = string
    width   = optional(number)
    height  = optional(number)
    formats = optional(list(string), ["jpeg", "webp"])
  }))
  default = [
    { name = "large", width = 1200 },
    { name = "medium", width = 600 },
    { name = "small", width = 150 },
  ]
  # The same rules as the handler's (function_src/imgproc/config.py), so a
  # plan refuses what the function would refuse at start-up; tests/
  # test_settings_vs_variables.py checks the two agree.
  validation {
    condition = length(var.variants) > 0 && alltrue([
      for v in var.variants : can(regex("^[A-Za-z0-9_-]{1,64}$", v.name)) &&
      (v.width != null || v.height != null) &&
      (v.width == null ? true : v.width >= 1 && v.width <= 16384 && floor(v.width) == v.width) &&
      (v.height == null ? true : v.height >= 1 && v.height <= 16384 && floor(v.height) == v.height) &&
      length(v.formats) > 0 && alltrue([for f in v.formats : contains(["jpeg", "webp", "avif", "png"], f)])
    ])
    error_message = "Each variant needs a name (1-64 letters, digits, '-', '_'), a whole width and/or height from 1 to 16384, and formats from jpeg, webp, avif, png."
  }
  validation {
    condition = (
      length(distinct([for v in var.variants : v.name])) == length(var.variants) &&
      alltrue([for v in var.variants : length(distinct(v.formats)) == length(v.formats)])
    )
    error_message = "Variant names must be unique, and a variant must not list a format twice."
  }
}

variable "quality" {
  description = "Encoder quality per format (jpeg, webp, avif: 1-100; png: zlib level 0-9)."
  type        = map(number)
  default     = { jpeg = 85, webp = 80, avif = 60, png = 6 }
  validation {
    condition = alltrue([
      for f, q in var.quality : floor(q) == q && (
        contains(["jpeg", "webp", "avif"], f) ? q >= 1 && q <= 100 : f == "png" && q >= 0 && q <= 9
      )
    ])
    error_message = "quality takes whole numbers: jpeg, webp, avif 1-100; png (zlib level) 0-9; no other formats."
  }
}

variable "watermark" {
  description = "Watermark: text (empty disables), opacity 0-1, position (nine positions or tiled), size relative to the shorter side, minimum variant width, colour; image: a PNG logo in function_src/watermarks/ used instead of the text, its longer side image_scale times the shorter side."
  type = object({
    text          = optional(string, "imgpipe")
    opacity       = optional(number, 0.5)
    position      = optional(string, "bottom-right")
    relative_size = optional(number, 0.05)
    min_width     = optional(number, 600)
    colour        = optional(string, "#ffffff")
    image         = optional(string, "")
    image_scale   = optional(number, 0.15)
  })
  default = {}
  validation {
    condition     = var.watermark.opacity >= 0 && var.watermark.opacity <= 1 && contains(["bottom-right", "bottom-left", "top-right", "top-left", "center", "top-center", "bottom-center", "center-left", "center-right", "tiled"], var.watermark.position)
    error_message = "watermark.opacity must be 0-1 and position one of bottom-right, bottom-left, top-right, top-left, center, top-center, bottom-center, center-left, center-right, tiled."
  }
  validation {
    condition = (
      length(var.watermark.text) <= 200 &&
      var.watermark.relative_size >= 0.005 && var.watermark.relative_size <= 0.5 &&
      var.watermark.min_width >= 0 && var.watermark.min_width <= 100000 && floor(var.watermark.min_width) == var.watermark.min_width &&
      can(regex("^#[0-9a-fA-F]{6}$", var.watermark.colour))
    )
    error_message = "watermark.text is at most 200 characters, relative_size 0.005-0.5, min_width a whole number 0-100000, colour like #ffffff."
  }
  # The file itself is checked by the function at start-up (imgproc/config.py
  # `_logo`): this module's variables cannot see the package's files.
  validation {
    condition     = (var.watermark.image == "" || can(regex("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\\.png$", var.watermark.image))) && var.watermark.image_scale >= 0.01 && var.watermark.image_scale <= 1
    error_message = "watermark.image is the name of a .png file in function_src/watermarks/ (letters, digits, '.', '-', '_'); image_scale 0.01-1."
  }
}

variable "metadata" {
  description = "EXIF fields the outputs keep from the upload (keep: any of copyright, artist, description, make, model); by default none. GPS, serial numbers and owner names are never kept."
  type = object({
    keep = optional(list(string), [])
  })
  default = {}
  # The handler's rules (imgproc/config.py `_metadata`).
  validation {
    condition     = alltrue([for f in var.metadata.keep : contains(["copyright", "artist", "description", "make", "model"], f)]) && length(distinct(var.metadata.keep)) == length(var.metadata.keep)
    error_message = "metadata.keep takes copyright, artist, description, make, model, each at most once (GPS, serial numbers and owner names are never kept)."
  }
}

variable "background" {
  description = "Colour transparent pixels are composited onto for JPEG."
  type        = string
  default     = "#ffffff"
  validation {
    condition     = can(regex("^#[0-9a-fA-F]{6}$", var.background))
    error_message = "background must be a colour like #ffffff."
  }
}

variable "max_megapixels" {
  description = "Larger images are rejected from their header, before decoding (decompression bombs)."
  type        = number
  default     = 100
  validation {
    condition     = var.max_megapixels >= 0.000001 && var.max_megapixels <= 10000
    error_message = "max_megapixels must be positive (at most 10000)."
  }
}

variable "key_template" {
  description = "Output key layout: {variant}, {path}, {dir}, {stem}, {name}, {ext}, {format}; must start with a literal prefix. The default keeps the source's extension ({name}) so a/x.jpg and a/x.png do not overwrite each other's variants."
  type        = string
  default     = "resized/{variant}/{dir}{name}.{ext}"
  # The handler's rules (imgproc/config.py `_template`): a plan refuses a
  # template the function would refuse at start-up (dead-lettering every event).
  validation {
    condition     = var.key_template != "" && !startswith(var.key_template, "{") && !startswith(var.key_template, "/") && length(var.key_template) <= 256
    error_message = "key_template must start with a literal prefix such as resized/ (not '/'): the function ignores its own outputs by it; at most 256 characters (its prefix is in the function's RAM policy, at most 6,144 characters: docs/limits.md)."
  }
  validation {
    condition = (
      strcontains(var.key_template, "{variant}") &&
      (strcontains(var.key_template, "{ext}") || strcontains(var.key_template, "{format}")) &&
      anytrue([for f in ["{path}", "{stem}", "{name}"] : strcontains(var.key_template, f)])
    )
    error_message = "key_template must contain {variant}, {ext} (or {format}), and {path}, {stem} or {name}."
  }
  validation {
    condition = alltrue([
      for m in regexall("{([^{}]*)}", var.key_template) : contains(["variant", "path", "dir", "stem", "name", "ext", "format"], m[0])
    ])
    error_message = "key_template fields are {variant}, {path}, {dir}, {stem}, {name}, {ext}, {format}."
  }
}

variable "rejected_prefix" {
  description = "Where rejection records (JSON) are written in the target bucket."
  type        = string
  default     = "rejected/"
  validation {
    condition     = endswith(var.rejected_prefix, "/") && !startswith(var.rejected_prefix, "/")
    error_message = "rejected_prefix must end with '/' and not start with '/'."
  }
  validation {
    condition     = length(var.rejected_prefix) <= 256
    error_message = "rejected_prefix is at most 256 characters: it is part of the function's RAM policy, which RAM limits to 6,144 characters (docs/limits.md)."
  }
}

variable "delete_variants_with_source" {
  description = "Deleting a source object (or overwriting it with a non-image) deletes its variants and rejection record: the trigger also routes ObjectRemoved:DeleteObject/DeleteObjects, and the role may delete under the output and rejection prefixes only."
  type        = bool
  default     = true
  nullable    = false
}

variable "max_object_mb" {
  description = "Uploads larger than this are rejected (too-large, with a record) without being downloaded."
  type        = number
  default     = 50
  validation {
    condition     = var.max_object_mb > 0 && floor(var.max_object_mb * 1048576) == var.max_object_mb * 1048576
    error_message = "max_object_mb must be positive and a whole number of bytes (MB x 1048576): the function reads it as an integer."
  }
}

variable "cache_control" {
  description = "Cache-Control header of every variant."
  type        = string
  default     = "public, max-age=86400"
}

# ---------------------------------------------------------------- serving

variable "serving" {
  description = "How apps read the variants (docs/serving.md): mode \"signed_url\" (default; nothing public, nothing billed: the app signs GET URLs, output serving_signer_policy), \"cdn\" (a CDN domain cdn_domain in front of the private target bucket, scope domestic, overseas or global, HTTPS with the CAS certificate cdn_cert_id; the function refreshes the cached copies of variants it rewrites or deletes; create_cdn_origin_role creates the account's CDN origin role limited to these variants) or \"none\" (no URLs: the app reads through its own backend)."
  type = object({
    mode                   = optional(string, "signed_url")
    cdn_domain             = optional(string)
    cdn_scope              = optional(string, "domestic")
    cdn_cert_id            = optional(string)
    create_cdn_origin_role = optional(bool, false)
  })
  default  = {}
  nullable = false
  validation {
    condition     = contains(["none", "signed_url", "cdn"], var.serving.mode) && contains(["domestic", "overseas", "global"], var.serving.cdn_scope)
    error_message = "serving.mode must be none, signed_url or cdn; serving.cdn_scope domestic, overseas or global."
  }
  validation {
    condition     = (var.serving.mode == "cdn") == (var.serving.cdn_domain != null)
    error_message = "serving.cdn_domain is required with mode = \"cdn\" and only then."
  }
  # AddCdnDomain's rules as the provider documents them (website/docs/r/
  # cdn_domain_new.html.markdown at v1.289.0, line 57): labels of 1-63
  # letters, digits or '-', not starting or ending with '-', no '-' in both
  # the 3rd and 4th place; suffixes .sh and .tel are not supported. Lower
  # case and no wildcard (".example.com"): the function refreshes URLs on
  # exactly this host (fc_handler/settings.py `_HOST` checks its shape too).
  # 5-67 characters: alicloud_cdn_domain_config's domain_name is
  # StringLenBetween(5, 67) (resource_alicloud_cdn_domain_config.go at
  # v1.289.0, line 38), and the private-origin config names this domain.
  validation {
    condition = var.serving.cdn_domain == null ? true : (
      length(var.serving.cdn_domain) >= 5 && length(var.serving.cdn_domain) <= 67 &&
      can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$", var.serving.cdn_domain)) &&
      alltrue([for label in split(".", var.serving.cdn_domain) : !can(regex("^..--", label))]) &&
      !endswith(var.serving.cdn_domain, ".sh") && !endswith(var.serving.cdn_domain, ".tel")
    )
    error_message = "serving.cdn_domain must be a lower-case host name of 5-67 characters such as img.example.com (no scheme, no path, no wildcard): labels of 1-63 letters, digits or '-', not starting or ending with '-', no '--' in the 3rd and 4th place; CDN does not support .sh and .tel."
  }
}

# ---------------------------------------------------------------- function

variable "runtime" {
  description = "FC runtime; build the package for the same one (make package RUNTIME=...)."
  type        = string
  default     = "python3.10"
  validation {
    condition     = contains(["python3.10", "python3.12"], var.runtime)
    error_message = "runtime must be python3.10 or python3.12."
  }
}

variable "package_dir" {
  description = "Directory holding function.zip and function.json from `make package`; a relative path is relative to the root module Terraform runs in."
  type        = string
  default     = "dist"
}

variable "code_upload" {
  description = "How the package reaches FC: \"oss\" (Terraform uploads it to the stack's code bucket, content-addressed; FC reads it there) or \"inline\" (base64 in the API request: only for packages up to 1008 KiB, docs/limits.md)."
  type        = string
  default     = "oss"
  validation {
    condition     = contains(["oss", "inline"], var.code_upload)
    error_message = "code_upload must be \"oss\" or \"inline\"."
  }
}

variable "code_oss_bucket" {
  description = "Use a package you uploaded to this bucket yourself (same region) instead of dist/function.zip; the module then creates no code bucket."
  type        = string
  default     = null
}

variable "code_oss_object" {
  description = "Key of your uploaded package in code_oss_bucket (put its sha256 in the key, so a new package is a new key)."
  type        = string
  default     = null
}

variable "layer_arns" {
  description = "FC layer ARNs, e.g. the dependency layer from `make package LAYER=1`."
  type        = list(string)
  default     = []
}

variable "memory_mb" {
  description = "Memory per instance in MB (64 MB steps)."
  type        = number
  default     = 1024
  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 32768 && var.memory_mb % 64 == 0
    error_message = "memory_mb must be 128-32768 in steps of 64."
  }
}

variable "cpu" {
  description = "vCPUs per instance; memory GB : vCPU must be between 1 and 4."
  type        = number
  default     = 1
  validation {
    condition     = var.cpu >= 0.05 && var.cpu <= 16
    error_message = "cpu must be 0.05-16."
  }
}

variable "timeout_seconds" {
  description = "Longest an invocation may run."
  type        = number
  default     = 60
  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 86400
    error_message = "timeout_seconds must be 1-86400."
  }
}

variable "reserved_concurrency" {
  description = "Instances reserved for the function (caps cost and protects the account's quota); null: none."
  type        = number
  default     = null
  validation {
    condition     = var.reserved_concurrency == null ? true : var.reserved_concurrency >= 1
    error_message = "reserved_concurrency must be at least 1 (or null)."
  }
}

variable "warm_instances" {
  description = "Instances FC keeps started so uploads meet no cold start (provisioned instances; off by default: idle instances are billed, `imgpipe cost --warm-instances` prices them): `target` at all times, and `schedule` entries that set another target from a cron time on (FC scheduled actions; `cron` in FC's form, e.g. \"cron(0 0 8 * * *)\", in `time_zone`)."
  type = object({
    target = optional(number, 0)
    schedule = optional(list(object({
      name      = string
      cron      = string
      target    = number
      time_zone = optional(string, "Asia/Shanghai")
    })), [])
  })
  default  = {}
  nullable = false
  # alicloud_fcv3_provision_config: target IntBetween(0, 10000)
  # (resource_alicloud_fcv3_provision_config.go at v1.289.0).
  validation {
    condition = (
      var.warm_instances.target >= 0 && var.warm_instances.target <= 10000 && floor(var.warm_instances.target) == var.warm_instances.target &&
      alltrue([for a in var.warm_instances.schedule : a.target >= 0 && a.target <= 10000 && floor(a.target) == a.target && can(regex("^(cron|at)\\(.+\\)$", a.cron)) && can(regex("^[A-Za-z0-9_-]{1,64}$", a.name))]) &&
      length(distinct([for a in var.warm_instances.schedule : a.name])) == length(var.warm_instances.schedule)
    )
    error_message = "warm_instances: target and each schedule target a whole number 0-10000; each schedule entry a unique name (letters, digits, '-', '_') and cron like \"cron(0 0 8 * * *)\" or \"at(...)\"."
  }
}

variable "internet_access" {
  description = "Let the function reach the internet; it needs only OSS's internal endpoint, so false hardens it."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Days the function's logstore keeps logs."
  type        = number
  default     = 30
  validation {
    condition     = var.log_retention_days >= 1 && var.log_retention_days <= 3650
    error_message = "log_retention_days must be 1-3650."
  }
}

# ---------------------------------------------------------------- failures

variable "async_invocation" {
  description = "EventBridge invokes the function asynchronously (FC retries, then the dead-letter queue)."
  type        = bool
  default     = true
}

variable "async_retries" {
  description = "Retries of a failed asynchronous invocation before it is dead-lettered (0-8)."
  type        = number
  default     = 3
  validation {
    condition     = var.async_retries >= 0 && var.async_retries <= 8
    error_message = "async_retries must be 0-8."
  }
}

variable "async_max_event_age_seconds" {
  description = "Events older than this are dead-lettered instead of retried (1-86400)."
  type        = number
  default     = 86400
  validation {
    condition     = var.async_max_event_age_seconds >= 1 && var.async_max_event_age_seconds <= 86400
    error_message = "async_max_event_age_seconds must be 1-86400."
  }
}

variable "async_success_destination" {
  description = "Workaround only (docs/deploying.md, Known provider issues): destination for successful async invocations."
  type        = string
  default     = null
}

variable "dlq_retention_seconds" {
  description = "How long failed events stay in the dead-letter queue (60-604800)."
  type        = number
  default     = 604800
  validation {
    condition     = var.dlq_retention_seconds >= 60 && var.dlq_retention_seconds <= 604800
    error_message = "dlq_retention_seconds must be 60-604800."
  }
}

variable "create_service_linked_roles" {
  description = "Create and own EventBridge's account-wide service-linked roles (destroying the stack deletes them for every stack); normally examples/bootstrap-state owns them."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------- storage

variable "upload_expiration_days" {
  description = "Days after which uploads expire from the source bucket (their variants stay); 36500 keeps them."
  type        = number
  default     = 30
  validation {
    condition     = var.upload_expiration_days >= 1 && var.upload_expiration_days <= 36500
    error_message = "upload_expiration_days must be 1-36500."
  }
}

variable "variants_ia_days" {
  description = "Days after which variants move to Infrequent Access; 36500 keeps them Standard."
  type        = number
  default     = 90
  validation {
    condition     = var.variants_ia_days >= 30 && var.variants_ia_days <= 36500
    error_message = "variants_ia_days must be 30-36500 (IA bills 30 days minimum)."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted object versions are removed."
  type        = number
  default     = 30
  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "abort_multipart_days" {
  description = "Days after which unfinished multipart uploads are aborted."
  type        = number
  default     = 7
  validation {
    condition     = var.abort_multipart_days >= 1
    error_message = "abort_multipart_days must be at least 1."
  }
}

variable "access_log_retention_days" {
  description = "Days the access-log bucket keeps the buckets' access logs."
  type        = number
  default     = 90
  validation {
    condition     = var.access_log_retention_days >= 1
    error_message = "access_log_retention_days must be at least 1."
  }
}

variable "kms_key_id" {
  description = "KMS key ID for bucket encryption; null uses OSS-managed AES256."
  type        = string
  default     = null
}

variable "cors_allowed_origins" {
  description = "Origins allowed to upload to the source bucket from browsers (POST, PUT) and to read the target bucket with fetch (GET, HEAD: the ready manifest, docs/uploading.md); empty: no CORS."
  type        = list(string)
  default     = []
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete buckets that still hold objects (never in prod)."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------- alarms

variable "enable_alarms" {
  description = "CloudMonitor alarms on function errors and dead-letter queue depth; null: on in prod only."
  type        = bool
  default     = null
}

variable "alarm_contact_groups" {
  description = "CloudMonitor contact groups the alarms notify (the default is the account's own group)."
  type        = list(string)
  default     = ["云账号报警联系人"]
  validation {
    condition     = length(var.alarm_contact_groups) > 0
    error_message = "alarm_contact_groups must name at least one group."
  }
}

variable "alarm_function_errors" {
  description = "Function errors in one minute that raise the alarm."
  type        = number
  default     = 1
}

variable "alarm_dead_letters" {
  description = "Messages in the dead-letter queue that raise the alarm."
  type        = number
  default     = 1
}

variable "alarm_function_error_metric" {
  description = "CloudMonitor metric (project acs_fc) of the function's errors: FunctionFunctionErrors counts invocations whose handler raised."
  type        = string
  default     = "FunctionFunctionErrors"
}

variable "alarm_queue_depth_metric" {
  description = "CloudMonitor metric (project acs_mns_new) of a queue's waiting messages."
  type        = string
  # MNS GetQueueAttributes (alibabacloud.com/help/en/mns/getqueueattributes,
  # 2026): "ActiveMessages -> CloudMonitor metric NumberOfMessagesVisible".
  default = "NumberOfMessagesVisible"
}
