//! S3 adapters: the results archive.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

use crate::ports::{ResultArchive, StoreError};

/// The IAM actions `S3ResultArchive::put` calls.
pub const ARCHIVE_PUT_ACTIONS: &[&str] = &["s3:PutObject"];
/// The IAM actions `S3ResultArchive::get` calls.
pub const ARCHIVE_GET_ACTIONS: &[&str] = &["s3:GetObject"];

/// A `ResultArchive` in an S3 bucket.
#[derive(Debug, Clone)]
pub struct S3ResultArchive {
    client: Client,
    bucket: String,
}

impl S3ResultArchive {
    pub fn new(sdk_config: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        Self {
            client: client(sdk_config),
            bucket: bucket.into(),
        }
    }
}

/// An S3 client; path-style addressing when an endpoint is set (the local emulator), as virtual-hosted
/// bucket names do not resolve there.
pub fn client(sdk_config: &aws_config::SdkConfig) -> Client {
    let config = aws_sdk_s3::config::Builder::from(sdk_config)
        .force_path_style(sdk_config.endpoint_url().is_some())
        .build();
    Client::from_conf(config)
}

#[async_trait]
impl ResultArchive for S3ResultArchive {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        // s3:PutObject
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e.into_service_error())))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        // s3:GetObject
        let object = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(object) => object,
            Err(e) => {
                let e = e.into_service_error();
                return if e.is_no_such_key() {
                    Ok(None)
                } else {
                    Err(StoreError::Unavailable(Box::new(e)))
                };
            }
        };
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        Ok(Some(bytes.to_vec()))
    }
}
