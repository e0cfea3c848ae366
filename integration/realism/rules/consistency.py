"""Rule 6, eventual consistency. A new VPC, subnet, internet gateway, route
table, security group or launch template (and a new load balancer or target
group) is left out of Describe* answers that use filters (tag lookups) and of
the Tagging API's GetResources for `consistency` after its create succeeded.
Lookups by id are answered (documented simplification).
Sources: https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html
https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html"""

import re

from .. import xmlspan

# Create action -> element holding the new id in its answer
CREATES = {
    "CreateVpc": "vpcId", "CreateSubnet": "subnetId", "CreateInternetGateway": "internetGatewayId",
    "CreateRouteTable": "routeTableId", "CreateSecurityGroup": "groupId", "CreateLaunchTemplate": "launchTemplateId",
}
# Describe action -> (container of items, id element)
DESCRIBES = {
    "DescribeVpcs": ("vpcSet", "vpcId"), "DescribeSubnets": ("subnetSet", "subnetId"),
    "DescribeInternetGateways": ("internetGatewaySet", "internetGatewayId"),
    "DescribeRouteTables": ("routeTableSet", "routeTableId"),
    "DescribeSecurityGroups": ("securityGroupInfo", "groupId"),
    "DescribeLaunchTemplates": ("launchTemplates", "launchTemplateId"),
}


def _fresh(ctx, key):
    age = ctx.state.age("new", key)
    return age is not None and age < ctx.cfg.dur("consistency")


def after(ctx, req, resp):
    if not resp.ok:
        return resp
    if req.service == "ec2" and req.action in CREATES:
        new_id = xmlspan.text(resp.text(), CREATES[req.action])
        if new_id:
            ctx.state.put("new", new_id)
    elif req.service == "elasticloadbalancing" and req.action in ("CreateLoadBalancer", "CreateTargetGroup"):
        for arn in re.findall(r"<(?:LoadBalancerArn|TargetGroupArn)>([^<]+)<", resp.text()):
            ctx.state.put("new", arn)
    elif req.service == "ec2" and req.action in DESCRIBES and any(k.startswith("Filter.") for k in req.params):
        container, id_el = DESCRIBES[req.action]
        xml = resp.text()
        drop = [(s, e, "") for s, e in xmlspan.children(xml, container) if _fresh(ctx, xmlspan.text(xml[s:e], id_el))]
        if drop:
            ctx.stats.bump("consistency.hidden", len(drop))
            resp.set_text(xmlspan.splice(xml, drop))
    elif req.service == "elasticloadbalancing" and req.action in ("DescribeLoadBalancers", "DescribeTargetGroups") \
            and req.params.get("Names.member.1"):
        xml = resp.text()
        container = "LoadBalancers" if req.action == "DescribeLoadBalancers" else "TargetGroups"
        drop = [(s, e, "") for s, e in xmlspan.children(xml, container)
                if _fresh(ctx, xmlspan.text(xml[s:e], "LoadBalancerArn" if container == "LoadBalancers" else "TargetGroupArn"))]
        if drop:
            ctx.stats.bump("consistency.hidden", len(drop))
            resp.set_text(xmlspan.splice(xml, drop))
    elif req.service == "tagging" and req.action == "GetResources":
        doc = resp.json()
        kept = []
        for m in doc.get("ResourceTagMappingList", []):
            arn = m.get("ResourceARN", "")
            if _fresh(ctx, arn) or _fresh(ctx, arn.rsplit("/", 1)[-1]):
                ctx.stats.bump("consistency.hidden")
            else:
                kept.append(m)
        if len(kept) != len(doc.get("ResourceTagMappingList", [])):
            doc["ResourceTagMappingList"] = kept
            resp.set_json(doc)
    return resp
