//! Watch lists in the web app: their server functions and the small pieces other pages show
//! (the colour label, the replica badge); the pages are in `table` (the list of lists) and
//! `edit` (create, edit or rename, delete).

// A server function takes one argument per form field, and a watch list has seven.
#![allow(clippy::too_many_arguments)]

#[cfg(feature = "ssr")]
use crate::auth::Permission;
use crate::error::AppResult;
use domain::input::Flag;
pub use domain::watch_lists::{WatchList, WatchListInput, WatchListLabel};
use leptos::prelude::*;

mod edit;
mod table;

pub use edit::{DeleteWatchListPage, EditWatchListPage, NewWatchListPage};
pub use table::WatchListsPage;

/// Every watch list, with how many dossiers it holds.
#[server(prefix = "/api", endpoint = "watch-lists/list", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn list_watch_lists() -> AppResult<Vec<WatchList>> {
    let (state, _) = crate::caller::require(Permission::Read, "see watch lists").await?;
    Ok(engine::watch_lists::list(&state.pool).await?)
}

/// The lists' labels without their dossier counts: every dossier page needs them, and counting
/// the members of big lists on each page view would cost more than the page itself.
#[server(prefix = "/api", endpoint = "watch-lists/labels", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn list_watch_list_labels() -> AppResult<Vec<WatchListLabel>> {
    let (state, _) = crate::caller::require(Permission::Read, "see watch lists").await?;
    Ok(engine::watch_lists::labels(&state.pool).await?)
}

/// One watch list.
#[server(prefix = "/api", endpoint = "watch-lists/get", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn get_watch_list(id: i64) -> AppResult<WatchList> {
    let (state, _) = crate::caller::require(Permission::Read, "see watch lists").await?;
    Ok(engine::watch_lists::get(&state.pool, id).await?)
}

/// Creates a watch list: `color` as `#rrggbb`, `confidence_threshold` from 0 to 1 or empty
/// for the installation's.
#[server(prefix = "/api", endpoint = "watch-lists/create", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn create_watch_list(
    name: String,
    #[server(default)] comment: String,
    #[server(default)] color: String,
    #[server(default)] active: Flag,
    #[server(default)] acknowledge: Flag,
    #[server(default)] notify: Flag,
    #[server(default)] confidence_threshold: String,
) -> AppResult<WatchList> {
    let (state, user) = crate::caller::require(Permission::Edit, "create watch lists").await?;
    let input = WatchListInput::parse(
        &name,
        &comment,
        &color,
        active,
        acknowledge,
        notify,
        &confidence_threshold,
    )?;
    let id = crate::caller::write(&state, &user, async |db| {
        engine::watch_lists::insert(db, &input).await
    })
    .await?;
    crate::notice::redirect("/watch-lists", "list-created");
    Ok(engine::watch_lists::get(&state.pool, id).await?)
}

/// Replaces every setting of a watch list (a replicated list takes only `rename`).
#[server(prefix = "/api", endpoint = "watch-lists/update", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn update_watch_list(
    id: i64,
    name: String,
    #[server(default)] comment: String,
    #[server(default)] color: String,
    #[server(default)] active: Flag,
    #[server(default)] acknowledge: Flag,
    #[server(default)] notify: Flag,
    #[server(default)] confidence_threshold: String,
) -> AppResult<WatchList> {
    let (state, user) = crate::caller::require(Permission::Edit, "edit watch lists").await?;
    engine::sync::guard::lists_writable(&state.pool, &[id]).await?;
    let input = WatchListInput::parse(
        &name,
        &comment,
        &color,
        active,
        acknowledge,
        notify,
        &confidence_threshold,
    )?;
    crate::caller::write(&state, &user, async |db| {
        engine::watch_lists::update(db, id, &input).await
    })
    .await?;
    crate::notice::redirect("/watch-lists", "list-saved");
    Ok(engine::watch_lists::get(&state.pool, id).await?)
}

/// Renames a list. Unlike the other settings, the name of a replicated list is this
/// installation's own: the rest follows the Leader's list.
#[server(prefix = "/api", endpoint = "watch-lists/rename", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn rename_watch_list(id: i64, name: String) -> AppResult<WatchList> {
    let (state, user) = crate::caller::require(Permission::Edit, "rename watch lists").await?;
    crate::caller::write(&state, &user, async |db| {
        engine::watch_lists::rename(db, id, &name).await
    })
    .await?;
    crate::notice::redirect("/watch-lists", "list-renamed");
    Ok(engine::watch_lists::get(&state.pool, id).await?)
}

/// Deletes a watch list, and the dossiers that belong to no other list (a dossier always belongs
/// to at least one list). Returns how many dossiers were deleted with it.
#[server(prefix = "/api", endpoint = "watch-lists/delete", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn delete_watch_list(id: i64) -> AppResult<u64> {
    let (state, user) = crate::caller::require(Permission::Edit, "delete watch lists").await?;
    engine::sync::guard::lists_writable(&state.pool, &[id]).await?;
    let deleted = crate::caller::write(&state, &user, async |db| {
        engine::watch_lists::delete(db, id).await
    })
    .await?;
    crate::notice::redirect("/watch-lists", "list-deleted");
    Ok(deleted)
}

/// How many dossiers belong only to this list, and so would be deleted with it.
#[server(prefix = "/api", endpoint = "watch-lists/exclusive-dossiers", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn count_exclusive_dossiers(id: i64) -> AppResult<i64> {
    let (state, _) = crate::caller::require(Permission::Read, "see watch lists").await?;
    Ok(engine::watch_lists::exclusive_dossier_count(&state.pool, id).await?)
}

/// Marks a list or dossier that is a read-only replica of a Leader's, naming the Leader (by the
/// address it is pulled from) and linking to it, where it is edited.
#[component]
pub fn ReplicaBadge(leader: String) -> impl IntoView {
    let host = leader_host(&leader);
    view! {
        <span class="badge replica" data-testid="replica-badge" title=format!("Replicated from {leader}; edit it there")>
            "Read-only · from "
            <a href=leader.clone() data-testid="replica-leader">{host}</a>
        </span>
    }
}

/// The host and port of a Leader's address, the part a person recognises.
fn leader_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.trim_end_matches('/').to_string()
}

/// The colour label of a list.
#[component]
pub fn ColorLabel(color: String, name: String) -> impl IntoView {
    view! {
        <span class="list-label">
            <span class="swatch" style:background-color=color></span>
            {name}
        </span>
    }
}
