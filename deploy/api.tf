# The greeter behind an API Gateway HTTP API, with access logs and throttling.

resource "aws_apigatewayv2_api" "greeter" {
  name          = "${var.prefix}-greeter"
  protocol_type = "HTTP"
  description   = "The birthday REST API."
}

resource "aws_apigatewayv2_integration" "greeter" {
  api_id                 = aws_apigatewayv2_api.greeter.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.function["greeter"].invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 10000
}

# ANY, so that the function itself answers other methods with 405 and an Allow header.
resource "aws_apigatewayv2_route" "hello" {
  api_id    = aws_apigatewayv2_api.greeter.id
  route_key = "ANY /hello/{username}"
  target    = "integrations/${aws_apigatewayv2_integration.greeter.id}"

  #checkov:skip=CKV_AWS_309:The birthday API is public by design: it is the demo target and the deployment canary.
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.greeter.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = var.api_throttle.rate
    throttling_burst_limit = var.api_throttle.burst
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api.arn
    format = jsonencode({
      requestId      = "$context.requestId"
      ip             = "$context.identity.sourceIp"
      requestTime    = "$context.requestTime"
      httpMethod     = "$context.httpMethod"
      routeKey       = "$context.routeKey"
      status         = "$context.status"
      responseLength = "$context.responseLength"
      latency        = "$context.integrationLatency"
    })
  }
}

resource "aws_lambda_permission" "greeter_api" {
  statement_id  = "greeter-api"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.function["greeter"].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.greeter.execution_arn}/*/*/hello/{username}"
}
