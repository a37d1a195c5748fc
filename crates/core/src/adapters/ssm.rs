//! SSM Parameter Store: the `SecretStore` that header references resolve through.

use async_trait::async_trait;
use aws_sdk_ssm::Client;

use crate::ports::{SecretStore, StoreError};

/// The IAM actions `SsmSecretStore` calls. A SecureString encrypted with the AWS-managed key `aws/ssm` needs
/// no `kms:Decrypt` of its own: that key's policy lets the account's principals decrypt through SSM.
pub const SECRET_STORE_ACTIONS: &[&str] = &["ssm:GetParameter"];

/// A `SecretStore` in SSM Parameter Store.
#[derive(Debug, Clone)]
pub struct SsmSecretStore {
    client: Client,
}

impl SsmSecretStore {
    pub fn new(sdk_config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(sdk_config),
        }
    }
}

#[async_trait]
impl SecretStore for SsmSecretStore {
    async fn get(&self, path: &str) -> Result<Option<String>, StoreError> {
        // ssm:GetParameter, decrypted
        match self
            .client
            .get_parameter()
            .name(path)
            .with_decryption(true)
            .send()
            .await
        {
            Ok(out) => Ok(out.parameter.and_then(|p| p.value)),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_parameter_not_found() {
                    Ok(None)
                } else {
                    Err(StoreError::Unavailable(Box::new(e)))
                }
            }
        }
    }
}
