//! User accounts as administrators manage them: group, active flag, API tokens.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserAccount {
    pub id: i64,
    pub username: String,
    pub group: String,
    pub active: bool,
    pub api_tokens: i64,
    #[serde(deserialize_with = "crate::time::rfc3339")]
    pub created_at: DateTime<Utc>,
}
