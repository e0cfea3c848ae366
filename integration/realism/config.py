"""The proxy's settings: time scale, the real AWS durations every rule uses
(scaled at use), fault and throttling rates, and the switches of each rule.
Changeable at runtime through POST /realism/config (a JSON object merged
into the current settings)."""

import copy
import threading

# name: (real seconds, what it is, source). Scaled at use: real * scale,
# never below `floor` (a window shorter than a round trip means nothing).
DURATIONS = {
    "rds_creating": (360, "RDS DB instance status `creating` (db.t3.micro, no Multi-AZ)",
                     "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html#Overview.DBInstance.Status"),
    "rds_backing_up": (90, "RDS status `backing-up` (first automated backup) before `available`",
                       "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html#Overview.DBInstance.Status"),
    "rds_resetting_credentials": (60, "RDS `resetting-master-credentials` after ModifyDBInstance with MasterUserPassword (PendingModifiedValues.MasterUserPassword until applied; AWS documents no figure: a minute is the commonly observed order)",
                                  "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html"),
    "rds_deleting": (240, "RDS `deleting`: subnet group in use, its ENIs keep SGs/subnets busy",
                     "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBSubnetGroup.html"),
    "elb_provisioning": (180, "ELBv2 State.Code `provisioning` before `active`",
                         "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_LoadBalancerState.html"),
    "eni_linger": (240, "a deleted load balancer's network interfaces linger (DependencyViolation)",
                   "terraform-provider-aws internal/service/elbv2/load_balancer.go (waits for the ELB's ENIs after delete)"),
    "acm_options_delay": (5, "DomainValidationOptions/ResourceRecord absent right after RequestCertificate",
                          "https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html"),
    "acm_issue": (120, "ACM issues the certificate after its CNAME resolves",
                  "https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html"),
    "acm_validation_timeout": (72 * 3600, "never validated -> VALIDATION_TIMED_OUT",
                               "https://docs.aws.amazon.com/acm/latest/userguide/troubleshooting-DNS-validation.html"),
    "cert_visible": (60, "ELBv2 answers CertificateNotFound for a certificate issued this recently",
                     "terraform-provider-aws internal/service/elbv2/listener.go (retries CertificateNotFound)"),
    "route53_insync": (60, "Route53 change PENDING before INSYNC",
                       "https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetChange.html"),
    "consistency": (5, "a new EC2 resource is invisible to filtered Describe*/GetResources",
                    "https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html"),
    "iam_propagation": (10, "a new IAM role cannot be assumed by Lambda yet",
                        "terraform-provider-aws internal/service/lambda/function.go (retries 'cannot be assumed by Lambda')"),
    "sqs_deleted_recently": (60, "CreateQueue of a name deleted this recently -> QueueDeletedRecently",
                             "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteQueue.html"),
}

# Calls whose response is "lost" when lost_rate fires (default set): creates
# without an idempotency token, where a retry makes a duplicate.
LOST_ACTIONS = [
    "ec2:CreateVpc", "ec2:CreateSubnet", "ec2:CreateInternetGateway", "ec2:CreateRouteTable",
    "ec2:CreateSecurityGroup", "ec2:RunInstances", "ec2:CreateLaunchTemplate",
    "ec2:AllocateAddress", "ec2:CreateNatGateway",
    "elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup",
    "rds:CreateDBInstance", "rds:CreateDBSubnetGroup", "acm:RequestCertificate",
    "route53:CreateHostedZone", "sqs:CreateQueue", "sns:CreateTopic", "s3:CreateBucket",
    "lambda:CreateFunction", "iam:CreateRole",
]

# Token buckets (real time, never scaled): service or service:Action ->
# [refill per second, burst]. The most specific key wins.
THROTTLE_RATES = {
    # EC2 request token bucket (per account/region): non-mutating 100 burst,
    # 20/s; mutating 200 burst, 5/s (ec2-api-throttling.html).
    "ec2:describe": [20, 100],
    "ec2:mutate": [5, 200],
    # Route 53: five requests per second per account (repost knowledge
    # center route-53-avoid-throttling-errors; the newer throttling page
    # raises it to 10/s with a burst of 50: set [10, 50] to model that).
    "route53": [5, 5],
    "elasticloadbalancing": [10, 40],
    "rds": [10, 40],
    "acm": [10, 20],
    "iam": [10, 20],
    "lambda": [15, 30],
    "sqs": [100, 300],
    "sns": [30, 60],
    "s3": [100, 300],
    "sts": [50, 100],
    "logs": [10, 20],
    "tagging": [10, 20],
    "autoscaling": [10, 40],
}

RULES = ["faults", "throttle", "validate", "rds", "elb_names", "client_token", "elb", "eni", "acm", "listener_cert",
         "route53", "consistency", "iam_lambda", "sqs"]

DEFAULTS = {
    "scale": 1.0 / 60,
    "floor": 1.0,
    "seed": 1,
    "durations": {k: v[0] for k, v in DURATIONS.items()},
    "public_zones": [],
    "acm_fail": {},  # domain -> FailureReason (forces FAILED)
    "fault_rate": 0.0,
    "fault_actions": [],  # empty: every call; else "service:Action" (fnmatch)
    "lost_rate": 0.0,
    "lost_actions": LOST_ACTIONS,
    "lost_mode": "drop",  # drop the connection | "500": answer InternalError
    "throttle": False,
    "throttle_rates": THROTTLE_RATES,
    "rules": {r: True for r in RULES},
}


class Config:
    def __init__(self, overrides=None):
        self._lock = threading.Lock()
        self._data = copy.deepcopy(DEFAULTS)
        if overrides:
            self.merge(overrides)

    def merge(self, patch):
        with self._lock:
            for k, v in patch.items():
                if k not in self._data:
                    raise KeyError("unknown setting %r" % k)
                if isinstance(self._data[k], dict) and isinstance(v, dict) and k != "acm_fail":
                    self._data[k].update(v)
                else:
                    self._data[k] = v

    def get(self, key):
        with self._lock:
            return copy.deepcopy(self._data[key])

    def on(self, rule):
        with self._lock:
            return self._data["rules"].get(rule, True)

    def dur(self, name):
        """The scaled duration of `name`, in seconds."""
        with self._lock:
            real = self._data["durations"][name]
            if real <= 0:
                return 0.0
            return max(real * self._data["scale"], self._data["floor"])

    def snapshot(self):
        with self._lock:
            return copy.deepcopy(self._data)
