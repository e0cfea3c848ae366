"""Rule 11, injected faults (seeded RNG): a 5xx answered before forwarding
(nothing happened), and lost responses: the call is forwarded, moto performs
it, then the connection is dropped or a 500 is answered, so a client that
retries blindly makes a duplicate. AWS documents both as retryable
(https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html;
EC2 InternalError/Unavailable in
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html)."""

import fnmatch

from ..errors import error


def _matches(key, patterns):
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


def _server_error(ctx, req, unavailable):
    if req.protocol == "ec2":
        return (error(req, 503, "Unavailable", "The server is overloaded and can't handle the request.", sender=False)
                if unavailable else error(req, 500, "InternalError", "An internal error has occurred", sender=False))
    if req.protocol == "s3":
        return (error(req, 503, "ServiceUnavailable", "Please reduce your request rate.", sender=False)
                if unavailable else error(req, 500, "InternalError", "We encountered an internal error. Please try again.", sender=False))
    if unavailable:
        code = "ServiceUnavailableException" if req.service == "lambda" else "ServiceUnavailable"
        return error(req, 503, code, "Service is unavailable. Please retry.", sender=False)
    return error(req, 500, "InternalFailure", "The request processing has failed because of an unknown error, exception or failure.", sender=False)


def before(ctx, req):
    rate = ctx.cfg.get("fault_rate")
    if rate <= 0:
        return None
    patterns = ctx.cfg.get("fault_actions")
    if patterns and not _matches(req.key, patterns):
        return None
    if ctx.random() >= rate:
        return None
    ctx.stats.bump("fault.5xx")
    return _server_error(ctx, req, ctx.random() < 0.5)


def after(ctx, req, resp):
    rate = ctx.cfg.get("lost_rate")
    if rate <= 0 or not resp.ok or not _matches(req.key, ctx.cfg.get("lost_actions")):
        return resp
    if ctx.random() >= rate:
        return resp
    ctx.stats.bump("fault.lost")
    if ctx.cfg.get("lost_mode") == "500":
        return _server_error(ctx, req, False)
    resp.drop = True
    return resp
