# The reusable stack declares what it needs and configures nothing: no
# provider block (a module with one cannot be called with for_each, count or
# depends_on: Terraform, "Providers Within Modules") and no backend (ignored
# in a called module). The repository root (../../main.tf) configures both.
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    alicloud = {
      source = "aliyun/alicloud"
      # >= 1.292.0 because of the async invoke config bug: up to v1.289.0 the
      # provider always sends an empty `onSuccess` destination, and FC rejects
      # an on_failure-only config ("destination can't be empty";
      # terraform-provider-alicloud issue #10031). The fix is PR #10298,
      # merged on 2026-08-26. The 1.290.0 notes were generated on 2026-08-25
      # (PR #10287, which also opened the 1.291.0 block), so 1.290.0 does not
      # list it and 1.291.0 is the first release whose notes can. We could not
      # read a CHANGELOG newer than 2026-08-22, so we require the first release
      # we can prove is later than the merge: 1.292.0 (its notes list PRs up
      # to #10391, opened long after #10298). docs/alibaba-cloud-review.md,
      # point 9. Should the create still fail, the escape hatch is
      # `async_success_destination` (README, "Known provider issues").
      # fcv3 resources need >= 1.228.0, the public access block >= 1.224.0.
      version = ">= 1.292.0, < 2.0.0"
    }
  }
}
