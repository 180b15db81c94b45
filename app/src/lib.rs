//! The dossier database's web app: pages, components and the server functions beside them, a
//! module per domain concept. They are thin adapters: the types and checks are the `domain`
//! crate's, the SQL, the replication and every worker the `engine`'s. Server-only glue (the
//! state, the callers, the server functions' bodies) sits behind the `ssr` feature, as Leptos
//! builds one crate for the server and the browser.

// Without `erase_components` (release builds) the view types of the bigger pages nest deeper
// than the compiler's default limit.
#![recursion_limit = "256"]

pub mod archive;
pub mod audit;
pub mod auth;
#[cfg(feature = "ssr")]
pub mod caller;
pub mod cameras;
pub mod dossiers;
pub mod error;
pub mod events;
pub mod faces;
pub mod forms;
pub mod imports;
#[cfg(feature = "ssr")]
pub mod multipart;
pub mod notice;
pub mod photos;
pub mod replication;
pub mod site;
pub mod sites;
#[cfg(feature = "ssr")]
pub mod state;
pub mod uploads;
pub mod users;
pub mod verdicts;
pub mod watch_lists;
pub mod webhooks;

use auth::{me, use_current_user, Logout, LogoutEverywhere, Permission};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet};
use leptos_router::{
    components::{ParentRoute, Redirect, Route, Router, Routes},
    nested_router::Outlet,
    path, SsrMode,
};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HydrationScripts options islands=true />
                <link rel="icon" href="data:," />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The page's Content-Security-Policy: scripts only from this site or inline with this
/// response's nonce (which leptos_axum makes per request and puts on the islands' scripts),
/// WebAssembly allowed to compile, nothing loaded from elsewhere, no framing. Inline styles are
/// allowed: the colour labels are `style` attributes.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

/// Marks the page as interactive (`<body data-hydrated="true">`) once its islands are hydrated,
/// so that tests (and curious users) can tell. The islands script hydrates them in promise
/// callbacks right after `hydrate()` returns; a zero timeout runs after all of those.
#[cfg(feature = "hydrate")]
pub fn mark_hydrated() {
    set_timeout(
        || {
            if let Some(body) = document().body() {
                let _ = body.set_attribute("data-hydrated", "true");
            }
        },
        std::time::Duration::ZERO,
    );
}

/// Every route renders in `SsrMode::Async` on the server only: the server waits for the page's
/// data and sends it complete, so pages read and forms submit even in a browser without
/// JavaScript. Only the islands (forms, uploads, live tables) hydrate; links load pages.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/dossier.css" />
        <site::TitleFormat />
        <Router>
            <Routes fallback=|| view! { <NotFound /> }>
                <Route path=path!("/login") ssr=SsrMode::Async view=auth::LoginPage />
                <ParentRoute path=path!("") ssr=SsrMode::Async view=SignedIn>
                    <Route path=path!("/") ssr=SsrMode::Async view=|| view! { <Redirect path="/watch-lists" /> } />
                    <Route path=path!("/watch-lists") ssr=SsrMode::Async view=watch_lists::WatchListsPage />
                    <Route path=path!("/watch-lists/new") ssr=SsrMode::Async view=watch_lists::NewWatchListPage />
                    <Route path=path!("/watch-lists/:id/edit") ssr=SsrMode::Async view=watch_lists::EditWatchListPage />
                    <Route path=path!("/watch-lists/:id/delete") ssr=SsrMode::Async view=watch_lists::DeleteWatchListPage />
                    <Route path=path!("/watch-lists/:id/calibration") ssr=SsrMode::Async view=verdicts::CalibrationPage />
                    <Route path=path!("/dossiers") ssr=SsrMode::Async view=dossiers::DossiersPage />
                    <Route path=path!("/dossiers/new") ssr=SsrMode::Async view=dossiers::NewDossierPage />
                    <Route path=path!("/dossiers/:id") ssr=SsrMode::Async view=dossiers::DossierPage />
                    <Route path=path!("/dossiers/:id/edit") ssr=SsrMode::Async view=dossiers::EditDossierPage />
                    <Route path=path!("/dossiers/:id/delete") ssr=SsrMode::Async view=dossiers::DeleteDossierPage />
                    <Route path=path!("/faces/search") ssr=SsrMode::Async view=faces::FaceSearchPage />
                    <Route path=path!("/events") ssr=SsrMode::Async view=events::EventsPage />
                    <Route path=path!("/events/similar") ssr=SsrMode::Async view=archive::SimilarEventsPage />
                    <Route path=path!("/webhooks") ssr=SsrMode::Async view=webhooks::WebhooksPage />
                    <Route path=path!("/cameras") ssr=SsrMode::Async view=cameras::CamerasPage />
                    <Route path=path!("/users") ssr=SsrMode::Async view=users::UsersPage />
                    <Route path=path!("/audit") ssr=SsrMode::Async view=audit::AuditLogPage />
                    <Route path=path!("/imports") ssr=SsrMode::Async view=imports::ImportsPage />
                    <Route path=path!("/imports/:id") ssr=SsrMode::Async view=imports::ImportPage />
                    <Route path=path!("/replication") ssr=SsrMode::Async view=replication::ReplicationPage />
                    <Route path=path!("/replication/:id/cancel") ssr=SsrMode::Async view=replication::CancelReplicaPage />
                    <Route path=path!("/sites") ssr=SsrMode::Async view=sites::SitesPage />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Every page but the login page: loads the caller once, sends strangers to the login page,
/// and shares the user with the pages (which show only the controls the user may use).
#[component]
fn SignedIn() -> impl IntoView {
    let user = Resource::new(|| (), |_| me());
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(user)) => {
                        provide_context(Some(user));
                        view! {
                            <Nav />
                            <main><notice::Notice /><Outlet /></main>
                        }.into_any()
                    }
                    Ok(None) => view! { <Redirect path="/login" /> }.into_any(),
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The header: the installation, the pages in three groups, and the user's own menu. On a
/// narrow screen the groups fold behind a "Menu" toggle: a checkbox and its label, so that it
/// opens without JavaScript (and without an inline handler, which the CSP would block).
#[component]
fn Nav() -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    let logout_everywhere = ServerAction::<LogoutEverywhere>::new();
    let user = use_current_user();
    let is_admin = user.as_ref().is_some_and(|u| u.can(Permission::Admin));
    let replication = user.as_ref().is_some_and(|u| u.replication_screens);
    // The page's own link is marked, so the header says where one is.
    let here = leptos_router::hooks::use_location()
        .pathname
        .get_untracked();
    let link = move |href: &'static str, words: &'static str| {
        let current = here == href || here.starts_with(&format!("{href}/"));
        view! { <li><a href=href aria-current=current.then_some("page")>{words}</a></li> }
    };
    let group = |id: &'static str, name: &'static str, links: AnyView| {
        view! {
            <div class="nav-group" role="group" aria-labelledby=id>
                <span class="group-name" id=id>{name}</span>
                <ul>{links}</ul>
            </div>
        }
    };
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Dossier database"</a>
            <site::SiteName />
            <input type="checkbox" id="menu-toggle" class="menu-toggle" aria-label="Menu" />
            <label for="menu-toggle" class="menu-button">"Menu"</label>
            <nav aria-label="Pages">
                {group("nav-monitoring", "Monitoring", view! {
                    {link("/events", "Events")}
                    {is_admin.then(|| link("/cameras", "Cameras"))}
                    {replication.then(|| link("/sites", "Sites"))}
                }.into_any())}
                {group("nav-dossiers", "Dossiers", view! {
                    {link("/watch-lists", "Watch lists")}
                    {link("/dossiers", "Dossiers")}
                    {link("/faces/search", "Search by photo")}
                }.into_any())}
                {(is_admin || replication).then(|| group("nav-administration", "Administration", view! {
                    {is_admin.then(|| view! { {link("/users", "Users")} {link("/imports", "Imports")} {link("/webhooks", "Webhooks")} {link("/audit", "Audit log")} })}
                    {replication.then(|| link("/replication", "Replication"))}
                }.into_any()))}
            </nav>
            <details class="me">
                {user.clone().map(|u| view! {
                    <summary data-testid="me-menu" title=format!("{} ({})", u.username, u.group)>{u.username.clone()}</summary>
                })}
                <div class="me-menu">
                    {user.map(|u| view! { <span data-testid="whoami">{format!("{} ({})", u.username, u.group)}</span> })}
                    <a href="/api-docs" title="The API reference: every endpoint, for integrators">"API reference"</a>
                    <ActionForm action=logout attr:class="inline-form">
                        <button type="submit" class="link">"Log out"</button>
                    </ActionForm>
                    <ActionForm action=logout_everywhere attr:class="inline-form">
                        <button type="submit" class="link" title="End every session of yours, on every browser">"Log out everywhere"</button>
                    </ActionForm>
                </div>
            </details>
        </header>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <main class="page narrow">
            <crate::site::PageTitle text="Not found" />
            <h1>"Not found"</h1>
            <p>"There is no page here. " <a href="/">"Go to the watch lists"</a></p>
        </main>
    }
}
