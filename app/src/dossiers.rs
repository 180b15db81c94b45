//! Dossiers: the people on watch lists. Search with keyset paging, detail with the photo
//! gallery, create/edit/delete.

use crate::auth::{use_current_user, Permission};
use crate::error::{AppError, AppResult};
use crate::forms::{last_error, optional_text, required_text, FieldError, Flag, FormError};
use crate::photos::{DossierPhotos, PhotoInfo};
use crate::watch_lists::{list_watch_list_labels, ColorLabel, ReplicaBadge, WatchListLabel};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

/// A row of the search results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct DossierSummary {
    pub id: i64,
    pub name: String,
    pub comment: String,
    pub active: bool,
    pub watch_lists: Vec<i64>,
    /// Hex SHA-256 of the first photo's image, for its thumbnail.
    pub thumbnail: Option<String>,
    pub photo_count: i64,
    pub modified_at: DateTime<Utc>,
}

/// One page of search results. `next_after` is the keyset cursor of the next page, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DossierPage {
    pub dossiers: Vec<DossierSummary>,
    pub next_after: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dossier {
    pub id: i64,
    pub name: String,
    pub comment: String,
    pub active: bool,
    pub meta: serde_json::Value,
    pub watch_lists: Vec<i64>,
    pub photos: Vec<PhotoInfo>,
    /// The Leader URL if the dossier is in a read-only replicated list here.
    pub replica_of: Option<String>,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}

pub const PAGE_SIZE: i64 = 50;
const MAX_PAGE_SIZE: i64 = 500;
/// Meta is free-form but not a file store.
const MAX_META_BYTES: usize = 64 * 1024;

/// The filters of a search, as the search form and the API give them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DossierQuery {
    pub name: String,
    pub watch_list: Option<i64>,
    pub active: Option<bool>,
    pub after: Option<i64>,
    pub limit: i64,
}

impl DossierQuery {
    pub fn parse(
        q: &str,
        watch_list: Option<i64>,
        active: &str,
        after: Option<i64>,
        limit: Option<i64>,
    ) -> AppResult<Self> {
        let active = match active.trim() {
            "" | "any" => None,
            "true" | "yes" => Some(true),
            "false" | "no" => Some(false),
            other => {
                return Err(AppError::invalid(
                    "active",
                    format!("must be true, false or empty; got {other:?}"),
                ))
            }
        };
        let limit = limit.unwrap_or(PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(AppError::invalid(
                "limit",
                format!("must be 1 to {MAX_PAGE_SIZE}, got {limit}"),
            ));
        }
        Ok(Self {
            name: optional_text("q", q, 256)?,
            watch_list,
            active,
            after,
            limit,
        })
    }
}

/// What the dossier form shows: the fields as text, computed on the server, so that the form's
/// island carries no JSON or date code into the WASM bundle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DossierFormValues {
    pub name: String,
    pub comment: String,
    pub active: bool,
    /// The meta object, pretty-printed.
    pub meta: String,
    pub watch_lists: Vec<i64>,
}

impl From<Dossier> for DossierFormValues {
    fn from(d: Dossier) -> Self {
        Self {
            meta: serde_json::to_string_pretty(&d.meta).unwrap_or_default(),
            name: d.name,
            comment: d.comment,
            active: d.active,
            watch_lists: d.watch_lists,
        }
    }
}

/// A dossier's editable fields, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct DossierInput {
    pub name: String,
    pub comment: String,
    pub active: bool,
    pub meta: serde_json::Value,
    pub watch_lists: Vec<i64>,
}

impl DossierInput {
    pub fn parse(
        name: &str,
        comment: &str,
        active: Flag,
        meta: &str,
        watch_lists: Vec<i64>,
    ) -> AppResult<Self> {
        let name = required_text("name", name, 256)?;
        let comment = optional_text("comment", comment, 2048)?;
        if meta.len() > MAX_META_BYTES {
            return Err(AppError::invalid(
                "meta",
                format!("must be at most {MAX_META_BYTES} bytes"),
            ));
        }
        let meta = match meta.trim() {
            "" => serde_json::Value::Object(Default::default()),
            text => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(v @ serde_json::Value::Object(_)) => v,
                Ok(_) => {
                    return Err(AppError::invalid(
                        "meta",
                        "must be a JSON object, like {\"case\": \"A-17\"}",
                    ))
                }
                Err(e) => return Err(AppError::invalid("meta", format!("is not valid JSON: {e}"))),
            },
        };
        let mut watch_lists = watch_lists;
        watch_lists.sort_unstable();
        watch_lists.dedup();
        if watch_lists.is_empty() {
            return Err(AppError::invalid(
                "watch_lists",
                "choose at least one watch list",
            ));
        }
        Ok(Self {
            name,
            comment,
            active: active.0,
            meta,
            watch_lists,
        })
    }
}

#[server(prefix = "/api", endpoint = "dossiers/search")]
pub async fn search_dossiers(
    #[server(default)] q: String,
    #[server(default)] watch_list: Option<i64>,
    #[server(default)] active: String,
    #[server(default)] after: Option<i64>,
    #[server(default)] limit: Option<i64>,
) -> AppResult<DossierPage> {
    let (state, _) = crate::auth::ssr::require(Permission::Read, "see dossiers").await?;
    let query = DossierQuery::parse(&q, watch_list, &active, after, limit)?;
    ssr::search(&state.pool, &query).await
}

#[server(prefix = "/api", endpoint = "dossiers/get")]
pub async fn get_dossier(id: i64) -> AppResult<Dossier> {
    let (state, _) = crate::auth::ssr::require(Permission::Read, "see dossiers").await?;
    ssr::get(&state.pool, id).await
}

#[server(prefix = "/api", endpoint = "dossiers/create")]
pub async fn create_dossier(
    #[server(default)] name: String,
    #[server(default)] comment: String,
    #[server(default)] active: Flag,
    #[server(default)] meta: String,
    #[server(default)] watch_lists: Vec<i64>,
) -> AppResult<Dossier> {
    let (state, _) = crate::auth::ssr::require(Permission::Edit, "create dossiers").await?;
    let input = DossierInput::parse(&name, &comment, active, &meta, watch_lists)?;
    crate::sync::guard::lists_writable(&state.pool, &input.watch_lists).await?;
    let dossier = ssr::insert(&state.pool, &input).await?;
    leptos_axum::redirect(&format!("/dossiers/{}", dossier.id));
    Ok(dossier)
}

#[server(prefix = "/api", endpoint = "dossiers/update")]
pub async fn update_dossier(
    id: i64,
    #[server(default)] name: String,
    #[server(default)] comment: String,
    #[server(default)] active: Flag,
    #[server(default)] meta: String,
    #[server(default)] watch_lists: Vec<i64>,
) -> AppResult<Dossier> {
    let (state, _) = crate::auth::ssr::require(Permission::Edit, "edit dossiers").await?;
    let input = DossierInput::parse(&name, &comment, active, &meta, watch_lists)?;
    crate::sync::guard::dossier_writable(&state.pool, id).await?;
    crate::sync::guard::lists_writable(&state.pool, &input.watch_lists).await?;
    let dossier = ssr::update(&state.pool, id, &input).await?;
    leptos_axum::redirect(&format!("/dossiers/{id}"));
    Ok(dossier)
}

#[server(prefix = "/api", endpoint = "dossiers/delete")]
pub async fn delete_dossier(id: i64) -> AppResult<()> {
    let (state, _) = crate::auth::ssr::require(Permission::Edit, "delete dossiers").await?;
    crate::sync::guard::dossier_deletable(&state, id).await?;
    ssr::delete(&state.pool, id).await?;
    leptos_axum::redirect("/dossiers");
    Ok(())
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::{Dossier, DossierInput, DossierPage, DossierQuery, DossierSummary};
    use crate::error::{AppError, AppResult};
    use crate::photos::PhotoInfo;
    use chrono::{DateTime, Utc};
    use sqlx::{PgPool, Postgres, QueryBuilder};

    pub fn not_found(id: i64) -> AppError {
        AppError::not_found(format!("dossier {id} does not exist"))
    }

    /// Escapes LIKE wildcards so that a search for "50%" means the text "50%".
    fn like_pattern(text: &str) -> String {
        let escaped = text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    }

    /// Newest first, keyset-paged on the id: each page is an index range scan whatever the page
    /// number. With a watch-list filter the scan runs on the membership table's primary key
    /// (watch_list_id, dossier_id) instead, which stays cheap for small lists in a big table.
    pub async fn search(pool: &PgPool, query: &DossierQuery) -> AppResult<DossierPage> {
        let mut sql: QueryBuilder<Postgres> = QueryBuilder::new(
            "SELECT d.id, d.name, d.comment, d.active, d.modified_at,
                ARRAY(SELECT x.watch_list_id FROM dossier_watch_lists x
                      WHERE x.dossier_id = d.id ORDER BY 1) AS watch_lists,
                (SELECT encode(p.image_sha256, 'hex') FROM photos p
                 WHERE p.dossier_id = d.id ORDER BY p.id LIMIT 1) AS thumbnail,
                (SELECT count(*) FROM photos p WHERE p.dossier_id = d.id) AS photo_count
             FROM ",
        );
        let key = if let Some(list) = query.watch_list {
            sql.push("dossier_watch_lists m JOIN dossiers d ON d.id = m.dossier_id WHERE m.watch_list_id = ")
                .push_bind(list);
            "m.dossier_id"
        } else {
            sql.push("dossiers d WHERE TRUE");
            "d.id"
        };
        if !query.name.is_empty() {
            // `name_folded` is lower(name), stored (see migrations): folding each row's name
            // here was a sixth of the search's cost.
            sql.push(" AND d.name_folded LIKE lower(")
                .push_bind(like_pattern(&query.name))
                .push(")");
        }
        if let Some(active) = query.active {
            sql.push(" AND d.active = ").push_bind(active);
        }
        if let Some(after) = query.after {
            sql.push(format_args!(" AND {key} < ")).push_bind(after);
        }
        sql.push(format_args!(" ORDER BY {key} DESC LIMIT "))
            .push_bind(query.limit + 1);
        let mut dossiers: Vec<DossierSummary> = sql.build_query_as().fetch_all(pool).await?;
        let next_after = if dossiers.len() as i64 > query.limit {
            dossiers.truncate(query.limit as usize);
            dossiers.last().map(|d| d.id)
        } else {
            None
        };
        Ok(DossierPage {
            dossiers,
            next_after,
        })
    }

    #[derive(sqlx::FromRow)]
    struct DossierRow {
        id: i64,
        name: String,
        comment: String,
        active: bool,
        meta: serde_json::Value,
        watch_lists: Vec<i64>,
        replica_of: Option<String>,
        created_at: DateTime<Utc>,
        modified_at: DateTime<Utc>,
    }

    pub async fn get(pool: &PgPool, id: i64) -> AppResult<Dossier> {
        let row: DossierRow = sqlx::query_as(
            "SELECT d.id, d.name, d.comment, d.active, d.meta, d.created_at, d.modified_at,
                ARRAY(SELECT x.watch_list_id FROM dossier_watch_lists x
                      WHERE x.dossier_id = d.id ORDER BY 1) AS watch_lists,
                (SELECT r.remote_url FROM replicas r
                   JOIN dossier_watch_lists x ON x.watch_list_id = r.watch_list_id
                  WHERE x.dossier_id = d.id LIMIT 1) AS replica_of
             FROM dossiers d WHERE d.id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| not_found(id))?;
        let photos: Vec<PhotoInfo> = crate::photos::ssr::of_dossier(pool, id).await?;
        Ok(Dossier {
            id: row.id,
            name: row.name,
            comment: row.comment,
            active: row.active,
            meta: row.meta,
            watch_lists: row.watch_lists,
            photos,
            replica_of: row.replica_of,
            created_at: row.created_at,
            modified_at: row.modified_at,
        })
    }

    async fn check_watch_lists(
        tx: &mut sqlx::Transaction<'_, Postgres>,
        ids: &[i64],
    ) -> AppResult<()> {
        // Lock the lists (shared) so that none is deleted between this check and the insert.
        let found: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM watch_lists WHERE id = ANY($1) FOR SHARE")
                .bind(ids)
                .fetch_all(&mut **tx)
                .await?;
        let missing: Vec<String> = ids
            .iter()
            .filter(|id| !found.contains(id))
            .map(|id| id.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(AppError::invalid(
                "watch_lists",
                format!("unknown watch list id(s): {}", missing.join(", ")),
            ));
        }
        Ok(())
    }

    async fn set_watch_lists(
        tx: &mut sqlx::Transaction<'_, Postgres>,
        dossier: i64,
        ids: &[i64],
    ) -> AppResult<()> {
        sqlx::query("DELETE FROM dossier_watch_lists WHERE dossier_id = $1 AND NOT (watch_list_id = ANY($2))")
            .bind(dossier)
            .bind(ids)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO dossier_watch_lists (watch_list_id, dossier_id)
             SELECT l, $1 FROM UNNEST($2::bigint[]) AS l ON CONFLICT DO NOTHING",
        )
        .bind(dossier)
        .bind(ids)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn insert(pool: &PgPool, input: &DossierInput) -> AppResult<Dossier> {
        let mut tx = pool.begin().await?;
        check_watch_lists(&mut tx, &input.watch_lists).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO dossiers (name, comment, active, meta) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(&input.name)
        .bind(&input.comment)
        .bind(input.active)
        .bind(&input.meta)
        .fetch_one(&mut *tx)
        .await?;
        set_watch_lists(&mut tx, id, &input.watch_lists).await?;
        tx.commit().await?;
        get(pool, id).await
    }

    pub async fn update(pool: &PgPool, id: i64, input: &DossierInput) -> AppResult<Dossier> {
        let mut tx = pool.begin().await?;
        check_watch_lists(&mut tx, &input.watch_lists).await?;
        let updated = sqlx::query(
            "UPDATE dossiers SET name = $2, comment = $3, active = $4, meta = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(&input.name)
        .bind(&input.comment)
        .bind(input.active)
        .bind(&input.meta)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(not_found(id));
        }
        set_watch_lists(&mut tx, id, &input.watch_lists).await?;
        tx.commit().await?;
        get(pool, id).await
    }

    pub async fn delete(pool: &PgPool, id: i64) -> AppResult<()> {
        let mut tx = pool.begin().await?;
        let images: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT image_sha256 FROM photos WHERE dossier_id = $1")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
        let deleted = sqlx::query("DELETE FROM dossiers WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(not_found(id));
        }
        crate::photos::ssr::delete_unused_images(&mut tx, &images).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn lists_by_id(lists: &[WatchListLabel], ids: &[i64]) -> Vec<WatchListLabel> {
    lists
        .iter()
        .filter(|l| ids.contains(&l.id))
        .cloned()
        .collect()
}

#[component]
pub fn DossiersPage() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| {
        query.with(|q| {
            (
                q.get("q").unwrap_or_default(),
                q.get("watch_list").and_then(|v| v.parse::<i64>().ok()),
                q.get("active").unwrap_or_default(),
                q.get("after").and_then(|v| v.parse::<i64>().ok()),
            )
        })
    });
    let page = Resource::new(
        move || filters.get(),
        |(q, list, active, after)| search_dossiers(q, list, active, after, None),
    );
    let lists = Resource::new(|| (), |_| list_watch_list_labels());
    let can_edit = use_current_user().is_some_and(|u| u.can(Permission::Edit));
    view! {
        <section class="page">
            <header class="page-header">
                <h1>"Dossiers"</h1>
                <Show when=move || can_edit>
                    <a class="button primary" href="/dossiers/new">"New dossier"</a>
                </Show>
            </header>
            <Suspense fallback=|| view! { <p class="loading">"Loading dossiers…"</p> }>
                {move || Suspend::new(async move {
                    let (q, list, active, after) = filters.get();
                    let lists = lists.await.unwrap_or_default();
                    let page = page.await;
                    view! {
                        <SearchForm q=q.clone() list active=active.clone() lists=lists.clone() />
                        {match page {
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                            Ok(page) if page.dossiers.is_empty() => view! {
                                <div class="empty-state">
                                    <p>{if after.is_some() { "No more dossiers." } else if q.is_empty() && list.is_none() && active.is_empty() { "No dossiers yet." } else { "No dossier matches these filters." }}</p>
                                </div>
                            }.into_any(),
                            Ok(page) => {
                                let next = page.next_after.map(|n| page_link(&q, list, &active, Some(n)));
                                let first = after.map(|_| page_link(&q, list, &active, None));
                                view! {
                                    <DossierTable dossiers=page.dossiers lists />
                                    <nav class="pager" aria-label="Pages">
                                        {first.map(|href| view! { <a href=href>"« First page"</a> })}
                                        {next.map(|href| view! { <a href=href rel="next">"Next page »"</a> })}
                                    </nav>
                                }.into_any()
                            }
                        }}
                    }
                })}
            </Suspense>
        </section>
    }
}

fn page_link(q: &str, list: Option<i64>, active: &str, after: Option<i64>) -> String {
    let mut params: Vec<(&str, String)> = Vec::new();
    if !q.is_empty() {
        params.push(("q", q.to_string()));
    }
    if let Some(list) = list {
        params.push(("watch_list", list.to_string()));
    }
    if !active.is_empty() {
        params.push(("active", active.to_string()));
    }
    if let Some(after) = after {
        params.push(("after", after.to_string()));
    }
    let query: Vec<String> = params
        .into_iter()
        .map(|(k, v)| format!("{k}={}", encode_query_value(&v)))
        .collect();
    format!("/dossiers?{}", query.join("&"))
}

/// Percent-encodes a query value (no dependency needed for this one use).
fn encode_query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A plain GET form, so that searching works before the WASM loads and every result page has
/// its own URL.
#[component]
fn SearchForm(
    q: String,
    list: Option<i64>,
    active: String,
    lists: Vec<WatchListLabel>,
) -> impl IntoView {
    view! {
        <form method="get" action="/dossiers" class="search-form" role="search">
            <label>
                "Name"
                <input type="search" name="q" value=q placeholder="Search by name" />
            </label>
            <label>
                "Watch list"
                <select name="watch_list">
                    <option value="" selected=list.is_none()>"All lists"</option>
                    {lists.into_iter().map(|l| view! {
                        <option value=l.id selected=list == Some(l.id)>{l.name}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>
                "Active"
                <select name="active">
                    <option value="" selected=active.is_empty()>"Any"</option>
                    <option value="true" selected=active == "true">"Active"</option>
                    <option value="false" selected=active == "false">"Inactive"</option>
                </select>
            </label>
            <button type="submit">"Search"</button>
        </form>
    }
}

#[component]
fn DossierTable(dossiers: Vec<DossierSummary>, lists: Vec<WatchListLabel>) -> impl IntoView {
    view! {
        <table class="data-table" data-testid="dossiers">
            <thead>
                <tr>
                    <th><span class="sr-only">"Photo"</span></th>
                    <th>"Name"</th>
                    <th>"Watch lists"</th>
                    <th>"Active"</th>
                    <th class="num">"Photos"</th>
                    <th>"Modified"</th>
                </tr>
            </thead>
            <tbody>
                {dossiers.into_iter().map(|d| {
                    let labels = lists_by_id(&lists, &d.watch_lists);
                    view! {
                        <tr data-testid="dossier-row">
                            <td class="thumb">
                                {match d.thumbnail {
                                    Some(sha) => view! { <img src=format!("/photos/{sha}/thumbnail") alt="" width="48" height="48" loading="lazy" /> }.into_any(),
                                    None => view! { <span class="no-photo" title="No photo">"—"</span> }.into_any(),
                                }}
                            </td>
                            <td><a href=format!("/dossiers/{}", d.id)>{d.name}</a></td>
                            <td class="labels">{labels.into_iter().map(|l| view! { <ColorLabel color=l.color name=l.name /> }).collect_view()}</td>
                            <td>{if d.active { "yes" } else { "no" }}</td>
                            <td class="num">{d.photo_count}</td>
                            <td><time datetime=d.modified_at.to_rfc3339()>{d.modified_at.format("%Y-%m-%d %H:%M").to_string()}</time></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

fn id_param() -> Memo<Option<i64>> {
    let params = use_params_map();
    Memo::new(move |_| params.with(|p| p.get("id").and_then(|id| id.parse().ok())))
}

async fn load_dossier(id: Option<i64>) -> AppResult<Dossier> {
    match id {
        Some(id) => get_dossier(id).await,
        None => Err(AppError::not_found("no such dossier")),
    }
}

#[component]
pub fn DossierPage() -> impl IntoView {
    let id = id_param();
    let dossier = Resource::new(move || id.get(), load_dossier);
    let lists = Resource::new(|| (), |_| list_watch_list_labels());
    let can_edit = use_current_user().is_some_and(|u| u.can(Permission::Edit));
    view! {
        <section class="page">
            <Suspense fallback=|| view! { <p class="loading">"Loading dossier…"</p> }>
                {move || Suspend::new(async move {
                    let lists = lists.await.unwrap_or_default();
                    match dossier.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(d) => {
                            let labels = lists_by_id(&lists, &d.watch_lists);
                            let meta = serde_json::to_string_pretty(&d.meta).unwrap_or_default();
                            // A replicated dossier is edited on its Leader; deleting stays offered
                            // because the server allows it while the Leader is unreachable.
                            let editable = can_edit && d.replica_of.is_none();
                            view! {
                                <header class="page-header">
                                    <h1 data-testid="dossier-name">{d.name.clone()}</h1>
                                    {d.replica_of.clone().map(|url| view! { <ReplicaBadge leader=url /> })}
                                    {can_edit.then(|| view! {
                                        <div class="actions">
                                            {editable.then(|| view! { <a class="button" href=format!("/dossiers/{}/edit", d.id)>"Edit"</a> })}
                                            <a class="button danger" href=format!("/dossiers/{}/delete", d.id)>"Delete"</a>
                                        </div>
                                    })}
                                </header>
                                <dl class="facts">
                                    <dt>"Watch lists"</dt>
                                    <dd class="labels">{labels.into_iter().map(|l| view! { <ColorLabel color=l.color name=l.name /> }).collect_view()}</dd>
                                    <dt>"Active"</dt><dd>{if d.active { "yes" } else { "no" }}</dd>
                                    <dt>"Comment"</dt><dd class="comment">{d.comment.clone()}</dd>
                                    <dt>"Meta"</dt><dd><pre>{meta}</pre></dd>
                                    <dt>"Modified"</dt><dd>{d.modified_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</dd>
                                </dl>
                                <h2>"Photos"</h2>
                                <DossierPhotos dossier_id=d.id photos=d.photos.clone() editable />
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn DossierFields(
    values: DossierFormValues,
    lists: Vec<WatchListLabel>,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let DossierFormValues {
        name,
        comment,
        active,
        meta,
        watch_lists: chosen,
    } = values;
    view! {
        <label>
            "Name"
            <input name="name" value=name required maxlength="256" autofocus />
        </label>
        <FieldError error field="name" />
        <label>
            "Comment"
            <textarea name="comment" maxlength="2048" rows="3">{comment}</textarea>
        </label>
        <FieldError error field="comment" />
        <fieldset class="checks">
            <legend>"Watch lists"</legend>
            {if lists.is_empty() {
                view! { <p>"There are no watch lists yet: " <a href="/watch-lists/new">"create one first"</a> "."</p> }.into_any()
            } else {
                // Replicated lists are filled by their Leader only.
                lists.into_iter().filter(|l| l.replica_of.is_none()).map(|l| {
                    let checked = chosen.contains(&l.id);
                    view! {
                        <label>
                            <input type="checkbox" name="watch_lists[]" value=l.id checked=checked />
                            " " <ColorLabel color=l.color name=l.name />
                        </label>
                    }
                }).collect_view().into_any()
            }}
        </fieldset>
        <FieldError error field="watch_lists" />
        <label class="inline">
            <input type="checkbox" name="active" value="true" checked=active />
            " Active"
        </label>
        <label>
            "Meta (a JSON object)"
            <textarea name="meta" rows="4" class="mono">{meta}</textarea>
        </label>
        <FieldError error field="meta" />
        <FormError error fields=&["name", "comment", "watch_lists", "meta"] />
    }
}

#[component]
pub fn NewDossierPage() -> impl IntoView {
    let lists = Resource::new(|| (), |_| list_watch_list_labels());
    view! {
        <section class="page narrow">
            <h1>"New dossier"</h1>
            <p class="hint">"Photos are added on the dossier's page once it is created."</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let lists = lists.await.unwrap_or_default();
                    view! { <NewDossierForm lists /> }
                })}
            </Suspense>
        </section>
    }
}

/// An island, as every form with fields is: a rejected submission shows its errors beside the
/// fields and keeps what the user typed.
#[island]
fn NewDossierForm(lists: Vec<WatchListLabel>) -> impl IntoView {
    let create = ServerAction::<CreateDossier>::new();
    let error = last_error(create.value());
    view! {
        <ActionForm action=create attr:class="card form">
            <DossierFields values=DossierFormValues { active: true, meta: "{}".into(), ..Default::default() } lists error />
            <div class="form-actions">
                <button type="submit" class="primary">"Create"</button>
                <a href="/dossiers">"Cancel"</a>
            </div>
        </ActionForm>
    }
}

#[component]
pub fn EditDossierPage() -> impl IntoView {
    let id = id_param();
    let dossier = Resource::new(move || id.get(), load_dossier);
    let lists = Resource::new(|| (), |_| list_watch_list_labels());
    view! {
        <section class="page narrow">
            <h1>"Edit dossier"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let lists = lists.await.unwrap_or_default();
                    match dossier.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(dossier) => view! { <EditDossierForm id=dossier.id values=dossier.into() lists /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[island]
fn EditDossierForm(
    id: i64,
    values: DossierFormValues,
    lists: Vec<WatchListLabel>,
) -> impl IntoView {
    let update = ServerAction::<UpdateDossier>::new();
    let error = last_error(update.value());
    view! {
        <ActionForm action=update attr:class="card form">
            <input type="hidden" name="id" value=id />
            <DossierFields values lists error />
            <div class="form-actions">
                <button type="submit" class="primary">"Save"</button>
                <a href=format!("/dossiers/{id}")>"Cancel"</a>
            </div>
        </ActionForm>
    }
}

#[component]
pub fn DeleteDossierPage() -> impl IntoView {
    let id = id_param();
    let dossier = Resource::new(move || id.get(), load_dossier);
    let delete = ServerAction::<DeleteDossier>::new();
    let error = last_error(delete.value());
    view! {
        <section class="page narrow">
            <h1>"Delete dossier"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match dossier.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(d) => view! {
                            <ActionForm action=delete attr:class="card form confirm">
                                <input type="hidden" name="id" value=d.id />
                                <p>
                                    "Delete the dossier " <strong>{d.name.clone()}</strong>
                                    {format!(" and its {} photo(s)? This cannot be undone.", d.photos.len())}
                                </p>
                                <FormError error />
                                <div class="form-actions">
                                    <button type="submit" class="danger">"Delete"</button>
                                    <a href=format!("/dossiers/{}", d.id)>"Cancel"</a>
                                </div>
                            </ActionForm>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
