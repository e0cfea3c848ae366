"""Reads the proxy makes directly against moto (never through itself) to
decide a rule: hosted zones, record sets and name servers for the ACM
delegation walk and Route 53 batch checks, a load balancer before it is
deleted."""

import threading

import boto3
from botocore.config import Config as BotoConfig


class MotoReads:
    def __init__(self, url):
        self.url = url
        self._lock = threading.Lock()
        self._clients = {}

    def client(self, service, region="us-east-1"):
        key = (service, region)
        with self._lock:
            c = self._clients.get(key)
            if c is None:
                c = boto3.session.Session().client(
                    service, endpoint_url=self.url, region_name=region,
                    aws_access_key_id="testing", aws_secret_access_key="testing",
                    config=BotoConfig(retries={"max_attempts": 1}))
                self._clients[key] = c
            return c

    def zones_named(self, name):
        """Hosted zones whose name is `name` (with trailing dot), oldest first
        as moto lists them."""
        name = fqdn(name)
        r53 = self.client("route53")
        out = []
        marker = {}
        while True:
            page = r53.list_hosted_zones(**marker)
            out += [z for z in page["HostedZones"] if fqdn(z["Name"]) == name]
            if not page.get("IsTruncated"):
                return out
            marker = {"Marker": page["NextMarker"]}

    def name_servers(self, zone_id):
        zone = self.client("route53").get_hosted_zone(Id=zone_id)
        return {fqdn(ns) for ns in zone.get("DelegationSet", {}).get("NameServers", [])}

    def record_sets(self, zone_id):
        r53 = self.client("route53")
        out = []
        kwargs = {"HostedZoneId": zone_id}
        while True:
            page = r53.list_resource_record_sets(**kwargs)
            out += page["ResourceRecordSets"]
            if not page.get("IsTruncated"):
                return out
            kwargs = {"HostedZoneId": zone_id, "StartRecordName": page["NextRecordName"],
                      "StartRecordType": page["NextRecordType"]}

    def load_balancer(self, arn, region):
        lbs = self.client("elbv2", region).describe_load_balancers(LoadBalancerArns=[arn])
        return lbs["LoadBalancers"][0] if lbs["LoadBalancers"] else None

    def certificate(self, arn, region):
        return self.client("acm", region).describe_certificate(CertificateArn=arn)["Certificate"]


def fqdn(name):
    name = name.lower().replace("\\052", "*")
    return name if name.endswith(".") else name + "."
