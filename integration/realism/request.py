"""What a request is: its service (from the SigV4 credential scope), region,
protocol, action and parameters, read from the raw HTTP request. Also the
Response value the proxy sends back."""

import json
import re
import urllib.parse

_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/]+)/([^/]+)/aws4_request")

QUERY_SERVICES = {"ec2", "rds", "elasticloadbalancing", "autoscaling", "iam", "sns", "sts"}


class Response:
    def __init__(self, status, headers, body, reason=None):
        self.status = status
        self.reason = reason
        self.headers = list(headers)  # [(name, value)]
        self.body = body  # bytes
        self.drop = False  # close the connection instead of answering

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def set_header(self, name, value):
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        self.headers.append((name, value))

    @property
    def ok(self):
        return 200 <= self.status < 300

    def text(self):
        return self.body.decode("utf-8", "replace")

    def set_text(self, s):
        self.body = s.encode("utf-8")

    def json(self):
        return json.loads(self.body or b"{}")

    def set_json(self, obj):
        self.body = json.dumps(obj).encode("utf-8")


class Request:
    def __init__(self, method, target, headers, body):
        self.method = method
        self.target = target
        parts = urllib.parse.urlsplit(target)
        self.path = parts.path
        self.query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        self.headers = headers  # list of (name, value) as received
        self.body = body
        auth = self.header("authorization") or ""
        m = _SCOPE.search(auth) or _SCOPE.search(urllib.parse.unquote(parts.query))
        self.region, self.service = (m.group(1), m.group(2)) if m else ("us-east-1", self._guess_service())
        ctype = (self.header("content-type") or "").lower()
        self.params = {}
        self.json = None
        if "x-amz-json" in ctype or self.header("x-amz-target"):
            self.protocol = "json"
            try:
                self.json = json.loads(body or b"{}")
            except ValueError:
                self.json = {}
            target_h = self.header("x-amz-target") or ""
            self.action = target_h.rsplit(".", 1)[-1]
        elif self.service in QUERY_SERVICES or (self.service == "sqs" and "x-www-form-urlencoded" in ctype):
            self.protocol = "ec2" if self.service == "ec2" else "query"
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True) if body else {}
            merged = dict(self.query)
            merged.update(form)
            self.params = {k: v[0] for k, v in merged.items()}
            self.action = self.params.get("Action", "")
        elif self.service == "route53":
            self.protocol = "rest-xml"
            self.action = self._route53_action()
        elif self.service == "lambda":
            self.protocol = "rest-json"
            self.action = self._lambda_action()
            try:
                self.json = json.loads(body) if body else {}
            except ValueError:
                self.json = {}
        else:
            self.protocol = "s3" if self.service == "s3" else "rest"
            self.action = self._s3_action() if self.service == "s3" else ""

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def key(self):
        return "%s:%s" % (self.service, self.action)

    def _guess_service(self):
        if self.path.startswith("/2013-04-01/"):
            return "route53"
        if self.path.startswith("/2015-03-31/"):
            return "lambda"
        return "s3"

    def _route53_action(self):
        p, m = self.path.rstrip("/"), self.method
        if re.fullmatch(r"/2013-04-01/hostedzone/[^/]+/rrset", p):
            return "ChangeResourceRecordSets" if m == "POST" else "ListResourceRecordSets"
        if re.fullmatch(r"/2013-04-01/change/[^/]+", p):
            return "GetChange"
        if p == "/2013-04-01/hostedzone":
            return "CreateHostedZone" if m == "POST" else "ListHostedZones"
        if re.fullmatch(r"/2013-04-01/hostedzone/[^/]+", p):
            return {"GET": "GetHostedZone", "DELETE": "DeleteHostedZone"}.get(m, "")
        return ""

    def _lambda_action(self):
        p, m = self.path.rstrip("/"), self.method
        if p == "/2015-03-31/functions" and m == "POST":
            return "CreateFunction"
        if re.fullmatch(r"/2015-03-31/functions/[^/]+/configuration", p) and m == "PUT":
            return "UpdateFunctionConfiguration"
        if re.fullmatch(r"/2015-03-31/functions/[^/]+", p):
            return {"GET": "GetFunction", "DELETE": "DeleteFunction"}.get(m, "")
        return ""

    def _s3_action(self):
        segs = [s for s in self.path.split("/") if s]
        if len(segs) == 1 and not self.query:
            return {"PUT": "CreateBucket", "DELETE": "DeleteBucket", "HEAD": "HeadBucket",
                    "GET": "ListObjects"}.get(self.method, "")
        if len(segs) >= 2 and not self.query:
            return {"PUT": "PutObject", "GET": "GetObject", "DELETE": "DeleteObject",
                    "HEAD": "HeadObject"}.get(self.method, "")
        return ""

    def indexed(self, prefix, suffix=""):
        """Values of query parameters `prefix.N<suffix>` in N order, e.g.
        indexed('Certificates.member', '.CertificateArn')."""
        pat = re.compile(r"^%s\.(\d+)%s$" % (re.escape(prefix), re.escape(suffix)))
        found = []
        for k, v in self.params.items():
            m = pat.match(k)
            if m:
                found.append((int(m.group(1)), v))
        return [v for _, v in sorted(found)]
