# EventBridge Scheduler schedules for the metrics-saver and the domain-validator, and the role the
# orchestrator's one-time schedules of a test's later segments invoke it as.

locals {
  schedules = {
    metrics-saver    = { expression = var.metrics_saver_schedule, input = { action = "sweep" } }
    domain-validator = { expression = var.domain_validator_schedule, input = { action = "sweep" } }
  }
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  for_each = local.schedules

  name               = "${var.prefix}-${each.key}-schedule"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

data "aws_iam_policy_document" "scheduler" {
  for_each = local.schedules

  statement {
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.function[each.key].arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  for_each = local.schedules

  name   = "invoke-${each.key}"
  role   = aws_iam_role.scheduler[each.key].id
  policy = data.aws_iam_policy_document.scheduler[each.key].json
}

resource "aws_scheduler_schedule" "function" {
  for_each = local.schedules

  name                = "${var.prefix}-${each.key}-sweep"
  schedule_expression = each.value.expression

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.function[each.key].arn
    role_arn = aws_iam_role.scheduler[each.key].arn
    input    = jsonencode(each.value.input)

    retry_policy {
      maximum_retry_attempts = 0
    }
  }

  #checkov:skip=CKV_AWS_297:A schedule holds only its constant input ({"action": "sweep"}); EventBridge's own key encrypts it.
}

# The orchestrator makes a one-time schedule for each later segment of a test it starts (test-start); each
# invokes the orchestrator with the segment's segment-start, as this role.
resource "aws_iam_role" "segments" {
  name               = "${var.prefix}-segments-schedule"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

data "aws_iam_policy_document" "segments" {
  statement {
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.function["orchestrator"].arn]
  }
}

resource "aws_iam_role_policy" "segments" {
  name   = "invoke-orchestrator"
  role   = aws_iam_role.segments.id
  policy = data.aws_iam_policy_document.segments.json
}
