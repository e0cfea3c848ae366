//! Which property changes a resource cannot take in place (the diff says
//! "replace"), and which kinds hold data that a replacement or a delete
//! would lose. One table beside the kinds, keyed by kind name and
//! top-level property, each entry with the API reference that makes the
//! property fixed at creation. A property not listed changes in place.

/// A property fixed when the resource is created.
#[derive(Debug)]
pub struct Immutable {
    pub kind: &'static str,
    pub property: &'static str,
    /// Where the API says so.
    pub source: &'static str,
}

pub const IMMUTABLE: &[Immutable] = &[
    Immutable {
        kind: "aws.rds.instance",
        property: "engine",
        source: "RDS API Reference, ModifyDBInstance: no parameter changes a DB instance's engine (its `Engine` only converts an Oracle non-CDB to a CDB); envctl's apply refuses the change",
    },
    Immutable {
        kind: "aws.rds.instance",
        property: "database",
        source: "RDS API Reference, CreateDBInstance `DBName`: set at creation; ModifyDBInstance has no such parameter",
    },
    Immutable {
        kind: "aws.rds.instance",
        property: "username",
        source: "RDS API Reference, CreateDBInstance `MasterUsername`: set at creation; ModifyDBInstance has no such parameter",
    },
    Immutable {
        kind: "aws.sqs.queue",
        property: "fifo",
        source: "SQS API Reference, CreateQueue `FifoQueue`: the queue type cannot be changed after creation (a FIFO queue's name ends in .fifo)",
    },
    Immutable {
        kind: "aws.ec2.network",
        property: "cidr",
        source: "EC2 API Reference, CreateVpc `CidrBlock`: a VPC's primary IPv4 CIDR block cannot be changed (AssociateVpcCidrBlock only adds secondary blocks)",
    },
    Immutable {
        kind: "aws.route53.zone",
        property: "domain",
        source: "Route 53 API Reference, CreateHostedZone `Name`: no API renames a hosted zone",
    },
    Immutable {
        kind: "aws.acm.certificate",
        property: "domain",
        source: "ACM API Reference, RequestCertificate `DomainName`: fixed for the certificate's life; no API changes it",
    },
    Immutable {
        kind: "aws.acm.certificate",
        property: "subject_alternative_names",
        source: "ACM API Reference, RequestCertificate `SubjectAlternativeNames`: fixed for the certificate's life; no API changes them",
    },
    Immutable {
        kind: "aws.elbv2.load_balancer",
        property: "type",
        source: "ELB API Reference (v2), CreateLoadBalancer `Type`: set at creation; no ModifyLoadBalancer* call changes it",
    },
    Immutable {
        kind: "aws.elbv2.load_balancer",
        property: "scheme",
        source: "ELB API Reference (v2), CreateLoadBalancer `Scheme`: internet-facing or internal is set at creation; no API changes it",
    },
    Immutable {
        kind: "aws.elbv2.host_rule",
        property: "shared_from",
        source: "ELB API Reference (v2), CreateRule `ListenerArn`: a rule belongs to one listener; ModifyRule changes its conditions and actions, never its listener",
    },
    Immutable {
        kind: "k8s.namespace",
        property: "name",
        source: "Kubernetes API conventions, ObjectMeta `name`: an object's name cannot be updated",
    },
    Immutable {
        kind: "k8s.namespace",
        property: "prefix",
        source: "Kubernetes API conventions, ObjectMeta `name`: the prefix is part of the name, which cannot be updated",
    },
];

/// Kinds whose resources hold data, with what a replacement or a delete
/// would lose.
pub const DATA_BEARING: &[(&str, &str)] = &[
    ("aws.rds.instance", "the database's data would be lost"),
    ("aws.s3.bucket", "the bucket's objects would be lost"),
    (
        "aws.sqs.queue",
        "the messages waiting in the queue would be lost",
    ),
];

/// The source that makes `property` of `kind` fixed, when it is.
pub fn forces_replacement(kind: &str, property: &str) -> Option<&'static str> {
    IMMUTABLE
        .iter()
        .find(|i| i.kind == kind && i.property == property)
        .map(|i| i.source)
}

/// What replacing or deleting a resource of `kind` would lose, when it
/// holds data.
pub fn data_loss(kind: &str) -> Option<&'static str> {
    DATA_BEARING
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, loss)| *loss)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every entry names a kind envctl knows and a property of its schema:
    /// a renamed property would otherwise silently stop forcing a replace.
    #[test]
    fn every_entry_names_a_known_kind_and_one_of_its_properties() {
        for i in IMMUTABLE {
            let kind = crate::kinds::kind_by_name(i.kind)
                .unwrap_or_else(|| panic!("{}: no such kind", i.kind));
            let names: Vec<&str> = kind.props().iter().map(|p| p.name).collect();
            assert!(
                names.contains(&i.property),
                "{}.{} is not a property of the kind: {names:?}",
                i.kind,
                i.property,
            );
        }
        for (kind, _) in DATA_BEARING {
            assert!(crate::kinds::kind_by_name(kind).is_some(), "{kind}");
        }
    }
}
