# The stack (modules/imgpipe, each run's module) under `terraform test`, so
# that runs can assert on its locals and submodules; against a mocked provider: no
# cloud, no credentials. With the real provider (the user's CI: `terraform
# init -backend=false && terraform test`) the same runs check the
# configuration against the real schema; here `make tf-test` serves the
# schema from the stand-in in tests/tfprovider/.
#
# Every run plans only: a plan is what a pull request reviews, and the
# mock's invented values would prove nothing after an apply.

mock_provider "alicloud" {}

override_data {
  target = data.alicloud_account.current
  values = { id = "1234567890123456" }
}

variables {
  env = "dev"
  # Relative to the module under test, which is path.root in these runs.
  package_dir = "../../tests/data/tf-package"
}

run "dev_defaults" {
  command = plan

  module {
    source = "./modules/imgpipe"
  }

  assert {
    condition     = output.source_bucket == "imgpipe-dev-src-1234567890123456"
    error_message = "the source bucket's name comes from the prefix, env and the account read from the provider"
  }
  assert {
    condition     = output.target_bucket == "imgpipe-dev-out-1234567890123456" && output.logs_bucket == "imgpipe-dev-log-1234567890123456"
    error_message = "target and access-log buckets are named like the source bucket"
  }
  assert {
    condition     = length(module.alarms) == 0
    error_message = "dev has no alarms by default"
  }
  assert {
    condition     = output.package_checksum == jsondecode(file("tests/data/tf-package/function.json")).crc64
    error_message = "the function's code checksum is the package manifest's crc64"
  }
  assert {
    condition     = output.queue_arn == "acs:mns:cn-hangzhou:1234567890123456:/queues/imgpipe-dev-dead-letters/messages"
    error_message = "the async dead-letter destination is the queue's messages ARN"
  }
  assert {
    condition     = local.processor_config.watermark.text == "imgpipe"
    error_message = "the watermark is on by default"
  }
}

run "prod" {
  command = plan

  module {
    source = "./modules/imgpipe"
  }

  variables {
    env = "prod"
  }

  assert {
    condition     = length(module.alarms) == 1
    error_message = "prod has alarms by default"
  }
  assert {
    condition     = output.source_bucket == "imgpipe-prod-src-1234567890123456"
    error_message = "prod's buckets carry the env in their names"
  }
  assert {
    condition     = output.function_name == "imgpipe-prod-images" && output.queue_name == "imgpipe-prod-dead-letters"
    error_message = "prod's function and queue carry the env in their names"
  }
}

run "alarms_on_in_dev" {
  command = plan

  module {
    source = "./modules/imgpipe"
  }

  variables {
    enable_alarms = true
  }

  assert {
    condition     = length(module.alarms) == 1
    error_message = "enable_alarms = true turns alarms on outside prod"
  }
}

run "alarms_off_in_prod" {
  command = plan

  module {
    source = "./modules/imgpipe"
  }

  variables {
    env           = "prod"
    enable_alarms = false
  }

  assert {
    condition     = length(module.alarms) == 0
    error_message = "enable_alarms = false turns prod's alarms off"
  }
}

run "custom_variants" {
  command = plan

  module {
    source = "./modules/imgpipe"
  }

  variables {
    variants = [
      { name = "hero", width = 2048, formats = ["jpeg", "webp", "avif"] },
      { name = "thumb", width = 200, height = 200, formats = ["webp"] },
    ]
    key_template = "variants/{variant}/{dir}{stem}.{ext}"
  }

  assert {
    condition = (
      [for arn in jsondecode(module.iam.policy_document).Statement[1].Resource : split(":", arn)[4]] ==
      [
        "imgpipe-dev-out-1234567890123456/variants/*",
        "imgpipe-dev-out-1234567890123456/rejected/*",
      ]
    )
    error_message = "the function may write under key_template's literal prefix and the rejection prefix, one ARN each"
  }
  assert {
    condition     = [for v in local.processor_config.variants : v.name] == ["hero", "thumb"]
    error_message = "the handler's configuration lists the custom variants in order"
  }
  assert {
    condition     = local.processor_config.variants[0].formats == tolist(["jpeg", "webp", "avif"]) && !contains(keys(local.processor_config.variants[0]), "height")
    error_message = "a variant keeps its formats and leaves out the dimensions it does not set"
  }
}

run "code_from_oss" {
  command = plan

  module {
    source = "./modules/imgpipe"
  }

  variables {
    package_dir     = "no-such-directory"
    code_oss_bucket = "imgpipe-artifacts"
    code_oss_object = "function-0123abcd.zip"
  }

  assert {
    condition     = output.package_checksum == null
    error_message = "with code in OSS no local manifest is read (package_dir is never opened)"
  }
}

run "watermark_off" {
  command = plan

  module {
    source = "./modules/imgpipe"
  }

  variables {
    watermark = { text = "" }
  }

  assert {
    condition     = local.processor_config.watermark == null
    error_message = "an empty watermark text sends no watermark to the handler"
  }
}

run "explicit_account_id" {
  command = plan

  module {
    source = "./modules/imgpipe"
  }

  variables {
    account_id = "5555555555555555"
  }

  assert {
    condition     = output.source_bucket == "imgpipe-dev-src-5555555555555555"
    error_message = "an explicit account_id is used instead of the provider's account"
  }
}

# A second stack in the same account: another name_prefix must not collide
# with the first on any globally or account-unique name.
run "second_stack" {
  command = plan

  module {
    source = "./modules/imgpipe"
  }

  variables {
    name_prefix = "photos"
  }

  assert {
    condition = alltrue([
      output.source_bucket != run.dev_defaults.source_bucket,
      output.target_bucket != run.dev_defaults.target_bucket,
      output.logs_bucket != run.dev_defaults.logs_bucket,
      output.function_name != run.dev_defaults.function_name,
      output.queue_name != run.dev_defaults.queue_name,
      output.log_project != run.dev_defaults.log_project,
      module.iam.role_name != "imgpipe-dev-function",
    ])
    error_message = "a second stack in the account shares no name with the first"
  }
}

run "deletions_follow_the_source" {
  command = plan

  module {
    source = "./modules/imgpipe"
  }

  assert {
    condition     = contains(jsondecode(output.event_filter_pattern).type, "oss:ObjectRemoved:DeleteObject") && contains(jsondecode(output.event_filter_pattern).type, "oss:ObjectRemoved:DeleteObjects")
    error_message = "delete_variants_with_source (default true) routes DeleteObject and DeleteObjects"
  }
  assert {
    condition     = length([for s in jsondecode(module.iam.policy_document).Statement : s if contains(s.Action, "oss:DeleteObject")]) == 1
    error_message = "one statement grants oss:DeleteObject (on the outputs only)"
  }
}

run "deletions_not_followed" {
  command = plan

  module {
    source = "./modules/imgpipe"
  }

  variables {
    delete_variants_with_source = false
  }

  assert {
    condition     = length([for t in jsondecode(output.event_filter_pattern).type : t if startswith(t, "oss:ObjectRemoved:")]) == 0
    error_message = "with delete_variants_with_source = false no deletion is routed"
  }
  assert {
    condition     = length([for s in jsondecode(module.iam.policy_document).Statement : s if contains(s.Action, "oss:DeleteObject")]) == 0
    error_message = "with delete_variants_with_source = false the role may delete nothing"
  }
}

# max_megapixels against memory_mb (modules/imgpipe/outputs.tf, pipeline_config's precondition):
# a plan refuses a pixel limit the instance's memory cannot hold (issue 22).
run "pixel_limit_over_the_memory" {
  command = plan
  module {
    source = "./modules/imgpipe"
  }
  variables {
    memory_mb      = 256
    max_megapixels = 100
  }
  expect_failures = [output.pipeline_config]
}

run "pixel_limit_the_memory_holds" {
  command = plan
  module {
    source = "./modules/imgpipe"
  }
  variables {
    memory_mb      = 256
    max_megapixels = 24
  }
}

run "defaults_hold" {
  command = plan
  module {
    source = "./modules/imgpipe"
  }
}
