//! Who a hosted zone belongs to: its tenant tags, or — when a run crashed
//! between CreateHostedZone and tagging — the CallerReference envctl gave
//! it (`envctl/<tenant>/<id>/<yyyymmdd>/<n>`).

use super::super::api::ZoneInfo;
use crate::kinds::Cx;
use crate::kinds::aws::owner::Tags;
use crate::tenant::tags;

/// The CallerReference prefix of this tenant's zones.
fn tenant_reference_prefix(tenant: &str) -> String {
    format!("envctl/{tenant}/")
}

/// The CallerReference prefix of one resource's zones.
pub(super) fn reference_prefix(cx: &Cx) -> String {
    format!(
        "{}{}/",
        tenant_reference_prefix(cx.tenant.as_str()),
        cx.resource_id
    )
}

/// The resource id in a CallerReference of `tenant`, if it is one.
pub(super) fn reference_resource<'a>(reference: &'a str, tenant: &str) -> Option<&'a str> {
    let rest = reference.strip_prefix(&tenant_reference_prefix(tenant))?;
    let (id, _) = rest.split_once('/')?;
    (!id.is_empty()).then_some(id)
}

/// Who a zone belongs to, as far as envctl can tell.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Owner {
    /// This resource created it.
    Us,
    /// Another resource of the same tenant created it.
    OtherResource(String),
    /// Another tenant's.
    OtherTenant(String),
    /// Not created by envctl.
    Foreign,
}

pub(super) fn owner(cx: &Cx, zone: &ZoneInfo, t: &Tags) -> Owner {
    let tenant = cx.tenant.as_str();
    match t.get(tags::TENANT) {
        Some(other) if other != tenant => return Owner::OtherTenant(other.clone()),
        Some(_) => {
            return match t.get(tags::RESOURCE) {
                Some(r) if *r != cx.resource_id => Owner::OtherResource(r.clone()),
                _ => Owner::Us,
            };
        }
        None => {}
    }
    match reference_resource(&zone.caller_reference, tenant) {
        Some(r) if r == cx.resource_id => Owner::Us,
        Some(r) => Owner::OtherResource(r.to_string()),
        None => Owner::Foreign,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_references_name_tenant_and_resource() {
        assert_eq!(
            reference_resource("envctl/acme/dns/20261121/0", "acme"),
            Some("dns")
        );
        assert_eq!(
            reference_resource("envctl/acme/dns/20261121/0", "acm"),
            None
        );
        assert_eq!(reference_resource("envctl/acme-2/dns/1/0", "acme"), None);
        assert_eq!(reference_resource("something-else", "acme"), None);
    }
}
