"""Rules 1 and 2, lingering network interfaces. After a load balancer (or a
database) is deleted, its requester-managed ENIs stay in-use for minutes:
DeleteSecurityGroup of their groups, DeleteSubnet of their subnets,
DetachInternetGateway (public ones) and DeleteVpc of their VPC answer
DependencyViolation with AWS's texts, and DescribeNetworkInterfaces shows
the synthesized interfaces (description `ELB app/<name>/<id>`, status
in-use) so a client can wait on them instead of blindly.
Sources: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html (DependencyViolation);
terraform-provider-aws internal/service/elbv2/load_balancer.go and
internal/service/ec2/vpc_security_group.go (wait for ELB ENIs, retry DependencyViolation);
https://repost.aws/knowledge-center/troubleshoot-dependency-error-delete-vpc"""

import fnmatch
import hashlib
from xml.sax.saxutils import escape

from .. import xmlspan
from ..errors import error
from ..request import Response


def linger(ctx, description, requester, groups, subnets, vpc, until, public, region, azs=None):
    for i, subnet in enumerate(subnets):
        h = hashlib.sha1(("%s/%s/%s" % (description, subnet, ctx.now())).encode()).hexdigest()
        ctx.state.add_eni({
            "id": "eni-" + h[:17], "attach": "ela-attach-" + h[17:34], "description": description,
            "requester": requester, "groups": list(groups), "subnet": subnet, "vpc": vpc,
            "az": (azs[i] if azs and i < len(azs) else region + "a"), "until": until, "public": public,
            "ip": "10.%d.%d.%d" % (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16) or 10),
            "mac": ":".join(h[i:i + 2] for i in range(6, 18, 2)),
        })
        ctx.stats.bump("eni.lingering")


def _violation(ctx, req, message):
    ctx.stats.bump("eni.dependency_violation")
    return error(req, 400, "DependencyViolation", message)


def before(ctx, req):
    if req.service != "ec2":
        return None
    enis = ctx.state.enis()
    if not enis:
        return None
    a, p = req.action, req.params
    if a == "DeleteSecurityGroup" and p.get("GroupId"):
        if any(p["GroupId"] in e["groups"] for e in enis):
            return _violation(ctx, req, "resource %s has a dependent object" % p["GroupId"])
    elif a == "DeleteSubnet":
        if any(e["subnet"] == p.get("SubnetId") for e in enis):
            return _violation(ctx, req, "The subnet '%s' has dependencies and cannot be deleted." % p["SubnetId"])
    elif a == "DetachInternetGateway":
        if any(e["vpc"] == p.get("VpcId") and e["public"] for e in enis):
            return _violation(ctx, req, "Network %s has some mapped public address(es). Please unmap those public "
                              "address(es) before detaching the gateway." % p["VpcId"])
    elif a == "DeleteVpc":
        if any(e["vpc"] == p.get("VpcId") for e in enis):
            return _violation(ctx, req, "The vpc '%s' has dependencies and cannot be deleted." % p["VpcId"])
    elif a == "DeleteNetworkInterface":
        if any(e["id"] == p.get("NetworkInterfaceId") for e in enis):
            ctx.stats.bump("eni.in_use")
            return error(req, 400, "InvalidNetworkInterface.InUse",
                         "The interface %s is currently in use." % p["NetworkInterfaceId"])
    elif a == "DetachNetworkInterface":
        if any(e["attach"] == p.get("AttachmentId") for e in enis):
            ctx.stats.bump("eni.in_use")
            return error(req, 400, "OperationNotPermitted", "You are not allowed to manage 'ela-attach' attachments.")
    elif a == "DescribeNetworkInterfaces":
        ids = req.indexed("NetworkInterfaceId")
        ours = {e["id"] for e in enis}
        if ids and any(i in ours for i in ids):
            items = [_item(e) for e in enis if e["id"] in ids and _match(e, req)]
            ctx.stats.bump("eni.described", len(items))
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n<DescribeNetworkInterfacesResponse '
                    'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>realism</requestId>'
                    "<networkInterfaceSet>%s</networkInterfaceSet></DescribeNetworkInterfacesResponse>" % "".join(items))
            return Response(200, [("Content-Type", "text/xml;charset=UTF-8")], body.encode())
    return None


def after(ctx, req, resp):
    if req.service != "ec2" or req.action != "DescribeNetworkInterfaces" or not resp.ok:
        return resp
    items = [_item(e) for e in ctx.state.enis() if _match(e, req)]
    if items:
        ctx.stats.bump("eni.described", len(items))
        resp.set_text(xmlspan.insert_into(resp.text(), "networkInterfaceSet", items))
    return resp


def _filters(req):
    out = []
    names = {}
    for k, v in req.params.items():
        parts = k.split(".")
        if parts[0] == "Filter" and len(parts) >= 3:
            idx = parts[1]
            if parts[2] == "Name":
                names.setdefault(idx, [None, []])[0] = v
            elif parts[2] == "Value":
                names.setdefault(idx, [None, []])[1].append(v)
    for name, values in names.values():
        out.append((name, values))
    return out


def _fields(e):
    return {
        "description": [e["description"]], "group-id": e["groups"], "subnet-id": [e["subnet"]],
        "vpc-id": [e["vpc"]], "status": ["in-use"], "network-interface-id": [e["id"]],
        "requester-id": [e["requester"]], "requester-managed": ["true"], "availability-zone": [e["az"]],
        "interface-type": ["interface"], "attachment.status": ["attached"], "private-ip-address": [e["ip"]],
        "addresses.private-ip-address": [e["ip"]], "owner-id": ["123456789012"],
        "attachment.instance-owner-id": [e["requester"]], "attachment.attachment-id": [e["attach"]],
    }


def _match(e, req):
    ids = req.indexed("NetworkInterfaceId")
    if ids and e["id"] not in ids:
        return False
    fields = _fields(e)
    for name, values in _filters(req):
        if name not in fields:
            return False  # a filter we do not model: do not guess
        if not any(fnmatch.fnmatchcase(have, want) for have in fields[name] for want in values):
            return False
    return True


def _item(e):
    groups = "".join("<item><groupId>%s</groupId><groupName>%s</groupName></item>" % (g, g) for g in e["groups"])
    return (
        "<item><networkInterfaceId>{id}</networkInterfaceId><subnetId>{subnet}</subnetId><vpcId>{vpc}</vpcId>"
        "<availabilityZone>{az}</availabilityZone><description>{desc}</description><ownerId>123456789012</ownerId>"
        "<requesterId>{req}</requesterId><requesterManaged>true</requesterManaged><status>in-use</status>"
        "<macAddress>{mac}</macAddress><privateIpAddress>{ip}</privateIpAddress><sourceDestCheck>true</sourceDestCheck>"
        "<interfaceType>interface</interfaceType><groupSet>{groups}</groupSet>"
        "<attachment><attachmentId>{att}</attachmentId><deviceIndex>1</deviceIndex><status>attached</status>"
        "<instanceOwnerId>{req}</instanceOwnerId><deleteOnTermination>false</deleteOnTermination></attachment>"
        "<privateIpAddressesSet><item><privateIpAddress>{ip}</privateIpAddress><primary>true</primary></item>"
        "</privateIpAddressesSet><tagSet/></item>"
    ).format(id=e["id"], subnet=e["subnet"], vpc=e["vpc"], az=e["az"], desc=escape(e["description"]),
             req=e["requester"], mac=e["mac"], ip=e["ip"], groups=groups, att=e["attach"])
