//! `droplet keys rotate`: re-seals every stored secret under the current (first) key, so an old
//! key can then be removed from `DROPLET_ENCRYPTION_KEY`.

use crate::{Db, DbError, Keyring, SealContext};

/// Every sealed column: its table, the columns that identify a row, the sealed column, and what
/// its values are, from the row's identity.
struct SealedColumn {
    table: &'static str,
    keys: &'static [&'static str],
    column: &'static str,
    context: fn(&[String]) -> SealContext<'_>,
}

const SEALED: &[SealedColumn] = &[
    SealedColumn {
        table: "installations",
        keys: &["uuid"],
        column: "authentication_token_sealed",
        context: authentication_token,
    },
    SealedColumn {
        table: "installations",
        keys: &["uuid"],
        column: "webhook_token_sealed",
        context: webhook_token,
    },
    SealedColumn {
        table: "callback_registrations",
        keys: &["installation_uuid", "definition_name"],
        column: "verification_token_sealed",
        context: callback_token,
    },
    SealedColumn {
        table: "exchange_claims",
        keys: &["installation_uuid", "token_hash"],
        column: "sealed_answer",
        context: exchange_answer,
    },
];

fn authentication_token(keys: &[String]) -> SealContext<'_> {
    SealContext::AuthenticationToken {
        installation: &keys[0],
    }
}

fn webhook_token(keys: &[String]) -> SealContext<'_> {
    SealContext::WebhookToken {
        installation: &keys[0],
    }
}

fn callback_token(keys: &[String]) -> SealContext<'_> {
    SealContext::CallbackToken {
        installation: &keys[0],
        definition: &keys[1],
    }
}

fn exchange_answer(keys: &[String]) -> SealContext<'_> {
    SealContext::ExchangeAnswer {
        installation: &keys[0],
        token_hash: &keys[1],
    }
}

/// What a rotation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Values re-sealed under the current key.
    pub resealed: u64,
    /// Values already under the current key.
    pub current: u64,
    /// Values no configured key opens (left as they are).
    pub unreadable: u64,
}

/// Re-seals every value not sealed under the keyring's current key. Safe to run while the
/// service runs: a row changed meanwhile is left for the next run.
pub async fn rotate(db: &Db, keyring: &Keyring) -> Result<Rotation, DbError> {
    let mut rotation = Rotation::default();
    for sealed in SEALED {
        let rows: Vec<(String, Option<String>, String)> = sqlx::query_as(&format!(
            "SELECT {first}, {second}, {column} FROM {table} WHERE {column} IS NOT NULL",
            first = sealed.keys[0],
            second = sealed.keys.get(1).map_or("NULL", |k| k),
            column = sealed.column,
            table = sealed.table,
        ))
        .fetch_all(db.pool())
        .await?;
        for (first, second, value) in rows {
            if !keyring.is_stale(&value) {
                rotation.current += 1;
                continue;
            }
            let identity: Vec<String> = std::iter::once(first).chain(second).collect();
            let context = (sealed.context)(&identity);
            let Ok(secret) = keyring.open(&value, context) else {
                rotation.unreadable += 1;
                continue;
            };
            let where_keys: Vec<String> = sealed
                .keys
                .iter()
                .enumerate()
                .map(|(i, k)| format!("{k} = ${}", i + 3))
                .collect();
            let sql = format!(
                "UPDATE {table} SET {column} = $1 WHERE {column} = $2 AND {keys}",
                table = sealed.table,
                column = sealed.column,
                keys = where_keys.join(" AND "),
            );
            let mut query = sqlx::query(&sql)
                .bind(keyring.seal(secret.expose(), context))
                .bind(&value);
            for key in &identity {
                query = query.bind(key);
            }
            rotation.resealed += query.execute(db.pool()).await?.rows_affected();
        }
    }
    Ok(rotation)
}
