# The Lambda functions: one `bootstrap` per function (provided.al2023), packaged by `make build` into
# dist/<function>.zip. Each function's settings, environment and permissions are in `local.functions`; the
# consistency test (each function's tests/it/deploy.rs) holds them against the code.

data "aws_partition" "current" {}

locals {
  # The build deployed (VERSION, bumped by make version-build): in every function's description and the
  # `version` tag of every resource.
  version = trimspace(file("${path.module}/../VERSION"))

  # Where each organisation's header secrets live: /<prefix>/<organisation>/<name> (SecureStrings).
  secrets_parameters = "arn:${data.aws_partition.current.partition}:ssm:${var.region}:${data.aws_caller_identity.current.account_id}:parameter/${var.prefix}/*"
  # The orchestration table of every region (one stack per region, one name): a worker reads its test's stop
  # in the test's home region.
  orchestration_tables = "arn:${data.aws_partition.current.partition}:dynamodb:*:${data.aws_caller_identity.current.account_id}:table/${var.prefix}-orchestration"
  # The User Call bus of every region (one stack per region, one name): the orchestrator puts a test's calls
  # on the bus of each of its regions.
  event_buses = "arn:${data.aws_partition.current.partition}:events:*:${data.aws_caller_identity.current.account_id}:event-bus/${var.prefix}"
  # The one-time schedules of tests' later segments, in the default group, named after the prefix.
  segment_schedules = "arn:${data.aws_partition.current.partition}:scheduler:${var.region}:${data.aws_caller_identity.current.account_id}:schedule/default/${var.prefix}-*"

  functions = {
    greeter = {
      description = "The birthday REST API: Volley's demo target and deployment canary."
      memory      = 128
      timeout     = 10
      environment = {
        BIRTHDAYS_TABLE = aws_dynamodb_table.birthdays.name
      }
      statements = [
        { actions = ["dynamodb:GetItem", "dynamodb:PutItem"], resources = [aws_dynamodb_table.birthdays.arn] },
      ]
    }
    worker = {
      description = "Fires a User Call's requests at the asked rate and measures each."
      memory      = 512
      timeout     = 900
      environment = {
        CALLS_TABLE         = aws_dynamodb_table.calls.name
        TESTS_TABLE         = aws_dynamodb_table.tests.name
        DOMAINS_TABLE       = aws_dynamodb_table.domains.name
        RESULTS_QUEUE_URL   = aws_sqs_queue.results.url
        RESULTS_BUCKET      = aws_s3_bucket.results.bucket
        ALLOWED_TARGETS     = join(",", var.allowed_targets)
        SECRETS_ROOT        = "/${var.prefix}"
        ORCHESTRATION_TABLE = aws_dynamodb_table.orchestration.name
      }
      statements = [
        { actions = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"], resources = [aws_dynamodb_table.calls.arn] },
        # Its test's stop, in the test's home region: the orchestration table of that name in any region.
        { actions = ["dynamodb:GetItem"], resources = [local.orchestration_tables] },
        # A lost call is counted in its test's counters (in one transaction with its claim).
        { actions = ["dynamodb:UpdateItem"], resources = [aws_dynamodb_table.tests.arn] },
        { actions = ["dynamodb:GetItem"], resources = [aws_dynamodb_table.domains.arn] },
        { actions = ["sqs:SendMessage"], resources = [aws_sqs_queue.results.arn, aws_sqs_queue.worker_dlq.arn] },
        { actions = ["s3:PutObject"], resources = ["${aws_s3_bucket.results.arn}/overflow/*"] },
        # Header secrets by reference: each organisation's parameters under /<prefix>/<organisation>/, nothing else.
        { actions = ["ssm:GetParameter"], resources = [local.secrets_parameters] },
      ]
    }
    archiver = {
      description = "Archives results to S3, CloudWatch and DynamoDB."
      memory      = 256
      timeout     = 60
      environment = {
        CALLS_TABLE         = aws_dynamodb_table.calls.name
        TESTS_TABLE         = aws_dynamodb_table.tests.name
        RESULTS_BUCKET      = aws_s3_bucket.results.bucket
        ORCHESTRATION_TABLE = aws_dynamodb_table.orchestration.name
      }
      statements = [
        {
          actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:ConditionCheckItem", "dynamodb:BatchGetItem"]
          resources = [aws_dynamodb_table.calls.arn, aws_dynamodb_table.tests.arn]
        },
        # An abort rule that held stops its test, in the test's home region: the orchestration table of that
        # name in any region.
        { actions = ["dynamodb:UpdateItem"], resources = [local.orchestration_tables] },
        { actions = ["s3:PutObject", "s3:GetObject"], resources = ["${aws_s3_bucket.results.arn}/*"] },
        {
          actions    = ["cloudwatch:PutMetricData"]
          resources  = ["*"]
          namespaces = ["Volley"]
        },
        {
          actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
          resources = [aws_sqs_queue.results.arn]
        },
      ]
    }
    metrics-saver = {
      description = "Copies 1-second CloudWatch metrics into DynamoDB before CloudWatch drops them."
      memory      = 256
      timeout     = 300
      environment = {
        TESTS_TABLE   = aws_dynamodb_table.tests.name
        METRICS_TABLE = aws_dynamodb_table.metrics.name
        # CloudWatch's ingestion delay: read no closer to now (the local stack, with none, sets 2).
        INGESTION_DELAY_SECONDS = "60"
      }
      statements = [
        {
          actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"]
          resources = [aws_dynamodb_table.tests.arn, "${aws_dynamodb_table.tests.arn}/index/byActiveDay"]
        },
        { actions = ["dynamodb:BatchWriteItem", "dynamodb:Query"], resources = [aws_dynamodb_table.metrics.arn] },
        # GetMetricData takes no resource-level permissions.
        { actions = ["cloudwatch:GetMetricData"], resources = ["*"] },
      ]
    }
    domain-validator = {
      description = "Proves that an organisation owns a domain (DNS TXT challenge), and keeps proving it."
      memory      = 128
      timeout     = 120
      environment = {
        DOMAINS_TABLE          = aws_dynamodb_table.domains.name
        DNS_TIMEOUT            = "2s"
        PENDING_TTL            = "7days"
        RECHECK_INTERVAL       = "24h"
        MISS_RECHECK_INTERVAL  = "1h"
        REVOKE_AFTER_MISSES    = "3"
        MAX_CONCURRENT_LOOKUPS = "16"
        DEADLINE_MARGIN        = "10s"
      }
      statements = [
        { actions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"], resources = [aws_dynamodb_table.domains.arn] },
        { actions = ["dynamodb:Query"], resources = ["${aws_dynamodb_table.domains.arn}/index/status-dueAt"] },
      ]
    }
    orchestrator = {
      description = "Starts tests: synchronised multi-region start, test-start from a plan with its segments' schedules, stop."
      memory      = 128
      timeout     = 30
      environment = {
        ORCHESTRATION_TABLE = aws_dynamodb_table.orchestration.name
        EVENT_BUS_NAME      = aws_cloudwatch_event_bus.volley.name
        SCHEDULER_ROLE_ARN  = aws_iam_role.segments.arn
        SCHEDULE_PREFIX     = var.prefix
      }
      statements = [
        {
          actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"]
          resources = [aws_dynamodb_table.orchestration.arn]
        },
        { actions = ["events:PutEvents"], resources = [local.event_buses] },
        { actions = ["scheduler:CreateSchedule", "scheduler:DeleteSchedule"], resources = [local.segment_schedules] },
        # Scheduler invokes this function for a segment as this role.
        { actions = ["iam:PassRole"], resources = [aws_iam_role.segments.arn] },
      ]
    }
    run-load = {
      description = "Runs a suite of simulated users, compares with stored baselines, stores tagged results."
      memory      = 512
      timeout     = 900
      environment = {
        RESULTS_BUCKET  = aws_s3_bucket.results.bucket
        RUNS_TABLE      = aws_dynamodb_table.runs.name
        DOMAINS_TABLE   = aws_dynamodb_table.domains.name
        ALLOWED_TARGETS = join(",", var.allowed_targets)
        SECRETS_ROOT    = "/${var.prefix}"
      }
      statements = [
        { actions = ["dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:GetItem"], resources = [aws_dynamodb_table.runs.arn] },
        { actions = ["dynamodb:GetItem"], resources = [aws_dynamodb_table.domains.arn] },
        { actions = ["s3:PutObject", "s3:GetObject"], resources = ["${aws_s3_bucket.results.arn}/runs/*", "${aws_s3_bucket.results.arn}/run-answers/*"] },
        # Suites (and their data files) stored in the bucket, read only.
        { actions = ["s3:GetObject"], resources = ["${aws_s3_bucket.results.arn}/suites/*"] },
        # Header secrets by reference: each organisation's parameters under /<prefix>/<organisation>/, nothing else.
        { actions = ["ssm:GetParameter"], resources = [local.secrets_parameters] },
      ]
    }
  }
}

resource "aws_lambda_function" "function" {
  for_each = local.functions

  function_name    = "${var.prefix}-${each.key}"
  description      = "${each.value.description} (Volley ${local.version})"
  role             = aws_iam_role.function[each.key].arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  filename         = "${var.dist_dir}/${each.key}.zip"
  source_code_hash = filebase64sha256("${var.dist_dir}/${each.key}.zip")
  memory_size      = each.value.memory
  timeout          = each.value.timeout

  # None unless set (-1 is the provider's "unreserved"): see var.reserved_concurrency.
  reserved_concurrent_executions = lookup(var.reserved_concurrency, each.key, -1)

  environment {
    variables = each.value.environment
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.function[each.key].name
    application_log_level = "INFO"
    system_log_level      = "WARN"
  }

  tracing_config {
    mode = "Active"
  }

  #checkov:skip=CKV_AWS_117:The functions reach customer APIs and AWS public endpoints; a VPC would add NAT cost and nothing to protect.
  #checkov:skip=CKV_AWS_173:The environment holds resource names only, never secrets; the default AWS-managed key encrypts it.
  #checkov:skip=CKV_AWS_272:Packages come from this repository's CI (make build, reproducible zips); code signing is not set up yet.
  #checkov:skip=CKV_AWS_116:Failures are kept where each trigger keeps them: the worker's async DLQ, the results queue's redrive DLQ; direct invokes answer their errors.
}

# The worker's asynchronous invocations (EventBridge): two retries, then the event to its dead-letter queue.
resource "aws_lambda_function_event_invoke_config" "worker" {
  function_name                = aws_lambda_function.function["worker"].function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.worker_dlq.arn
    }
  }
}

# The archiver drains the results queue, reporting each failed record on its own.
resource "aws_lambda_event_source_mapping" "archiver" {
  event_source_arn        = aws_sqs_queue.results.arn
  function_name           = aws_lambda_function.function["archiver"].arn
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]
}
