"""AWS error answers in each protocol's real wire format (EC2 query, the
other query services, JSON 1.0/1.1 with SQS's query-compatible header,
Lambda rest-json, Route 53 rest-xml, S3), so the SDK parses the code and
message exactly as it would from AWS."""

import json
import uuid
from xml.sax.saxutils import escape

from .request import Response

_NS = {
    "rds": "http://rds.amazonaws.com/doc/2014-10-31/",
    "elasticloadbalancing": "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "autoscaling": "http://autoscaling.amazonaws.com/doc/2011-01-01/",
    "sqs": "http://queue.amazonaws.com/doc/2012-11-05/",
}

# SQS's JSON protocol keeps the query-era codes in x-amzn-query-error.
SQS_QUERY_CODES = {
    "QueueDeletedRecently": "AWS.SimpleQueueService.QueueDeletedRecently",
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "RequestThrottled": "RequestThrottled",
    "InvalidParameterValue": "InvalidParameterValue",
}


def error(req, status, code, message, sender=True):
    rid = str(uuid.uuid4())
    kind = "Sender" if sender else "Receiver"
    if req.protocol == "ec2":
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>%s</Code>'
                "<Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>"
                % (escape(code), escape(message), rid))
        return Response(status, [("Content-Type", "text/xml;charset=UTF-8")], body.encode())
    if req.protocol == "query":
        ns = _NS.get(req.service, "")
        body = ('<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message>'
                "</Error><RequestId>%s</RequestId></ErrorResponse>" % (ns, kind, escape(code), escape(message), rid))
        return Response(status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)], body.encode())
    if req.protocol == "json":
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", rid),
                   ("x-amzn-ErrorType", code)]
        type_ = code
        if req.service == "sqs":
            headers[0] = ("Content-Type", "application/x-amz-json-1.0")
            type_ = "com.amazonaws.sqs#" + code
            headers.append(("x-amzn-query-error", "%s;%s" % (SQS_QUERY_CODES.get(code, code), kind)))
        body = json.dumps({"__type": type_, "message": message})
        return Response(status, headers, body.encode())
    if req.protocol == "rest-json":
        body = json.dumps({"Type": "User" if sender else "Service", "message": message})
        return Response(status, [("Content-Type", "application/json"), ("x-amzn-RequestId", rid),
                                 ("x-amzn-ErrorType", code)], body.encode())
    if req.protocol == "rest-xml":
        body = ('<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
                "<Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId>"
                "</ErrorResponse>" % (kind, escape(code), escape(message), rid))
        return Response(status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)], body.encode())
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            "<RequestId>%s</RequestId></Error>" % (escape(code), escape(message), rid))
    return Response(status, [("Content-Type", "application/xml"), ("x-amz-request-id", rid)], body.encode())
