"""Rule 7, IAM propagation. Lambda CreateFunction (or
UpdateFunctionConfiguration) naming a role created less than
`iam_propagation` ago answers 400 InvalidParameterValueException "The role
defined for the function cannot be assumed by Lambda.".
Sources: https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency
terraform-provider-aws internal/service/lambda/function.go (retries this message for the IAM propagation timeout)."""

from .. import xmlspan
from ..errors import error


def before(ctx, req):
    if req.service != "lambda" or req.action not in ("CreateFunction", "UpdateFunctionConfiguration"):
        return None
    role = (req.json or {}).get("Role")
    age = ctx.state.age("role", role) if role else None
    if age is not None and age < ctx.cfg.dur("iam_propagation"):
        ctx.stats.bump("iam.role_not_assumable")
        return error(req, 400, "InvalidParameterValueException",
                     "The role defined for the function cannot be assumed by Lambda.")
    return None


def after(ctx, req, resp):
    if req.service == "iam" and req.action == "CreateRole" and resp.ok:
        arn = xmlspan.text(resp.text(), "Arn")
        if arn:
            ctx.state.put("role", arn)
    return resp
