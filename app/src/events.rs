//! The events page: what the cameras saw, newest first, each face beside the dossier it
//! matched (or "no match"), filtered and keyset-paged through links. Rendered on the server, so
//! it works without JavaScript (it then reloads itself every 15 s); with JavaScript,
//! `/events.js` listens to the live stream (`/events/live`), brings new events in as they come,
//! and alerts (a sound, a browser notification) for lists with `notify`. Acknowledging is a
//! plain form that comes back to the same view.

#[cfg(feature = "ssr")]
use crate::auth::Permission;
use crate::error::AppResult;
use crate::forms::{last_error, FormError};
pub use domain::monitoring::{Event, EventFilter, EventPage};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// A page of events. Every filter is optional (empty means any): `camera`, `watch_list` (id),
/// `matched` (yes/no), `acknowledged` (awaiting/done), `from`/`to` (RFC 3339 or
/// `YYYY-MM-DDTHH:MM`, UTC), `site` (`here` for this installation's own, or a site's id: on a
/// Leader, the events its Subscribers sent); `before` is the `next` of the previous page.
// A server function's arguments are its API's fields, one each.
#[allow(clippy::too_many_arguments)]
#[server(prefix = "/api", endpoint = "events/list", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn list_events(
    #[server(default)] camera: String,
    #[server(default)] watch_list: String,
    #[server(default)] matched: String,
    #[server(default)] acknowledged: String,
    #[server(default)] from: String,
    #[server(default)] to: String,
    #[server(default)] site: String,
    #[server(default)] before: String,
) -> AppResult<EventPage> {
    let (state, _) = crate::caller::require(Permission::Read, "see events").await?;
    let filter = EventFilter::parse(&camera, &watch_list, &matched, &acknowledged, &from, &to)?
        .with_site(&site)?;
    let before = match before.trim() {
        "" => None,
        b => Some(domain::monitoring::EventCursor::parse(b)?),
    };
    Ok(engine::monitoring::store::page(&state.pool, &filter, before).await?)
}

/// Acknowledges one event (an Operator's or Administrator's job); who and when are recorded.
/// `back` is the events view to return to.
#[server(prefix = "/api", endpoint = "events/acknowledge", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn acknowledge_event(
    id: i64,
    #[server(default)] back: String,
) -> AppResult<domain::monitoring::Acknowledgement> {
    let (state, me) = crate::caller::require(Permission::Edit, "acknowledge events").await?;
    let done = engine::monitoring::store::acknowledge(&state.pool, id, &me.username).await?;
    crate::notice::redirect(&events_view(&back), "event-acknowledged");
    Ok(done)
}

/// Acknowledges every event of the filter that awaits it; returns how many.
#[server(prefix = "/api", endpoint = "events/acknowledge-all", input_derive = (Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema))]
pub async fn acknowledge_all_events(
    #[server(default)] camera: String,
    #[server(default)] watch_list: String,
    #[server(default)] matched: String,
    #[server(default)] from: String,
    #[server(default)] to: String,
    #[server(default)] site: String,
    #[server(default)] back: String,
) -> AppResult<u64> {
    let (state, me) = crate::caller::require(Permission::Edit, "acknowledge events").await?;
    let filter =
        EventFilter::parse(&camera, &watch_list, &matched, "", &from, &to)?.with_site(&site)?;
    let count =
        engine::monitoring::store::acknowledge_all(&state.pool, &filter, &me.username).await?;
    crate::notice::redirect(&events_view(&back), "events-acknowledged");
    Ok(count)
}

/// The events view a form came from, or the first page: only this page's own addresses.
#[cfg(feature = "ssr")]
pub(crate) fn events_view(back: &str) -> String {
    if back.starts_with("/events?") && !back.contains("//") {
        back.to_string()
    } else {
        "/events".to_string()
    }
}

/// The filters as the page's address carries them.
#[derive(Clone, PartialEq, Default)]
struct Filters {
    camera: String,
    watch_list: String,
    matched: String,
    acknowledged: String,
    from: String,
    to: String,
    site: String,
}

impl Filters {
    /// The filters as query parameters.
    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("camera", self.camera.clone()),
            ("watch_list", self.watch_list.clone()),
            ("matched", self.matched.clone()),
            ("acknowledged", self.acknowledged.clone()),
            ("from", self.from.clone()),
            ("to", self.to.clone()),
            ("site", self.site.clone()),
        ]
    }

    fn link(&self, before: &str) -> String {
        let mut params = self.params();
        params.push(("before", before.to_string()));
        crate::forms::link("/events", &params)
    }

    /// The CSV report of the same filter (every page, not only this one).
    fn export(&self) -> String {
        crate::forms::link("/events/export.csv", &self.params())
    }

    fn any(&self) -> bool {
        *self != Self::default()
    }

    /// The filter bar's folded line: "Filters" and the ones that are on, the list and the site
    /// by name where they are known.
    fn describe(&self, list: Option<String>, site: Option<String>) -> String {
        let list = list.unwrap_or_else(|| self.watch_list.clone());
        let site = site.unwrap_or_else(|| self.site.clone());
        let on: Vec<String> = [
            ("camera", &self.camera),
            ("list", &list),
            ("matched", &self.matched),
            ("acknowledged", &self.acknowledged),
            ("site", &site),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
        if on.is_empty() {
            "Filters".to_string()
        } else {
            format!("Filters · {}", on.join(" · "))
        }
    }
}

#[component]
pub fn EventsPage() -> impl IntoView {
    let query = use_query_map();
    let request = Memo::new(move |_| {
        query.with(|q| {
            let text = |k: &str| q.get(k).unwrap_or_default();
            (
                Filters {
                    camera: text("camera"),
                    watch_list: text("watch_list"),
                    matched: text("matched"),
                    acknowledged: text("acknowledged"),
                    from: text("from"),
                    to: text("to"),
                    site: text("site"),
                },
                text("before"),
            )
        })
    });
    let page = Resource::new(
        move || request.get(),
        |(f, before)| {
            list_events(
                f.camera,
                f.watch_list,
                f.matched,
                f.acknowledged,
                f.from,
                f.to,
                f.site,
                before,
            )
        },
    );
    let lists = Resource::new(|| (), |_| crate::watch_lists::list_watch_list_labels());
    let sites = Resource::new(|| (), |_| crate::sites::list_site_labels());
    let acknowledge = ServerAction::<AcknowledgeEvent>::new();
    let acknowledge_all = ServerAction::<AcknowledgeAllEvents>::new();
    let error = Signal::derive(move || {
        last_error(acknowledge.value())
            .get()
            .or_else(|| last_error(acknowledge_all.value()).get())
    });
    let can_acknowledge =
        crate::auth::use_current_user().is_some_and(|u| u.can(domain::access::Permission::Edit));
    view! {
        <section class="page events-page">
            <crate::site::PageTitle text="Events" />
            <FormError error />
            <Suspense fallback=|| view! { <h1>"Events"</h1><p class="loading">"Loading events…"</p> }>
                {move || Suspend::new(async move {
                    let (filters, before) = request.get();
                    let (page, lists) = (page.await, lists.await.unwrap_or_default());
                    let sites = sites.await.unwrap_or_default();
                    let here = filters.link(&before);
                    let awaiting = page.as_ref().map(|p| p.awaiting).unwrap_or_default();
                    view! {
                        // The heading, with what awaits an acknowledgement beside it (the live
                        // script refreshes both the count and the events).
                        <div class="page-header">
                            <h1>"Events"</h1>
                            <div class="awaiting" data-live-awaiting="">
                                <Awaiting awaiting filters=filters.clone() back=here.clone() can_acknowledge acknowledge_all />
                            </div>
                        </div>
                        <div class="filter-row">
                            <FilterForm filters=filters.clone() lists sites />
                            <a class="export" href=filters.export() download="" data-testid="export-events">"Export CSV"</a>
                        </div>
                        {match page {
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                            Ok(page) => {
                                let first = before.is_empty();
                                let older = page.next.clone().map(|b| filters.link(&b));
                                let newest = (!first).then(|| filters.link(""));
                                view! {
                                    {first.then(|| view! { <noscript><meta http-equiv="refresh" content="15" /></noscript> })}
                                    <div data-live-region="" data-live-events=if first { "first" } else { "older" }>
                                        {if page.events.is_empty() {
                                            view! { <p class="empty-state">{if !first { "No older events." } else if filters.any() { "No event matches these filters." } else { "No events yet. Cameras post them to /api/events/faces (see the README)." }}</p> }.into_any()
                                        } else {
                                            view! { <EventTable events=page.events acknowledge can_acknowledge back=here /> }.into_any()
                                        }}
                                    </div>
                                    <nav class="pager" aria-label="More results">
                                        {newest.map(|href| view! { <a href=href>"« Newest"</a> })}
                                        {older.map(|href| view! { <a href=href rel="next">"Older events »"</a> })}
                                    </nav>
                                }.into_any()
                            }
                        }}
                    }
                })}
            </Suspense>
            <script src="/events.js" defer></script>
        </section>
    }
}

/// How many events of the view await an acknowledgement, and (for those who may) the form
/// that acknowledges them all.
#[component]
fn Awaiting(
    awaiting: i64,
    filters: Filters,
    back: String,
    can_acknowledge: bool,
    acknowledge_all: ServerAction<AcknowledgeAllEvents>,
) -> impl IntoView {
    if awaiting == 0 {
        return view! { <span class="muted" data-testid="awaiting-count">"Nothing awaits acknowledgement"</span> }.into_any();
    }
    let count = if awaiting >= domain::monitoring::AWAITING_COUNT_CAP {
        format!("{awaiting}+")
    } else {
        awaiting.to_string()
    };
    let words = view! { <span class="count" data-testid="awaiting-count">{format!("{count} awaiting acknowledgement")}</span> };
    if !can_acknowledge {
        return words.into_any();
    }
    let f = filters;
    view! {
        <ActionForm action=acknowledge_all attr:class="inline-form" attr:data-testid="acknowledge-all">
            {words}
            <input type="hidden" name="camera" value=f.camera />
            <input type="hidden" name="watch_list" value=f.watch_list />
            <input type="hidden" name="matched" value=f.matched />
            <input type="hidden" name="from" value=f.from />
            <input type="hidden" name="to" value=f.to />
            <input type="hidden" name="site" value=f.site />
            <input type="hidden" name="back" value=back />
            <button type="submit">"Acknowledge all"</button>
        </ActionForm>
    }
    .into_any()
}

/// A plain GET form: the filters become the page's address.
#[component]
fn FilterForm(
    filters: Filters,
    lists: Vec<domain::watch_lists::WatchListLabel>,
    sites: Vec<domain::monitoring::EventSite>,
) -> impl IntoView {
    let choice = |value: &str, selected: &str, words: &'static str| {
        view! { <option value=value.to_string() selected=value == selected>{words}</option> }
    };
    let summary = filters.describe(
        lists
            .iter()
            .find(|l| l.id.to_string() == filters.watch_list)
            .map(|l| l.name.clone()),
        sites
            .iter()
            .find(|s| s.id.to_string() == filters.site)
            .map(|s| s.name.clone()),
    );
    let list_options = lists
        .into_iter()
        .map(|l| {
            let selected = l.id.to_string() == filters.watch_list;
            view! { <option value=l.id.to_string() selected=selected>{l.name}</option> }
        })
        .collect_view();
    view! {
        // Folded unless a filter is on, so the events start at the top of the screen.
        <details class="filter-bar" open=filters.any()>
            <summary data-testid="filter-summary">{summary}</summary>
            <form method="get" action="/events" class="search-form" data-testid="event-filters">
                <label>"Camera" <input name="camera" value=filters.camera.clone() placeholder="any" /></label>
                <label>"Watch list"
                    <select name="watch_list"><option value="">"any"</option>{list_options}</select>
                </label>
                <label>"Matched"
                    <select name="matched">
                        {choice("", &filters.matched, "matched or not")}
                        {choice("yes", &filters.matched, "matched")}
                        {choice("no", &filters.matched, "unmatched")}
                    </select>
                </label>
                <label>"Acknowledged"
                    <select name="acknowledged">
                        {choice("", &filters.acknowledged, "any")}
                        {choice("awaiting", &filters.acknowledged, "awaiting")}
                        {choice("done", &filters.acknowledged, "acknowledged")}
                    </select>
                </label>
                {(!sites.is_empty()).then(|| {
                    let site_options = sites.into_iter().map(|s| {
                        let selected = s.id.to_string() == filters.site;
                        view! { <option value=s.id.to_string() selected=selected>{s.name}</option> }
                    }).collect_view();
                    view! {
                        <label>"Site"
                            <select name="site">
                                {choice("", &filters.site, "every site")}
                                {choice("here", &filters.site, "this installation")}
                                {site_options}
                            </select>
                        </label>
                    }
                })}
                <label>"From (UTC)" <input type="datetime-local" name="from" value=filters.from.clone() /></label>
                <label>"To (UTC)" <input type="datetime-local" name="to" value=filters.to.clone() /></label>
                <button type="submit">"Filter"</button>
                {filters.any().then(|| view! { <a href="/events">"Clear filters"</a> })}
            </form>
        </details>
    }
}

#[component]
fn EventTable(
    events: Vec<Event>,
    acknowledge: ServerAction<AcknowledgeEvent>,
    can_acknowledge: bool,
    back: String,
) -> impl IntoView {
    view! {
        <table class="data-table events" tabindex="0" data-testid="events">
            <thead><tr><th>"Seen"</th><th>"Camera"</th><th>"Face"</th><th>"Dossier"</th><th>"Watch list"</th><th class="num">"Confidence"</th><th>"Acknowledged"</th></tr></thead>
            <tbody>
                {events.into_iter().map(|e| {
                    let back = back.clone();
                    let verdict_back = back.clone();
                    let face = e.has_face.then(|| view! { <img class="face" src=format!("/events/{}/face", e.id) alt="Face seen" width="64" height="64" /> });
                    // A watched camera's event keeps the frame the best shot was in.
                    let frame = e.has_frame.then(|| view! {
                        <a href=format!("/events/{}/frame", e.id)><img class="frame" src=format!("/events/{}/frame", e.id) alt="The frame it was seen in" width="96" /></a>
                    });
                    // A watched camera's event is a whole track: from when the person came to
                    // when they were last seen.
                    let seen = match e.last_seen_at.filter(|last| *last > e.captured_at) {
                        Some(last) => format!("{} – {}", e.captured_at.format("%Y-%m-%d %H:%M:%S"), last.format("%H:%M:%S UTC")),
                        None => e.captured_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                    };
                    let ack = match (&e.acknowledged, e.needs_ack) {
                        (Some(a), _) => view! { <span>{format!("{} · {}", a.by, a.at.format("%Y-%m-%d %H:%M:%S UTC"))}</span> }.into_any(),
                        (None, true) if can_acknowledge => view! {
                            <ActionForm action=acknowledge attr:class="inline-form">
                                <input type="hidden" name="id" value=e.id />
                                <input type="hidden" name="back" value=back />
                                <button type="submit">"Acknowledge"</button>
                            </ActionForm>
                        }.into_any(),
                        (None, true) => view! { <span>"awaiting"</span> }.into_any(),
                        (None, false) => view! { <span class="muted">"—"</span> }.into_any(),
                    };
                    let row_class = if e.matched.is_some() { "event matched" } else { "event" };
                    view! {
                        <tr class=row_class data-testid="event" data-event-id=e.id>
                            <td data-testid="seen">{seen}</td>
                            <td>{e.camera.clone()}{e.site.map(|s| view! { <br /><span class="site" data-testid="event-site">{format!("at {}", s.name)}</span> })}</td>
                            <td>{face}{frame}{e.searchable.then(|| view! {
                                <a class="find-elsewhere" href=format!("/events/similar?event={}", e.id) data-testid="find-elsewhere">"Find this person elsewhere"</a>
                            })}</td>
                            {match e.matched {
                                None => view! { <td class="muted" data-testid="unmatched">"no match"</td><td></td><td></td> }.into_any(),
                                Some(m) => {
                                    let photo = m.photo_sha256.clone().map(|sha| view! { <img class="face" src=format!("/photos/{sha}/face") alt=format!("Photo of {}", m.dossier_name) width="64" height="64" /> });
                                    let color = m.color.clone().unwrap_or_else(|| "#888888".into());
                                    view! {
                                        <td data-testid="match">{photo}<a href=format!("/dossiers/{}", m.dossier_id)>{m.dossier_name.clone()}</a></td>
                                        <td><span class="swatch" style=format!("background:{color}")></span>{m.watch_list_name.clone().unwrap_or_else(|| format!("list {} (deleted)", m.watch_list_id))}</td>
                                        <td class="num"><span data-testid="confidence">{format!("{:.2}", m.confidence)}</span>
                                            <crate::verdicts::VerdictCell event_id=e.id verdict=e.verdict.clone() back=verdict_back />
                                        </td>
                                    }.into_any()
                                }
                            }}
                            <td data-testid="acknowledgement">{ack}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
