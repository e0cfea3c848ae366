//! S3 bucket names that no other AWS account can hold: the tenants' buckets
//! (`envctl-<tenant>-<id>-<account>-<region>-an`) and the default value
//! store (`envctl-values-<account>-<region>-an`), created in the account's
//! regional namespace, and the S3 naming rules they keep.
//!
//! Bucket names are unique across all accounts of a partition, and a name
//! freed by a delete can be taken by anyone (S3 User Guide, "Namespaces for
//! general purpose buckets"). A bucket created in the *account regional
//! namespace* must end with `-<account id>-<region>-an`, and only that
//! account can create such a name (same page; CreateBucket's
//! `x-amz-bucket-namespace: account-regional`, S3 API reference). The
//! namespace exists in every region except Middle East (Bahrain) and Middle
//! East (UAE); there the name keeps `-<account id>-<region>` in the global
//! namespace, which tells installations apart but does not reserve it.

use crate::tenant::{TenantName, physical_name};

/// General purpose bucket names are 3 to 63 characters (S3 User Guide,
/// "General purpose bucket naming rules").
pub const MAX_LEN: usize = 63;

/// Regions without the account regional namespace (S3 User Guide,
/// "Namespaces for general purpose buckets": all Regions except Middle East
/// (Bahrain) and Middle East (UAE)).
const GLOBAL_ONLY_REGIONS: &[&str] = &["me-south-1", "me-central-1"];

/// A bucket name and the namespace it is created in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketName {
    pub name: String,
    /// Created with `BucketNamespace::AccountRegional`.
    pub account_regional: bool,
}

impl BucketName {
    /// A name given by the user (`--values-bucket`): the global namespace.
    pub fn global(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            account_regional: false,
        }
    }
}

/// The installation element every derived name ends with, and whether it
/// is the account regional namespace's suffix.
pub fn installation_suffix(account: &str, region: &str) -> (String, bool) {
    if GLOBAL_ONLY_REGIONS.contains(&region) {
        (format!("-{account}-{region}"), false)
    } else {
        (format!("-{account}-{region}-an"), true)
    }
}

/// The bucket of `resource_id` of `tenant`: `envctl-<tenant>-<id>` (cut and
/// ended with a hash when too long, see [`physical_name`]) followed by the
/// installation suffix; at most 63 characters.
pub fn tenant_bucket(
    account: &str,
    region: &str,
    tenant: &TenantName,
    resource_id: &str,
) -> BucketName {
    let (suffix, account_regional) = installation_suffix(account, region);
    let base = physical_name(tenant, resource_id, MAX_LEN - suffix.len());
    BucketName {
        name: format!("{base}{suffix}"),
        account_regional,
    }
}

/// The start every bucket name of `tenant` has in this installation (and
/// that the names of earlier versions, `envctl-<tenant>-<id>`, have too):
/// what a sweep lists before it reads tags.
pub fn tenant_prefix(account: &str, region: &str, tenant: &TenantName) -> String {
    let (suffix, _) = installation_suffix(account, region);
    // physical_name keeps this many characters before its hash when it cuts.
    let kept = (MAX_LEN - suffix.len()).saturating_sub(9);
    let full = format!("envctl-{}-", tenant.as_str());
    if full.len() <= kept {
        full
    } else {
        full[..kept].trim_end_matches('-').to_string()
    }
}

/// The default value-store bucket of this installation.
pub fn values_bucket(account: &str, region: &str) -> BucketName {
    let (suffix, account_regional) = installation_suffix(account, region);
    BucketName {
        name: format!("envctl-values{suffix}"),
        account_regional,
    }
}

/// What is wrong with `name` as a general purpose bucket name, per the S3
/// User Guide's "General purpose bucket naming rules"; `account_regional`
/// allows (and requires) the `-an` ending of that namespace.
pub fn naming_problem(name: &str, account_regional: bool) -> Option<&'static str> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    let ok_end = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !(3..=MAX_LEN).contains(&name.len()) {
        Some("it must be 3 to 63 characters long")
    } else if !name.chars().all(ok_char) {
        Some("only lowercase letters, digits, '.' and '-' are allowed")
    } else if !ok_end(name.chars().next()) || !ok_end(name.chars().last()) {
        Some("it must begin and end with a letter or digit")
    } else if name.contains("..") {
        Some("it must not contain two adjacent periods")
    } else if name.parse::<std::net::Ipv4Addr>().is_ok() {
        Some("it must not be formatted as an IP address")
    } else if ["xn--", "sthree-", "amzn-s3-demo-"]
        .iter()
        .any(|p| name.starts_with(p))
    {
        Some("the prefixes xn--, sthree- and amzn-s3-demo- are reserved")
    } else if ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]
        .iter()
        .any(|s| name.ends_with(s))
    {
        Some("the suffixes -s3alias, --ol-s3, .mrap, --x-s3 and --table-s3 are reserved")
    } else if name.ends_with("-an") != account_regional {
        Some("only a bucket in the account regional namespace may end with -an, and it must")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "123456789012";

    #[test]
    fn names_carry_account_and_region_and_stay_valid() {
        let acme = TenantName::parse("acme").unwrap();
        let b = tenant_bucket(ACCOUNT, "us-east-1", &acme, "uploads");
        assert_eq!(b.name, "envctl-acme-uploads-123456789012-us-east-1-an");
        assert!(b.account_regional);
        assert_eq!(naming_problem(&b.name, true), None);
        let long = TenantName::parse(&"t".repeat(40)).unwrap();
        for region in ["us-east-1", "ap-southeast-5", "me-south-1", "us-gov-west-1"] {
            for (tenant, id) in [
                (&acme, "x"),
                (&acme, &*"Very_Long.Resource-ID".repeat(4)),
                (&long, "uploads"),
                (&long, "a--b"),
            ] {
                let b = tenant_bucket(ACCOUNT, region, tenant, id);
                assert!(b.name.len() <= MAX_LEN, "{}", b.name);
                assert!(
                    b.name.contains(&format!("-{ACCOUNT}-{region}")),
                    "{}",
                    b.name
                );
                assert_eq!(
                    naming_problem(&b.name, b.account_regional),
                    None,
                    "{}",
                    b.name
                );
                assert!(
                    b.name.starts_with(&tenant_prefix(ACCOUNT, region, tenant)),
                    "{}",
                    b.name
                );
            }
        }
        assert!(!tenant_bucket(ACCOUNT, "me-south-1", &acme, "x").account_regional);
    }

    #[test]
    fn distinct_ids_and_installations_give_distinct_names() {
        let long = TenantName::parse(&"t".repeat(40)).unwrap();
        let a = tenant_bucket(ACCOUNT, "us-east-1", &long, "uploads-a");
        let b = tenant_bucket(ACCOUNT, "us-east-1", &long, "uploads-b");
        assert_ne!(a.name, b.name);
        let other = tenant_bucket("210987654321", "us-east-1", &long, "uploads-a");
        assert_ne!(a.name, other.name);
        assert_ne!(
            values_bucket(ACCOUNT, "us-east-1").name,
            values_bucket(ACCOUNT, "eu-west-1").name
        );
        assert_eq!(
            values_bucket(ACCOUNT, "us-east-1").name,
            "envctl-values-123456789012-us-east-1-an"
        );
    }

    #[test]
    fn the_naming_rules_of_s3() {
        for (bad, why) in [
            ("ab", "3 to 63"),
            ("Upper", "lowercase"),
            ("-dash", "begin and end"),
            ("a..b", "adjacent periods"),
            ("192.168.5.4", "IP address"),
            ("xn--abc", "reserved"),
            ("abc-s3alias", "reserved"),
            ("abc--ol-s3", "reserved"),
            ("abc-an", "-an"),
        ] {
            let p = naming_problem(bad, false).unwrap_or_default();
            assert!(p.contains(why), "{bad}: {p}");
        }
        assert_eq!(naming_problem("my-bucket.1", false), None);
        assert!(naming_problem("my-bucket", true).is_some());
    }
}
