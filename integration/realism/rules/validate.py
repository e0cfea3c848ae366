"""Rule 10, AWS's character and length rules that moto does not enforce, for
what envctl creates. Each check answers the service's real error code.
Sources (API reference of each parameter):
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html (GroupName, GroupDescription)
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpRange.html (rule Description)
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Tag.html and
https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html (tag keys/values, `aws:` reserved)
https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html (Name)
https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html (Name)
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html (DBInstanceIdentifier, MasterUserPassword)
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSubnetGroup.html (DBSubnetGroupName)
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html (QueueName)
https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html (Name)
https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html (FunctionName)
https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html (RoleName, Path, Description)
https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html (labels 63, names 255)"""

import ipaddress
import re
from xml.sax.saxutils import escape

import xmltodict

from ..errors import error
from ..request import Response

SG_CHARS = re.compile(r"^[a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]*$")
SG_SET = "a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*"
# Tag characters of the services other than EC2 (EC2 allows any Unicode).
TAG_CHARS = re.compile(r"^[\w\s.:/=+\-@]*$", re.UNICODE)


def _fail(ctx, req, stat, status, code, message):
    ctx.stats.bump("validate." + stat)
    return error(req, status, code, message)


def _tags(req):
    """(key, value) pairs of every tag parameter of a query-protocol call."""
    keys, values = {}, {}
    for k, v in req.params.items():
        m = re.match(r"^((?:TagSpecification\.\d+\.)?(?:Tags?)(?:\.(?:member|Tag))?\.\d+)\.(Key|Value)$", k)
        if m:
            (keys if m.group(2) == "Key" else values)[m.group(1)] = v
    return [(keys[i], values.get(i, "")) for i in keys]


def _check_tags(ctx, req, ec2):
    code = "InvalidParameterValue" if ec2 or req.service == "rds" else "ValidationError"
    for key, value in _tags(req):
        if key.lower().startswith("aws:"):
            return _fail(ctx, req, "tag_reserved", 400, code,
                         "Value ( %s ) for parameter key is invalid. Tag keys starting with 'aws:' are reserved for "
                         "internal use" % key if ec2 else "Tag keys starting with 'aws:' are reserved for internal use")
        if not 1 <= len(key) <= 128:
            return _fail(ctx, req, "tag_key", 400, code,
                         "Tag key exceeds the maximum length of 128 characters" if key else "Tag key must not be empty")
        if len(value) > 256:
            return _fail(ctx, req, "tag_value", 400, code, "Tag value exceeds the maximum length of 256 characters")
        if not ec2 and not (TAG_CHARS.match(key) and TAG_CHARS.match(value)):
            return _fail(ctx, req, "tag_chars", 400, code,
                         "Tag keys and values may contain only letters, digits, spaces and _ . : / = + - @")
    return None


def _ec2(ctx, req):
    p = req.params
    if req.action == "CreateSecurityGroup":
        desc, name = p.get("GroupDescription", ""), p.get("GroupName", "")
        if len(desc) > 255 or not SG_CHARS.match(desc):
            return _fail(ctx, req, "group_description", 400, "InvalidParameterValue",
                         "Value (%s) for parameter GroupDescription is invalid. Valid descriptions are strings less "
                         "than 256 characters from the following set: %s" % (desc, SG_SET))
        if len(name) > 255 or not SG_CHARS.match(name):
            return _fail(ctx, req, "group_name", 400, "InvalidParameterValue",
                         "Value (%s) for parameter GroupName is invalid. Valid names are strings less than 256 "
                         "characters from the following set: %s" % (name, SG_SET))
        if name.lower().startswith("sg-"):
            return _fail(ctx, req, "group_name", 400, "InvalidParameterValue",
                         "Value (%s) for parameter GroupName is invalid. Group names may not be in the format sg-*." % name)
    if req.action in ("AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress"):
        for k, v in p.items():
            if re.match(r"^IpPermissions\.\d+\.(IpRanges|Ipv6Ranges|UserIdGroupPairs|PrefixListIds)\.\d+\.Description$", k):
                if len(v) > 255 or not SG_CHARS.match(v):
                    return _fail(ctx, req, "rule_description", 400, "InvalidParameterValue",
                                 "Invalid rule description. Valid descriptions are strings less than 256 characters "
                                 "from the following set:  %s" % SG_SET)
    return _check_tags(ctx, req, ec2=True)


def _elb_name(ctx, req, what, name):
    label = "Load balancer" if what == "load_balancer_name" else "Target group"
    if len(name) > 32:
        return _fail(ctx, req, what, 400, "ValidationError",
                     "%s name '%s' cannot be longer than '32' characters" % (label, name))
    if not re.match(r"^[a-zA-Z0-9-]+$", name):
        return _fail(ctx, req, what, 400, "ValidationError",
                     "%s name '%s' can only contain characters that are alphanumeric characters or hyphens(-)" % (label, name))
    if name.startswith("-") or name.endswith("-"):
        return _fail(ctx, req, what, 400, "ValidationError",
                     "%s name '%s' cannot begin or end with '-' character" % (label, name))
    if what == "load_balancer_name" and name.lower().startswith("internal-"):
        return _fail(ctx, req, what, 400, "ValidationError",
                     "Load balancer name '%s' cannot begin with 'internal-'" % name)
    return None


def _elb(ctx, req):
    if req.action == "CreateLoadBalancer":
        r = _elb_name(ctx, req, "load_balancer_name", req.params.get("Name", ""))
        if r:
            return r
    if req.action == "CreateTargetGroup":
        r = _elb_name(ctx, req, "target_group_name", req.params.get("Name", ""))
        if r:
            return r
    return _check_tags(ctx, req, ec2=False)


def _rds(ctx, req):
    p = req.params
    if req.action in ("CreateDBInstance", "CreateDBCluster"):
        key = "DBInstanceIdentifier" if req.action == "CreateDBInstance" else "DBClusterIdentifier"
        ident = p.get(key, "")
        if not re.match(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}$", ident) or ident.endswith("-"):
            return _fail(ctx, req, "db_identifier", 400, "InvalidParameterValue",
                         "The parameter %s is not a valid identifier. Identifiers must begin with a letter; must "
                         "contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain "
                         "two consecutive hyphens." % key)
        pw = p.get("MasterUserPassword")
        if pw is not None and (not 8 <= len(pw) <= 128 or re.search(r"[/@\"' ]|[^\x20-\x7e]", pw)):
            return _fail(ctx, req, "db_password", 400, "InvalidParameterValue",
                         "The parameter MasterUserPassword is not a valid password. Only printable ASCII characters "
                         "besides '/', '@', '\"', ' ' may be used." if 8 <= len(pw) <= 128 else
                         "The parameter MasterUserPassword is not a valid password because it is shorter than 8 characters."
                         if len(pw) < 8 else "The parameter MasterUserPassword is longer than 128 characters.")
    if req.action == "CreateDBSubnetGroup":
        name = p.get("DBSubnetGroupName", "")
        if len(name) > 255 or not re.match(r"^[A-Za-z0-9._ -]+$", name) or name.lower() == "default":
            return _fail(ctx, req, "db_subnet_group_name", 400, "InvalidParameterValue",
                         "The parameter DBSubnetGroupName is not a valid identifier. Only letters, digits, periods, "
                         "underscores, spaces and hyphens are allowed, at most 255, and not 'default'.")
    return _check_tags(ctx, req, ec2=False)


def _bucket_ok(name):
    if not 3 <= len(name) <= 63 or not re.match(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$", name):
        return False
    if ".." in name or ".-" in name or "-." in name:
        return False
    if name.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3")):
        return False
    try:
        ipaddress.IPv4Address(name)
        return False
    except ValueError:
        return True


def _s3(ctx, req):
    if req.action == "CreateBucket":
        name = [s for s in req.path.split("/") if s][0]
        if not _bucket_ok(name):
            ctx.stats.bump("validate.bucket_name")
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidBucketName</Code>'
                    "<Message>The specified bucket is not valid.</Message><BucketName>%s</BucketName>"
                    "<RequestId>realism</RequestId></Error>" % escape(name))
            return Response(400, [("Content-Type", "application/xml")], body.encode())
    return None


def _sqs(ctx, req):
    if req.action != "CreateQueue":
        return None
    body = req.json or {}
    name = body.get("QueueName") if req.protocol == "json" else req.params.get("QueueName")
    name = name or ""
    fifo = (body.get("Attributes") or {}).get("FifoQueue") == "true" if req.protocol == "json" else \
        any(v == "FifoQueue" and req.params.get(k.replace(".Name", ".Value")) == "true"
            for k, v in req.params.items() if k.endswith(".Name"))
    base = name[:-5] if name.endswith(".fifo") else name
    if not 1 <= len(name) <= 80 or not re.match(r"^[A-Za-z0-9_-]+$", base) or name.endswith(".fifo") != fifo:
        return _fail(ctx, req, "queue_name", 400, "InvalidParameterValue",
                     "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
    return None


def _sns(ctx, req):
    if req.action != "CreateTopic":
        return None
    name = req.params.get("Name", "")
    base = name[:-5] if name.endswith(".fifo") else name
    if not 1 <= len(name) <= 256 or not re.match(r"^[A-Za-z0-9_-]+$", base):
        return _fail(ctx, req, "topic_name", 400, "InvalidParameter", "Invalid parameter: Topic Name")
    return None


def _lambda(ctx, req):
    if req.action != "CreateFunction":
        return None
    name = (req.json or {}).get("FunctionName", "")
    if len(name) > 64 and not name.startswith("arn:"):
        return _fail(ctx, req, "function_name", 400, "ValidationException",
                     "1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: "
                     "Member must have length less than or equal to 64" % name)
    if not re.match(r"^[a-zA-Z0-9_-]+$", name) and not name.startswith("arn:"):
        return _fail(ctx, req, "function_name", 400, "ValidationException",
                     "1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: "
                     "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?"
                     "-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?" % name)
    return None


def _iam(ctx, req):
    if req.action != "CreateRole":
        return None
    name = req.params.get("RoleName", "")
    if not 1 <= len(name) <= 64:
        return _fail(ctx, req, "role_name", 400, "ValidationError",
                     "1 validation error detected: Value '%s' at 'roleName' failed to satisfy constraint: Member must "
                     "have length less than or equal to 64" % name)
    if not re.match(r"^[\w+=,.@-]+$", name, re.ASCII):
        return _fail(ctx, req, "role_name", 400, "ValidationError",
                     "1 validation error detected: Value '%s' at 'roleName' failed to satisfy constraint: Member must "
                     "satisfy regular expression pattern: [\\w+=,.@-]+" % name)
    desc = req.params.get("Description")
    if desc is not None and (len(desc) > 1000 or not re.match(r"^[\t\n\r\x20-\x7e\xa1-\xff]*$", desc)):
        return _fail(ctx, req, "role_description", 400, "ValidationError",
                     "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must "
                     "satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*")
    path = req.params.get("Path")
    if path is not None and not re.match(r"^(/|/[\x21-\x7e]+/)$", path):
        return _fail(ctx, req, "role_path", 400, "ValidationError",
                     "1 validation error detected: Value '%s' at 'path' failed to satisfy constraint: Member must "
                     "satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)" % path)
    return None


def _dns_name_problem(name):
    n = name.rstrip(".")
    if len(n) > 253:
        return "DomainNameTooLong (Domain name is too long)"
    for label in n.split("."):
        if len(label) > 63:
            return "DomainLabelTooLong (Domain label is too long)"
        if label == "":
            return "DomainLabelEmpty (Domain label is empty)"
    return None


def _route53(ctx, req):
    if req.action == "CreateHostedZone":
        try:
            doc = xmltodict.parse(req.body)
        except Exception:  # noqa: BLE001
            return None
        name = (next(iter(doc.values())) or {}).get("Name", "")
        problem = _dns_name_problem(name)
        if problem:
            return _fail(ctx, req, "zone_name", 400, "InvalidDomainName", "%s is not a valid domain name: %s" % (name, problem))
    if req.action == "ChangeResourceRecordSets":
        try:
            doc = xmltodict.parse(req.body)
        except Exception:  # noqa: BLE001
            return None
        changes = ((next(iter(doc.values())) or {}).get("ChangeBatch") or {}).get("Changes") or {}
        changes = changes.get("Change") or []
        for c in changes if isinstance(changes, list) else [changes]:
            name = (c.get("ResourceRecordSet") or {}).get("Name", "")
            problem = _dns_name_problem(name)
            if problem:
                return _fail(ctx, req, "record_name", 400, "InvalidChangeBatch",
                             "[FATAL problem: %s encountered with '%s']" % (problem, name))
    return None


CHECKS = {"ec2": _ec2, "elasticloadbalancing": _elb, "rds": _rds, "s3": _s3, "sqs": _sqs, "sns": _sns,
          "lambda": _lambda, "iam": _iam, "route53": _route53}


def before(ctx, req):
    check = CHECKS.get(req.service)
    return check(ctx, req) if check else None
