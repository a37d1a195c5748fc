output "api_url" {
  description = "The greeter's URL."
  value       = aws_apigatewayv2_api.greeter.api_endpoint
}

output "event_bus_name" {
  description = "Where `User Call` events go."
  value       = aws_cloudwatch_event_bus.volley.name
}

output "function_names" {
  description = "Each function's Lambda name."
  value       = { for name, function in aws_lambda_function.function : name => function.function_name }
}

output "results_queue_url" {
  description = "The results queue (workers to the archiver)."
  value       = aws_sqs_queue.results.url
}

output "dead_letter_queue_urls" {
  description = "Where failed results and failed User Call events wait."
  value = {
    results = aws_sqs_queue.results_dlq.url
    worker  = aws_sqs_queue.worker_dlq.url
  }
}

output "results_bucket" {
  description = "Results, overflow and stored runs."
  value       = aws_s3_bucket.results.bucket
}

output "home_region" {
  description = "The orchestrator's home region, as configured."
  value       = var.home_region
}

output "stack_outputs" {
  description = "What `volley run --outputs` reads, named as template.yaml's outputs. `make outputs` merges each region's into one file: the home region's by name, another's as <Name>@<region>."
  value = {
    Prefix                   = var.prefix
    StackRegion              = var.region
    OrchestratorFunctionName = aws_lambda_function.function["orchestrator"].function_name
    WorkerFunctionName       = aws_lambda_function.function["worker"].function_name
    ArchiverFunctionName     = aws_lambda_function.function["archiver"].function_name
    ResultsBucketName        = aws_s3_bucket.results.bucket
    CallsTableName           = aws_dynamodb_table.calls.name
    TestsTableName           = aws_dynamodb_table.tests.name
    DomainsTableName         = aws_dynamodb_table.domains.name
    OrchestrationTableName   = aws_dynamodb_table.orchestration.name
    EventBusName             = aws_cloudwatch_event_bus.volley.name
  }
}
