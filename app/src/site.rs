//! Which installation a page belongs to: its name (`SITE_NAME`, by default the host and port it
//! is reached at) and, for a logged-in user, how many of its lists are replicas of a Leader's.
//! With a Leader and a Subscriber open side by side, the header says which is which.

use crate::error::AppResult;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Site {
    pub name: String,
    /// Lists replicated from a Leader; not told to strangers.
    pub replicas: Option<i64>,
}

impl Site {
    /// "3000 · holds 2 replicated lists", or the name alone.
    pub fn describe(&self) -> String {
        match self.replicas {
            None => self.name.clone(),
            Some(0) => format!("{} · no replicated lists", self.name),
            Some(1) => format!("{} · holds 1 replicated list", self.name),
            Some(n) => format!("{} · holds {n} replicated lists", self.name),
        }
    }
}

/// The installation's name and, for a logged-in caller, how many of its lists are replicas.
#[server(prefix = "/api", endpoint = "site", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn site_info() -> AppResult<Site> {
    let state = crate::state::app_state()?;
    let parts = crate::caller::request_parts()?;
    let replicas = match crate::caller::user_of(&parts, &state).await? {
        Some(_) => Some(engine::sync::replicas::count(&state.pool).await?),
        None => None,
    };
    Ok(Site {
        name: state.settings.site_name.clone(),
        replicas,
    })
}

/// The installation's name in the header (and the login page), with its replicas.
#[component]
pub fn SiteName() -> impl IntoView {
    let site = Resource::new(|| (), |_| site_info());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                site.await.ok().map(|site| view! {
                    <span class="site" data-testid="site">{site.describe()}</span>
                })
            })}
        </Suspense>
    }
}
