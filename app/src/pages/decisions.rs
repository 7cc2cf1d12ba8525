//! The decision log: the latest `update_cart_shipping` answers, each with the cart, what was
//! offered and why every option was or was not — so a merchant can answer "why did my customer
//! see this rate?" without us.

use leptos::prelude::*;

use crate::shipping::DecisionView;

/// The log, or one sentence why it is not shown (`decisions` none: no verified viewer).
#[component]
pub fn DecisionLog(decisions: Option<Vec<DecisionView>>) -> impl IntoView {
    let body = match decisions {
        None => view! { <p class="muted">"Sign in with Fluid to see what shoppers were offered: carts name their destinations."</p> }.into_any(),
        Some(list) if list.is_empty() => view! { <p class="muted" data-testid="no-decisions">"No checkout has asked yet."</p> }.into_any(),
        Some(list) => view! {
            <ol class="decisions">
                {list.into_iter().map(|d| {
                    let offered: Vec<String> = d.lines.iter().filter_map(|l| Some(format!("{} {}", l.title, l.total.as_ref()?))).collect();
                    let summary = if offered.is_empty() { "nothing offered".to_owned() } else { offered.join(", ") };
                    view! {
                        <li data-outcome=d.outcome.clone()>
                            <details>
                                <summary>
                                    <span class="muted">{d.at}</span>" "
                                    <span class=format!("badge badge-{}", d.outcome)>{d.outcome.clone()}</span>" "
                                    {summary}
                                    <span class="muted">" · "{d.latency}</span>
                                </summary>
                                <p class="muted">{d.cart}</p>
                                <ul class="preview-lines">
                                    {d.lines.into_iter().map(|line| {
                                        let excluded = line.total.is_none();
                                        view! {
                                        <li class:preview-excluded=excluded>
                                            <strong>{line.title}</strong>
                                            {line.total.map(|t| view! { " — "<span class="amount">{t}</span> })}
                                            <br/>
                                            <span class="why">{line.why}</span>
                                        </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            </details>
                        </li>
                    }
                }).collect_view()}
            </ol>
        }.into_any(),
    };
    view! {
        <section class="card" aria-labelledby="decisions-title" data-testid="decisions">
            <h2 id="decisions-title">"Recent checkouts"</h2>
            <p class="muted">"The latest answers to Fluid's update_cart_shipping (200 are kept), newest first: open one to see why each option was offered or not."</p>
            {body}
        </section>
    }
}
