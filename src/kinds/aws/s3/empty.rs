//! Emptying an `aws.s3.bucket` before it is deleted: every object version,
//! delete marker and unfinished multipart upload.

use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use crate::kinds::KindError;
use crate::kinds::aws::call::{deleted, found, permanent};
use crate::kinds::aws::classify;

/// DeleteObjects accepts at most this many keys per call.
const DELETE_BATCH: usize = 1000;

/// Deletes every object version, delete marker and unfinished multipart
/// upload. Lists from the start each round, so objects written meanwhile are
/// caught too. `Ok(false)` when the bucket is gone.
pub(super) async fn empty(s3: &aws_sdk_s3::Client, name: &str) -> Result<bool, KindError> {
    loop {
        let answer = s3
            .list_object_versions()
            .bucket(name)
            .max_keys(DELETE_BATCH as i32)
            .send()
            .await;
        let what = format!("ListObjectVersions {name}");
        let Some(page) = found(&what, answer, &["NoSuchBucket"])? else {
            return Ok(false);
        };
        let mut objects = Vec::new();
        for v in page.versions() {
            if let Some(key) = v.key() {
                objects.push((key.to_string(), v.version_id().map(str::to_string)));
            }
        }
        for m in page.delete_markers() {
            if let Some(key) = m.key() {
                objects.push((key.to_string(), m.version_id().map(str::to_string)));
            }
        }
        if objects.is_empty() {
            break;
        }
        for batch in objects.chunks(DELETE_BATCH) {
            let ids = batch
                .iter()
                .map(|(k, v)| {
                    ObjectIdentifier::builder()
                        .key(k)
                        .set_version_id(v.clone())
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| permanent("DeleteObjects", e))?;
            let out = s3
                .delete_objects()
                .bucket(name)
                .delete(
                    Delete::builder()
                        .set_objects(Some(ids))
                        .quiet(true)
                        .build()
                        .map_err(|e| permanent("DeleteObjects", e))?,
                )
                .send()
                .await
                .map_err(|e| classify(&format!("DeleteObjects {name}"), e))?;
            if let Some(first) = out.errors().first() {
                return Err(KindError::Transient(format!(
                    "DeleteObjects {name}: {} objects were not deleted; first: {} {} {}",
                    out.errors().len(),
                    first.key().unwrap_or(""),
                    first.code().unwrap_or(""),
                    first.message().unwrap_or("")
                )));
            }
        }
    }
    // Unfinished multipart uploads (they cost money and can block deletion).
    let uploads = s3
        .list_multipart_uploads()
        .bucket(name)
        .send()
        .await
        .map_err(|e| classify(&format!("ListMultipartUploads {name}"), e))?;
    for u in uploads.uploads() {
        if let (Some(key), Some(id)) = (u.key(), u.upload_id()) {
            let answer = s3
                .abort_multipart_upload()
                .bucket(name)
                .key(key)
                .upload_id(id)
                .send()
                .await;
            deleted(
                &format!("AbortMultipartUpload {name}"),
                answer,
                &["NoSuchUpload"],
            )?;
        }
    }
    Ok(true)
}
