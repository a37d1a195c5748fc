# Log groups with retention: one per function (their JSON logs) and the API's access log.

resource "aws_cloudwatch_log_group" "function" {
  for_each = local.functions

  name              = "/aws/lambda/${var.prefix}-${each.key}"
  retention_in_days = var.log_retention_days

  #checkov:skip=CKV_AWS_158:Logs are encrypted by CloudWatch Logs' own keys; they hold no secrets.
}

resource "aws_cloudwatch_log_group" "api" {
  name              = "/aws/apigateway/${var.prefix}-greeter"
  retention_in_days = var.log_retention_days

  #checkov:skip=CKV_AWS_158:Access logs are encrypted by CloudWatch Logs' own keys; they hold no secrets.
}
