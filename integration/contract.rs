//! The contract every kind keeps, run over every kind of the registry
//! (`support::contract`): the AWS kinds against a private moto, the
//! Kubernetes kinds against the test cluster (ENVCTL_TEST_KUBECONFIG), and
//! the kinds that create nothing. One test per kind, so that a failure names
//! the kind; and a test that fails when a kind has no contract case.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeSet;

use envctl::kinds::all_kinds;
use support::contract;

/// One test per kind: `name => "kind.name"`; `TESTED` lists them.
macro_rules! contract_tests {
    ($($test:ident => $kind:literal,)*) => {
        $(
            #[tokio::test]
            async fn $test() {
                let case = contract::case($kind)
                    .unwrap_or_else(|| panic!("no contract case for {}", $kind));
                contract::run(case).await;
            }
        )*
        const TESTED: &[&str] = &[$($kind),*];
    };
}

contract_tests! {
    sim_delay => "sim.delay",
    env_value => "env.value",
    secret_password => "secret.password",
    aws_ec2_network => "aws.ec2.network",
    aws_ec2_security_group => "aws.ec2.security_group",
    aws_route53_zone => "aws.route53.zone",
    aws_acm_certificate => "aws.acm.certificate",
    aws_s3_bucket => "aws.s3.bucket",
    aws_sqs_queue => "aws.sqs.queue",
    aws_sns_topic => "aws.sns.topic",
    aws_elbv2_load_balancer => "aws.elbv2.load_balancer",
    aws_elbv2_host_rule => "aws.elbv2.host_rule",
    aws_elb_classic => "aws.elb.classic",
    aws_rds_instance => "aws.rds.instance",
    aws_autoscaling_group => "aws.autoscaling.group",
    aws_lambda_function => "aws.lambda.function",
    aws_route53_record => "aws.route53.record",
    k8s_namespace => "k8s.namespace",
    k8s_service => "k8s.service",
}

#[test]
fn every_kind_of_the_registry_has_a_contract_case_and_a_test() {
    let registry: BTreeSet<&str> = all_kinds().iter().map(|k| k.name()).collect();
    let cased: BTreeSet<&str> = contract::cases().iter().map(|c| c.kind_name()).collect();
    let tested: BTreeSet<&str> = TESTED.iter().copied().collect();
    let uncased: Vec<_> = registry.difference(&cased).collect();
    assert!(
        uncased.is_empty(),
        "kinds without a contract case: {uncased:?}; add one in integration/support/contract/"
    );
    let untested: Vec<_> = registry.difference(&tested).collect();
    assert!(
        untested.is_empty(),
        "kinds without a contract test: {untested:?}; add a line to contract_tests! in integration/contract.rs"
    );
    let stale: Vec<_> = cased
        .union(&tested)
        .filter(|k| !registry.contains(*k))
        .collect();
    assert!(
        stale.is_empty(),
        "cases of kinds not in the registry: {stale:?}"
    );
    // Tenant names must differ per case, or tests running at once share them.
    let codes: BTreeSet<&str> = contract::cases().iter().map(|c| c.code()).collect();
    assert_eq!(
        codes.len(),
        contract::cases().len(),
        "two cases share a code"
    );
}
