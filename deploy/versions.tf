terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }

  # State in S3 with DynamoDB locking. Bucket, table and key come from `make infra-init`
  # (scripts/terraform.sh), which passes them as -backend-config, so one module serves every region.
  backend "s3" {
    encrypt = true
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project   = "volley"
      Prefix    = var.prefix
      ManagedBy = "terraform"
      version   = trimspace(file("${path.module}/../VERSION"))
    }
  }
}
