"""Rule 4, a new certificate is not yet visible to ELB. CreateListener,
ModifyListener and AddListenerCertificates naming an ACM certificate that is
not issued, or was issued less than `cert_visible` ago, answer 400
CertificateNotFound "Certificate '<arn>' not found", as AWS does while ACM
propagates. Source: terraform-provider-aws internal/service/elbv2/listener.go
(retries CertificateNotFound on create/modify),
https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateListener.html (CertificateNotFound)."""

from ..errors import error
from . import acm

ACTIONS = {"CreateListener", "ModifyListener", "AddListenerCertificates"}


def before(ctx, req):
    if req.service != "elasticloadbalancing" or req.action not in ACTIONS:
        return None
    for arn in req.indexed("Certificates.member", ".CertificateArn"):
        if ctx.state.get("acm", arn) is None:
            continue
        issued = acm.issued_at(ctx, arn, req.region)
        if issued is None or ctx.now() - issued < ctx.cfg.dur("cert_visible"):
            ctx.stats.bump("elb.certificate_not_found")
            return error(req, 400, "CertificateNotFound", "Certificate '%s' not found" % arn)
    return None
