"""Rule 3, ACM DNS validation. A requested certificate stays
PENDING_VALIDATION (Status and each DomainValidationOptions[].ValidationStatus)
until every validation CNAME resolves through a delegation chain that starts
at a zone marked public (`--public-zone NAME`: "the registrar delegates NAME
to its Route 53 zone"); then ISSUED after `acm_issue`. Right after
RequestCertificate the ResourceRecords are hidden for `acm_options_delay`.
Never resolvable: VALIDATION_TIMED_OUT after `acm_validation_timeout`;
`acm_fail` {domain: reason} forces FAILED with that FailureReason.
Sources: https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html
https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html ("a delay of several seconds")
https://docs.aws.amazon.com/acm/latest/APIReference/API_CertificateDetail.html (Status, FailureReason)
https://docs.aws.amazon.com/acm/latest/userguide/troubleshooting-DNS-validation.html (72 hours)"""

from ..moto_reads import fqdn


def after(ctx, req, resp):
    if req.service != "acm" or not resp.ok:
        return resp
    if req.action == "RequestCertificate":
        arn = resp.json().get("CertificateArn")
        if arn:
            body = req.json or {}
            ctx.state.put("acm", arn, domains=[body.get("DomainName", "")] + body.get("SubjectAlternativeNames", []))
    elif req.action == "ImportCertificate":
        arn = resp.json().get("CertificateArn")
        if arn:
            ctx.state.put("acm", arn, domains=[], imported=True, issued_at=ctx.now())
    elif req.action == "DescribeCertificate":
        doc = resp.json()
        cert = doc.get("Certificate", {})
        if ctx.state.get("acm", cert.get("CertificateArn")):
            _rewrite(ctx, cert)
            resp.set_json(doc)
    elif req.action == "ListCertificates":
        doc = resp.json()
        for s in doc.get("CertificateSummaryList", []):
            if ctx.state.get("acm", s.get("CertificateArn")):
                try:
                    cert = ctx.moto.certificate(s["CertificateArn"], req.region)
                except Exception:  # noqa: BLE001
                    continue
                s["Status"] = view(ctx, s["CertificateArn"], cert)[0]
        resp.set_json(doc)
    elif req.action == "DeleteCertificate":
        ctx.state.pop("acm", (req.json or {}).get("CertificateArn"))
    return resp


def view(ctx, arn, cert):
    """(Status, FailureReason or None) of a tracked certificate now, as
    AWS would show it. Records the time validation succeeded."""
    st = ctx.state.get("acm", arn)
    if st.get("imported"):
        return ("ISSUED", None)
    forced = _forced_failure(ctx, st["domains"] + [cert.get("DomainName", "")])
    if forced:
        return ("FAILED", forced)
    t = ctx.now()
    if st.get("validated_at") is None:
        records = [o.get("ResourceRecord") for o in cert.get("DomainValidationOptions", [])]
        if records and all(records) and all(resolvable(ctx, r["Name"], r["Value"]) for r in records):
            ctx.state.update("acm", arn, validated_at=t)
            st = ctx.state.get("acm", arn)
    if st.get("validated_at") is not None:
        issued = st["validated_at"] + ctx.cfg.dur("acm_issue")
        if t >= issued:
            if st.get("issued_at") is None:
                ctx.state.update("acm", arn, issued_at=issued)
            return ("ISSUED", None)
        return ("PENDING_VALIDATION", None)
    if t - st["t"] >= ctx.cfg.dur("acm_validation_timeout"):
        return ("VALIDATION_TIMED_OUT", None)
    return ("PENDING_VALIDATION", None)


def issued_at(ctx, arn, region):
    """When the certificate became ISSUED (proxy clock), or None."""
    st = ctx.state.get("acm", arn)
    if st is None:
        return None
    if st.get("issued_at") is None and not st.get("imported"):
        try:
            view(ctx, arn, ctx.moto.certificate(arn, region))
        except Exception:  # noqa: BLE001
            return None
        st = ctx.state.get("acm", arn)
    return st.get("issued_at")


def _forced_failure(ctx, domains):
    fail = ctx.cfg.get("acm_fail")
    for d in domains:
        d = d.lower().rstrip(".")
        for pattern, reason in fail.items():
            p = pattern.lower().rstrip(".")
            if d == p or d.endswith("." + p):
                return reason or "OTHER"
    return None


def _rewrite(ctx, cert):
    arn = cert["CertificateArn"]
    st = ctx.state.get("acm", arn)
    status, reason = view(ctx, arn, cert)
    if status != cert.get("Status"):
        ctx.stats.bump("acm." + status.lower())
    cert["Status"] = status
    per_domain = {"ISSUED": "SUCCESS", "FAILED": "FAILED", "VALIDATION_TIMED_OUT": "TIMED_OUT"}.get(status, "PENDING_VALIDATION")
    if status != "ISSUED":
        for k in ("IssuedAt", "NotBefore", "NotAfter", "Serial"):
            cert.pop(k, None)
    if reason:
        cert["FailureReason"] = reason
    hide = ctx.now() - st["t"] < ctx.cfg.dur("acm_options_delay") and not st.get("imported")
    if hide:
        ctx.stats.bump("acm.options_hidden")
    for o in cert.get("DomainValidationOptions", []):
        o["ValidationStatus"] = per_domain
        if hide:
            o.pop("ResourceRecord", None)


def resolvable(ctx, name, value):
    """Whether CNAME `name` -> `value` resolves from the public internet:
    walk from the public zone that contains `name` down the NS delegations
    (each must equal the child zone's name servers) to the zone that holds
    the record."""
    name, value = fqdn(name), fqdn(value)
    publics = [fqdn(z) for z in ctx.cfg.get("public_zones")]
    roots = sorted((z for z in publics if name == z or name.endswith("." + z)), key=len, reverse=True)
    if not roots:
        ctx.stats.bump("acm.no_public_zone")
        return False
    zones = ctx.moto.zones_named(roots[0])
    if not zones:
        return False
    zone_id, zone_name = zones[0]["Id"], roots[0]
    for _ in range(32):
        records = ctx.moto.record_sets(zone_id)
        for r in records:
            if fqdn(r["Name"]) == name and r["Type"] == "CNAME":
                return any(fqdn(v["Value"]) == value for v in r.get("ResourceRecords", []))
        cuts = [r for r in records if r["Type"] == "NS" and fqdn(r["Name"]) != zone_name
                and (name == fqdn(r["Name"]) or name.endswith("." + fqdn(r["Name"])))]
        if not cuts:
            return False
        cut = max(cuts, key=lambda r: len(r["Name"]))
        wanted = {fqdn(v["Value"]) for v in cut.get("ResourceRecords", [])}
        child = None
        for z in ctx.moto.zones_named(cut["Name"]):
            if z.get("Config", {}).get("PrivateZone"):
                continue
            if ctx.moto.name_servers(z["Id"]) == wanted:
                child = z
                break
        if child is None:
            ctx.stats.bump("acm.lame_delegation")
            return False
        zone_id, zone_name = child["Id"], fqdn(cut["Name"])
    return False
