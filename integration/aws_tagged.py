"""Lists every AWS resource tagged envctl:tenant=<tenant>, through each
service's own API (boto3), independent of envctl. One line per resource.

usage: python aws_tagged.py ENDPOINT TENANT
"""
import os
import sys

import boto3

endpoint, tenant = sys.argv[1], sys.argv[2]
c = lambda s: boto3.client(s, endpoint_url=endpoint, region_name=os.environ.get("AWS_REGION", "us-east-1"))  # noqa: E731


def ours(tags):
    d = {t.get("Key", t.get("key")): t.get("Value", t.get("value")) for t in tags or []}
    return d.get("envctl:tenant") == tenant


found = []
ec2 = c("ec2")
flt = [{"Name": "tag:envctl:tenant", "Values": [tenant]}]
for what, call, key, ident in [
    ("vpc", ec2.describe_vpcs, "Vpcs", "VpcId"),
    ("subnet", ec2.describe_subnets, "Subnets", "SubnetId"),
    ("security-group", ec2.describe_security_groups, "SecurityGroups", "GroupId"),
    ("internet-gateway", ec2.describe_internet_gateways, "InternetGateways", "InternetGatewayId"),
    ("route-table", ec2.describe_route_tables, "RouteTables", "RouteTableId"),
    ("launch-template", ec2.describe_launch_templates, "LaunchTemplates", "LaunchTemplateId"),
]:
    found += [f"ec2 {what} {r[ident]}" for r in call(Filters=flt)[key]]
for r in ec2.describe_instances(Filters=flt + [{"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]:
    found += [f"ec2 instance {i['InstanceId']}" for i in r["Instances"]]

s3 = c("s3")
for b in s3.list_buckets().get("Buckets", []):
    try:
        if ours(s3.get_bucket_tagging(Bucket=b["Name"])["TagSet"]):
            found.append(f"s3 bucket {b['Name']}")
    except s3.exceptions.ClientError:
        pass
sqs = c("sqs")
for u in sqs.list_queues().get("QueueUrls", []):
    if sqs.list_queue_tags(QueueUrl=u).get("Tags", {}).get("envctl:tenant") == tenant:
        found.append(f"sqs queue {u}")
sns = c("sns")
for t in sns.list_topics()["Topics"]:
    if ours(sns.list_tags_for_resource(ResourceArn=t["TopicArn"])["Tags"]):
        found.append(f"sns topic {t['TopicArn']}")
elb = c("elbv2")
for lb in elb.describe_load_balancers()["LoadBalancers"]:
    if ours(elb.describe_tags(ResourceArns=[lb["LoadBalancerArn"]])["TagDescriptions"][0]["Tags"]):
        found.append(f"elbv2 load-balancer {lb['LoadBalancerName']}")
for tg in elb.describe_target_groups()["TargetGroups"]:
    if ours(elb.describe_tags(ResourceArns=[tg["TargetGroupArn"]])["TagDescriptions"][0]["Tags"]):
        found.append(f"elbv2 target-group {tg['TargetGroupName']}")
classic = c("elb")
for lb in classic.describe_load_balancers()["LoadBalancerDescriptions"]:
    tags = classic.describe_tags(LoadBalancerNames=[lb["LoadBalancerName"]])["TagDescriptions"]
    if tags and ours(tags[0]["Tags"]):
        found.append(f"elb load-balancer {lb['LoadBalancerName']}")
rds = c("rds")
for db in rds.describe_db_instances()["DBInstances"]:
    if ours(db.get("TagList")):
        found.append(f"rds instance {db['DBInstanceIdentifier']}")
for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]:
    if ours(rds.list_tags_for_resource(ResourceName=g["DBSubnetGroupArn"])["TagList"]):
        found.append(f"rds subnet-group {g['DBSubnetGroupName']}")
r53 = c("route53")
for z in r53.list_hosted_zones()["HostedZones"]:
    zid = z["Id"].split("/")[-1]
    if ours(r53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=zid)["ResourceTagSet"]["Tags"]):
        found.append(f"route53 zone {z['Name']}")
acm = c("acm")
for cert in acm.list_certificates()["CertificateSummaryList"]:
    if ours(acm.list_tags_for_certificate(CertificateArn=cert["CertificateArn"]).get("Tags")):
        found.append(f"acm certificate {cert['DomainName']}")
asg = c("autoscaling")
for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"]:
    if ours(g.get("Tags")):
        found.append(f"autoscaling group {g['AutoScalingGroupName']}")
lam = c("lambda")
for f in lam.list_functions()["Functions"]:
    if lam.list_tags(Resource=f["FunctionArn"]).get("Tags", {}).get("envctl:tenant") == tenant:
        found.append(f"lambda function {f['FunctionName']}")
iam = c("iam")
for r in iam.list_roles()["Roles"]:
    if ours(iam.list_role_tags(RoleName=r["RoleName"])["Tags"]):
        found.append(f"iam role {r['RoleName']}")

print("\n".join(found))
