//! The ownership marker of a record resource: a TXT record
//! `<resource-id>._envctl-<tenant>.<zone>` written in the same change batch
//! as the record, saying whose it is and what it owns (Route 53 records
//! cannot be tagged).

use std::collections::BTreeMap;

use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSet, RrType};

use super::super::api::{ZoneInfo, record_set};
use super::super::dns_name::dns_name;
use super::props::DEFAULT_TTL;
use crate::kinds::aws::call::permanent;
use crate::kinds::{Cx, KindError};
use crate::tenant::tags;

/// The ownership marker of one record resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Marker {
    pub(super) tenant: String,
    pub(super) resource: String,
    pub(super) managed: bool,
    /// The owned record's full name, no trailing dot.
    pub(super) name: String,
    pub(super) rtype: String,
    /// The change that wrote the record; absent while a write is under way.
    pub(super) change: Option<String>,
}

/// `_envctl-<tenant>.<zone>`: the parent of every marker of a tenant in a
/// zone (labels keep tenant and resource apart: both may contain '-').
pub(super) fn marker_parent(tenant: &str, zone: &str) -> String {
    format!("_envctl-{tenant}.{zone}")
}

pub(super) fn marker_name(cx: &Cx, zone: &str) -> String {
    format!(
        "{}.{}",
        cx.resource_id,
        marker_parent(cx.tenant.as_str(), zone)
    )
}

impl Marker {
    fn value(&self) -> String {
        let mut fields = vec![
            "heritage=envctl".to_string(),
            format!("{}={}", tags::TENANT, self.tenant),
            format!("{}={}", tags::RESOURCE, self.resource),
            format!("{}={}", tags::MANAGED, self.managed),
            format!("name={}", self.name),
            format!("type={}", self.rtype),
        ];
        if let Some(c) = &self.change {
            fields.push(format!("change={c}"));
        }
        fields
            .iter()
            .map(|f| format!("\"{f}\""))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Reads a marker value; `None` when it is not one of envctl's.
    fn parse(value: &str) -> Option<Marker> {
        let mut fields = BTreeMap::new();
        for part in value.split('"') {
            if let Some((k, v)) = part.split_once('=') {
                fields.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
        if fields.get("heritage").map(String::as_str) != Some("envctl") {
            return None;
        }
        Some(Marker {
            tenant: fields.remove(tags::TENANT)?,
            resource: fields.remove(tags::RESOURCE)?,
            managed: fields.get(tags::MANAGED).map(String::as_str) == Some("true"),
            name: dns_name(&fields.remove("name")?),
            rtype: fields.remove("type")?.to_ascii_uppercase(),
            change: fields.remove("change").filter(|c| !c.is_empty()),
        })
    }

    pub(super) fn from_set(set: &ResourceRecordSet) -> Option<Marker> {
        if set.r#type() != &RrType::Txt {
            return None;
        }
        set.resource_records()
            .iter()
            .find_map(|r| Marker::parse(r.value()))
    }

    pub(super) fn record_set(&self, name: &str) -> Result<ResourceRecordSet, KindError> {
        ResourceRecordSet::builder()
            .name(format!("{name}."))
            .r#type(RrType::Txt)
            .ttl(DEFAULT_TTL)
            .resource_records(
                ResourceRecord::builder()
                    .value(self.value())
                    .build()
                    .map_err(|e| permanent("marker value", e))?,
            )
            .build()
            .map_err(|e| permanent("marker", e))
    }
}

/// This resource's marker in a zone (the set as listed, and what it says),
/// if there is one of this tenant and resource.
pub(super) async fn our_marker(
    cx: &Cx,
    zone: &ZoneInfo,
) -> Result<Option<(ResourceRecordSet, Marker)>, KindError> {
    let r53 = &cx.backends.aws.route53;
    let name = marker_name(cx, &zone.name);
    let Some(set) = record_set(r53, &zone.id, &name, &RrType::Txt).await? else {
        return Ok(None);
    };
    Ok(Marker::from_set(&set)
        .filter(|m| m.tenant == cx.tenant.as_str() && m.resource == cx.resource_id)
        .map(|m| (set, m)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip() {
        let m = Marker {
            tenant: "acme".into(),
            resource: "app".into(),
            managed: true,
            name: "app.acme.example.test".into(),
            rtype: "CNAME".into(),
            change: Some("C123".into()),
        };
        assert_eq!(Marker::parse(&m.value()), Some(m.clone()));
        let pending = Marker { change: None, ..m };
        assert_eq!(Marker::parse(&pending.value()), Some(pending));
        assert_eq!(Marker::parse("\"v=spf1 -all\""), None);
        assert_eq!(
            marker_parent("acme", "acme.example.test"),
            "_envctl-acme.acme.example.test"
        );
    }
}
