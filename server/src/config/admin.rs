//! Who may change things in the admin UI: how Fluid's signed viewer tokens are checked, and the
//! limits on what a merchant does there.

use std::num::NonZeroU32;

use app::scope::AuthMode;
use fluid::{Secret, viewer::SessionTokenRules};

use super::{ConfigError, http_url, number};
use crate::cli::ServeArgs;

/// The admin UI's sign-in and limits, validated.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    pub mode: AuthMode,
    /// How `session_token` on the embed URL is verified, when configured.
    pub session_token: Option<SessionTokenRules>,
    /// The droplet's secret that signs the sign-in handshake's token, when configured.
    pub sign_in_secret: Option<Secret>,
    /// Fluid's app, which serves `/droplet/auth`; without a trailing slash.
    pub fluid_app_url: String,
    pub max_shipping_options: usize,
    pub fluid_actions_per_minute: NonZeroU32,
}

impl AdminConfig {
    /// Validates the admin UI's variables; `droplet_uuid` is the default audience.
    pub fn from_args(args: &ServeArgs, droplet_uuid: &str) -> Result<Self, ConfigError> {
        let fluid_app_url = secure_url("FLUID_APP_URL", &args.fluid_app_url)?;
        let secret = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(Secret::new)
        };
        let text = |variable: &'static str, value: &Option<String>, default: &str| match value
            .as_deref()
            .map(str::trim)
        {
            None => Ok(default.to_owned()),
            Some("") => Err(ConfigError::new(
                variable,
                "is empty; unset it to use the default",
            )),
            Some(value) => Ok(value.to_owned()),
        };
        let session_token = match secret(&args.fluid_session_token_secret) {
            Some(secret) => Some(SessionTokenRules {
                secret,
                issuer: text(
                    "FLUID_SESSION_TOKEN_ISSUER",
                    &args.fluid_session_token_issuer,
                    &fluid_app_url,
                )?,
                audience: text(
                    "FLUID_SESSION_TOKEN_AUDIENCE",
                    &args.fluid_session_token_audience,
                    droplet_uuid,
                )?,
            }),
            None => None,
        };
        let sign_in_secret = secret(&args.fluid_droplet_secret);
        let configured = session_token.is_some() || sign_in_secret.is_some();
        let mode = match args.admin_auth.trim().to_ascii_lowercase().as_str() {
            "" | "fluid" if configured => AuthMode::FluidSignIn,
            "" | "fluid" => AuthMode::NotConfigured,
            "dri" => AuthMode::DriAlone,
            other => {
                return Err(ConfigError::new(
                    "ADMIN_AUTH",
                    format!(
                        "`{other}` is not a mode; expected fluid (only a user Fluid vouched for changes anything) or dri (anyone with the DRI may)"
                    ),
                ));
            }
        };
        let max_shipping_options = usize::try_from(number(
            "MAX_SHIPPING_OPTIONS",
            &args.max_shipping_options,
            1..=100_000,
            "options",
        )?)
        .unwrap_or(usize::MAX);
        let per_minute = number(
            "FLUID_ACTIONS_PER_MINUTE",
            &args.fluid_actions_per_minute,
            1..=10_000,
            "actions",
        )?;
        let fluid_actions_per_minute = u32::try_from(per_minute)
            .ok()
            .and_then(NonZeroU32::new)
            .unwrap_or(NonZeroU32::MIN);
        Ok(Self {
            mode,
            session_token,
            sign_in_secret,
            fluid_app_url,
            max_shipping_options,
            fluid_actions_per_minute,
        })
    }

    /// What to tell the operator at start-up about who may change things, and how loudly.
    pub fn startup_note(&self) -> (tracing::Level, &'static str) {
        match self.mode {
            AuthMode::FluidSignIn => (
                tracing::Level::INFO,
                "admin UI: changes need a user Fluid signed in",
            ),
            AuthMode::NotConfigured => (
                tracing::Level::WARN,
                "admin UI is read-only: set FLUID_SESSION_TOKEN_SECRET (and FLUID_DROPLET_SECRET for the sign-in handshake) so Fluid-verified merchants can make changes",
            ),
            AuthMode::DriAlone => (
                tracing::Level::WARN,
                "ADMIN_AUTH=dri: anyone who knows an installation's DRI can change its settings; use it only with a Fluid that sends no viewer token",
            ),
        }
    }
}

/// Fluid's app receives the browser on sign-in: `https://`, or `http://` only on loopback.
fn secure_url(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let url = http_url(variable, value)?;
    if url.starts_with("http://") && !super::is_loopback(&url) {
        return Err(ConfigError::new(
            variable,
            format!("`{value}` must use https:// (plain http:// only for a loopback host such as 127.0.0.1)"),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn args(extra: &[&str]) -> ServeArgs {
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let mut argv = vec!["droplet"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().serve
    }

    #[test]
    fn without_secrets_the_ui_is_read_only_and_dri_is_an_explicit_choice() {
        let none = AdminConfig::from_args(&args(&[]), "drp_1").unwrap();
        assert_eq!(none.mode, AuthMode::NotConfigured);
        let dri = AdminConfig::from_args(&args(&["--admin-auth", "dri"]), "drp_1").unwrap();
        assert_eq!(dri.mode, AuthMode::DriAlone);
        let error = AdminConfig::from_args(&args(&["--admin-auth", "open"]), "drp_1").unwrap_err();
        assert!(
            error.to_string().starts_with("ADMIN_AUTH `open` is not a mode"),
            "{error}"
        );
    }

    #[test]
    fn a_session_secret_turns_sign_in_on_with_fluids_app_as_issuer_and_the_droplet_as_audience() {
        let config =
            AdminConfig::from_args(&args(&["--fluid-session-token-secret", "sts_x"]), "drp_1").unwrap();
        assert_eq!(config.mode, AuthMode::FluidSignIn);
        let rules = config.session_token.unwrap();
        assert_eq!(
            (rules.issuer.as_str(), rules.audience.as_str()),
            ("https://app.fluid.app", "drp_1")
        );
        let error =
            AdminConfig::from_args(&args(&["--fluid-app-url", "http://fluid.example"]), "drp_1").unwrap_err();
        assert!(error.to_string().contains("must use https://"), "{error}");
        assert!(AdminConfig::from_args(&args(&["--max-shipping-options", "0"]), "drp_1").is_err());
    }
}
