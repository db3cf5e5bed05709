terraform {
  required_version = ">= 1.5.0"

  required_providers {
    alicloud = {
      source = "aliyun/alicloud"
      # >= 1.290.0 because of the async invoke config bug: up to v1.289.0 the
      # provider always sends an empty `onSuccess` destination, and FC rejects
      # an on_failure-only config ("destination can't be empty";
      # terraform-provider-alicloud issue #10031). The fix (PR #10298) was
      # merged on 2026-08-26, after v1.289.0, so 1.290.0 is the first release
      # that can carry it. Should a release turn out not to, the escape hatch
      # is `async_success_destination` (README, "Known provider issues").
      # fcv3 resources need >= 1.228.0, the public access block >= 1.224.0.
      version = ">= 1.290.0, < 2.0.0"
    }
  }

  # State lives in OSS, locked through Tablestore, because CI applies.
  # Partial configuration: `terraform init -backend-config=backend.hcl`
  # (see backend.hcl.example and README, "Remote state").
  backend "oss" {}
}
