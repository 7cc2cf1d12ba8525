//! The line under a page's title that says who is signed in, or why the page is read-only and
//! how to change that ("Sign in with Fluid").

use leptos::prelude::*;

use crate::access::Access;

/// Who is looking, or why nothing can be changed here.
#[component]
pub fn AccessNotice(access: Access) -> impl IntoView {
    match (access.can_write, access.viewer) {
        (true, Some(name)) => view! {
            <p class="signed-in muted" data-testid="signed-in">"Signed in with Fluid as "<strong>{name}</strong></p>
        }
        .into_any(),
        (true, None) => ().into_any(),
        (false, _) => view! {
            <div class="read-only" role="status" data-testid="read-only">
                <p>{access.read_only_reason}</p>
                {access.sign_in_url.map(|href| view! {
                    <a class="button" href=href data-testid="sign-in" target="_self">"Sign in with Fluid"</a>
                })}
            </div>
        }
        .into_any(),
    }
}
