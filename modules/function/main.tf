# The function, its logs, and what happens to failed asynchronous calls.

resource "alicloud_log_project" "this" {
  project_name = var.log_project
  description  = "Logs of the image pipeline function ${var.function_name}."
  tags         = var.tags
}

resource "alicloud_log_store" "this" {
  project_name     = alicloud_log_project.this.project_name
  logstore_name    = var.logstore
  retention_period = var.log_retention_days
  shard_count      = 2
  auto_split       = true
  append_meta      = true
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

  log_config {
    project                 = alicloud_log_project.this.project_name
    logstore                = alicloud_log_store.this.logstore_name
    log_begin_rule          = "DefaultRegex"
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
