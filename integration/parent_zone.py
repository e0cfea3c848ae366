#!/usr/bin/env python3
"""Creates the public hosted zone of the installation's domain in an AWS
endpoint (moto on loopback), unless one of that name exists: the parent zone
that tenant zones (`subdomain_of: ${envctl.domain}`) delegate themselves
from. Idempotent: a fixed CallerReference, and a lookup by name first.

    parent_zone.py ENDPOINT DOMAIN     prints the zone id
"""
import sys

import boto3


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    endpoint, domain = sys.argv[1], sys.argv[2].rstrip(".").lower()
    r53 = boto3.client(
        "route53",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    found = r53.list_hosted_zones_by_name(DNSName=domain, MaxItems="10")["HostedZones"]
    for z in found:
        if z["Name"].rstrip(".") == domain and not z["Config"].get("PrivateZone"):
            print(z["Id"].split("/")[-1])
            return 0
    out = r53.create_hosted_zone(
        Name=domain,
        CallerReference=f"envctl-local-parent-{domain}",
        HostedZoneConfig={"Comment": "envctl: parent zone of the local backends", "PrivateZone": False},
    )
    print(out["HostedZone"]["Id"].split("/")[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
