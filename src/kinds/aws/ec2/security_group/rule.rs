//! One ingress rule of `aws.ec2.security_group` in the form EC2 reports it
//! (DescribeSecurityGroupRules) and takes it (IpPermission): what the
//! convergence compares.

use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, SecurityGroupRule, UserIdGroupPair};

/// Where traffic of a rule comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Source {
    Cidr4(String),
    Cidr6(String),
    Group(String),
}

/// One ingress rule in the form EC2 reports it (ports -1 for "all").
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Rule {
    pub(super) protocol: String,
    pub(super) from: i32,
    pub(super) to: i32,
    pub(super) source: Source,
}

impl Rule {
    pub(super) fn permission(&self, description: Option<&str>) -> IpPermission {
        let mut p = IpPermission::builder().ip_protocol(&self.protocol);
        if self.protocol != "-1" {
            p = p.from_port(self.from).to_port(self.to);
        }
        match &self.source {
            Source::Cidr4(c) => p.ip_ranges(
                IpRange::builder()
                    .cidr_ip(c)
                    .set_description(description.map(str::to_string))
                    .build(),
            ),
            Source::Cidr6(c) => p.ipv6_ranges(
                Ipv6Range::builder()
                    .cidr_ipv6(c)
                    .set_description(description.map(str::to_string))
                    .build(),
            ),
            Source::Group(g) => p.user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id(g)
                    .set_description(description.map(str::to_string))
                    .build(),
            ),
        }
        .build()
    }

    /// The rule as EC2 describes it; `None` for egress or prefix-list rules.
    pub(super) fn of(r: &SecurityGroupRule) -> Option<Rule> {
        if r.is_egress() != Some(false) {
            return None;
        }
        let protocol = r.ip_protocol()?.to_string();
        let all = protocol == "-1";
        let source = if let Some(c) = r.cidr_ipv4() {
            Source::Cidr4(c.to_string())
        } else if let Some(c) = r.cidr_ipv6() {
            Source::Cidr6(c.to_string())
        } else {
            Source::Group(r.referenced_group_info()?.group_id()?.to_string())
        };
        Some(Rule {
            from: if all { -1 } else { r.from_port().unwrap_or(-1) },
            to: if all { -1 } else { r.to_port().unwrap_or(-1) },
            protocol,
            source,
        })
    }
}
