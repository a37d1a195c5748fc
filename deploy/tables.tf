# DynamoDB tables: on demand, point-in-time recovery, encryption at rest, TTL where data expires, and the
# indexes the code queries. Names and keys match template.yaml and crates/core/src/adapters/*_schema.

resource "aws_dynamodb_table" "birthdays" {
  name         = "${var.prefix}-birthdays"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  #checkov:skip=CKV_AWS_119:Encrypted with the AWS-managed key; a customer-managed key would add a key policy and grants to every role for no gain here.
}

resource "aws_dynamodb_table" "calls" {
  name         = "${var.prefix}-calls"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  #checkov:skip=CKV_AWS_119:Encrypted with the AWS-managed key; a customer-managed key would add a key policy and grants to every role for no gain here.
}

resource "aws_dynamodb_table" "tests" {
  name         = "${var.prefix}-tests"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "testKey"

  attribute {
    name = "testKey"
    type = "S"
  }

  attribute {
    name = "activeDay"
    type = "S"
  }

  attribute {
    name = "lastResultAt"
    type = "N"
  }

  # The metrics-saver finds the tests with recent results here, without a scan.
  global_secondary_index {
    name            = "byActiveDay"
    hash_key        = "activeDay"
    range_key       = "lastResultAt"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  #checkov:skip=CKV_AWS_119:Encrypted with the AWS-managed key; a customer-managed key would add a key policy and grants to every role for no gain here.
}

resource "aws_dynamodb_table" "domains" {
  name         = "${var.prefix}-domains"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "organisationId"
  range_key    = "domain"

  attribute {
    name = "organisationId"
    type = "S"
  }

  attribute {
    name = "domain"
    type = "S"
  }

  attribute {
    name = "status"
    type = "S"
  }

  attribute {
    name = "dueAt"
    type = "N"
  }

  # The domain-validator's work list: sparse (only pending and validated records have dueAt), read in due
  # order by each sweep instead of scanning the table.
  global_secondary_index {
    name            = "status-dueAt"
    hash_key        = "status"
    range_key       = "dueAt"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  #checkov:skip=CKV_AWS_119:Encrypted with the AWS-managed key; a customer-managed key would add a key policy and grants to every role for no gain here.
}

resource "aws_dynamodb_table" "metrics" {
  name         = "${var.prefix}-metrics"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "series"
  range_key    = "second"

  attribute {
    name = "series"
    type = "S"
  }

  attribute {
    name = "second"
    type = "N"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  #checkov:skip=CKV_AWS_119:Encrypted with the AWS-managed key; a customer-managed key would add a key policy and grants to every role for no gain here.
}

resource "aws_dynamodb_table" "orchestration" {
  name         = "${var.prefix}-orchestration"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "testKey"

  attribute {
    name = "testKey"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  #checkov:skip=CKV_AWS_119:Encrypted with the AWS-managed key; a customer-managed key would add a key policy and grants to every role for no gain here.
}

resource "aws_dynamodb_table" "runs" {
  name         = "${var.prefix}-runs"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "tagKey"
  range_key    = "run"

  attribute {
    name = "tagKey"
    type = "S"
  }

  attribute {
    name = "run"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  #checkov:skip=CKV_AWS_119:Encrypted with the AWS-managed key; a customer-managed key would add a key policy and grants to every role for no gain here.
}
