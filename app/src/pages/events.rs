//! The events page: company webhook events, newest first, a page at a time; `event=` opens one.
//! Plain links, so it needs no JavaScript at all.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::nav::Nav;
use crate::{
    dri::validate_dri,
    events::{EventDetail, EventsPageData, load_events},
};

/// `/events?dri=…&page=N&event=ID`.
#[component]
pub fn EventsPage() -> impl IntoView {
    let query = use_query_map();
    let data = Resource::new(
        move || query.get(),
        |query| async move {
            let number = |key: &str| query.get(key).and_then(|v| v.parse::<i64>().ok());
            load_events(
                validate_dri(query.get("dri"))?,
                number("page").unwrap_or(1),
                number("event"),
            )
            .await
        },
    );
    super::loaded(data, move |data| {
        let dri = query.with_untracked(|q| q.get("dri").unwrap_or_default());
        view! { <Events dri data/> }
    })
}

#[component]
fn Events(dri: String, data: EventsPageData) -> impl IntoView {
    let page_link = {
        let dri = dri.clone();
        move |page: i64| format!("/events?dri={dri}&page={page}")
    };
    let rows = data
        .events
        .iter()
        .map(|event| {
            let href = format!("/events?dri={dri}&page={}&event={}", data.page, event.id);
            view! {
                <tr data-event=event.id>
                    <td><a href=href>{event.name.clone()}</a></td>
                    <td>{event.subject.clone()}</td>
                    <td class="muted">{event.received_at.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    let list = if data.events.is_empty() {
        view! {
            <p class="empty" data-testid="no-events">
                "No events yet. Fluid delivers the company's order webhooks here once they are registered."
            </p>
        }
        .into_any()
    } else {
        view! {
            <div class="table-scroll">
                <table class="events">
                    <thead>
                        <tr>
                            <th scope="col">"Event"</th>
                            <th scope="col">"About"</th>
                            <th scope="col">"Received"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    let pager = (data.pages > 1).then(|| {
        view! {
            <nav class="pager" aria-label="Event pages">
                {(data.page > 1).then(|| view! { <a rel="prev" href=page_link(data.page - 1)>"← Newer"</a> })}
                <span data-testid="page-of">{format!("Page {} of {}", data.page, data.pages)}</span>
                {(data.page < data.pages).then(|| view! { <a rel="next" href=page_link(data.page + 1)>"Older →"</a> })}
            </nav>
        }
    });
    view! {
        <Nav dri=dri.clone() current="events"/>
        <header class="page-header">
            <div>
                <p class="eyebrow">{data.company_name.clone()}</p>
                <h1>"Events"</h1>
            </div>
            <span class="muted">{format!("{} stored", data.total)}</span>
        </header>
        <super::access_notice::AccessNotice access=data.access.clone()/>
        {data.detail.map(|detail| view! { <Detail detail close=page_link(data.page)/> })}
        <section class="card" aria-labelledby="events-title">
            <h2 id="events-title">"Recent company webhooks"</h2>
            {list}
            {pager}
        </section>
    }
}

#[component]
fn Detail(detail: EventDetail, close: String) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="event-title" data-testid="event-detail">
            <div class="definition-head">
                <h2 id="event-title">{detail.row.name}</h2>
                <a href=close>"Close"</a>
            </div>
            <dl class="facts">
                <dt>"About"</dt>
                <dd>{detail.row.subject}</dd>
                <dt>"Received"</dt>
                <dd>{detail.row.received_at}</dd>
                <dt>"Delivery key"</dt>
                <dd><code class="wrap">{detail.dedupe_key}</code></dd>
            </dl>
            {match detail.payload {
                Some(payload) => view! { <pre class="json">{payload}</pre> }.into_any(),
                None => view! {
                    <p class="muted" data-testid="payload-hidden">"The payload may hold customers' personal data: it is shown only to a user Fluid signed in."</p>
                }.into_any(),
            }}
        </section>
    }
}
