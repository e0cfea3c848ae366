//! Elastic Load Balancing: the Application/Network Load Balancer kind
//! ([`v2`]) and the Classic Load Balancer kind ([`classic`]), and what the
//! two share: the rules for load balancer names, the scheme, the default
//! target port and health-check path, and the DescribeTags batch size.

pub mod classic;
pub mod v2;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::kinds::{Cx, KindError};

/// Load balancer and target group names are at most 32 characters (ELBv2
/// and Classic alike).
pub(crate) const MAX_NAME: usize = 32;
/// DescribeTags takes at most 20 load balancers per call (ARNs in ELBv2,
/// names in Classic).
pub(crate) const TAG_BATCH: usize = 20;

/// Whether a load balancer gets public addresses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub(crate) enum Scheme {
    #[default]
    #[serde(rename = "internet-facing")]
    InternetFacing,
    #[serde(rename = "internal")]
    Internal,
}

impl Scheme {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scheme::InternetFacing => "internet-facing",
            Scheme::Internal => "internal",
        }
    }
}

pub(crate) fn default_target_port() -> u16 {
    8080
}

pub(crate) fn default_health_check_path() -> String {
    "/healthcheck".to_string()
}

/// Checks a load balancer or target group name: letters, digits and '-',
/// not at either end, not beginning with `internal-`.
pub(crate) fn check_elb_name(what: &str, name: &str, cx: &Cx) -> Result<(), KindError> {
    if valid_elb_name(name) {
        Ok(())
    } else {
        Err(KindError::Permanent(format!(
            "{what} name '{name}' (from tenant '{}' and resource id '{}') is not valid: ELB \
             names use letters, digits and '-', not at either end; rename the resource",
            cx.tenant, cx.resource_id
        )))
    }
}

/// CreateLoadBalancer / CreateTargetGroup `Name`: at most 32 characters,
/// letters, digits and '-', not beginning or ending with '-', and (load
/// balancers) not beginning with `internal-` (ELBv2 API reference).
pub(crate) fn valid_elb_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.starts_with("internal-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elb_names_follow_the_create_load_balancer_rules() {
        for ok in ["envctl-acme-alb", "a", &"a".repeat(32)] {
            assert!(valid_elb_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "internal-lb", "a_b", "a.b", &"a".repeat(33)] {
            assert!(!valid_elb_name(bad), "{bad}");
        }
        let t = crate::tenant::TenantName::parse(&"t".repeat(40)).unwrap();
        let long = crate::tenant::physical_name(&t, "a-very-long-resource-id", MAX_NAME);
        assert!(valid_elb_name(&long), "{long}");
    }
}
