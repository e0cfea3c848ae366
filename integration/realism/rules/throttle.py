"""Rule 9, throttling: one token bucket per API class (real time, never
scaled; off unless `throttle` is true). Refused calls answer each service's
real throttling error: EC2 503 RequestLimitExceeded, Route 53 400 Throttling
(PriorRequestNotComplete for ChangeResourceRecordSets), Lambda 429
TooManyRequestsException, S3 503 SlowDown, SQS RequestThrottled, ELB and
the JSON services ThrottlingException, other query services 400 Throttling.
Sources: https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
https://repost.aws/knowledge-center/route-53-avoid-throttling-errors (5 req/s per account, PriorRequestNotComplete)
https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/throttling-api-requests.html (newer: 10/s, burst 50)
https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html
https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html (PriorRequestNotComplete)"""

import threading

from ..errors import error

_lock = threading.Lock()
_buckets = {}  # key -> [tokens, last]


def _bucket_key(req, rates):
    specific = req.key
    if specific in rates:
        return specific
    if req.service == "ec2":
        cls = "ec2:describe" if req.action.startswith(("Describe", "Get", "List")) else "ec2:mutate"
        if cls in rates:
            return cls
    return req.service if req.service in rates else None


def _take(key, rate, burst, t):
    with _lock:
        b = _buckets.get(key)
        if b is None or b[2] != (rate, burst):
            b = _buckets[key] = [float(burst), t, (rate, burst)]
        b[0] = min(float(burst), b[0] + (t - b[1]) * rate)
        b[1] = t
        if b[0] >= 1:
            b[0] -= 1
            return True
        return False


def reset():
    with _lock:
        _buckets.clear()


def before(ctx, req):
    if not ctx.cfg.get("throttle"):
        return None
    rates = ctx.cfg.get("throttle_rates")
    key = _bucket_key(req, rates)
    if key is None:
        return None
    rate, burst = rates[key]
    if _take(key, rate, burst, ctx.now()):
        return None
    ctx.stats.bump("throttle." + req.service)
    if req.service == "ec2":
        return error(req, 503, "RequestLimitExceeded", "Request limit exceeded.")
    if req.service == "route53":
        if req.action == "ChangeResourceRecordSets":
            return error(req, 400, "PriorRequestNotComplete",
                         "The request was rejected because Route 53 was still processing a prior request.")
        return error(req, 400, "Throttling", "Rate exceeded")
    if req.service == "lambda":
        return error(req, 429, "TooManyRequestsException", "Rate exceeded")
    if req.service == "s3":
        return error(req, 503, "SlowDown", "Please reduce your request rate.")
    if req.service == "sqs":
        return error(req, 400, "RequestThrottled", "Rate exceeded")
    if req.protocol == "json" or req.service == "elasticloadbalancing":
        # ELB documents ThrottlingException / "Rate exceeded" (elb-api-throttling.html).
        return error(req, 400, "ThrottlingException", "Rate exceeded")
    return error(req, 400, "Throttling", "Rate exceeded")
