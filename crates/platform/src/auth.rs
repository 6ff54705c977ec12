//! Who may call what: API tokens with roles guard every search and operator call, over gRPC
//! (`authorization: Bearer <token>` metadata) and HTTP (the same header).
//!
//! Roles: an **investigator** searches sightings; an **operator** watches camera health; an
//! **admin** may do both and reads the admin views. The config holds only each token's SHA-256
//! (`[[platform.token]]`), so a leaked config file leaks no credential; tokens are never logged.
//! A node with no tokens configured refuses every guarded call (secure by default); `/metrics`
//! and `/healthz` stay open for scrapers. Federation (`Uplink.Push`) is guarded by node
//! certificates instead (see `uplink::tls`).

use std::fmt;

use ring::digest;

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Investigator,
    Operator,
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Investigator => "investigator",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Whether a holder of `self` may make a call that needs `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self == Role::Admin || self == needed
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "investigator" => Ok(Role::Investigator),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            _ => Err(format!(
                "unknown role {s:?}; expected investigator, operator or admin"
            )),
        }
    }
}

/// One `[[platform.token]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who holds it (shown in logs and the audit trail, never the token itself).
    pub name: String,
    pub role: Role,
    /// Hex SHA-256 of the token, as `xueliang token` prints it.
    pub sha256: String,
}

/// The caller a token identified; handlers find it in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// No token, or one this node does not know: 401 / `Unauthenticated`.
    Unauthenticated(String),
    /// A known token without the role: 403 / `PermissionDenied`.
    Forbidden(String),
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denied::Unauthenticated(m) | Denied::Forbidden(m) => f.write_str(m),
        }
    }
}

impl From<Denied> for tonic::Status {
    fn from(d: Denied) -> tonic::Status {
        match d {
            Denied::Unauthenticated(m) => tonic::Status::unauthenticated(m),
            Denied::Forbidden(m) => tonic::Status::permission_denied(m),
        }
    }
}

/// The token table of one node.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    tokens: Vec<([u8; 32], Caller)>,
}

impl Auth {
    /// Checks the entries; the error names the bad one.
    pub fn new(tokens: &[TokenConfig]) -> Result<Auth, String> {
        let mut table = Vec::with_capacity(tokens.len());
        for t in tokens {
            let hash = parse_hex32(&t.sha256).ok_or_else(|| {
                format!(
                    "token {:?}: `sha256` must be 64 hex digits (as `xueliang token` prints)",
                    t.name
                )
            })?;
            if table.iter().any(|(h, _)| *h == hash) {
                return Err(format!(
                    "token {:?}: the same token is listed twice",
                    t.name
                ));
            }
            table.push((
                hash,
                Caller {
                    name: t.name.clone(),
                    role: t.role,
                },
            ));
        }
        Ok(Auth { tokens: table })
    }

    /// Who holds `token`, if it is allowed a call needing `needed`.
    pub fn check(&self, token: Option<&str>, needed: Role) -> Result<Caller, Denied> {
        if self.tokens.is_empty() {
            return Err(Denied::Unauthenticated(
                "this node has no API tokens configured; an admin adds [[platform.token]] entries (see `xueliang token --help`)".into(),
            ));
        }
        let Some(token) = token else {
            return Err(Denied::Unauthenticated(format!(
                "an API token with the {} role is required (Authorization: Bearer …, or `--token`)",
                needed.name()
            )));
        };
        let hash = sha256(token);
        let Some((_, caller)) = self.tokens.iter().find(|(h, _)| *h == hash) else {
            return Err(Denied::Unauthenticated(
                "the API token is not valid on this node".into(),
            ));
        };
        if !caller.role.allows(needed) {
            return Err(Denied::Forbidden(format!(
                "{} holds the {} role; this call needs {}",
                caller.name,
                caller.role.name(),
                needed.name()
            )));
        }
        Ok(caller.clone())
    }

    /// Checks an `authorization` header value (`Bearer <token>`).
    pub fn check_header(&self, header: Option<&str>, needed: Role) -> Result<Caller, Denied> {
        let token = header
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim);
        self.check(token, needed)
    }

    /// A tonic interceptor for a service whose calls all need `needed`; it stores the
    /// [`Caller`] in the request's extensions.
    pub fn interceptor(
        &self,
        needed: Role,
    ) -> impl FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Clone {
        let auth = self.clone();
        move |mut request: tonic::Request<()>| {
            let header = request
                .metadata()
                .get("authorization")
                .and_then(|v| v.to_str().ok());
            let caller = auth.check_header(header, needed)?;
            request.extensions_mut().insert(caller);
            Ok(request)
        }
    }
}

fn sha256(token: &str) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hex SHA-256 of a token, as `[[platform.token]]` holds it.
pub fn token_sha256(token: &str) -> String {
    hex(&sha256(token))
}

/// A fresh random token (`xl_` + 64 hex digits) and its SHA-256 for the config.
pub fn new_token() -> Result<(String, String), String> {
    use ring::rand::SecureRandom;
    let mut raw = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| "the system random source failed".to_string())?;
    let token = format!("xl_{}", hex(&raw));
    let hash = token_sha256(&token);
    Ok((token, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> (Auth, String, String) {
        let (inv, inv_hash) = new_token().unwrap();
        let (adm, adm_hash) = new_token().unwrap();
        let auth = Auth::new(&[
            TokenConfig {
                name: "alice".into(),
                role: Role::Investigator,
                sha256: inv_hash,
            },
            TokenConfig {
                name: "root".into(),
                role: Role::Admin,
                sha256: adm_hash,
            },
        ])
        .unwrap();
        (auth, inv, adm)
    }

    #[test]
    fn roles_are_enforced() {
        let (auth, inv, adm) = auth();
        let alice = auth.check(Some(&inv), Role::Investigator).unwrap();
        assert_eq!(alice.name, "alice");
        assert!(matches!(
            auth.check(Some(&inv), Role::Operator),
            Err(Denied::Forbidden(m)) if m.contains("needs operator")
        ));
        assert!(auth.check(Some(&adm), Role::Operator).is_ok());
        assert!(auth.check(Some(&adm), Role::Investigator).is_ok());
        assert!(matches!(
            auth.check(Some("xl_guess"), Role::Investigator),
            Err(Denied::Unauthenticated(_))
        ));
        assert!(matches!(
            auth.check(None, Role::Investigator),
            Err(Denied::Unauthenticated(_))
        ));
        let header = format!("Bearer {inv}");
        assert!(auth.check_header(Some(&header), Role::Investigator).is_ok());
        assert!(auth.check_header(Some(&inv), Role::Investigator).is_err());
    }

    #[test]
    fn no_tokens_means_no_access_and_bad_entries_are_named() {
        let e = Auth::default().check(Some("x"), Role::Admin).unwrap_err();
        assert!(e.to_string().contains("no API tokens configured"));
        let e = Auth::new(&[TokenConfig {
            name: "bob".into(),
            role: Role::Operator,
            sha256: "abc".into(),
        }])
        .unwrap_err();
        assert!(e.contains("\"bob\"") && e.contains("64 hex"), "{e}");
    }

    #[test]
    fn tokens_are_random_and_hashes_match() {
        let (a, ha) = new_token().unwrap();
        let (b, _) = new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(parse_hex32(&ha), Some(sha256(&a)));
        assert!(a.starts_with("xl_") && a.len() == 67);
    }
}
