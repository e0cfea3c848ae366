"""Rule 2b, load balancer and target group names are unique per account and
region, and their creates are idempotent by name: "If you attempt to create
multiple load balancers with the same settings, each call succeeds" (the
same for target groups). moto instead makes a second balancer with the same
name, so a client that retries a create whose answer was lost (rule 11)
while its lookup lags (rule 6) would get a duplicate on moto but not on AWS.
Here a create naming an existing balancer or target group answers that one
(moto is asked with a Describe by name, whose answer is renamed).
Simplification: AWS answers DuplicateLoadBalancerName /
DuplicateTargetGroupName when the settings differ; this rule does not
compare settings.
Sources: https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html
https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html"""

import urllib.parse

_DESCRIBE = {"CreateLoadBalancer": "DescribeLoadBalancers", "CreateTargetGroup": "DescribeTargetGroups"}


def before(ctx, req):
    if req.service != "elasticloadbalancing" or req.action not in _DESCRIBE:
        return None
    name = req.params.get("Name", "")
    elbv2 = ctx.moto.client("elbv2", req.region)
    try:
        if req.action == "CreateLoadBalancer":
            exists = bool(elbv2.describe_load_balancers(Names=[name])["LoadBalancers"])
        else:
            exists = bool(elbv2.describe_target_groups(Names=[name])["TargetGroups"])
    except Exception:  # noqa: BLE001 - not found (or a bad name moto will refuse itself)
        exists = False
    if not exists:
        return None
    ctx.stats.bump("elb.create_existing_name")
    req.answered_by = _DESCRIBE[req.action]
    req.body = urllib.parse.urlencode(
        {"Action": req.answered_by, "Version": "2015-12-01", "Names.member.1": name}).encode()
    return None


def after(ctx, req, resp):
    describe = getattr(req, "answered_by", None)
    if describe and resp.ok:
        create = req.action
        text = resp.text()
        for suffix in ("Response", "Result"):
            text = text.replace(describe + suffix, create + suffix)
        resp.set_text(text)
    return resp
