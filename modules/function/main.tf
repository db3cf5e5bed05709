# The function, its code package, its logs, and what happens to failed
# asynchronous calls.

# How the code reaches FC. The provider is built on terraform-plugin-sdk v1,
# whose gRPC server takes messages of at most 4 MiB (grpc-go's default
# MaxRecvMsgSize; aliyun/terraform-provider-alicloud issue #7355:
# "received message larger than max (7884827 vs. 4194304)" for exactly
# `zip_file = filebase64(...)`). An update's PlanResourceChange and
# ApplyResourceChange each carry the code three times (prior state,
# proposed or planned state, configuration), so inline code must stay under
# a third of 4 MiB, less 64 KiB for the rest of the function's arguments:
# 1,376,256 base64 characters, a 1,032,192-byte (1008 KiB) zip. The
# package `make package` builds is about 20 MiB, so by default Terraform
# uploads it to the stack's code bucket under its sha256 (a new package is
# a new object, an unchanged one changes nothing) and the function names
# the object: the plan carries the path, never the bytes (the provider
# reads `source` only when it uploads). docs/limits.md.
locals {
  external     = var.code_oss_bucket != null
  inline       = !local.external && var.code_upload == "inline"
  inline_limit = 1376256 # base64 characters; see above
  # base64 of n bytes is 4 * ceil(n / 3) characters.
  inline_size = var.package == null ? 0 : 4 * ceil(var.package.size / 3)

  # FC: "The total size of all environment variables cannot exceed 4 KB"
  # (alibabacloud.com/help/en/functioncompute/fc/environment-variables).
  # Names and values in UTF-8 bytes, counted through base64 (Terraform's
  # length() counts characters): a watermark text in Chinese weighs 3 bytes
  # a character. Each "=" of padding stands for one byte fewer.
  environment_b64   = base64encode(join("", [for k, v in var.environment : "${k}${v}"]))
  environment_bytes = length(local.environment_b64) * 3 / 4 - length(regexall("=", local.environment_b64))
}

resource "alicloud_oss_bucket_object" "code" {
  count        = !local.external && !local.inline && var.package != null ? 1 : 0
  bucket       = var.code_bucket
  key          = "${var.function_name}/${var.package.sha256}.zip"
  source       = var.package.zip
  content_md5  = var.package.content_md5 # OSS refuses a body that does not match the manifest
  content_type = "application/zip"
}

resource "alicloud_log_project" "this" {
  project_name = var.log_project
  description  = "Logs of the image pipeline function ${var.function_name}."
  tags         = var.tags
}

# SLS CreateLogStore needs maxSplitShard whenever autoSplit is true ("You
# must specify this parameter when autoSplit is true", provider docs
# website/docs/r/log_store.html.markdown), and the provider sends it only
# when max_split_shard_count is set (resource_alicloud_log_store.go, v1.289.0,
# lines 321-322). 64 shards is far beyond one image pipeline's log volume.
resource "alicloud_log_store" "this" {
  project_name          = alicloud_log_project.this.project_name
  logstore_name         = var.logstore
  retention_period      = var.log_retention_days
  shard_count           = 2
  auto_split            = true
  max_split_shard_count = 64
  append_meta           = true
}

# Without an index SLS finds nothing by field. FC writes each stdout line to
# the logstore's `message` field (FC "Log fields": __topic__, functionName,
# message, qualifier, ...), and the handler prints one JSON object per line
# (function_src/fc_handler/logs.py), so `message` is indexed as JSON with the
# handler's keys: `message.outcome: rejected` then works, and so does
# `| select "message.reason", count(*) group by "message.reason"`.
#
# Every full-text and text/json index names its delimiters: without `token`
# the provider sends an empty list (resource_alicloud_log_store_index.go at
# v1.289.0, line 427: strings.Split("", "") is empty, and the SDK's Token
# field has no omitempty), which SLS does not document. local.sls_tokens is
# SLS's default set (SLS "Create indexes": "delimiters such as
# \n\t\r,;[]{}()&^*#@~=<>/\?:'\"", plus the space, as the SLS Go SDK's
# CreateDefaultIndex has it).
locals {
  sls_tokens = " \n\t\r,;[]{}()&^*#@~=<>/\\?:'\""
}

resource "alicloud_log_store_index" "this" {
  project  = alicloud_log_project.this.project_name
  logstore = alicloud_log_store.this.logstore_name

  full_text {
    case_sensitive = false
    token          = local.sls_tokens
  }

  field_search {
    name             = "message"
    type             = "json"
    enable_analytics = true
    token            = local.sls_tokens

    # The handler's fields (function_src/fc_handler/logs.py FIELDS).
    json_keys {
      name      = "request_id"
      type      = "text"
      doc_value = true
    }

    json_keys {
      name      = "bucket"
      type      = "text"
      doc_value = true
    }

    json_keys {
      name      = "key"
      type      = "text"
      doc_value = true
    }

    json_keys {
      name      = "outcome"
      type      = "text"
      doc_value = true
    }

    json_keys {
      name      = "reason"
      type      = "text"
      doc_value = true
    }

    json_keys {
      name      = "outputs"
      type      = "text"
      doc_value = true
    }

    json_keys {
      name      = "bytes"
      type      = "long"
      doc_value = true
    }

    json_keys {
      name      = "ms"
      type      = "long"
      doc_value = true
    }
  }

  field_search {
    name             = "functionName"
    type             = "text"
    enable_analytics = true
    token            = local.sls_tokens
  }

  field_search {
    name             = "requestId"
    type             = "text"
    enable_analytics = true
    token            = local.sls_tokens
  }
}

resource "alicloud_fcv3_function" "this" {
  function_name         = var.function_name
  description           = "Resizes, watermarks and re-encodes uploads (imgpipe)."
  runtime               = var.runtime
  handler               = "index.handler"
  role                  = var.role_arn
  memory_size           = var.memory_mb
  cpu                   = var.cpu
  disk_size             = 512
  timeout               = var.timeout_seconds
  instance_concurrency  = 1 # one image at a time per instance: memory is sized for one
  internet_access       = var.internet_access
  layers                = var.layer_arns
  environment_variables = var.environment
  tags                  = var.tags

  # The checksum comes from build.py's manifest: FC verifies the code it
  # reads against it. The zip is byte-for-byte reproducible, so the
  # checksum, the object key and the plan change only with the code.
  code {
    zip_file        = local.inline && var.package != null ? filebase64(var.package.zip) : null
    oss_bucket_name = local.external ? var.code_oss_bucket : one(alicloud_oss_bucket_object.code[*].bucket)
    oss_object_name = local.external ? var.code_oss_object : one(alicloud_oss_bucket_object.code[*].key)
    checksum        = var.package == null ? null : var.package.crc64
  }

  # The logstore is referenced through its index, so the index exists before
  # FC writes the first line. log_begin_rule "None": one log entry per line.
  # "DefaultRegex" starts an entry only at a line holding a date and appends
  # the lines after it (FC LogConfig: "logs are segmented based on
  # date-containing lines"), which would glue the handler's JSON lines onto
  # FC's own dated lines and break the JSON index above.
  log_config {
    project                 = alicloud_log_project.this.project_name
    logstore                = alicloud_log_store_index.this.logstore
    log_begin_rule          = "None"
    enable_request_metrics  = true
    enable_instance_metrics = true
  }

  lifecycle {
    precondition {
      condition     = local.external || var.package != null
      error_message = "No package in ${var.package_dir}: function.json and function.zip are missing. Run `make package` at the repository root first (it writes dist/function.zip and dist/function.json), or set package_dir to where they are."
    }
    precondition {
      condition     = local.environment_bytes <= 4096
      error_message = "The function's environment would be ${local.environment_bytes} bytes of names and values; FC allows 4 KB in all (docs/limits.md). Fewer or shorter variants, a shorter watermark text or fewer image_suffixes make it fit."
    }
    # Checked before the configuration is evaluated, so an oversized package
    # never reaches the provider's 4 MiB gRPC limit.
    precondition {
      condition     = !local.inline || local.inline_size <= local.inline_limit
      error_message = "code_upload = \"inline\" sends the package base64-encoded in the provider's gRPC messages, which carry at most 4 MiB (terraform-plugin-sdk v1; three copies on an update): at most ${local.inline_limit} base64 characters (a 1008 KiB zip), and this package needs ${local.inline_size}. Use code_upload = \"oss\" (the default). docs/limits.md."
    }
  }
}

resource "alicloud_fcv3_async_invoke_config" "this" {
  function_name                  = alicloud_fcv3_function.this.function_name
  max_async_retry_attempts       = var.max_async_retry_attempts
  max_async_event_age_in_seconds = var.max_async_event_age_seconds

  destination_config {
    on_failure {
      destination = var.dead_letter_arn
    }
    dynamic "on_success" {
      for_each = var.async_success_destination == null ? [] : [var.async_success_destination]
      content {
        destination = on_success.value
      }
    }
  }
}

# Warm instances, off by default. FC keeps `target` instances started
# (provisioned) and scheduled actions change the target at given times.
# always_allocate_cpu = false: between requests an idle instance's vCPU is
# not billed, only its memory and disk (FC "Pay-as-you-go": idle vCPU 0 CU;
# docs/cost.md, `imgpipe cost --warm-instances`). The handler keeps one
# OSS session per instance, so a warm instance also skips the connection.
resource "alicloud_fcv3_provision_config" "this" {
  count               = var.warm_instances.target > 0 || length(var.warm_instances.schedule) > 0 ? 1 : 0
  function_name       = alicloud_fcv3_function.this.function_name
  qualifier           = "LATEST"
  target              = var.warm_instances.target
  always_allocate_cpu = false

  dynamic "scheduled_actions" {
    for_each = var.warm_instances.schedule
    content {
      name                = scheduled_actions.value.name
      schedule_expression = scheduled_actions.value.cron
      target              = scheduled_actions.value.target
      time_zone           = scheduled_actions.value.time_zone
    }
  }
}

resource "alicloud_fcv3_concurrency_config" "this" {
  count                = var.reserved_concurrency == null ? 0 : 1
  function_name        = alicloud_fcv3_function.this.function_name
  reserved_concurrency = var.reserved_concurrency
}
