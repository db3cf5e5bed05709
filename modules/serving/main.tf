# How apps and browsers read the variants (docs/serving.md). The target
# bucket stays private in every mode (modules/storage: private ACL, public
# access blocked); this module only adds what a mode needs:
#
# - none: nothing. Apps read through their own backend with OSS credentials.
# - signed_url: nothing in the cloud either (it costs nothing); the app signs
#   GET URLs with a RAM identity that holds `signer_policy` (oss:GetObject on
#   the variants' prefix, nothing else) and hands them to browsers.
# - cdn: a CDN domain with the target bucket as its OSS origin, fetching from
#   the private bucket with CDN's own signed requests ("private bucket origin").
#
# Only the cdn mode creates resources, and only it costs money by itself
# (CDN traffic and requests; docs/serving.md, "What it costs").

locals {
  cdn = var.mode == "cdn"
  oss = "acs:oss:*:${var.account_id}"

  # The variants and nothing else: a signer (signed_url) or the CDN's origin
  # role may read what the function wrote under key_template's literal prefix.
  read_variants = {
    Version = "1"
    Statement = [
      {
        Sid      = "ReadVariants"
        Effect   = "Allow"
        Action   = ["oss:GetObject"]
        Resource = ["${local.oss}:${var.target_bucket}/${var.variants_prefix}*"]
      },
    ]
  }
  bucket_host = "${var.target_bucket}.oss-${var.region}.aliyuncs.com"
  scheme      = var.cdn_cert_id == null ? "http" : "https"
}

# The accelerated domain, its origin the target bucket's public endpoint
# (CDN fetches over HTTPS, port 443). Schema: aliyun/terraform-provider-alicloud
# alicloud/resource_alicloud_cdn_domain_new.go at v1.289.0 (commit 28ee93bc),
# lines 31-152: `sources` is a required set of {type, content, port, priority,
# weight}, type "oss" (line 121), port default 80, priority 0-100 (131).
# cdn_type "web": "images and small files" (ROS ALIYUN::CDN::Domain, CdnType).
resource "alicloud_cdn_domain_new" "variants" {
  count = local.cdn ? 1 : 0

  domain_name = var.cdn_domain
  cdn_type    = "web"
  scope       = var.cdn_scope
  tags        = var.tags

  sources {
    type     = "oss"
    content  = local.bucket_host
    port     = 443
    priority = 20
    weight   = 10
  }

  dynamic "certificate_config" {
    for_each = var.cdn_cert_id == null ? [] : [var.cdn_cert_id]
    content {
      cert_id                   = certificate_config.value
      cert_type                 = "cas"
      server_certificate_status = "on"
    }
  }

  lifecycle {
    # The function refreshes this domain's caches through CDN's API at
    # cdn.aliyuncs.com, a public endpoint (we found no internal one): without
    # internet access every refresh would time out (docs/serving.md).
    precondition {
      condition     = var.function_internet_access
      error_message = "serving.mode = \"cdn\" needs internet_access = true: the function refreshes the CDN's cached variants through CDN's public API endpoint, cdn.aliyuncs.com (docs/serving.md)."
    }
  }
}

# "Origin fetch from private OSS buckets": CDN signs each origin request
# (an `Authorization` header) with the credentials of the account's role
# AliyunCDNAccessingPrivateOSSRole, so the bucket needs no public read (CDN
# user guide, "Configure origin fetch from private OSS buckets"). As a
# domain config it is the function `l2_oss_key` with `private_oss_auth = on`:
# the provider's own acceptance test, alicloud/resource_alicloud_cdn_domain_config_test.go
# at v1.289.0, lines 1115-1161 (TestAccAliCloudCDNDomainConfig_l2_oss_key);
# the arguments CDN adds itself (private_oss_tbl, private_oss_ram_unauthorized)
# are ignored on read (resource_alicloud_cdn_domain_config.go, line 269).
resource "alicloud_cdn_domain_config" "private_origin" {
  count = local.cdn ? 1 : 0

  domain_name   = alicloud_cdn_domain_new.variants[0].domain_name
  function_name = "l2_oss_key"

  function_args {
    arg_name  = "private_oss_auth"
    arg_value = "on"
  }
}

# The role CDN assumes for private origins is one per account, normally
# created by the console's one-click authorization with the system policy
# AliyunCDNAccessingPrivateOSSRolePolicy ("read-only access to all OSS
# buckets that belong to your Alibaba Cloud account"). With
# create_cdn_origin_role this stack creates it instead, allowed to read this
# bucket's variants only: then this stack owns an account-wide role (one
# stack per account may set it; docs/serving.md).
resource "alicloud_ram_role" "cdn_origin" {
  count = local.cdn && var.create_cdn_origin_role ? 1 : 0

  role_name = "AliyunCDNAccessingPrivateOSSRole"
  assume_role_policy_document = jsonencode({
    Version = "1"
    Statement = [
      {
        Effect    = "Allow"
        Action    = "sts:AssumeRole"
        Principal = { Service = ["cdn.aliyuncs.com"] }
      },
    ]
  })
  description = "CDN origin fetch from the image pipeline's private variants (imgpipe)."
  tags        = var.tags
}

resource "alicloud_ram_policy" "cdn_origin" {
  count = local.cdn && var.create_cdn_origin_role ? 1 : 0

  policy_name     = "${var.target_bucket}-cdn-origin"
  policy_document = jsonencode(local.read_variants)
  rotate_strategy = "DeleteOldestNonDefaultVersionWhenLimitExceeded"
  description     = "CDN may read the image pipeline's variants, nothing else."
  tags            = var.tags
}

resource "alicloud_ram_role_policy_attachment" "cdn_origin" {
  count = local.cdn && var.create_cdn_origin_role ? 1 : 0

  role_name   = alicloud_ram_role.cdn_origin[0].role_name
  policy_name = alicloud_ram_policy.cdn_origin[0].policy_name
  policy_type = "Custom"
}
