"""Rule 1, RDS instance lifecycle. DescribeDBInstances shows `creating`
(no Endpoint yet) then `backing-up` then `available`, by the proxy's clock
since CreateDBInstance succeeded. After DeleteDBInstance the instance is
shown `deleting` for a while (synthesized from the delete answer, moto
forgets it at once), its subnet group cannot be deleted
(InvalidDBSubnetGroupStateFault) and its network interface keeps its
security groups and subnets busy (see eni.py). A ModifyDBInstance that sets
MasterUserPassword answers, and DescribeDBInstances shows for a while,
`PendingModifiedValues.MasterUserPassword` (moto shows no pending values)
and status `resetting-master-credentials`: the password applies
asynchronously ("Between the time of the request and the completion of the
request, the MasterUserPassword element exists in the PendingModifiedValues
element of the operation response", API_ModifyDBInstance.html).
Sources: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html#Overview.DBInstance.Status
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBSubnetGroup.html
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html"""

from .. import xmlspan
from ..errors import error
from ..request import Response
from ..state import now


def _view(ctx, age):
    creating = ctx.cfg.dur("rds_creating")
    if age < creating:
        return "creating"
    if age < creating + ctx.cfg.dur("rds_backing_up"):
        return "backing-up"
    return "available"


PENDING_PASSWORD = "<PendingModifiedValues><MasterUserPassword>****</MasterUserPassword></PendingModifiedValues>"


def _resetting(ctx, ident):
    info = ctx.state.get("rds-reset", ident) if ident else None
    return info is not None and info["until"] > now()


def _with_pending_password(el):
    el = xmlspan.remove(el, "PendingModifiedValues")
    return xmlspan.insert_into(el, "DBInstance", [PENDING_PASSWORD])


def _deleting(ctx):
    t = now()
    return [(k, v) for k, v in ctx.state.items("rds-deleted") if v["until"] > t]


def before(ctx, req):
    if req.service != "rds":
        return None
    if req.action == "DeleteDBSubnetGroup":
        name = req.params.get("DBSubnetGroupName", "")
        for ident, info in _deleting(ctx):
            if info.get("subnet_group") == name:
                ctx.stats.bump("rds.subnet_group_in_use")
                return error(req, 400, "InvalidDBSubnetGroupStateFault",
                             "Cannot delete the subnet group '%s' because at least one database instance: %s is still using it."
                             % (name, ident))
    if req.action == "DescribeDBInstances":
        ident = req.params.get("DBInstanceIdentifier")
        info = ctx.state.get("rds-deleted", ident) if ident else None
        if info and info["until"] > now():
            ctx.stats.bump("rds.deleting")
            body = ('<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">'
                    "<DescribeDBInstancesResult><DBInstances>%s</DBInstances></DescribeDBInstancesResult>"
                    "<ResponseMetadata><RequestId>realism</RequestId></ResponseMetadata></DescribeDBInstancesResponse>"
                    % info["xml"])
            return Response(200, [("Content-Type", "text/xml")], body.encode())
    return None


def after(ctx, req, resp):
    if req.service != "rds" or not resp.ok:
        return resp
    if req.action == "CreateDBInstance":
        ctx.state.put("rds", req.params.get("DBInstanceIdentifier", ""))
    elif req.action == "DeleteDBInstance":
        _deleted(ctx, req, resp)
    elif req.action == "ModifyDBInstance" and req.params.get("MasterUserPassword"):
        ident = req.params.get("DBInstanceIdentifier", "")
        ctx.state.put("rds-reset", ident, until=now() + ctx.cfg.dur("rds_resetting_credentials"))
        ctx.stats.bump("rds.resetting_master_credentials")
        xml = resp.text()
        box = xmlspan.find(xml, "DBInstance")
        if box is not None:
            resp.set_text(xml[:box[0]] + _with_pending_password(xml[box[0]:box[1]]) + xml[box[1]:])
    elif req.action == "DescribeDBInstances":
        xml = resp.text()
        edits = []
        for start, end in xmlspan.children(xml, "DBInstances"):
            el = xml[start:end]
            ident = xmlspan.text(el, "DBInstanceIdentifier")
            if _resetting(ctx, ident) and xmlspan.text(el, "DBInstanceStatus") == "available":
                ctx.stats.bump("rds.resetting_master_credentials")
                new = xmlspan.set_text(el, "DBInstanceStatus", "resetting-master-credentials")
                edits.append((start, end, _with_pending_password(new)))
                continue
            age = ctx.state.age("rds", ident)
            if age is None or xmlspan.text(el, "DBInstanceStatus") != "available":
                continue
            status = _view(ctx, age)
            if status == "available":
                continue
            ctx.stats.bump("rds." + status.replace("-", "_"))
            new = xmlspan.set_text(el, "DBInstanceStatus", status)
            if status == "creating":
                new = xmlspan.remove(new, "Endpoint")
            edits.append((start, end, new))
        xml = xmlspan.splice(xml, edits)
        if not req.params.get("DBInstanceIdentifier"):
            extra = [info["xml"] for _, info in _deleting(ctx)]
            if extra:
                ctx.stats.bump("rds.deleting", len(extra))
                xml = xmlspan.insert_into(xml, "DBInstances", extra)
        resp.set_text(xml)
    return resp


def _deleted(ctx, req, resp):
    xml = resp.text()
    box = xmlspan.find(xml, "DBInstance")
    if box is None:
        return
    el = xml[box[0]:box[1]]
    ident = xmlspan.text(el, "DBInstanceIdentifier") or req.params.get("DBInstanceIdentifier", "")
    until = now() + ctx.cfg.dur("rds_deleting")
    group = xmlspan.find(el, "DBSubnetGroup")
    group_xml = el[group[0]:group[1]] if group else ""
    subnets = xmlspan.texts(group_xml, "SubnetIdentifier")
    vpc = xmlspan.text(group_xml, "VpcId") or ""
    sgs = xmlspan.texts(el, "VpcSecurityGroupId")
    ctx.state.pop("rds", ident)
    ctx.state.put("rds-deleted", ident, until=until, subnet_group=xmlspan.text(group_xml, "DBSubnetGroupName"),
                  xml=xmlspan.set_text(el, "DBInstanceStatus", "deleting"))
    if subnets:
        from . import eni
        eni.linger(ctx, description="RDSNetworkInterface", requester="amazon-rds", groups=sgs,
                   subnets=subnets[:1], vpc=vpc, until=until,
                   public=xmlspan.text(el, "PubliclyAccessible") == "true", region=req.region)
