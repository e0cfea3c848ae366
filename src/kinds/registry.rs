//! The table of every kind envctl knows.

use super::Kind;

/// In dependency order: a kind's resources may refer to those of kinds above
/// it. A sweep deletes in the reverse of this order.
static KINDS: &[&dyn Kind] = &[
    &super::sim::Delay,
    &super::env_value::EnvValue,
    &super::secret_password::Password,
    // The network, then what lives in it.
    &super::aws::ec2::network::Network,
    &super::aws::ec2::security_group::SecurityGroup,
    // The zone before the certificate that writes validation records into it.
    &super::aws::route53::zone::Zone,
    &super::aws::acm::Certificate,
    &super::aws::s3::Bucket,
    &super::aws::sqs::Queue,
    // Topics subscribe queues: after them.
    &super::aws::sns::Topic,
    // Load balancers use subnets, security groups and certificates.
    &super::aws::elb::v2::LoadBalancer,
    // A tenant's rule and target group on another tenant's load balancer:
    // swept before the load balancer kind, which would find the target
    // group by its tags too.
    &super::aws::elb::v2::HostRule,
    &super::aws::elb::classic::ClassicLoadBalancer,
    // Databases use subnets, security groups and a secret.password.
    &super::aws::rds::Instance,
    // Workers register with target groups; functions read queues.
    &super::aws::autoscaling::Group,
    &super::aws::lambda::Function,
    // Records point at load balancers.
    &super::aws::route53::record::Record,
    // The namespace before the services in it.
    &super::k8s::namespace::NamespaceKind,
    &super::k8s::service::ServiceKind,
];

pub fn all_kinds() -> &'static [&'static dyn Kind] {
    KINDS
}

pub fn kind_by_name(name: &str) -> Option<&'static dyn Kind> {
    KINDS.iter().copied().find(|k| k.name() == name)
}
