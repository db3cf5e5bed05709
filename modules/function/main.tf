# The function, its logs, and what happens to failed asynchronous calls.

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
resource "alicloud_log_store_index" "this" {
  project  = alicloud_log_project.this.project_name
  logstore = alicloud_log_store.this.logstore_name

  full_text {
    case_sensitive = false
  }

  field_search {
    name             = "message"
    type             = "json"
    enable_analytics = true

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
  }

  field_search {
    name             = "requestId"
    type             = "text"
    enable_analytics = true
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

  # The checksum comes from build.py's manifest. The zip is byte-for-byte
  # reproducible, so the checksum (and the plan) changes only with the code.
  code {
    zip_file        = var.zip_path == null ? null : filebase64(var.zip_path)
    oss_bucket_name = var.code_oss_bucket
    oss_object_name = var.code_oss_object
    checksum        = var.code_checksum
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

resource "alicloud_fcv3_concurrency_config" "this" {
  count                = var.reserved_concurrency == null ? 0 : 1
  function_name        = alicloud_fcv3_function.this.function_name
  reserved_concurrency = var.reserved_concurrency
}
