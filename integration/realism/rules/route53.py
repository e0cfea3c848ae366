"""Rule 5, Route 53 changes. ChangeResourceRecordSets / CreateHostedZone /
DeleteHostedZone answer ChangeInfo Status PENDING; GetChange says PENDING
until `route53_insync` after the change, then INSYNC. Before forwarding a
batch, it is checked against moto's records as AWS does: CREATE of an
existing record and DELETE of a missing one or with other values answer
InvalidChangeBatch (moto accepts the CREATE). CreateHostedZone with a
CallerReference Route 53 has seen answers HostedZoneAlreadyExists (moto makes
a second zone, e.g. when an SDK resends a create whose answer was lost).
Sources: https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateHostedZone.html
(CallerReference "allows failed CreateHostedZone requests to be retried
without the risk of executing the operation twice"; HostedZoneAlreadyExists) https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetChange.html
https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html"""

import xmltodict

from .. import xmlspan
from ..errors import error
from ..moto_reads import fqdn


def _list(x):
    if x is None:
        return []
    return x if isinstance(x, list) else [x]


def _key(rrset):
    return (fqdn(rrset.get("Name", "")), rrset.get("Type", ""), rrset.get("SetIdentifier"))


def _values(rrset):
    """Comparable content of a record set from either boto3 or the request XML."""
    recs = rrset.get("ResourceRecords")
    if isinstance(recs, dict):  # request XML: {"ResourceRecord": [...]}
        recs = _list(recs.get("ResourceRecord"))
    vals = sorted(str(r.get("Value", "")).rstrip(".").lower() for r in _list(recs))
    alias = rrset.get("AliasTarget")
    alias = fqdn(alias.get("DNSName", "")) if alias else None
    ttl = rrset.get("TTL")
    return (int(ttl) if ttl not in (None, "") and not alias else None, vals, alias)


def _zone_exists_with_reference(ctx, req):
    """HostedZoneAlreadyExists when moto already has a zone made with this
    request's CallerReference."""
    try:
        doc = xmltodict.parse(req.body)
        reference = next(iter(doc.values())).get("CallerReference")
    except Exception:  # noqa: BLE001 - let moto answer malformed input
        return None
    if not reference:
        return None
    r53 = ctx.moto.client("route53")
    marker = {}
    while True:
        page = r53.list_hosted_zones(**marker)
        for z in page["HostedZones"]:
            if z.get("CallerReference") == reference:
                ctx.stats.bump("route53.caller_reference_reused")
                return error(req, 409, "HostedZoneAlreadyExists",
                             "A hosted zone has already been created with the specified caller reference.")
        if not page.get("IsTruncated"):
            return None
        marker = {"Marker": page["NextMarker"]}


def before(ctx, req):
    if req.service == "route53" and req.action == "CreateHostedZone":
        return _zone_exists_with_reference(ctx, req)
    if req.service != "route53" or req.action != "ChangeResourceRecordSets":
        return None
    zone_id = req.path.split("/")[3]
    try:
        doc = xmltodict.parse(req.body)
    except Exception:  # noqa: BLE001 - let moto answer malformed input
        return None
    batch = next(iter(doc.values())).get("ChangeBatch", {})
    changes = _list((batch.get("Changes") or {}).get("Change"))
    try:
        current = {_key(r): r for r in ctx.moto.record_sets(zone_id)}
    except Exception:  # noqa: BLE001 - NoSuchHostedZone etc.: moto answers
        return None
    problems = []
    for c in changes:
        rrset = c.get("ResourceRecordSet", {})
        k = _key(rrset)
        label = "[name='%s', type='%s'%s]" % (k[0], k[1], ", set-identifier='%s'" % k[2] if k[2] else "")
        action = c.get("Action")
        if action == "CREATE":
            if k in current:
                problems.append("Tried to create resource record set %s but it already exists" % label)
            current[k] = rrset
        elif action == "DELETE":
            if k not in current:
                problems.append("Tried to delete resource record set %s but it was not found" % label)
            elif _values(current[k]) != _values(rrset):
                problems.append("Tried to delete resource record set %s but the values provided do not match "
                                "the current values" % label)
            current.pop(k, None)
        elif action == "UPSERT":
            current[k] = rrset
    if problems:
        ctx.stats.bump("route53.invalid_change_batch")
        return error(req, 400, "InvalidChangeBatch", "[" + ", ".join(problems) + "]")
    return None


def after(ctx, req, resp):
    if req.service != "route53" or not resp.ok:
        return resp
    if req.action in ("ChangeResourceRecordSets", "CreateHostedZone", "DeleteHostedZone"):
        xml = resp.text()
        box = xmlspan.find(xml, "ChangeInfo")
        if box:
            info = xml[box[0]:box[1]]
            cid = (xmlspan.text(info, "Id") or "").rsplit("/", 1)[-1]
            ctx.state.put("r53change", cid)
            ctx.stats.bump("route53.pending")
            resp.set_text(xml[:box[0]] + xmlspan.set_text(info, "Status", "PENDING") + xml[box[1]:])
    elif req.action == "GetChange":
        cid = req.path.rstrip("/").rsplit("/", 1)[-1]
        age = ctx.state.age("r53change", cid)
        if age is not None:
            status = "PENDING" if age < ctx.cfg.dur("route53_insync") else "INSYNC"
            if status == "PENDING":
                ctx.stats.bump("route53.pending")
            resp.set_text(xmlspan.set_text(resp.text(), "Status", status))
    return resp


