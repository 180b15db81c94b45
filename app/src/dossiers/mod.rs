//! Dossiers on the web: the server functions, and the pages (search with keyset paging in
//! `search`, the detail page with the photo gallery in `detail`, create, edit and delete in
//! `form`).

mod detail;
mod form;
mod search;

pub use detail::DossierPage;
pub use form::{DeleteDossierPage, EditDossierPage, NewDossierPage};
pub use search::DossiersPage;

#[cfg(feature = "ssr")]
use crate::auth::Permission;
use crate::error::AppResult;
use crate::watch_lists::WatchListLabel;
pub use domain::dossiers::{
    Dossier, DossierFormValues, DossierInput, DossierPage, DossierQuery, DossierSummary, PAGE_SIZE,
};
use domain::input::Flag;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// Searches dossiers by name (`q`), list (`watch_list`) and `active` ("true", "false" or
/// empty), newest first. `limit` is 1 to 500 (50 when omitted); pass the answer's `next_after`
/// as `after` for the next page.
#[server(prefix = "/api", endpoint = "dossiers/search", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn search_dossiers(
    #[server(default)] q: String,
    #[server(default)] watch_list: Option<i64>,
    #[server(default)] active: String,
    #[server(default)] after: Option<i64>,
    #[server(default)] limit: Option<i64>,
) -> AppResult<DossierPage> {
    let (state, _) = crate::caller::require(Permission::Read, "see dossiers").await?;
    let query = DossierQuery::parse(&q, watch_list, &active, after, limit)?;
    Ok(engine::dossiers::search(&state.pool, &query).await?)
}

/// One dossier, with its `meta`, watch lists and photos.
#[server(prefix = "/api", endpoint = "dossiers/get", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn get_dossier(id: i64) -> AppResult<Dossier> {
    let (state, _) = crate::caller::require(Permission::Read, "see dossiers").await?;
    Ok(engine::dossiers::get(&state.pool, id).await?)
}

/// Creates a dossier in one or more watch lists; `meta` is a JSON object of the case's own
/// fields.
#[server(prefix = "/api", endpoint = "dossiers/create", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn create_dossier(
    name: String,
    #[server(default)] comment: String,
    #[server(default)] active: Flag,
    /// The case's own fields: a JSON object (or its text).
    #[server(default)]
    meta: String,
    #[server(default)] watch_lists: Vec<i64>,
) -> AppResult<Dossier> {
    let (state, user) = crate::caller::require(Permission::Edit, "create dossiers").await?;
    let input = DossierInput::parse(&name, &comment, active, &meta, watch_lists)?;
    engine::sync::guard::lists_writable(&state.pool, &input.watch_lists).await?;
    let id = crate::caller::write(&state, &user, async |db| {
        engine::dossiers::insert(db, &input).await
    })
    .await?;
    crate::notice::redirect(&format!("/dossiers/{id}"), "dossier-created");
    Ok(engine::dossiers::get(&state.pool, id).await?)
}

/// Replaces every field of a dossier (a replicated dossier is read-only).
#[server(prefix = "/api", endpoint = "dossiers/update", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn update_dossier(
    id: i64,
    name: String,
    #[server(default)] comment: String,
    #[server(default)] active: Flag,
    /// The case's own fields: a JSON object (or its text).
    #[server(default)]
    meta: String,
    #[server(default)] watch_lists: Vec<i64>,
) -> AppResult<Dossier> {
    let (state, user) = crate::caller::require(Permission::Edit, "edit dossiers").await?;
    let input = DossierInput::parse(&name, &comment, active, &meta, watch_lists)?;
    engine::sync::guard::dossier_writable(&state.pool, id).await?;
    engine::sync::guard::lists_writable(&state.pool, &input.watch_lists).await?;
    crate::caller::write(&state, &user, async |db| {
        engine::dossiers::update(db, id, &input).await
    })
    .await?;
    crate::notice::redirect(&format!("/dossiers/{id}"), "dossier-saved");
    Ok(engine::dossiers::get(&state.pool, id).await?)
}

/// Deletes a dossier with its photos. Answers `null`.
#[server(prefix = "/api", endpoint = "dossiers/delete", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn delete_dossier(id: i64) -> AppResult<()> {
    let (state, user) = crate::caller::require(Permission::Edit, "delete dossiers").await?;
    engine::sync::guard::dossier_deletable(&state.replication, id).await?;
    crate::caller::write(&state, &user, async |db| {
        engine::dossiers::delete(db, id).await
    })
    .await?;
    crate::notice::redirect("/dossiers", "dossier-deleted");
    Ok(())
}

/// Why this dossier may not be deleted now, or nothing if it may: a replicated dossier only
/// while its Leader cannot be reached (the next successful sync brings it back). The pages offer
/// Delete only when the server would allow it.
#[server(prefix = "/api", endpoint = "dossiers/deletable", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn dossier_deletable(id: i64) -> AppResult<Option<String>> {
    let (state, _) = crate::caller::require(Permission::Edit, "delete dossiers").await?;
    engine::dossiers::get(&state.pool, id).await?;
    match engine::sync::guard::dossier_deletable(&state.replication, id).await {
        Ok(()) => Ok(None),
        Err(engine::Error(e @ domain::Error::Forbidden { .. })) => {
            Ok(Some(e.message().to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

async fn deletable(id: Option<i64>) -> AppResult<Option<String>> {
    match id {
        Some(id) => dossier_deletable(id).await,
        None => Err(domain::Error::not_found("no such dossier").into()),
    }
}

/// The labels of these lists, in the labels' order.
fn lists_by_id(lists: &[WatchListLabel], ids: &[i64]) -> Vec<WatchListLabel> {
    lists
        .iter()
        .filter(|l| ids.contains(&l.id))
        .cloned()
        .collect()
}

fn id_param() -> Memo<Option<i64>> {
    let params = use_params_map();
    Memo::new(move |_| params.with(|p| p.get("id").and_then(|id| id.parse().ok())))
}

async fn load_dossier(id: Option<i64>) -> AppResult<Dossier> {
    match id {
        Some(id) => get_dossier(id).await,
        None => Err(domain::Error::not_found("no such dossier").into()),
    }
}
