# Three buckets: uploads (source), variants (target) and their access logs;
# a fourth for the function's code package when the module uploads it
# (code_bucket: the package reaches FC through OSS, docs/limits.md).
#
# Versioning, encryption, logging, CORS and lifecycle are inline blocks of
# alicloud_oss_bucket: they are not deprecated, `lifecycle_rule` exists only
# inline, and checkov's OSS checks read these blocks (not the split-out
# resources). The ACL and the public access block are separate resources
# (inline `acl` is deprecated; the block has no inline form). The buckets
# leave `acl` unset, and it is Optional+Computed in the provider's schema
# (resource_alicloud_oss_bucket.go at v1.289.0), so the ACL resource's value
# read back is no diff: no `ignore_changes = [acl]`, which made `terraform
# validate` warn "Deprecated attribute" once per bucket.

locals {
  names = {
    source = "${var.name_prefix}-${var.env}-src-${var.name_suffix}"
    target = "${var.name_prefix}-${var.env}-out-${var.name_suffix}"
    logs   = "${var.name_prefix}-${var.env}-log-${var.name_suffix}"
    code   = "${var.name_prefix}-${var.env}-code-${var.name_suffix}"
  }
  sse = var.kms_key_id == null ? { algorithm = "AES256", key = null } : { algorithm = "KMS", key = var.kms_key_id }
}

resource "alicloud_oss_bucket" "logs" {
  # checkov:skip=CKV_ALI_11: transfer acceleration speeds up uploads from far away at extra cost per GB; uploads and the function are in one region, so it stays off (enable it on the bucket if your users are remote)
  # checkov:skip=CKV_ALI_6: encrypted at rest either way: OSS-managed AES256 by default (no key to manage, no KMS charge per request); set kms_key_id to use a customer master key
  bucket        = local.names.logs
  storage_class = "Standard"
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { role = "access-logs" })

  versioning {
    status = "Enabled"
  }

  server_side_encryption_rule {
    sse_algorithm     = local.sse.algorithm
    kms_master_key_id = local.sse.key
  }

  # The log bucket records its own access under a separate prefix.
  logging {
    target_bucket = local.names.logs
    target_prefix = "self/"
  }

  lifecycle_rule {
    id      = "expire-access-logs"
    enabled = true
    prefix  = ""
    expiration {
      days = var.access_log_retention_days
    }
    noncurrent_version_expiration {
      days = 1
    }
    abort_multipart_upload {
      days = var.abort_multipart_days
    }
  }
}

resource "alicloud_oss_bucket" "source" {
  # checkov:skip=CKV_ALI_11: transfer acceleration speeds up uploads from far away at extra cost per GB; uploads and the function are in one region, so it stays off (enable it on the bucket if your users are remote)
  # checkov:skip=CKV_ALI_6: encrypted at rest either way: OSS-managed AES256 by default (no key to manage, no KMS charge per request); set kms_key_id to use a customer master key
  bucket        = local.names.source
  storage_class = "Standard"
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { role = "uploads" })

  versioning {
    status = "Enabled"
  }

  server_side_encryption_rule {
    sse_algorithm     = local.sse.algorithm
    kms_master_key_id = local.sse.key
  }

  logging {
    target_bucket = alicloud_oss_bucket.logs.bucket
    target_prefix = "source/"
  }

  dynamic "cors_rule" {
    for_each = length(var.cors_allowed_origins) > 0 ? [1] : []
    content {
      allowed_origins = var.cors_allowed_origins
      allowed_methods = ["PUT", "POST"]
      allowed_headers = ["*"]
      expose_headers  = ["ETag", "x-oss-request-id"]
      max_age_seconds = 3600
    }
  }

  lifecycle_rule {
    id      = "uploads"
    enabled = true
    prefix  = var.source_prefix
    expiration {
      days = var.upload_expiration_days
    }
    noncurrent_version_expiration {
      days = var.noncurrent_version_expiration_days
    }
    abort_multipart_upload {
      days = var.abort_multipart_days
    }
  }
}

resource "alicloud_oss_bucket" "target" {
  # checkov:skip=CKV_ALI_11: transfer acceleration speeds up uploads from far away at extra cost per GB; uploads and the function are in one region, so it stays off (enable it on the bucket if your users are remote)
  # checkov:skip=CKV_ALI_6: encrypted at rest either way: OSS-managed AES256 by default (no key to manage, no KMS charge per request); set kms_key_id to use a customer master key
  bucket        = local.names.target
  storage_class = "Standard"
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { role = "variants" })

  # Variants are derived data, but versioning keeps a bad deploy from
  # destroying the previous good outputs; old versions expire quickly.
  versioning {
    status = "Enabled"
  }

  server_side_encryption_rule {
    sse_algorithm     = local.sse.algorithm
    kms_master_key_id = local.sse.key
  }

  logging {
    target_bucket = alicloud_oss_bucket.logs.bucket
    target_prefix = "target/"
  }

  # A browser reads its upload's "ready" manifest with fetch (docs/uploading.md):
  # GET and HEAD from the same origins that may upload; <img> needs no CORS.
  dynamic "cors_rule" {
    for_each = length(var.cors_allowed_origins) > 0 ? [1] : []
    content {
      allowed_origins = var.cors_allowed_origins
      allowed_methods = ["GET", "HEAD"]
      allowed_headers = ["*"]
      expose_headers  = ["ETag", "x-oss-request-id"]
      max_age_seconds = 3600
    }
  }

  lifecycle_rule {
    id      = "variants-to-ia"
    enabled = true
    prefix  = var.variants_prefix
    transitions {
      days          = var.variants_ia_days
      storage_class = "IA"
    }
  }

  lifecycle_rule {
    id      = "housekeeping"
    enabled = true
    prefix  = ""
    noncurrent_version_expiration {
      days = var.noncurrent_version_expiration_days
    }
    abort_multipart_upload {
      days = var.abort_multipart_days
    }
  }
}

resource "alicloud_oss_bucket" "code" {
  # checkov:skip=CKV_ALI_11: transfer acceleration speeds up uploads from far away at extra cost per GB; uploads and the function are in one region, so it stays off (enable it on the bucket if your users are remote)
  # checkov:skip=CKV_ALI_6: encrypted at rest either way: OSS-managed AES256 by default (no key to manage, no KMS charge per request); set kms_key_id to use a customer master key
  count         = var.code_bucket ? 1 : 0
  bucket        = local.names.code
  storage_class = "Standard"
  force_destroy = true # holds only packages Terraform uploaded, each also in dist/
  tags          = merge(var.tags, { role = "function-code" })

  # One object per package (its sha256 in the key): a new package replaces
  # the object, and the old one stays a noncurrent version for a day, for
  # an apply that is rolled back while FC still reads it.
  versioning {
    status = "Enabled"
  }

  server_side_encryption_rule {
    sse_algorithm     = local.sse.algorithm
    kms_master_key_id = local.sse.key
  }

  logging {
    target_bucket = alicloud_oss_bucket.logs.bucket
    target_prefix = "code/"
  }

  lifecycle_rule {
    id      = "housekeeping"
    enabled = true
    prefix  = ""
    noncurrent_version_expiration {
      days = 1
    }
    abort_multipart_upload {
      days = var.abort_multipart_days
    }
  }
}

locals {
  buckets = {
    for role, bucket in {
      logs   = alicloud_oss_bucket.logs.bucket
      source = alicloud_oss_bucket.source.bucket
      target = alicloud_oss_bucket.target.bucket
      code   = var.code_bucket ? local.names.code : null # depends_on below: after the bucket
    } : role => bucket if bucket != null
  }
}

resource "alicloud_oss_bucket_acl" "this" {
  for_each = local.buckets
  bucket   = each.value
  acl      = "private"

  depends_on = [alicloud_oss_bucket.code]
}

resource "alicloud_oss_bucket_public_access_block" "this" {
  for_each            = local.buckets
  bucket              = each.value
  block_public_access = true

  depends_on = [alicloud_oss_bucket.code]
}
