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
