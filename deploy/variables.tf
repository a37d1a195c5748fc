variable "prefix" {
  description = "Prefix of every resource name (lower-case letters, digits and hyphens)."
  type        = string
  default     = "volley"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.prefix))
    error_message = "The prefix must be 2 to 21 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "The AWS region this copy of the module deploys into (apply once per region)."
  type        = string
}

variable "home_region" {
  description = "The orchestrator's home region: the one whose orchestrator every region's aggregator calls."
  type        = string
}

variable "architecture" {
  description = "Lambda architecture of the bootstrap binaries in dist/: arm64 (cheaper per GB-second) or x86_64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "The architecture must be arm64 or x86_64."
  }
}

variable "dist_dir" {
  description = "Where `make build ARCH=<architecture>` wrote the function packages: ../dist/arm64 for arm64, ../dist for this machine's architecture."
  type        = string
  default     = "../dist/arm64"
}

variable "log_retention_days" {
  description = "How long function, API and schedule logs are kept."
  type        = number
  default     = 365
}

variable "metrics_saver_schedule" {
  description = "How often the metrics-saver copies 1-second metrics (CloudWatch keeps them for 3 hours)."
  type        = string
  default     = "rate(10 minutes)"
}

variable "domain_validator_schedule" {
  description = "How often the domain-validator sweeps pending and due domains."
  type        = string
  default     = "rate(15 minutes)"
}

variable "allowed_targets" {
  description = "Exact address:port pairs the target guard allows although private. Keep empty in AWS."
  type        = list(string)
  default     = []
}

variable "reserved_concurrency" {
  description = "Reserved concurrency per function (its name to a number), none by default: a new account's quota can be far below what reservations would take, and AWS keeps 100 unreserved. make preview prints what the stack reserves against the account's quota and stops beyond it. Example: { worker = 200, greeter = 50 }."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for name, n in var.reserved_concurrency : n >= 0 && contains(["greeter", "worker", "archiver", "metrics-saver", "domain-validator", "orchestrator", "run-load"], name)])
    error_message = "reserved_concurrency maps a function's name (greeter, worker, archiver, metrics-saver, domain-validator, orchestrator, run-load) to a number of executions, 0 or more."
  }
}

variable "api_throttle" {
  description = "The greeter API's stage throttling: steady requests per second and burst."
  type = object({
    rate  = number
    burst = number
  })
  default = {
    rate  = 1000
    burst = 500
  }
}
