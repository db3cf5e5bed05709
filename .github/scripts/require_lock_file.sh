#!/usr/bin/env bash
# Fail with the one-time instruction when .terraform.lock.hcl is missing.
#
# CI runs `terraform init -lockfile=readonly`: plan and apply install exactly
# the provider builds the lock file names, so a provider release between a
# pull request's plan and its apply cannot change the provider (without it
# the apply's init picks the newer release and Terraform refuses the saved
# plan: "Inconsistent dependency lock file"). The hashes can only be made
# where the registry is reachable, so the user makes them once (docs/ci.md,
# "Provider lock file").
set -euo pipefail
lock="${1:-.terraform.lock.hcl}"
if [ ! -f "$lock" ]; then
  echo "::error file=.terraform.lock.hcl::No provider lock file. Create it once, on your machine, and commit it:"
  echo "  terraform init -backend=false"
  echo "  terraform providers lock -platform=linux_amd64 -platform=darwin_arm64 -platform=darwin_amd64 -platform=windows_amd64"
  echo "  git add .terraform.lock.hcl && git commit -m 'Provider lock file'"
  echo "(docs/ci.md, \"Provider lock file\"; the same command, run again, updates it after a version change)"
  exit 1
fi
if ! grep -q 'provider "registry.terraform.io/aliyun/alicloud"' "$lock"; then
  echo "::error file=.terraform.lock.hcl::The lock file has no aliyun/alicloud entry: run terraform providers lock again (docs/ci.md, \"Provider lock file\")."
  exit 1
fi
echo "provider lock file: $(grep -c '^provider ' "$lock") provider(s) pinned"
