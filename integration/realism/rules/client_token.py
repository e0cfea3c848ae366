"""Rule 2c, EC2 creates that carry a ClientToken are idempotent: "If you
repeat a request with the same client token and the same parameters, the
result is the same" (no second resource, the first answer again); the same
token with other parameters answers 400 IdempotentParameterMismatch. moto
ignores ClientToken, so a create whose answer was lost (rule 11), retried
while the tag lookup lags (rule 6), made a second route table on moto where
AWS makes none (seen in the default-stack suite). Simplification: AWS keeps
a token for at least 24 hours; the proxy keeps it until reset.
Source: https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html"""

from ..errors import error
from ..request import Response

# Query parameters that differ between two sends of one request.
_VOLATILE = {"ClientToken"}


def _key(req):
    token = req.params.get("ClientToken") if req.service == "ec2" else None
    return (req.region, req.action, token) if token else None


def _parameters(req):
    return {k: v for k, v in req.params.items() if k not in _VOLATILE}


def before(ctx, req):
    key = _key(req)
    if key is None:
        return None
    seen = ctx.state.get("client_token", key)
    if seen is None:
        req.client_token_key = key
        return None
    if seen["parameters"] != _parameters(req):
        ctx.stats.bump("ec2.idempotent_parameter_mismatch")
        return error(req, 400, "IdempotentParameterMismatch",
                     "The client token you have provided is associated with a resource that is "
                     "already deleted or with different request parameters. Please use a "
                     "different client token.")
    ctx.stats.bump("ec2.client_token_replayed")
    return Response(seen["status"], seen["headers"], seen["body"])


def after(ctx, req, resp):
    key = getattr(req, "client_token_key", None)
    if key is not None and resp.ok:
        ctx.state.put("client_token", key, parameters=_parameters(req), status=resp.status,
                      headers=list(resp.headers), body=resp.body)
    return resp
