# The results queue (workers to the archiver) with its dead-letter queue, and the worker's dead-letter queue.

resource "aws_sqs_queue" "results_dlq" {
  name                      = "${var.prefix}-results-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "results" {
  name = "${var.prefix}-results"
  # At least six times the archiver's timeout.
  visibility_timeout_seconds = 6 * local.functions["archiver"].timeout
  message_retention_seconds  = 345600
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.results_dlq.arn
    maxReceiveCount     = 5
  })
}

resource "aws_sqs_queue" "worker_dlq" {
  name                      = "${var.prefix}-worker-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

# EventBridge may send undeliverable User Call events to the worker's dead-letter queue.
data "aws_iam_policy_document" "worker_dlq" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.worker_dlq.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.user_call.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "worker_dlq" {
  queue_url = aws_sqs_queue.worker_dlq.id
  policy    = data.aws_iam_policy_document.worker_dlq.json
}
