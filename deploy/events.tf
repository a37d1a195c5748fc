# The event bus and the `User Call` rule to the worker, with a retry policy and a dead-letter queue.

resource "aws_cloudwatch_event_bus" "volley" {
  name = var.prefix
}

resource "aws_cloudwatch_event_rule" "user_call" {
  name           = "${var.prefix}-user-call"
  description    = "User Call events run the worker."
  event_bus_name = aws_cloudwatch_event_bus.volley.name
  event_pattern  = jsonencode({ "detail-type" = ["User Call"] })
}

resource "aws_cloudwatch_event_target" "worker" {
  rule           = aws_cloudwatch_event_rule.user_call.name
  event_bus_name = aws_cloudwatch_event_bus.volley.name
  arn            = aws_lambda_function.function["worker"].arn

  retry_policy {
    maximum_retry_attempts       = 4
    maximum_event_age_in_seconds = 3600
  }

  dead_letter_config {
    arn = aws_sqs_queue.worker_dlq.arn
  }
}

resource "aws_lambda_permission" "user_call" {
  statement_id  = "user-call"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.function["worker"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.user_call.arn
}
