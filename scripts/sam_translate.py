"""Expand template.yaml's SAM resources into plain CloudFormation, so cfn-lint checks what actually deploys.

Usage: sam_translate.py TEMPLATE OUT  (run with .venv/ministack's Python, which has aws-sam-translator)

cfn-lint (1.58) carries no SAM transform of its own: it skips AWS::Serverless::* resources. The translator
is the same one MiniStack and AWS CloudFormation run, so the expanded template is what gets deployed.
"""

import json
import os
import sys
from types import SimpleNamespace

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


def main(source: str, target: str) -> None:
    with open(source) as f:
        template = yaml_parse(f.read())
    # `aws cloudformation package` turns local CodeUri paths into S3 locations; stand in for it, since what
    # is linted here is the template's shape, not the upload.
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        code = properties.get("CodeUri")
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(code, str) and not code.startswith("s3://"):
            properties["CodeUri"] = "s3://package-placeholder/" + code
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    # Managed-policy names are not used by the template (its policies are inline statements).
    no_managed_policies = SimpleNamespace(load=lambda: {})
    expanded = transform(template, {}, no_managed_policies)
    with open(target, "w") as f:
        json.dump(expanded, f, indent=2)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: sam_translate.py TEMPLATE OUT")
    main(sys.argv[1], sys.argv[2])
