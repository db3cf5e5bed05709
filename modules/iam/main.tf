# The function's role: trusted by Function Compute only, allowed exactly
# what the handler does. No wildcard actions, no "*" resource: read the
# source prefix; read (HEAD: is the work current?), write and, with
# delete_outputs, delete under the output and rejection prefixes only, never
# a source object; send to the dead-letter queue (FC does so with the
# function's role when an asynchronous invocation finally fails); write its
# own logs.

locals {
  # OSS resource ARNs carry `*` as the region: Alibaba's OSS policy documents
  # write `acs:oss:*:<account>:<bucket>/<prefix>*` ("Authorization syntax and
  # elements": "acs:oss:*:*:bucket-name/*"; the provider's ram_policy docs:
  # "acs:oss:*:1234567890000:mybucket"). A bucket name is unique worldwide,
  # so `*` grants nothing beyond the named bucket; a region-form ARN that OSS
  # did not match would deny every GetObject and PutObject.
  # docs/alibaba-cloud-review.md, point 5.
  oss = "acs:oss:*:${var.account_id}"

  # With a customer master key, OSS encrypts and decrypts each object with a
  # data key from KMS on the caller's behalf, so the role needs the key too
  # (point 10). Only that key, only these two actions.
  kms = var.kms_key_id == null ? [] : [
    {
      Sid      = "UseBucketKey"
      Effect   = "Allow"
      Action   = ["kms:GenerateDataKey", "kms:Decrypt"]
      Resource = ["acs:kms:${var.region}:${var.account_id}:key/${var.kms_key_id}"]
    },
  ]

  # HeadObject is authorised by oss:GetObject: reading its own outputs'
  # metadata is how the handler finds its work current (fc_handler/current.py).
  outputs = [for p in var.write_prefixes : "${local.oss}:${var.target_bucket}/${p}*"]

  deletes = var.delete_outputs ? [
    {
      Sid      = "DeleteVariantsOfDeletedSources"
      Effect   = "Allow"
      Action   = ["oss:DeleteObject"]
      Resource = local.outputs
    },
  ] : []

  # serving mode cdn: refresh the cached copies of variants it rewrote or
  # deleted (fc_handler/cdn.py), on that one domain. The resource form is
  # RefreshObjectCaches' own: "cdn:RefreshObjectCaches ... acs:cdn:*:{#accountId}:domain/{#DomainName}"
  # (CDN API reference, RefreshObjectCaches, help.aliyun.com/document_detail/91164.html).
  cdn = var.cdn_refresh_domain == "" ? [] : [
    {
      Sid      = "RefreshCachedVariants"
      Effect   = "Allow"
      Action   = ["cdn:RefreshObjectCaches"]
      Resource = ["acs:cdn:*:${var.account_id}:domain/${var.cdn_refresh_domain}"]
    },
  ]

  policy = {
    Version = "1"
    Statement = concat([
      {
        Sid      = "ReadUploads"
        Effect   = "Allow"
        Action   = ["oss:GetObject"]
        Resource = ["${local.oss}:${var.source_bucket}/${var.source_prefix}*"]
      },
      {
        Sid      = "WriteVariantsAndRejections"
        Effect   = "Allow"
        Action   = ["oss:PutObject"]
        Resource = local.outputs
      },
      {
        Sid      = "CheckVariantsAreCurrent"
        Effect   = "Allow"
        Action   = ["oss:GetObject"]
        Resource = local.outputs
      },
      {
        Sid    = "DeadLetter"
        Effect = "Allow"
        Action = ["mns:SendMessage"]
        Resource = [
          "acs:mns:${var.region}:${var.account_id}:/queues/${var.queue_name}",
          "acs:mns:${var.region}:${var.account_id}:/queues/${var.queue_name}/messages",
        ]
      },
      {
        Sid      = "OwnLogs"
        Effect   = "Allow"
        Action   = ["log:PostLogStoreLogs"]
        Resource = ["acs:log:${var.region}:${var.account_id}:project/${var.log_project}/logstore/${var.logstore}"]
      },
    ], local.deletes, local.kms, local.cdn)
  }
  trust = {
    Version = "1"
    Statement = [
      {
        Effect    = "Allow"
        Action    = "sts:AssumeRole"
        Principal = { Service = ["fc.aliyuncs.com"] }
      },
    ]
  }
}

resource "alicloud_ram_role" "function" {
  role_name                   = var.name
  assume_role_policy_document = jsonencode(local.trust)
  description                 = "Image pipeline function: reads uploads, writes variants, dead-letters failures."
  tags                        = var.tags
}

# A policy keeps at most five versions, and "the oldest version is not
# automatically deleted by default": without rotate_strategy the sixth edit
# of the document fails (provider docs, website/docs/r/ram_policy.html.markdown,
# line 21). Point 10.
resource "alicloud_ram_policy" "function" {
  policy_name     = var.name
  policy_document = jsonencode(local.policy)
  rotate_strategy = "DeleteOldestNonDefaultVersionWhenLimitExceeded"
  description     = "Least privilege for the image pipeline function."
  tags            = var.tags

  lifecycle {
    # RAM CreatePolicy: "PolicyDocument ... The maximum length is 6,144
    # characters" (docs/limits.md). Prefixes are capped in variables.tf so
    # the largest accepted values fit; this names the limit if they do not.
    precondition {
      condition     = length(jsonencode(local.policy)) <= 6144
      error_message = "The function's RAM policy would be ${length(jsonencode(local.policy))} characters; RAM allows 6,144 (docs/limits.md). Shorten source_prefix, key_template's literal prefix or rejected_prefix."
    }
  }
}

resource "alicloud_ram_role_policy_attachment" "function" {
  role_name   = alicloud_ram_role.function.role_name
  policy_name = alicloud_ram_policy.function.policy_name
  policy_type = "Custom"
}
