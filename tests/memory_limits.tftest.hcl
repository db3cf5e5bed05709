# max_megapixels against memory_mb (modules/imgpipe/outputs.tf, pipeline_config's precondition):
# a plan refuses a pixel limit the instance's memory cannot hold (issue 22).

mock_provider "alicloud" {}

override_data {
  target = data.alicloud_account.current
  values = { id = "1234567890123456" }
}

# The stack itself is each run's module, so its output's precondition is
# what the run expects to fail; package_dir is relative to it (path.root).
variables {
  env         = "dev"
  package_dir = "../../tests/data/tf-package"
}

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
