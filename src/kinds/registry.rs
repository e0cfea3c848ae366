//! The table of every kind envctl knows.

use super::Kind;

/// In dependency order: a kind's resources may refer to those of kinds above
/// it. A sweep deletes in the reverse of this order.
static KINDS: &[&dyn Kind] = &[
    &super::sim::Delay,
    &super::env_value::EnvValue,
    &super::secret_password::Password,
    &super::aws::s3::Bucket,
    &super::aws::sqs::Queue,
    // Topics subscribe queues: after them.
    &super::aws::sns::Topic,
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
