//! User administration (Administrator only): create users, move them between groups,
//! deactivate them, issue API tokens, end their sessions, and see and clear the locks that
//! failed logins put on accounts and addresses.

#[cfg(feature = "ssr")]
use crate::auth::Permission;
use crate::auth::GROUPS;
use crate::error::AppResult;
use crate::forms::{last_error, FieldError, FormError, Typed};
use domain::input::Flag;
pub use domain::logins::LoginLock;
pub use domain::users::UserAccount;
use leptos::prelude::*;

/// Every account with its group and state. Administrator only.
#[server(prefix = "/api", endpoint = "users/list", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn list_users() -> AppResult<Vec<UserAccount>> {
    let (state, _) = crate::caller::require(Permission::Admin, "manage users").await?;
    Ok(engine::users::list(&state.pool).await?)
}

/// Creates an account in a group (`User`, `Operator`, `Administrator` or `Camera`).
/// Administrator only.
#[server(prefix = "/api", endpoint = "users/create", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn create_user(
    username: String,
    password: String,
    #[server(default)] group: String,
) -> AppResult<UserAccount> {
    let (state, me) = crate::caller::require(Permission::Admin, "manage users").await?;
    let id = crate::caller::write(&state, &me, async |db| {
        engine::auth::create_user(db, username.trim(), &password, &group).await
    })
    .await?;
    let user = engine::users::get(&state.pool, id).await?;
    crate::notice::redirect("/users", "user-created");
    Ok(user)
}

/// Moves an account to another group. Administrator only.
#[server(prefix = "/api", endpoint = "users/set-group", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn set_user_group(id: i64, group: String) -> AppResult<UserAccount> {
    let (state, me) = crate::caller::require(Permission::Admin, "manage users").await?;
    if id == me.id {
        return Err(domain::Error::invalid(
            "group",
            "you cannot change your own group (ask another administrator)",
        )
        .into());
    }
    crate::caller::write(&state, &me, async |db| {
        engine::users::set_group(db, id, &group).await
    })
    .await?;
    crate::notice::redirect("/users", "user-saved");
    Ok(engine::users::get(&state.pool, id).await?)
}

/// Activates or deactivates an account; a deactivated one cannot log in or use its tokens.
/// Administrator only.
#[server(prefix = "/api", endpoint = "users/set-active", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn set_user_active(id: i64, #[server(default)] active: Flag) -> AppResult<UserAccount> {
    let (state, me) = crate::caller::require(Permission::Admin, "manage users").await?;
    if id == me.id && !active.0 {
        return Err(
            domain::Error::invalid("active", "you cannot deactivate your own account").into(),
        );
    }
    crate::caller::write(&state, &me, async |db| {
        engine::users::set_active(db, id, active.0).await
    })
    .await?;
    crate::notice::redirect("/users", "user-saved");
    Ok(engine::users::get(&state.pool, id).await?)
}

/// A new API token for the user, shown once.
#[server(prefix = "/api", endpoint = "users/issue-token", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn issue_api_token(id: i64) -> AppResult<String> {
    let (state, me) = crate::caller::require(Permission::Admin, "manage users").await?;
    engine::users::get(&state.pool, id).await?;
    let token = crate::caller::write(&state, &me, async |db| {
        engine::auth::issue_token(db, id).await
    })
    .await?;
    Ok(token)
}

/// Accounts and addresses with recent failed logins, locked ones first.
#[server(prefix = "/api", endpoint = "users/login-locks", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn login_locks() -> AppResult<Vec<LoginLock>> {
    let (state, _) = crate::caller::require(Permission::Admin, "manage users").await?;
    Ok(state.login_throttle.locks())
}

/// Clears the failures and the lock of an account (`kind=account`, `key` the username) or an
/// address (`kind=address`, `key` the IP address).
#[server(prefix = "/api", endpoint = "users/clear-login-lock", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn clear_login_lock(
    #[server(default)] kind: String,
    #[server(default)] key: String,
) -> AppResult<()> {
    let (state, me) = crate::caller::require(Permission::Admin, "manage users").await?;
    let subject = domain::logins::LoginSubject::parse(&kind, &key)?;
    if !state.login_throttle.clear(&subject) {
        return Err(domain::Error::not_found(format!(
            "{} has no failed logins to clear",
            subject.describe()
        ))
        .into());
    }
    let summary = format!("cleared the failed logins of {}", subject.describe());
    let actor = crate::caller::actor(&me)?;
    engine::audit::record(
        &state.pool,
        &actor,
        "clear_login_lock",
        ("session", None),
        &summary,
    )
    .await?;
    crate::notice::redirect("/users", "lock-cleared");
    Ok(())
}

fn group_options(selected: &str) -> impl IntoView {
    GROUPS
        .iter()
        .rev()
        .map(|(name, _)| view! { <option value=*name selected=*name == selected>{*name}</option> })
        .collect_view()
}

/// Rendered on the server: moving a user between groups or (de)activating them is a plain form
/// that comes back to this page. The new-user form and issuing a token are islands (the token
/// is shown once, which a reload would lose).
#[component]
pub fn UsersPage() -> impl IntoView {
    let set_group = ServerAction::<SetUserGroup>::new();
    let set_active = ServerAction::<SetUserActive>::new();
    let end_sessions = ServerAction::<crate::auth::LogoutEverywhere>::new();
    let users = Resource::new(|| (), |_| list_users());
    // Filled when a form submitted without the WASM failed (the server sends the error back).
    let row_error = Signal::derive(move || {
        last_error(set_group.value())
            .get()
            .or_else(|| last_error(set_active.value()).get())
    });
    view! {
        <section class="page">
            <crate::site::PageTitle text="Users" />
            <h1>"Users"</h1>
            <NewUserForm typed=Typed::from_query() />
            <FormError error=row_error />
            <Suspense fallback=|| view! { <p class="loading">"Loading users…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(users) => view! {
                            <table class="data-table" tabindex="0" data-testid="users">
                                <thead><tr><th>"Username"</th><th>"Group"</th><th>"Active"</th><th class="num">"API tokens"</th><th><span class="sr-only">"Actions"</span></th></tr></thead>
                                <tbody>
                                    {users.into_iter().map(|u| view! {
                                        <tr data-testid="user-row">
                                            <td>{u.username.clone()}</td>
                                            <td>
                                                <ActionForm action=set_group attr:class="inline-form">
                                                    <input type="hidden" name="id" value=u.id />
                                                    <select name="group" aria-label=format!("Group of {}", u.username)>{group_options(&u.group)}</select>
                                                    <button type="submit">"Set"</button>
                                                </ActionForm>
                                            </td>
                                            <td>{if u.active { "yes" } else { "no" }}</td>
                                            <td class="num">{u.api_tokens}</td>
                                            <td class="actions">
                                                <ActionForm action=set_active attr:class="inline-form">
                                                    <input type="hidden" name="id" value=u.id />
                                                    {(!u.active).then(|| view! { <input type="hidden" name="active" value="true" /> })}
                                                    <button type="submit">{if u.active { "Deactivate" } else { "Activate" }}</button>
                                                </ActionForm>
                                                <IssueToken id=u.id />
                                                <ActionForm action=end_sessions attr:class="inline-form">
                                                    <input type="hidden" name="id" value=u.id />
                                                    <button type="submit" title="Log this user out of every browser">"End sessions"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <LoginLocks />
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// Accounts and addresses with recent failed logins; a locked one can be cleared at once.
#[component]
fn LoginLocks() -> impl IntoView {
    use domain::logins::LoginSubject;
    let clear = ServerAction::<ClearLoginLock>::new();
    let locks = Resource::new(|| (), |_| login_locks());
    view! {
        <h2>"Failed logins"</h2>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match locks.await {
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(locks) if locks.is_empty() => view! {
                        <p class="empty-state">"No failed logins in the last 15 minutes."</p>
                    }.into_any(),
                    Ok(locks) => view! {
                        <table class="data-table" tabindex="0" data-testid="login-locks">
                            <thead><tr><th>"Account or address"</th><th class="num">"Failures"</th><th>"Last failure"</th><th>"Locked until"</th><th><span class="sr-only">"Actions"</span></th></tr></thead>
                            <tbody>
                                {locks.into_iter().map(|lock| {
                                    let (kind, key) = match &lock.subject {
                                        LoginSubject::Account(name) => ("account", name.clone()),
                                        LoginSubject::Address(address) => ("address", address.clone()),
                                    };
                                    view! {
                                        <tr data-testid="login-lock">
                                            <td>{lock.subject.describe()}</td>
                                            <td class="num">{lock.failures}</td>
                                            <td>{lock.last_failure.format("%H:%M:%S UTC").to_string()}</td>
                                            <td>{lock.locked_until.map(|t| t.format("%H:%M:%S UTC").to_string()).unwrap_or_else(|| "not locked".into())}</td>
                                            <td class="actions">
                                                <ActionForm action=clear attr:class="inline-form">
                                                    <input type="hidden" name="kind" value=kind />
                                                    <input type="hidden" name="key" value=key />
                                                    <button type="submit">"Clear"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// An island, as every form with fields is: a rejected submission shows its errors beside the
/// fields and keeps what the user typed. On success the server sends the browser back here.
#[island]
fn NewUserForm(typed: Typed) -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let error = last_error(create.value());
    view! {
        <ActionForm action=create attr:class="card form inline-fields">
            <h2>"New user"</h2>
            <label>"Username" <input name="username" value=typed.text("username", String::new()) required autocomplete="off" /></label>
            <FieldError error field="username" />
            <label>"Password" <input type="password" name="password" required minlength="8" autocomplete="new-password" /></label>
            <FieldError error field="password" />
            <label for="new-user-group">"Group"</label>
            <select id="new-user-group" name="group">{group_options(&typed.text("group", "User".into()))}</select>
            <FieldError error field="group" />
            <FormError error fields=&["username", "password", "group"] />
            <button type="submit" class="primary">"Create user"</button>
        </ActionForm>
    }
}

/// Issues an API token and shows it, once, beside the button.
#[island]
fn IssueToken(id: i64) -> impl IntoView {
    let issue = ServerAction::<IssueApiToken>::new();
    let error = last_error(issue.value());
    view! {
        <ActionForm action=issue attr:class="inline-form">
            <input type="hidden" name="id" value=id />
            <button type="submit">"Issue API token"</button>
        </ActionForm>
        {move || issue.value().get().and_then(Result::ok).map(|token| view! {
            <div class="token" role="status">
                <p>"New API token (shown only now; send it as " <code>"Authorization: Token …"</code> "):"</p>
                <code data-testid="api-token">{token}</code>
            </div>
        })}
        <FormError error />
    }
}
