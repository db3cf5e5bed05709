output "mode" {
  description = "none, signed_url or cdn."
  value       = var.mode
}

output "variants_base_url" {
  description = "Prefix of every variant's URL (append the percent-encoded key): the CDN domain in cdn mode, the bucket's endpoint in signed_url mode (sign each URL), null in none mode."
  value = (
    var.mode == "cdn" ? "${local.scheme}://${one(alicloud_cdn_domain_new.variants[*].domain_name)}/" :
    var.mode == "signed_url" ? "https://${local.bucket_host}/" : null
  )
}

output "cdn_domain" {
  description = "The CDN domain (cdn mode), else null."
  value       = one(alicloud_cdn_domain_new.variants[*].domain_name)
}

output "cdn_cname" {
  description = "The CNAME target to point cdn_domain's DNS record at (cdn mode), else null."
  value       = one(alicloud_cdn_domain_new.variants[*].cname)
}

output "signer_policy" {
  description = "RAM policy (JSON) for the identity that signs variant URLs: oss:GetObject on the variants' prefix only (signed_url mode), else null."
  value       = var.mode == "signed_url" ? jsonencode(local.read_variants) : null
}
