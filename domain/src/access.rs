//! Who may do what: the permissions, the built-in groups that hold them, and the caller as the
//! pages see it. How a caller is recognised (sessions, tokens) is in `auth`.

use serde::{Deserialize, Serialize};

/// What a group may do. Every server function checks one of these for its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// See watch lists, dossiers and photos.
    Read,
    /// Create, change and delete watch lists, dossiers and photos.
    Edit,
    /// Manage users (and replication).
    Admin,
    /// Post what cameras see (monitoring events); the Camera group's only permission.
    Ingest,
    /// Take cameras to watch (their streams, credentials and all) and post what they show:
    /// the Video worker group's only permission, for `dossier video-worker` on other machines.
    Video,
}

impl Permission {
    pub const ALL: [Permission; 5] = [
        Self::Read,
        Self::Edit,
        Self::Admin,
        Self::Ingest,
        Self::Video,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Edit => "edit",
            Self::Admin => "admin",
            Self::Ingest => "ingest",
            Self::Video => "video",
        }
    }
}

/// The built-in groups, in order of power, with their permissions. A camera's account may
/// post events and nothing else, not even read them: least privilege for a device on a pole.
pub const GROUPS: &[(&str, &[Permission])] = &[
    ("Camera", &[Permission::Ingest]),
    ("Video worker", &[Permission::Video]),
    ("User", &[Permission::Read]),
    ("Operator", &[Permission::Read, Permission::Edit]),
    (
        "Administrator",
        &[
            Permission::Read,
            Permission::Edit,
            Permission::Admin,
            Permission::Ingest,
            Permission::Video,
        ],
    ),
];

/// The logged-in user as the browser sees it (no secrets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub group: String,
    pub permissions: Vec<Permission>,
    /// Whether the Replication screens are shown to this user (administrators, unless
    /// `SYNC_WEB_UI=false`).
    #[serde(default)]
    pub replication_screens: bool,
}

impl CurrentUser {
    pub fn can(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    /// The user if their group holds `permission`; `doing` completes "your group … may not …"
    /// in the refusal.
    pub fn may(self, permission: Permission, doing: &str) -> crate::Result<Self> {
        if self.can(permission) {
            Ok(self)
        } else {
            Err(crate::Error::forbidden(format!(
                "your group ({}) may not {doing}",
                self.group
            )))
        }
    }
}
