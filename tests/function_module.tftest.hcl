# modules/function on its own under `terraform test` (mocked provider):
# what the root stack's outputs cannot show, asserted on the resources.

mock_provider "alicloud" {}

variables {
  function_name               = "imgpipe-test-images"
  runtime                     = "python3.10"
  role_arn                    = "acs:ram::1234567890123456:role/imgpipe-test-function"
  zip_path                    = "tests/data/tf-package/function.zip"
  code_checksum               = "1798254305334793085"
  layer_arns                  = []
  memory_mb                   = 1024
  cpu                         = 1
  timeout_seconds             = 60
  internet_access             = true
  environment                 = { SOURCE_BUCKET = "src", TARGET_BUCKET = "out" }
  log_project                 = "imgpipe-test-logs"
  logstore                    = "function"
  log_retention_days          = 30
  dead_letter_arn             = "acs:mns:cn-hangzhou:1234567890123456:/queues/dlq/messages"
  max_async_retry_attempts    = 3
  max_async_event_age_seconds = 86400
  tags                        = {}
}

run "inline_zip" {
  command = plan

  module {
    source = "./modules/function"
  }

  assert {
    condition     = alicloud_fcv3_function.this.code[0].zip_file == filebase64("tests/data/tf-package/function.zip")
    error_message = "the package is uploaded inline from zip_path"
  }
  assert {
    condition     = alicloud_fcv3_function.this.code[0].oss_bucket_name == null
    error_message = "no OSS location when the package is inline"
  }
  assert {
    condition     = length(alicloud_fcv3_concurrency_config.this) == 0
    error_message = "no reserved concurrency unless asked for"
  }
  assert {
    condition     = length(alicloud_fcv3_async_invoke_config.this.destination_config[0].on_success) == 0
    error_message = "failures only: no on_success destination by default"
  }
  assert {
    condition     = alicloud_fcv3_async_invoke_config.this.destination_config[0].on_failure[0].destination == var.dead_letter_arn
    error_message = "failed asynchronous invocations go to the dead-letter queue"
  }
}

run "code_from_oss" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    zip_path        = null
    code_checksum   = null
    code_oss_bucket = "imgpipe-artifacts"
    code_oss_object = "function-0123abcd.zip"
  }

  assert {
    condition     = alicloud_fcv3_function.this.code[0].zip_file == null
    error_message = "nothing is uploaded inline when the code is in OSS"
  }
  assert {
    condition     = alicloud_fcv3_function.this.code[0].oss_bucket_name == "imgpipe-artifacts" && alicloud_fcv3_function.this.code[0].oss_object_name == "function-0123abcd.zip"
    error_message = "the function's code points at the OSS object"
  }
}

run "reserved_concurrency_and_success_workaround" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    reserved_concurrency      = 5
    async_success_destination = "acs:mns:cn-hangzhou:1234567890123456:/queues/ok/messages"
  }

  assert {
    condition     = alicloud_fcv3_concurrency_config.this[0].reserved_concurrency == 5
    error_message = "reserved_concurrency creates the concurrency config"
  }
  assert {
    condition     = alicloud_fcv3_async_invoke_config.this.destination_config[0].on_success[0].destination == var.async_success_destination
    error_message = "the provider-bug workaround adds the on_success destination"
  }
}
