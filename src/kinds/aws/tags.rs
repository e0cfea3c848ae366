//! Tags on AWS resources, one way for every service: each SDK's own tag type
//! read into a map and built from pairs ([`SdkTag`]), the tags a resource
//! lacks ([`missing`]), and one convergence — read, refuse another tenant's,
//! add what is missing — over a small per-service [`Tagging`] impl.
//!
//! Tagging APIs only add or overwrite the keys they are given (EC2
//! CreateTags, ELB AddTags, RDS AddTagsToResource, ACM AddTagsToCertificate,
//! Route 53 ChangeTagsForResource), so tags someone else put on a resource
//! are kept; terraform-provider-aws (internal/tags) converges the same way,
//! by the keys it owns.

use async_trait::async_trait;

use super::owner::{Tags, refuse_foreign};
use crate::kinds::{Cx, KindError};

/// One SDK's tag type.
pub trait SdkTag: Sized {
    /// The key and value; `None` for a tag without a key.
    fn pair(&self) -> Option<(&str, &str)>;
    /// A tag of `key` and `value`.
    fn of(key: &str, value: &str) -> Result<Self, KindError>;
}

/// Implements [`SdkTag`] for tag types whose key and value are optional
/// and whose builder cannot fail.
macro_rules! optional_tag {
    ($($ty:ty),*) => {$(
        impl SdkTag for $ty {
            fn pair(&self) -> Option<(&str, &str)> {
                Some((self.key()?, self.value().unwrap_or("")))
            }
            fn of(key: &str, value: &str) -> Result<Self, KindError> {
                Ok(<$ty>::builder().key(key).value(value).build())
            }
        }
    )*};
}

optional_tag!(
    aws_sdk_ec2::types::Tag,
    aws_sdk_elasticloadbalancingv2::types::Tag,
    aws_sdk_rds::types::Tag,
    aws_sdk_route53::types::Tag
);

/// Implements [`SdkTag`] for tag types whose key is required (their
/// builder refuses a missing one); `$value` reads the value as `&str`.
macro_rules! required_tag {
    ($($ty:ty => |$t:ident| $value:expr),*) => {$(
        impl SdkTag for $ty {
            fn pair(&self) -> Option<(&str, &str)> {
                let $t = self;
                Some(($t.key(), $value))
            }
            fn of(key: &str, value: &str) -> Result<Self, KindError> {
                <$ty>::builder()
                    .key(key)
                    .value(value)
                    .build()
                    .map_err(|e| KindError::Permanent(format!("tag {key}: {e}")))
            }
        }
    )*};
}

required_tag!(
    aws_sdk_elasticloadbalancing::types::Tag => |t| t.value().unwrap_or(""),
    aws_sdk_acm::types::Tag => |t| t.value().unwrap_or(""),
    aws_sdk_s3::types::Tag => |t| t.value(),
    aws_sdk_iam::types::Tag => |t| t.value(),
    aws_sdk_sns::types::Tag => |t| t.value()
);

/// The tags of a resource as a map.
pub fn tag_map<T: SdkTag>(t: &[T]) -> Tags {
    t.iter()
        .filter_map(SdkTag::pair)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Pairs as one SDK's tags.
pub fn sdk_tags<T: SdkTag>(
    pairs: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<T>, KindError> {
    pairs.into_iter().map(|(k, v)| T::of(&k, &v)).collect()
}

/// The `wanted` pairs that `have` lacks or holds with another value.
pub fn missing(
    have: &Tags,
    wanted: impl IntoIterator<Item = (String, String)>,
) -> Vec<(String, String)> {
    wanted
        .into_iter()
        .filter(|(k, v)| have.get(k) != Some(v))
        .collect()
}

/// The tagging calls of one service.
#[async_trait]
pub trait Tagging: Sync {
    /// The tags of resource `id`; `None` when it does not exist (any more).
    async fn read(&self, id: &str) -> Result<Option<Tags>, KindError>;
    /// Adds or overwrites `pairs` on resource `id`.
    async fn add(&self, id: &str, pairs: Vec<(String, String)>) -> Result<(), KindError>;
}

/// Converges `what` (e.g. `target group acme-web`, id `id`) to carry
/// `wanted`: refuses it when it is another tenant's, adds what it lacks,
/// calls nothing when it is right. A resource that vanished meanwhile is
/// a transient error: the engine's next try creates it again.
pub async fn converge(
    tagging: &impl Tagging,
    cx: &Cx,
    what: &str,
    id: &str,
    wanted: impl IntoIterator<Item = (String, String)>,
) -> Result<(), KindError> {
    let have = tagging.read(id).await?.ok_or_else(|| {
        KindError::Transient(format!("{what} vanished while it was being set up"))
    })?;
    refuse_foreign(what, &have, cx)?;
    let lacking = missing(&have, wanted);
    if !lacking.is_empty() {
        tagging.add(id, lacking).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_of_every_shape_read_into_one_map() {
        let ec2: Vec<aws_sdk_ec2::types::Tag> =
            sdk_tags([("a".to_string(), "1".to_string())]).unwrap();
        let acm: Vec<aws_sdk_acm::types::Tag> =
            sdk_tags([("a".to_string(), "1".to_string())]).unwrap();
        assert_eq!(tag_map(&ec2), tag_map(&acm));
        assert_eq!(tag_map(&ec2).get("a").map(String::as_str), Some("1"));
    }

    #[test]
    fn missing_lists_absent_and_changed_pairs_only() {
        let have: Tags = [("a", "1"), ("b", "2"), ("other", "x")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let wanted =
            [("a", "1"), ("b", "3"), ("c", "4")].map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(
            missing(&have, wanted),
            vec![
                ("b".to_string(), "3".to_string()),
                ("c".to_string(), "4".to_string())
            ]
        );
    }
}
