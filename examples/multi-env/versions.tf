# A configuration that configures the provider must name its source: a bare
# `provider "alicloud"` block means hashicorp/alicloud, another provider than
# the stack's aliyun/alicloud, which would then run unconfigured.
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    alicloud = {
      source  = "aliyun/alicloud"
      version = ">= 1.292.0, < 2.0.0"
    }
  }
}
