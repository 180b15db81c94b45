//! Who is calling and what they may do: log in/out, sessions (cookie) and API tokens
//! (`Authorization: Token …`), the built-in groups and their permissions.

use crate::error::AppResult;
use crate::forms::{last_error, FormError};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What a group may do. Every server function checks one of these for its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// See watch lists, dossiers and photos.
    Read,
    /// Create, change and delete watch lists, dossiers and photos.
    Edit,
    /// Manage users (and replication).
    Admin,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Edit => "edit",
            Self::Admin => "admin",
        }
    }
}

/// The built-in groups, in order of power, with their permissions.
pub const GROUPS: &[(&str, &[Permission])] = &[
    ("User", &[Permission::Read]),
    ("Operator", &[Permission::Read, Permission::Edit]),
    (
        "Administrator",
        &[Permission::Read, Permission::Edit, Permission::Admin],
    ),
];

/// The logged-in user as the browser sees it (no secrets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

/// The caller of the current request, if logged in.
#[server(prefix = "/api", endpoint = "auth/me")]
pub async fn me() -> AppResult<Option<CurrentUser>> {
    let state = crate::state::app_state()?;
    Ok(ssr::caller(&state.pool)
        .await?
        .map(|user| ssr::with_screens(user, &state.settings)))
}

#[server(prefix = "/api", endpoint = "auth/login")]
pub async fn login(username: String, password: String) -> AppResult<CurrentUser> {
    let state = crate::state::app_state()?;
    let user = ssr::verify_password(&state.pool, username.trim(), &password)
        .await?
        .ok_or_else(|| crate::error::AppError::Unauthenticated {
            message: "wrong username or password, or the account is deactivated".into(),
        })?;
    let user = ssr::with_screens(user, &state.settings);
    let token = ssr::start_session(&state.pool, user.id).await?;
    let response = expect_context::<leptos_axum::ResponseOptions>();
    response.append_header(
        http::header::SET_COOKIE,
        http::HeaderValue::from_str(&ssr::session_cookie(&token))
            .map_err(|_| crate::error::AppError::internal())?,
    );
    leptos_axum::redirect("/");
    Ok(user)
}

#[server(prefix = "/api", endpoint = "auth/logout")]
pub async fn logout() -> AppResult<()> {
    let state = crate::state::app_state()?;
    ssr::end_session(&state.pool).await?;
    let response = expect_context::<leptos_axum::ResponseOptions>();
    response.append_header(
        http::header::SET_COOKIE,
        http::HeaderValue::from_static(ssr::CLEAR_SESSION_COOKIE),
    );
    leptos_axum::redirect("/login");
    Ok(())
}

/// The current user, loaded once per page and shared through context by the layout.
pub fn use_current_user() -> Option<CurrentUser> {
    use_context::<Option<CurrentUser>>().flatten()
}

#[component]
pub fn LoginPage() -> impl IntoView {
    view! {
        <main class="login-page">
            <h1>"Dossier database"</h1>
            <LoginForm />
        </main>
    }
}

/// An island: a failed login shows its error without reloading the page.
#[island]
fn LoginForm() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let error = last_error(login.value());
    view! {
        <ActionForm action=login attr:class="card login-form">
            <h2>"Log in"</h2>
            <label>
                "Username"
                <input name="username" autocomplete="username" required autofocus />
            </label>
            <label>
                "Password"
                <input type="password" name="password" autocomplete="current-password" required />
            </label>
            <FormError error />
            <button type="submit" class="primary">"Log in"</button>
        </ActionForm>
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! Password hashing, sessions, tokens and permission checks.

    use super::{CurrentUser, Permission, GROUPS};
    use crate::error::{AppError, AppResult};
    use crate::state::{app_state, AppState};
    use argon2::password_hash::{rand_core::OsRng, rand_core::RngCore, SaltString};
    use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
    use http::HeaderMap;
    use sha2::{Digest, Sha256};
    use sqlx::PgPool;

    pub const SESSION_COOKIE: &str = "dossier_session";
    /// Two weeks; a session is also ended by logging out or deactivating the user.
    const SESSION_DAYS: i32 = 14;
    pub const CLEAR_SESSION_COOKIE: &str =
        "dossier_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0";

    /// HttpOnly keeps scripts away from it; SameSite=Lax keeps other sites from submitting our
    /// forms with it (the server also rejects cross-origin POSTs).
    pub fn session_cookie(token: &str) -> String {
        format!(
            "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
            SESSION_DAYS * 86400
        )
    }

    /// Fills in what the installation's settings let this user see.
    pub fn with_screens(
        mut user: CurrentUser,
        settings: &crate::state::AppSettings,
    ) -> CurrentUser {
        user.replication_screens = settings.sync_web_ui && user.can(Permission::Admin);
        user
    }

    pub fn hash_password(password: &str) -> AppResult<String> {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| {
                tracing::error!(error = %e, "password hashing failed");
                AppError::internal()
            })
    }

    /// A fresh random secret (256 bits, hex) for a session or an API token.
    pub fn new_secret() -> String {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        hex::encode(bytes)
    }

    fn digest(secret: &str) -> Vec<u8> {
        Sha256::digest(secret.as_bytes()).to_vec()
    }

    #[derive(sqlx::FromRow)]
    struct UserRow {
        id: i64,
        username: String,
        group_name: String,
        permissions: Vec<String>,
    }

    impl From<UserRow> for CurrentUser {
        fn from(row: UserRow) -> Self {
            let permissions = [Permission::Read, Permission::Edit, Permission::Admin]
                .into_iter()
                .filter(|p| row.permissions.iter().any(|s| s == p.as_str()))
                .collect();
            CurrentUser {
                id: row.id,
                username: row.username,
                group: row.group_name,
                permissions,
                replication_screens: false,
            }
        }
    }

    const USER_COLUMNS: &str = "u.id, u.username, g.name AS group_name,
        ARRAY(SELECT permission FROM group_permissions p WHERE p.group_id = g.id) AS permissions";

    pub async fn verify_password(
        pool: &PgPool,
        username: &str,
        password: &str,
    ) -> AppResult<Option<CurrentUser>> {
        let row: Option<(String, bool)> =
            sqlx::query_as("SELECT password_hash, active FROM users WHERE username = $1")
                .bind(username)
                .fetch_optional(pool)
                .await?;
        // Hash even for an unknown user so that response time does not reveal which names exist.
        const UNKNOWN: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZVwoRD0wpLIhpQBRNpmZnFdGlxb0GfMwTcbgiKyKDKA";
        let (hash, active) = row.clone().unwrap_or((UNKNOWN.to_string(), false));
        let parsed = PasswordHash::new(&hash).map_err(|_| AppError::internal())?;
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        if !(ok && active && row.is_some()) {
            return Ok(None);
        }
        let user: UserRow = sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users u JOIN groups g ON g.id = u.group_id WHERE u.username = $1"
        ))
        .bind(username)
        .fetch_one(pool)
        .await?;
        Ok(Some(user.into()))
    }

    pub async fn start_session(pool: &PgPool, user_id: i64) -> AppResult<String> {
        let token = new_secret();
        sqlx::query(
            "INSERT INTO sessions (token_sha256, user_id, expires_at)
             VALUES ($1, $2, now() + make_interval(days => $3))",
        )
        .bind(digest(&token))
        .bind(user_id)
        .bind(SESSION_DAYS)
        .execute(pool)
        .await?;
        Ok(token)
    }

    pub async fn end_session(pool: &PgPool) -> AppResult<()> {
        if let Some(parts) = leptos::prelude::use_context::<http::request::Parts>() {
            if let Some(token) = session_token(&parts.headers) {
                sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1")
                    .bind(digest(&token))
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }

    fn session_token(headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == SESSION_COOKIE)
            .map(|(_, value)| value.to_string())
    }

    fn api_token(headers: &HeaderMap) -> Option<String> {
        headers
            .get(http::header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Token ")
            .map(|t| t.trim().to_string())
    }

    /// The active user behind a request's API token or session cookie. The secret is looked up
    /// by its SHA-256, an exact-match index probe, so no secret is ever compared byte by byte.
    pub async fn user_from_headers(
        pool: &PgPool,
        headers: &HeaderMap,
    ) -> AppResult<Option<CurrentUser>> {
        let row: Option<UserRow> = if let Some(token) = api_token(headers) {
            sqlx::query_as(&format!(
                "SELECT {USER_COLUMNS} FROM api_tokens t
                 JOIN users u ON u.id = t.user_id JOIN groups g ON g.id = u.group_id
                 WHERE t.token_sha256 = $1 AND u.active"
            ))
            .bind(digest(&token))
            .fetch_optional(pool)
            .await?
        } else if let Some(token) = session_token(headers) {
            sqlx::query_as(&format!(
                "SELECT {USER_COLUMNS} FROM sessions s
                 JOIN users u ON u.id = s.user_id JOIN groups g ON g.id = u.group_id
                 WHERE s.token_sha256 = $1 AND s.expires_at > now() AND u.active"
            ))
            .bind(digest(&token))
            .fetch_optional(pool)
            .await?
        } else {
            None
        };
        Ok(row.map(Into::into))
    }

    /// The caller of one request, looked up once however many server functions a page render
    /// calls (each would otherwise query the session again). Put in the request's extensions by
    /// [`with_caller_cache`]; the request's parts are shared by all the render's calls.
    #[derive(Clone, Default)]
    pub struct CallerCache(std::sync::Arc<tokio::sync::OnceCell<Option<CurrentUser>>>);

    pub async fn with_caller_cache(
        mut request: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> axum::response::Response {
        request.extensions_mut().insert(CallerCache::default());
        next.run(request).await
    }

    /// The caller of the request being served (server function or page render).
    pub async fn caller(pool: &PgPool) -> AppResult<Option<CurrentUser>> {
        let Some(parts) = leptos::prelude::use_context::<http::request::Parts>() else {
            return Ok(None);
        };
        match parts.extensions.get::<CallerCache>() {
            Some(cache) => cache
                .0
                .get_or_try_init(|| user_from_headers(pool, &parts.headers))
                .await
                .cloned(),
            None => user_from_headers(pool, &parts.headers).await,
        }
    }

    /// The gate at the top of every server function: the caller must be logged in and hold
    /// `permission`; `doing` completes "your group … may not …" in the refusal.
    pub async fn require(
        permission: Permission,
        doing: &str,
    ) -> AppResult<(AppState, CurrentUser)> {
        let state = app_state()?;
        let user = caller(&state.pool)
            .await?
            .ok_or_else(AppError::unauthenticated)?;
        if !user.can(permission) {
            return Err(AppError::forbidden(format!(
                "your group ({}) may not {doing}",
                user.group
            )));
        }
        Ok((state, user))
    }

    /// Creates the built-in groups and their permissions; running it again changes nothing.
    pub async fn create_groups(pool: &PgPool) -> AppResult<()> {
        let mut tx = pool.begin().await?;
        for (name, permissions) in GROUPS {
            sqlx::query("INSERT INTO groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            let permissions: Vec<&str> = permissions.iter().map(|p| p.as_str()).collect();
            sqlx::query(
                "INSERT INTO group_permissions (group_id, permission)
                 SELECT g.id, p FROM groups g, UNNEST($2::text[]) AS p WHERE g.name = $1
                 ON CONFLICT DO NOTHING",
            )
            .bind(name)
            .bind(&permissions)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub fn check_username(username: &str) -> AppResult<()> {
        let len = username.chars().count();
        if len == 0 || len > 150 {
            return Err(AppError::invalid(
                "username",
                format!("must be 1 to 150 characters, got {len}"),
            ));
        }
        if username.chars().any(char::is_whitespace) {
            return Err(AppError::invalid("username", "must not contain spaces"));
        }
        Ok(())
    }

    pub fn check_password(password: &str) -> AppResult<()> {
        if password.chars().count() < 8 {
            return Err(AppError::invalid(
                "password",
                "must be at least 8 characters",
            ));
        }
        Ok(())
    }

    /// Creates a user in one of the built-in groups; returns the new id.
    pub async fn create_user(
        pool: &PgPool,
        username: &str,
        password: &str,
        group: &str,
    ) -> AppResult<i64> {
        check_username(username)?;
        check_password(password)?;
        let hash = hash_password(password)?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO users (username, password_hash, group_id)
             SELECT $1, $2, id FROM groups WHERE name = $3 RETURNING id",
        )
        .bind(username)
        .bind(hash)
        .bind(group)
        .fetch_optional(pool)
        .await?;
        id.ok_or_else(|| {
            AppError::invalid(
                "group",
                format!("unknown group {group:?} (run create-groups; groups are Administrator, Operator, User)"),
            )
        })
    }

    /// Issues a new API token for a user; the secret is returned once and stored only hashed.
    pub async fn issue_token(pool: &PgPool, user_id: i64) -> AppResult<String> {
        let token = new_secret();
        sqlx::query("INSERT INTO api_tokens (user_id, token_sha256) VALUES ($1, $2)")
            .bind(user_id)
            .bind(digest(&token))
            .execute(pool)
            .await?;
        Ok(token)
    }
}
