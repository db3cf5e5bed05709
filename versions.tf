# The deployable root's Terraform settings: the provider's version
# constraint is the stack's (modules/imgpipe/versions.tf says why 1.292.0),
# and the state backend, which only a root module can declare.
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    alicloud = {
      source  = "aliyun/alicloud"
      version = ">= 1.292.0, < 2.0.0"
    }
  }

  # State lives in OSS, locked through Tablestore, because CI applies.
  # Partial configuration: `terraform init -backend-config=backend.hcl`
  # (see backend.hcl.example and docs/deploying.md, "Remote state").
  backend "oss" {}
}
