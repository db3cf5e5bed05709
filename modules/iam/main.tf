# The function's role: trusted by Function Compute only, allowed exactly
# what the handler does. No wildcard actions, no "*" resource, no deletes:
# read the source prefix; write the output and rejection prefixes; send to
# the dead-letter queue (FC does so with the function's role when an
# asynchronous invocation finally fails); write its own logs.

locals {
  oss = "acs:oss:${var.region}:${var.account_id}"
  policy = {
    Version = "1"
    Statement = [
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
        Resource = [for p in var.write_prefixes : "${local.oss}:${var.target_bucket}/${p}*"]
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
    ]
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

resource "alicloud_ram_policy" "function" {
  policy_name     = var.name
  policy_document = jsonencode(local.policy)
  description     = "Least privilege for the image pipeline function."
  tags            = var.tags
}

resource "alicloud_ram_role_policy_attachment" "function" {
  role_name   = alicloud_ram_role.function.role_name
  policy_name = alicloud_ram_policy.function.policy_name
  policy_type = "Custom"
}
