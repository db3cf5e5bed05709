terraform {
  required_version = ">= 1.5.0"
  required_providers {
    alicloud = {
      source  = "aliyun/alicloud"
      version = ">= 1.292.0, < 2.0.0"
    }
  }
}
