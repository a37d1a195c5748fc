# An Athena workgroup and a Glue crawler over run-load's stored runs (s3://<results>/runs/tag=…/dt=…/), so
# people can query the history; run-load itself compares through its DynamoDB index, never through SQL.

resource "aws_glue_catalog_database" "runs" {
  name = replace("${var.prefix}_runs", "-", "_")
}

data "aws_iam_policy_document" "glue_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "crawler" {
  name               = "${var.prefix}-runs-crawler"
  assume_role_policy = data.aws_iam_policy_document.glue_assume.json
}

resource "aws_iam_role_policy_attachment" "crawler_service" {
  role       = aws_iam_role.crawler.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole"
}

data "aws_iam_policy_document" "crawler" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.results.arn}/runs/*"]
  }
  statement {
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.results.arn]
  }
}

resource "aws_iam_role_policy" "crawler" {
  name   = "read-runs"
  role   = aws_iam_role.crawler.id
  policy = data.aws_iam_policy_document.crawler.json
}

resource "aws_glue_security_configuration" "runs" {
  name = "${var.prefix}-runs"

  encryption_configuration {
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "DISABLED"
    }
    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "DISABLED"
    }
    s3_encryption {
      s3_encryption_mode = "SSE-S3"
    }
  }

  #checkov:skip=CKV_AWS_99:The crawler writes no job bookmarks and its logs hold table names only; CloudWatch and bookmark encryption would need a customer-managed key.
}

resource "aws_glue_crawler" "runs" {
  name                   = "${var.prefix}-runs"
  database_name          = aws_glue_catalog_database.runs.name
  role                   = aws_iam_role.crawler.arn
  schedule               = "cron(15 3 * * ? *)"
  security_configuration = aws_glue_security_configuration.runs.name

  s3_target {
    path = "s3://${aws_s3_bucket.results.bucket}/runs/"
  }
}

resource "aws_athena_workgroup" "runs" {
  name = "${var.prefix}-runs"

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true

    result_configuration {
      output_location = "s3://${aws_s3_bucket.results.bucket}/athena-results/"
      encryption_configuration {
        encryption_option = "SSE_S3"
      }
    }
  }
}
