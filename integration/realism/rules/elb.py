"""Rule 2, load balancer lifecycle. DescribeLoadBalancers shows State.Code
`provisioning` until the proxy's clock says it is `active`. On
DeleteLoadBalancer the balancer is read from moto first, and after the
delete its network interfaces (one per subnet, description
`ELB app/<name>/<id>`) linger, see eni.py.
Sources: https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_LoadBalancerState.html
terraform-provider-aws internal/service/elbv2/load_balancer.go (waits for `active`; after delete waits
for the ELB's network interfaces to be released)."""

import re

from .. import xmlspan
from . import eni


def before(ctx, req):
    if req.service == "elasticloadbalancing" and req.action == "DeleteLoadBalancer":
        try:
            req.captured_lb = ctx.moto.load_balancer(req.params.get("LoadBalancerArn", ""), req.region)
        except Exception:  # noqa: BLE001 - moto will answer the real error
            req.captured_lb = None
    return None


def after(ctx, req, resp):
    if req.service != "elasticloadbalancing" or not resp.ok:
        return resp
    if req.action == "CreateLoadBalancer" and not getattr(req, "answered_by", None):
        for arn in xmlspan.texts(resp.text(), "LoadBalancerArn"):
            ctx.state.put("elb", arn)
        resp.set_text(_rewrite(ctx, resp.text()))
    elif req.action == "DescribeLoadBalancers":
        resp.set_text(_rewrite(ctx, resp.text()))
    elif req.action == "DeleteLoadBalancer":
        lb = getattr(req, "captured_lb", None)
        if lb:
            ctx.state.pop("elb", lb["LoadBalancerArn"])
            m = re.search(r":loadbalancer/(.+)$", lb["LoadBalancerArn"])
            azs = lb.get("AvailabilityZones", [])
            eni.linger(ctx, description="ELB " + (m.group(1) if m else lb["LoadBalancerName"]),
                       requester="amazon-elb", groups=lb.get("SecurityGroups", []),
                       subnets=[a["SubnetId"] for a in azs if a.get("SubnetId")], vpc=lb.get("VpcId", ""),
                       until=ctx.now() + ctx.cfg.dur("eni_linger"), public=(lb.get("Scheme") or "internet-facing") == "internet-facing",
                       region=req.region, azs=[a.get("ZoneName") for a in azs if a.get("SubnetId")])
    return resp


def _rewrite(ctx, xml):
    edits = []
    for start, end in xmlspan.children(xml, "LoadBalancers"):
        el = xml[start:end]
        age = ctx.state.age("elb", xmlspan.text(el, "LoadBalancerArn"))
        state = xmlspan.find(el, "State")
        if age is None or state is None:
            continue
        code = "provisioning" if age < ctx.cfg.dur("elb_provisioning") else "active"
        if code == "provisioning":
            ctx.stats.bump("elb.provisioning")
        st = el[state[0]:state[1]]
        edits.append((start + state[0], start + state[1], xmlspan.set_text(st, "Code", code)))
    return xmlspan.splice(xml, edits)
