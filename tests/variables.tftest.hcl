# Every variable's validation under `terraform test`: each run sets one bad
# value and expects exactly that variable's validation to fail. A plan that
# passes a bad value, or fails for another reason, fails the run.
# tests/test_terraform_real.py checks that every variable with a validation
# block has a run here.

mock_provider "alicloud" {}

override_data {
  target = module.imgpipe.data.alicloud_account.current
  values = { id = "1234567890123456" }
}

variables {
  env         = "dev"
  package_dir = "tests/data/tf-package"
}

run "bad_env" {
  command = plan
  variables {
    env = "test"
  }
  expect_failures = [var.env]
}

run "bad_region" {
  command = plan
  variables {
    region = "eu-central-1"
  }
  expect_failures = [var.region]
}

run "bad_account_id" {
  command = plan
  variables {
    account_id = "my-account"
  }
  expect_failures = [var.account_id]
}

run "bad_name_prefix" {
  command = plan
  variables {
    name_prefix = "Imgpipe"
  }
  expect_failures = [var.name_prefix]
}

run "bad_source_prefix" {
  command = plan
  variables {
    source_prefix = "uploads"
  }
  expect_failures = [var.source_prefix]
}

run "bad_image_suffixes" {
  command = plan
  variables {
    image_suffixes = ["jpg"]
  }
  expect_failures = [var.image_suffixes]
}

run "bad_variants" {
  # no width or height
  command = plan
  variables {
    variants = [{ name = "large" }]
  }
  expect_failures = [var.variants]
}

run "bad_variants_2" {
  # duplicate names
  command = plan
  variables {
    variants = [{ name = "a", width = 100 }, { name = "a", width = 200 }]
  }
  expect_failures = [var.variants]
}

run "bad_variants_3" {
  # unknown format
  command = plan
  variables {
    variants = [{ name = "a", width = 100, formats = ["gif"] }]
  }
  expect_failures = [var.variants]
}

run "bad_quality" {
  # jpeg quality above 100
  command = plan
  variables {
    quality = { jpeg = 101 }
  }
  expect_failures = [var.quality]
}

run "bad_watermark" {
  # opacity above 1
  command = plan
  variables {
    watermark = { opacity = 1.5 }
  }
  expect_failures = [var.watermark]
}

run "bad_watermark_2" {
  # colour not #rrggbb
  command = plan
  variables {
    watermark = { colour = "white" }
  }
  expect_failures = [var.watermark]
}

run "bad_background" {
  command = plan
  variables {
    background = "white"
  }
  expect_failures = [var.background]
}

run "bad_max_megapixels" {
  command = plan
  variables {
    max_megapixels = 0
  }
  expect_failures = [var.max_megapixels]
}

run "bad_key_template" {
  # no literal prefix
  command = plan
  variables {
    key_template = "{variant}/{path}.{ext}"
  }
  expect_failures = [var.key_template]
}

run "bad_key_template_2" {
  # no {variant}
  command = plan
  variables {
    key_template = "resized/{path}.{ext}"
  }
  expect_failures = [var.key_template]
}

run "bad_key_template_3" {
  # unknown field
  command = plan
  variables {
    key_template = "resized/{variant}/{path}.{extension}"
  }
  expect_failures = [var.key_template]
}

run "bad_watermark_image" {
  # a path, not a file name in function_src/watermarks/
  command = plan
  variables {
    watermark = { image = "../logo.png" }
  }
  expect_failures = [var.watermark]
}

run "bad_metadata_keep" {
  # GPS is never kept
  command = plan
  variables {
    metadata = { keep = ["copyright", "gps"] }
  }
  expect_failures = [var.metadata]
}

run "bad_rejected_prefix" {
  command = plan
  variables {
    rejected_prefix = "rejected"
  }
  expect_failures = [var.rejected_prefix]
}

run "bad_max_object_mb" {
  command = plan
  variables {
    max_object_mb = 0
  }
  expect_failures = [var.max_object_mb]
}

run "bad_runtime" {
  command = plan
  variables {
    runtime = "python3.9"
  }
  expect_failures = [var.runtime]
}

run "bad_memory_mb" {
  command = plan
  variables {
    memory_mb = 1000
  }
  expect_failures = [var.memory_mb]
}

run "bad_cpu" {
  command = plan
  variables {
    cpu = 32
  }
  expect_failures = [var.cpu]
}

run "bad_timeout_seconds" {
  command = plan
  variables {
    timeout_seconds = 0
  }
  expect_failures = [var.timeout_seconds]
}

run "bad_reserved_concurrency" {
  command = plan
  variables {
    reserved_concurrency = 0
  }
  expect_failures = [var.reserved_concurrency]
}

run "bad_log_retention_days" {
  command = plan
  variables {
    log_retention_days = 0
  }
  expect_failures = [var.log_retention_days]
}

run "bad_async_retries" {
  command = plan
  variables {
    async_retries = 9
  }
  expect_failures = [var.async_retries]
}

run "bad_async_max_event_age_seconds" {
  command = plan
  variables {
    async_max_event_age_seconds = 86401
  }
  expect_failures = [var.async_max_event_age_seconds]
}

run "bad_dlq_retention_seconds" {
  command = plan
  variables {
    dlq_retention_seconds = 30
  }
  expect_failures = [var.dlq_retention_seconds]
}

run "bad_upload_expiration_days" {
  command = plan
  variables {
    upload_expiration_days = 0
  }
  expect_failures = [var.upload_expiration_days]
}

run "bad_variants_ia_days" {
  command = plan
  variables {
    variants_ia_days = 29
  }
  expect_failures = [var.variants_ia_days]
}

run "bad_noncurrent_version_expiration_days" {
  command = plan
  variables {
    noncurrent_version_expiration_days = 0
  }
  expect_failures = [var.noncurrent_version_expiration_days]
}

run "bad_abort_multipart_days" {
  command = plan
  variables {
    abort_multipart_days = 0
  }
  expect_failures = [var.abort_multipart_days]
}

run "bad_access_log_retention_days" {
  command = plan
  variables {
    access_log_retention_days = 0
  }
  expect_failures = [var.access_log_retention_days]
}

run "bad_alarm_contact_groups" {
  command = plan
  variables {
    alarm_contact_groups = []
  }
  expect_failures = [var.alarm_contact_groups]
}

run "bad_code_upload" {
  command = plan
  variables {
    code_upload = "s3"
  }
  expect_failures = [var.code_upload]
}

# Lengths that reach the cloud's limits (docs/limits.md): the largest value
# accepted plans, one more is refused by the validation that names the limit.
run "longest_prefixes_plan" {
  command = plan
  variables {
    source_prefix   = "${join("", [for i in range(255) : "s"])}/"
    rejected_prefix = "${join("", [for i in range(255) : "r"])}/"
    key_template    = "${join("", [for i in range(233) : "k"])}/{variant}/{path}.{ext}"
  }
}

run "source_prefix_too_long" {
  command = plan
  variables {
    source_prefix = "${join("", [for i in range(256) : "s"])}/"
  }
  expect_failures = [var.source_prefix]
}

run "rejected_prefix_too_long" {
  command = plan
  variables {
    rejected_prefix = "${join("", [for i in range(256) : "r"])}/"
  }
  expect_failures = [var.rejected_prefix]
}

run "key_template_too_long" {
  command = plan
  variables {
    key_template = "${join("", [for i in range(234) : "k"])}/{variant}/{path}.{ext}"
  }
  expect_failures = [var.key_template]
}

run "most_image_suffixes_plan" {
  command = plan
  variables {
    image_suffixes = [for i in range(32) : ".x${i}abcdefghijklm"]
  }
}

run "too_many_image_suffixes" {
  command = plan
  variables {
    image_suffixes = [for i in range(33) : ".x${i}"]
  }
  expect_failures = [var.image_suffixes]
}

run "bad_warm_instances" {
  command = plan
  variables {
    warm_instances = { target = 10001 }
  }
  expect_failures = [var.warm_instances]
}

run "warm_instances_with_a_bad_cron" {
  command = plan
  variables {
    warm_instances = { schedule = [{ name = "x", cron = "0 8 * * *", target = 1 }] }
  }
  expect_failures = [var.warm_instances]
}

# serving (docs/serving.md): each rule of the variable, one run each.
run "bad_serving_mode" {
  command = plan
  variables {
    serving = { mode = "public" }
  }
  expect_failures = [var.serving]
}

run "bad_serving_cdn_without_domain" {
  command = plan
  variables {
    serving = { mode = "cdn" }
  }
  expect_failures = [var.serving]
}

run "bad_serving_domain_without_cdn" {
  command = plan
  variables {
    serving = { mode = "signed_url", cdn_domain = "img.example.com" }
  }
  expect_failures = [var.serving]
}

run "bad_serving_domain_with_scheme" {
  command = plan
  variables {
    serving = { mode = "cdn", cdn_domain = "https://img.example.com" }
  }
  expect_failures = [var.serving]
}

run "bad_serving_wildcard_domain" {
  command = plan
  variables {
    serving = { mode = "cdn", cdn_domain = ".example.com" }
  }
  expect_failures = [var.serving]
}

run "bad_serving_domain_dashes_3_and_4" {
  command = plan
  variables {
    serving = { mode = "cdn", cdn_domain = "ab--cd.example.com" }
  }
  expect_failures = [var.serving]
}

run "bad_serving_domain_suffix_tel" {
  command = plan
  variables {
    serving = { mode = "cdn", cdn_domain = "img.example.tel" }
  }
  expect_failures = [var.serving]
}

run "bad_serving_scope" {
  command = plan
  variables {
    serving = { mode = "cdn", cdn_domain = "img.example.com", cdn_scope = "europe" }
  }
  expect_failures = [var.serving]
}

run "serving_cdn_plans" {
  command = plan
  variables {
    serving = { mode = "cdn", cdn_domain = "img.example.com", cdn_scope = "global" }
  }
  assert {
    condition     = output.serving_mode == "cdn" && output.cdn_domain == "img.example.com"
    error_message = "cdn mode must name its domain"
  }
  assert {
    condition     = output.variants_base_url == "http://img.example.com/"
    error_message = "without a certificate the variants are on http://<domain>/"
  }
}

run "bad_serving_domain_too_long" {
  command = plan
  variables {
    # 68 characters: alicloud_cdn_domain_config takes 5-67
    serving = { mode = "cdn", cdn_domain = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com" }
  }
  expect_failures = [var.serving]
}
