# The results bucket: every call's result (results/), overflow results in flight (overflow/), and run-load's
# stored runs (runs/tag=<tag>/dt=<date>/, which Athena reads). Versioned, encrypted, private, TLS only.

resource "aws_s3_bucket" "results" {
  bucket = "${var.prefix}-results-${data.aws_caller_identity.current.account_id}-${var.region}"

  #checkov:skip=CKV_AWS_144:Results are re-creatable load-test output; cross-region replication would double storage for no recovery need.
  #checkov:skip=CKV_AWS_18:Access logging would need a second bucket per region; CloudTrail data events cover audits when wanted.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to new objects; the archiver is driven by the results queue.
  #checkov:skip=CKV_AWS_145:Encrypted with S3-managed keys (SSE-S3); a customer-managed key would need grants on every role.
}

data "aws_caller_identity" "current" {}

resource "aws_s3_bucket_versioning" "results" {
  bucket = aws_s3_bucket.results.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "results" {
  bucket = aws_s3_bucket.results.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "results" {
  bucket                  = aws_s3_bucket.results.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "results" {
  bucket = aws_s3_bucket.results.id

  rule {
    id     = "overflow-is-transient"
    status = "Enabled"
    filter {
      prefix = "overflow/"
    }
    expiration {
      days = 7
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  rule {
    id     = "results-age-out"
    status = "Enabled"
    filter {
      prefix = "results/"
    }
    transition {
      days          = 30
      storage_class = "STANDARD_IA"
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
  }

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "results_tls_only" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.results.arn, "${aws_s3_bucket.results.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "results" {
  bucket = aws_s3_bucket.results.id
  policy = data.aws_iam_policy_document.results_tls_only.json
}
