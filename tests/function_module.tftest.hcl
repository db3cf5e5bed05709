# modules/function on its own under `terraform test` (mocked provider):
# what the root stack's outputs cannot show, asserted on the resources.

mock_provider "alicloud" {}

variables {
  function_name               = "imgpipe-test-images"
  runtime                     = "python3.10"
  role_arn                    = "acs:ram::1234567890123456:role/imgpipe-test-function"
  package                     = merge(jsondecode(file("tests/data/tf-package/function.json")), { zip = "tests/data/tf-package/function.zip" })
  code_bucket                 = "imgpipe-test-code-1234567890123456"
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

run "code_through_oss" {
  command = plan

  module {
    source = "./modules/function"
  }

  assert {
    condition     = alicloud_oss_bucket_object.code[0].key == "imgpipe-test-images/592bc3b89b3444444bc7fe6c86e0420abca7779fb3b9066f8132f36cc19cfef0.zip"
    error_message = "the package is uploaded under its sha256: a new package is a new object"
  }
  assert {
    condition     = alicloud_oss_bucket_object.code[0].bucket == var.code_bucket && alicloud_oss_bucket_object.code[0].content_md5 == "ekPUH5woBdEldDUnqMC9fg=="
    error_message = "the package goes to the code bucket, with the manifest's Content-MD5 for OSS to check"
  }
  assert {
    condition     = alicloud_fcv3_function.this.code[0].zip_file == null && alicloud_fcv3_function.this.code[0].oss_object_name == alicloud_oss_bucket_object.code[0].key
    error_message = "by default nothing goes inline: the function names the uploaded object"
  }
  assert {
    condition     = alicloud_fcv3_function.this.code[0].checksum == "1798254305334793085"
    error_message = "FC checks the code it reads against the manifest's CRC-64"
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

run "inline_zip" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    code_upload = "inline"
  }

  assert {
    condition     = alicloud_fcv3_function.this.code[0].zip_file == filebase64("tests/data/tf-package/function.zip")
    error_message = "a small package can still go inline"
  }
  assert {
    condition     = alicloud_fcv3_function.this.code[0].oss_bucket_name == null && length(alicloud_oss_bucket_object.code) == 0
    error_message = "no OSS object when the package is inline"
  }
}

run "inline_too_large" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    code_upload = "inline"
    package     = merge(jsondecode(file("tests/data/tf-package/function.json")), { zip = "tests/data/tf-package/function.zip", size = 1032193 })
  }

  expect_failures = [alicloud_fcv3_function.this]
}

run "code_from_oss" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    package         = null
    code_oss_bucket = "imgpipe-artifacts"
    code_oss_object = "function-0123abcd.zip"
  }

  assert {
    condition     = alicloud_fcv3_function.this.code[0].zip_file == null && length(alicloud_oss_bucket_object.code) == 0
    error_message = "nothing is uploaded when the code is already in OSS"
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

# FC's 4 KB for all environment variables (docs/limits.md), both sides:
# names and values of exactly 4,096 bytes plan; one byte more is refused.
run "environment_at_fcs_limit" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    environment = { SOURCE_BUCKET = "src", IMGPIPE_CONFIG = "${join("", [for i in range(1016) : "xxxx"])}xx" } # 13 + 3 + 14 + 4,066
  }
}

run "environment_over_fcs_limit" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    environment = { SOURCE_BUCKET = "src", IMGPIPE_CONFIG = "${join("", [for i in range(1016) : "xxxx"])}xxx" }
  }

  expect_failures = [alicloud_fcv3_function.this]
}

run "environment_counts_bytes_not_characters" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    # 1,400 characters of three bytes each: 4,200 bytes
    environment = { W = join("", [for i in range(700) : "水水"]) }
  }

  expect_failures = [alicloud_fcv3_function.this]
}

# Warm instances (issue 22): none by default; a target and a schedule make
# one provision config with idle vCPU unbilled.
run "no_warm_instances_by_default" {
  command = plan

  module {
    source = "./modules/function"
  }

  assert {
    condition     = length(alicloud_fcv3_provision_config.this) == 0
    error_message = "no provisioned instances (and no idle cost) unless asked for"
  }
}

run "warm_instances_on_a_schedule" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    warm_instances = {
      target   = 1
      schedule = [{ name = "office-hours", cron = "cron(0 0 8 * * *)", target = 3, time_zone = "Asia/Shanghai" }]
    }
  }

  assert {
    condition     = alicloud_fcv3_provision_config.this[0].target == 1 && alicloud_fcv3_provision_config.this[0].always_allocate_cpu == false
    error_message = "one warm instance at all times, its vCPU unbilled while idle"
  }
  assert {
    condition     = alicloud_fcv3_provision_config.this[0].scheduled_actions[0].schedule_expression == "cron(0 0 8 * * *)" && alicloud_fcv3_provision_config.this[0].scheduled_actions[0].target == 3
    error_message = "the schedule becomes FC's scheduled action"
  }
}
