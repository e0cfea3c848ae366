//! Creating a hosted zone under a fresh CallerReference, and delegating it
//! from its parent zone.

use std::time::Duration;

use aws_sdk_route53::error::ProvideErrorMetadata;
use aws_sdk_route53::types::HostedZoneConfig;

use super::super::api::{ZoneInfo, change_status, get_zone, zones_named};
use super::super::delegation::{delegate, delegate_first, find_parent};
use super::ownership::reference_prefix;
use crate::kinds::aws::classify;
use crate::kinds::aws::wait::poll_until;
use crate::kinds::{Cx, KindError, Readiness};

/// CreateHostedZone attempts with successive references in one apply.
const REFERENCE_PROBES: u32 = 50;
/// How long apply waits for the delegation change to be INSYNC.
const DELEGATION_INSYNC: Duration = Duration::from_secs(4 * 60);

/// Delegates `zone` from the parent named by `spec`: the parent's id and
/// the change to wait for. No such parent in this account is a permanent
/// error that lists the name servers to delegate by hand.
pub(super) async fn delegate_from(
    r53: &aws_sdk_route53::Client,
    spec: &str,
    zone: &ZoneInfo,
) -> Result<String, KindError> {
    let Some(parent) = find_parent(r53, spec).await? else {
        return Err(KindError::Permanent(format!(
            "hosted zone {} ({}) is not delegated and this account has no public hosted zone {spec} \
             to delegate it from: {}; then set `delegated: true`. Or create the public hosted \
             zone {spec} (delegated from your registrar) and run again, or set `parent_zone` to \
             its id",
            zone.name,
            zone.id,
            delegate_first(&zone.name, &zone.name_servers, spec),
        )));
    };
    if !zone.name.ends_with(&format!(".{}", parent.name)) {
        return Err(KindError::Permanent(format!(
            "parent_zone {spec} is the zone {}, which is not a parent of {}; name the zone of a \
             parent domain",
            parent.name, zone.name
        )));
    }
    if let Some(change) = delegate(r53, &parent, zone).await? {
        // Wait for INSYNC here, so that a rerun (which finds the record and
        // writes nothing) has nothing to wait for: terraform-provider-aws
        // waits likewise after each change (route53/change_info.go,
        // waitChangeInsync); "changes generally propagate to all Route 53
        // name servers within 60 seconds" (Developer Guide).
        let insync = poll_until(DELEGATION_INSYNC, || async {
            Ok(matches!(change_status(r53, &change).await?, Readiness::Ready).then_some(()))
        })
        .await?;
        if insync.is_none() {
            return Err(KindError::waiting(
                format!(
                    "Route53 change {change} (the delegation of {}) is still PENDING",
                    zone.name
                ),
                "Route 53 to apply the delegation on all its name servers",
                Duration::from_secs(10 * 60),
            ));
        }
    }
    Ok(parent.id)
}

/// Creates the zone under a fresh CallerReference; a reference Route53
/// already knows (HostedZoneAlreadyExists) is either a zone of ours that a
/// lost answer hid (adopted) or one burnt by an earlier, deleted zone (the
/// next number is tried).
pub(super) async fn create(cx: &Cx, name: &str) -> Result<ZoneInfo, KindError> {
    let r53 = &cx.backends.aws.route53;
    let day = jiff::Timestamp::now().strftime("%Y%m%d").to_string();
    for n in 0..REFERENCE_PROBES {
        let reference = format!("{}{day}/{n}", reference_prefix(cx));
        let result = r53
            .create_hosted_zone()
            .name(name)
            .caller_reference(&reference)
            .hosted_zone_config(
                HostedZoneConfig::builder()
                    .comment(format!(
                        "envctl tenant {} resource {}",
                        cx.tenant, cx.resource_id
                    ))
                    .private_zone(false)
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(out) => {
                let z = out.hosted_zone().ok_or_else(|| {
                    KindError::Transient(format!("CreateHostedZone {name}: no zone in the answer"))
                })?;
                let mut info = ZoneInfo::from_zone(z);
                info.name_servers = out
                    .delegation_set()
                    .map(|d| d.name_servers().to_vec())
                    .unwrap_or_default();
                return Ok(info);
            }
            Err(e) if e.code() == Some("HostedZoneAlreadyExists") => {
                let live = zones_named(r53, name).await?;
                if let Some(z) = live.into_iter().find(|z| z.caller_reference == reference) {
                    return get_zone(r53, &z.id).await?.ok_or_else(|| {
                        KindError::Transient(format!("hosted zone {} vanished", z.id))
                    });
                }
            }
            Err(e) => return Err(classify(&format!("CreateHostedZone {name}"), e)),
        }
    }
    Err(KindError::Permanent(format!(
        "CreateHostedZone {name}: {REFERENCE_PROBES} caller references of today are used up; \
         try again tomorrow"
    )))
}
