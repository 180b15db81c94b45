//! Which installation a page belongs to: its name (`SITE_NAME`, by default the host and port it
//! is reached at) in every tab's title and in the header, with a coloured badge saying whether
//! it is a Leader (its lists are the originals; Subscribers send it their hits) or a Subscriber
//! (it holds read-only replicas of a Leader's lists). With both open side by side, neither tab
//! nor header leaves a doubt.

use crate::error::AppResult;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What part an installation plays in replication, as far as its data says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// It holds replicas of another installation's lists.
    Subscriber,
    /// It serves its lists to Subscribers (replication is on) or hears from sites.
    Leader,
    /// Replication is off and it holds no replica.
    Standalone,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Subscriber => "Subscriber",
            Role::Leader => "Leader",
            Role::Standalone => "Standalone",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Site {
    pub name: String,
    /// Lists replicated from a Leader; not told to strangers.
    pub replicas: Option<i64>,
    /// Its part in replication; not told to strangers.
    pub role: Option<Role>,
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

/// The installation's name and, for a logged-in caller, its replicas and its role.
#[server(prefix = "/api", endpoint = "site", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn site_info() -> AppResult<Site> {
    let state = crate::state::app_state()?;
    let parts = crate::caller::request_parts()?;
    let (replicas, role) = match crate::caller::user_of(&parts, &state).await? {
        Some(_) => {
            let held = engine::sync::replicas::held(&state.pool).await?;
            let role = if held.replicas > 0 {
                Role::Subscriber
            } else if held.sites > 0 || state.settings.sync.token.is_set() {
                Role::Leader
            } else {
                Role::Standalone
            };
            (Some(held.replicas), Some(role))
        }
        None => (None, None),
    };
    Ok(Site {
        name: state.settings.site_name.clone(),
        replicas,
        role,
    })
}

/// The installation's name as the server knows it, for titles rendered on the server (every
/// page is; the browser only hydrates islands, which set no title).
pub fn name() -> String {
    #[cfg(feature = "ssr")]
    {
        // Quietly empty where there is no state: the router lists the routes by rendering the
        // app once without one, at startup.
        use_context::<crate::state::AppState>()
            .map(|s| s.settings.site_name.clone())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    String::new()
}

/// Every tab's title: the page's, then the installation's ("Events · Leader").
#[component]
pub fn TitleFormat() -> impl IntoView {
    let site = name();
    let formatter = move |page: String| match (page.is_empty(), site.is_empty()) {
        (true, true) => "Dossier database".to_string(),
        (true, false) => format!("{site} · Dossier database"),
        (false, true) => format!("{page} · Dossier database"),
        (false, false) => format!("{page} · {site}"),
    };
    view! { <leptos_meta::Title formatter /> }
}

/// A page's own part of the tab's title.
#[component]
pub fn PageTitle(#[prop(into)] text: String) -> impl IntoView {
    view! { <leptos_meta::Title text /> }
}

/// The installation's name in the header (and the login page), with its role as a coloured
/// badge and its replicas.
#[component]
pub fn SiteName() -> impl IntoView {
    let site = Resource::new(|| (), |_| site_info());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                site.await.ok().map(|site| {
                    let role = site.role.map(|role| view! {
                        <span class=format!("role role-{}", role.as_str().to_lowercase()) data-testid="role">{role.as_str()}</span>
                    });
                    view! {
                        <span class="installation">
                            {role}
                            <span class="site" data-testid="site" title=site.describe()>{site.name.clone()}</span>
                        </span>
                    }
                })
            })}
        </Suspense>
    }
}
