"""The rules, in the order their `before` hooks run (faults first; on the way
back faults run last). Each module owns one AWS behaviour and exposes
`before(ctx, req) -> Response | None` and/or `after(ctx, req, resp)`."""

from . import acm, client_token, consistency, eni, elb, elb_names, faults, iam_lambda, listener_cert, rds, route53, sqs, throttle, validate

ORDER = [
    ("faults", faults), ("throttle", throttle), ("validate", validate), ("rds", rds), ("elb_names", elb_names), ("client_token", client_token), ("elb", elb),
    ("eni", eni), ("acm", acm), ("listener_cert", listener_cert), ("route53", route53),
    ("consistency", consistency), ("iam_lambda", iam_lambda), ("sqs", sqs),
]
