# Thin verbs; the work is in scripts/. `make help` lists them.
SHELL := bash
.DEFAULT_GOAL := help

.PHONY: help demo test lint bench build tools stack-up stack-down stack-status stack-deploy env clean \
	terraform-backend infra-init preview deploy destroy outputs version-build check-deployment

help: ## list the verbs
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

demo: ## a whole load test through all seven functions in the local stack, with text and HTML reports
	@scripts/demo.sh

test: ## every test, against the local stack (starts and stops it when needed)
	@scripts/test.sh

lint: ## cargo fmt --check, clippy -D warnings, the layers, terraform fmt, cfn-lint, zizmor and check-jsonschema over the workflow
	@scripts/lint.sh

bench: ## criterion, then volley against wrk, hey and oha (docs/benchmarks.md)
	@scripts/bench.sh

build: ## the local stack's dist/<function>.zip, the driver and the tests (dev, one cargo run); ARCH=arm64 for AWS (release)
	@ARCH=$(ARCH) scripts/build.sh

tools: ## install the pinned Python tools into .venv/ (uv), and cargo-nextest if missing
	@scripts/tools.sh

stack-up: ## start MiniStack on 127.0.0.1:$${MINISTACK_PORT:-4566}
	@scripts/stack.sh up

stack-down: ## stop the MiniStack this project started
	@scripts/stack.sh down

stack-status: ## is the local stack running?
	@scripts/stack.sh status

stack-deploy: ## deploy template.yaml into the running local stack
	@scripts/stack.sh deploy

env: ## print the exports that point the AWS CLI and SDKs at the local stack
	@source scripts/lib.sh && use_local_stack && for v in AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_DEFAULT_REGION; do echo "export $$v=$${!v}"; done

terraform-backend: ## create the Terraform state bucket and lock table (AWS CLI) when missing
	@scripts/terraform.sh backend

infra-init: ## terraform init deploy/ with that backend, for AWS_REGION
	@scripts/terraform.sh init

preview: ## terraform plan for AWS_REGION (needs make build ARCH=arm64 first)
	@scripts/terraform.sh plan

deploy: ## terraform apply for AWS_REGION (the plan from make preview, if there is one)
	@scripts/terraform.sh apply

destroy: ## terraform destroy for AWS_REGION: refused without CONFIRM=yes; the state bucket stays
	@scripts/terraform.sh destroy

outputs: ## this region's stack names (terraform output) merged into target/aws/outputs.json, for volley run --outputs
	@scripts/terraform.sh outputs

version-build: ## bump the build number in VERSION (0.1.0+7 -> 0.1.0+8)
	@scripts/version.sh

check-deployment: ## the canary: PUT, then PUT and GET the greeter at 5 rps for 60 s, exit 3 below its thresholds: make check-deployment URL=https://…
	@scripts/check-deployment.sh "$(URL)"

clean: ## remove build outputs and the local stack's state
	cargo clean
	rm -rf dist target/local-stack
