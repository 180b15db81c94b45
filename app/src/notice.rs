//! The short confirmation shown after an action ("Watch list created."). The server function
//! sends the browser to the next page with `?done=<code>`, with or without JavaScript, and the
//! layout shows the code's words. Only fixed codes are shown, so a link cannot make the page
//! say anything else.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

const NOTICES: &[(&str, &str)] = &[
    ("list-created", "Watch list created."),
    ("list-saved", "Watch list saved."),
    ("list-renamed", "Watch list renamed."),
    (
        "list-deleted",
        "Watch list deleted, with the dossiers that were in no other list.",
    ),
    ("dossier-created", "Dossier created."),
    (
        "import-queued",
        "ZIP received: the import runs in the background, and this page follows it.",
    ),
    (
        "import-running",
        "This file is being imported already: here is that import.",
    ),
    ("dossier-saved", "Dossier saved."),
    ("dossier-deleted", "Dossier deleted."),
    ("user-created", "User created."),
    ("user-saved", "User saved."),
    ("sessions-ended", "Every session of the user has ended."),
    (
        "lock-cleared",
        "Login lock cleared: logins are accepted again.",
    ),
    ("replica-created", "Replica created."),
    (
        "replica-cancelled",
        "Replica cancelled: the local list keeps its dossiers and can be edited again.",
    ),
    ("event-acknowledged", "Event acknowledged."),
    ("match-confirmed", "Match confirmed."),
    ("match-rejected", "Marked: not this person."),
    ("verdict-withdrawn", "Verdict withdrawn."),
    (
        "threshold-applied",
        "Threshold applied: matches from now on are made at it.",
    ),
    (
        "events-acknowledged",
        "Every event awaiting acknowledgement in this view is acknowledged.",
    ),
    ("webhook-created", "Webhook added."),
    (
        "camera-created",
        "Camera added: a video worker takes it within seconds.",
    ),
    ("camera-saved", "Camera saved: its stream is opened anew."),
    ("camera-deleted", "Camera deleted; its events stay."),
    ("webhook-deleted", "Webhook deleted, with its delivery log."),
    ("sync-started", "Sync started: the progress shows below."),
    ("hold-confirmed", "Confirmed: the held run goes ahead."),
    (
        "hold-rejected",
        "The replica stays as it is until its next scheduled run.",
    ),
];

/// The address to send the browser to after an action: `path` with the notice's code.
pub fn after(path: &str, done: &str) -> String {
    debug_assert!(NOTICES.iter().any(|(code, _)| *code == done), "{done}");
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}done={done}")
}

/// Sends the browser to `path` with the notice `done` (see [`after`]).
#[cfg(feature = "ssr")]
pub fn redirect(path: &str, done: &str) {
    leptos_axum::redirect(&after(path, done));
}

/// The confirmation of the action that led here, if any.
#[component]
pub fn Notice() -> impl IntoView {
    let done = use_query_map().with_untracked(|q| q.get("done"));
    let words = done.and_then(|d| {
        NOTICES
            .iter()
            .find(|(code, _)| *code == d)
            .map(|(_, words)| *words)
    });
    words.map(|words| view! { <p class="notice" role="status" data-testid="notice">{words}</p> })
}
