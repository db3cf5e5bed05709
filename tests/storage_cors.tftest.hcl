# Browser access to the buckets (docs/uploading.md): with cors_allowed_origins
# set, the source bucket takes POST and PUT from those origins (the PostObject
# upload) and the target bucket GET and HEAD (the page reads its upload's
# ready manifest with fetch); without it, neither bucket has a CORS rule.
# Plans only, against a mocked provider.

mock_provider "alicloud" {}

variables {
  name_prefix                        = "imgpipe"
  env                                = "dev"
  name_suffix                        = "1234567890123456"
  source_prefix                      = "uploads/"
  variants_prefix                    = "resized/"
  upload_expiration_days             = 30
  variants_ia_days                   = 30
  noncurrent_version_expiration_days = 7
  abort_multipart_days               = 7
  access_log_retention_days          = 90
  force_destroy                      = false
  tags                               = {}
}

run "cors_for_browser_uploads" {
  command = plan

  module {
    source = "./modules/storage"
  }

  variables {
    cors_allowed_origins = ["https://app.example.com"]
  }

  assert {
    condition     = alicloud_oss_bucket.source.cors_rule[0].allowed_methods == tolist(["PUT", "POST"]) && alicloud_oss_bucket.source.cors_rule[0].allowed_origins == tolist(["https://app.example.com"])
    error_message = "the source bucket takes browser uploads (PUT, POST) from the listed origins"
  }
  assert {
    condition     = alicloud_oss_bucket.target.cors_rule[0].allowed_methods == tolist(["GET", "HEAD"]) && alicloud_oss_bucket.target.cors_rule[0].allowed_origins == tolist(["https://app.example.com"])
    error_message = "the target bucket lets the same origins read (GET, HEAD): the ready manifest"
  }
  assert {
    condition     = contains(alicloud_oss_bucket.source.cors_rule[0].expose_headers, "ETag")
    error_message = "the upload's ETag is readable by the page: it identifies its ready manifest"
  }
}

run "no_cors_by_default" {
  command = plan

  module {
    source = "./modules/storage"
  }

  variables {
    cors_allowed_origins = [] # the stack's default (variables.tf)
  }

  assert {
    condition     = length(alicloud_oss_bucket.source.cors_rule) == 0 && length(alicloud_oss_bucket.target.cors_rule) == 0
    error_message = "without cors_allowed_origins neither bucket answers browsers from other origins"
  }
}
