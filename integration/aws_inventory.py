"""Lists EVERY resource of the kinds envctl makes that exists in an AWS
endpoint (moto, read directly, not through the realism proxy), tagged or
not, with its envctl tags: the independent witness of "no duplicates, no
leftovers". AWS's own defaults (the default VPC and its subnets, default
security groups, main route tables and network ACLs, managed IAM roles) are
left out.

usage: python aws_inventory.py ENDPOINT   -> one JSON object per line:
  {"type": "ec2 vpc", "id": "vpc-1", "tenant": "acme", "resource": "network",
   "managed": "true", "kept": null}
"""
import json
import os
import sys

import boto3

endpoint = sys.argv[1]


def client(service):
    return boto3.client(service, endpoint_url=endpoint, region_name=os.environ.get("AWS_REGION", "us-east-1"))


def tagdict(tags):
    """Tags as a dict, from any of the shapes AWS services use."""
    if isinstance(tags, dict):
        return tags
    return {t.get("Key", t.get("key")): t.get("Value", t.get("value")) for t in tags or []}


out = []


def add(kind, ident, tags):
    t = tagdict(tags)
    out.append({
        "type": kind,
        "id": ident,
        "tenant": t.get("envctl:tenant"),
        "resource": t.get("envctl:resource"),
        "managed": t.get("envctl:managed"),
        "kept": t.get("envctl:kept"),
    })


ec2 = client("ec2")
default_vpcs = {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v.get("IsDefault")}
for v in ec2.describe_vpcs()["Vpcs"]:
    if v["VpcId"] not in default_vpcs:
        add("ec2 vpc", v["VpcId"], v.get("Tags"))
for s in ec2.describe_subnets()["Subnets"]:
    if s["VpcId"] not in default_vpcs:
        add("ec2 subnet", s["SubnetId"], s.get("Tags"))
for g in ec2.describe_security_groups()["SecurityGroups"]:
    if g["GroupName"] != "default":
        add("ec2 security-group", g["GroupId"], g.get("Tags"))
for g in ec2.describe_internet_gateways()["InternetGateways"]:
    if not any(a.get("VpcId") in default_vpcs for a in g.get("Attachments", [])):
        add("ec2 internet-gateway", g["InternetGatewayId"], g.get("Tags"))
for r in ec2.describe_route_tables()["RouteTables"]:
    main = any(a.get("Main") for a in r.get("Associations", []))
    if r["VpcId"] not in default_vpcs and not main:
        add("ec2 route-table", r["RouteTableId"], r.get("Tags"))
for t in ec2.describe_launch_templates()["LaunchTemplates"]:
    add("ec2 launch-template", t["LaunchTemplateId"], t.get("Tags"))
for r in ec2.describe_instances()["Reservations"]:
    for i in r["Instances"]:
        if i["State"]["Name"] in ("pending", "running", "stopping", "stopped"):
            add("ec2 instance", i["InstanceId"], i.get("Tags"))
for a in ec2.describe_addresses()["Addresses"]:
    add("ec2 elastic-ip", a.get("AllocationId", a.get("PublicIp")), a.get("Tags"))
for n in ec2.describe_nat_gateways()["NatGateways"]:
    if n["State"] not in ("deleted", "deleting"):
        add("ec2 nat-gateway", n["NatGatewayId"], n.get("Tags"))

s3 = client("s3")
for b in s3.list_buckets().get("Buckets", []):
    try:
        tags = s3.get_bucket_tagging(Bucket=b["Name"])["TagSet"]
    except s3.exceptions.ClientError:
        tags = []
    add("s3 bucket", b["Name"], tags)

sqs = client("sqs")
for u in sqs.list_queues().get("QueueUrls", []):
    add("sqs queue", u.rsplit("/", 1)[-1], sqs.list_queue_tags(QueueUrl=u).get("Tags", {}))

sns = client("sns")
for t in sns.list_topics()["Topics"]:
    add("sns topic", t["TopicArn"].rsplit(":", 1)[-1], sns.list_tags_for_resource(ResourceArn=t["TopicArn"])["Tags"])
    for s in sns.list_subscriptions_by_topic(TopicArn=t["TopicArn"])["Subscriptions"]:
        add("sns subscription", s["SubscriptionArn"], {})

elb = client("elbv2")
for lb in elb.describe_load_balancers()["LoadBalancers"]:
    arn = lb["LoadBalancerArn"]
    add("elbv2 load-balancer", lb["LoadBalancerName"], elb.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"])
    for li in elb.describe_listeners(LoadBalancerArn=arn)["Listeners"]:
        add("elbv2 listener", li["ListenerArn"].rsplit("/", 1)[-1], {})
for tg in elb.describe_target_groups()["TargetGroups"]:
    add("elbv2 target-group", tg["TargetGroupName"], elb.describe_tags(ResourceArns=[tg["TargetGroupArn"]])["TagDescriptions"][0]["Tags"])
classic = client("elb")
for lb in classic.describe_load_balancers()["LoadBalancerDescriptions"]:
    tags = classic.describe_tags(LoadBalancerNames=[lb["LoadBalancerName"]])["TagDescriptions"]
    add("elb load-balancer", lb["LoadBalancerName"], tags[0]["Tags"] if tags else [])

rds = client("rds")
for db in rds.describe_db_instances()["DBInstances"]:
    add("rds instance", db["DBInstanceIdentifier"], db.get("TagList"))
for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]:
    add("rds subnet-group", g["DBSubnetGroupName"], rds.list_tags_for_resource(ResourceName=g["DBSubnetGroupArn"])["TagList"])
for p in rds.describe_db_parameter_groups()["DBParameterGroups"]:
    if not p["DBParameterGroupName"].startswith("default."):
        add("rds parameter-group", p["DBParameterGroupName"], rds.list_tags_for_resource(ResourceName=p["DBParameterGroupArn"])["TagList"])
for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]:
    add("rds snapshot", s["DBSnapshotIdentifier"], s.get("TagList"))

r53 = client("route53")
for z in r53.list_hosted_zones()["HostedZones"]:
    zid = z["Id"].split("/")[-1]
    add("route53 zone", z["Name"], r53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=zid)["ResourceTagSet"]["Tags"])
    for rr in r53.list_resource_record_sets(HostedZoneId=zid)["ResourceRecordSets"]:
        if rr["Type"] not in ("SOA",) and not (rr["Type"] == "NS" and rr["Name"] == z["Name"]):
            add("route53 record", f"{rr['Name']} {rr['Type']} in {z['Name']}", {})

acm = client("acm")
for cert in acm.list_certificates()["CertificateSummaryList"]:
    add("acm certificate", cert["CertificateArn"].rsplit("/", 1)[-1], acm.list_tags_for_certificate(CertificateArn=cert["CertificateArn"]).get("Tags"))

asg = client("autoscaling")
for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"]:
    add("autoscaling group", g["AutoScalingGroupName"], g.get("Tags"))

lam = client("lambda")
for f in lam.list_functions()["Functions"]:
    add("lambda function", f["FunctionName"], lam.list_tags(Resource=f["FunctionArn"]).get("Tags", {}))
for m in lam.list_event_source_mappings()["EventSourceMappings"]:
    add("lambda event-source-mapping", m["UUID"], {})

iam = client("iam")
for r in iam.list_roles()["Roles"]:
    if not r["Path"].startswith("/aws-service-role/"):
        add("iam role", r["RoleName"], iam.list_role_tags(RoleName=r["RoleName"])["Tags"])

logs = client("logs")
for g in logs.describe_log_groups().get("logGroups", []):
    add("logs log-group", g["logGroupName"], logs.list_tags_log_group(logGroupName=g["logGroupName"]).get("tags", {}))

for item in out:
    print(json.dumps(item, sort_keys=True))
