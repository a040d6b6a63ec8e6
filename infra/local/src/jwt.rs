//! The JWT authorizer of the HTTP API, emulated with a local RSA key.
//!
//! API Gateway accepts only RSA-signed JWTs, checks `kid` against the issuer's key set, `iss`,
//! `aud`, `exp`, `nbf` and `iat`, then passes the claims to the function as strings. The twin
//! does the same with a key it generates once into its state directory (never committed).

use std::collections::BTreeMap;
use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{Map, Value, json};

use crate::TwinError;
use crate::stack::JwtAuthorizer;

pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

const KEY_FILE: &str = "jwt-signing-key.pem";

impl SigningKey {
    /// The twin's key from `dir`, created on first use.
    pub fn load_or_create(dir: &Path) -> Result<SigningKey, TwinError> {
        let path = dir.join(KEY_FILE);
        if !path.exists() {
            std::fs::create_dir_all(dir).map_err(|e| TwinError::Key(e.to_string()))?;
            let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
                .map_err(|e| TwinError::Key(e.to_string()))?;
            let pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| TwinError::Key(e.to_string()))?;
            // Write aside, then link into place: of twins (or tests) starting at once, one key
            // wins, and every one of them reads that key back below.
            let tmp = dir.join(format!("{KEY_FILE}.{}", ulid::Ulid::new()));
            std::fs::write(&tmp, pem.as_bytes()).map_err(|e| TwinError::Key(e.to_string()))?;
            let _ = std::fs::hard_link(&tmp, &path);
            let _ = std::fs::remove_file(&tmp);
        }
        let pem = std::fs::read_to_string(&path)
            .map_err(|e| TwinError::Key(format!("{}: {e}", path.display())))?;
        let private =
            rsa::RsaPrivateKey::from_pkcs8_pem(&pem).map_err(|e| TwinError::Key(e.to_string()))?;
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| TwinError::Key(e.to_string()))?;
        let kid: String = private.n().to_bytes_be()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(SigningKey {
            kid: format!("local-{kid}"),
            encoding: EncodingKey::from_rsa_pem(pem.as_bytes())
                .map_err(|e| TwinError::Key(e.to_string()))?,
            decoding: DecodingKey::from_rsa_pem(public_pem.as_bytes())
                .map_err(|e| TwinError::Key(e.to_string()))?,
        })
    }

    /// Signs `claims` as the identity provider would.
    pub fn sign(&self, claims: &Value) -> Result<String, TwinError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| TwinError::Key(e.to_string()))
    }

    /// A token for `sub` in `role`, valid for `ttl_secs` (negative: already expired).
    pub fn token(
        &self,
        authorizer: &JwtAuthorizer,
        sub: &str,
        role: &str,
        ttl_secs: i64,
    ) -> Result<String, TwinError> {
        let now = chrono::Utc::now().timestamp();
        self.sign(&json!({
            "iss": authorizer.issuer,
            "aud": authorizer.audience.first().cloned().unwrap_or_default(),
            "sub": sub,
            "role": role,
            "iat": now.min(now + ttl_secs),
            "exp": now + ttl_secs,
            "token_use": "access",
        }))
    }

    /// Checks a bearer token as API Gateway's JWT authorizer does; on success the claims as
    /// the function will see them (every value a string).
    pub fn verify(
        &self,
        authorizer: &JwtAuthorizer,
        authorization: Option<&str>,
    ) -> Result<BTreeMap<String, String>, String> {
        let raw = authorization
            .ok_or("the request has no Authorization header")?
            .trim();
        let token = raw
            .strip_prefix("Bearer ")
            .or_else(|| raw.strip_prefix("bearer "))
            .unwrap_or(raw)
            .trim();
        let header = jsonwebtoken::decode_header(token).map_err(|_| "the token is not a JWT")?;
        if header.alg != Algorithm::RS256 {
            return Err("the token is not signed with RS256".into());
        }
        if header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err("the token's kid matches no key of the issuer".into());
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&authorizer.issuer]);
        validation.set_audience(&authorizer.audience);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &self.decoding, &validation)
            .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => "the token has expired".to_owned(),
            jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                "the token's signature is invalid".to_owned()
            }
            jsonwebtoken::errors::ErrorKind::InvalidIssuer => {
                "the token's issuer is not trusted".to_owned()
            }
            jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                "the token is for another audience".to_owned()
            }
            jsonwebtoken::errors::ErrorKind::ImmatureSignature => {
                "the token is not valid yet".to_owned()
            }
            other => format!("the token is invalid ({other:?})"),
        })?;
        let now = chrono::Utc::now().timestamp();
        if data
            .claims
            .get("iat")
            .and_then(Value::as_i64)
            .is_some_and(|iat| iat > now)
        {
            return Err("the token was issued in the future".into());
        }
        Ok(data
            .claims
            .into_iter()
            .map(|(k, v)| (k, claim_text(&v)))
            .collect())
    }
}

/// API Gateway passes every claim as a string; arrays become `[a b]`.
fn claim_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(claim_text).collect::<Vec<_>>().join(" ")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (SigningKey, JwtAuthorizer) {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.local");
        let key = SigningKey::load_or_create(&dir).unwrap();
        let authorizer = JwtAuthorizer {
            issuer: "https://issuer/".into(),
            audience: vec!["aud".into()],
        };
        (key, authorizer)
    }

    #[test]
    fn accepts_its_own_token_and_passes_claims_as_strings() {
        let (key, auth) = setup();
        let token = key.token(&auth, "c-1", "customer", 600).unwrap();
        let claims = key.verify(&auth, Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!(claims["sub"], "c-1");
        assert_eq!(claims["role"], "customer");
        assert!(claims["exp"].parse::<i64>().is_ok());
    }

    #[test]
    fn refuses_expired_forged_foreign_and_missing_tokens() {
        let (key, auth) = setup();
        let expired = key.token(&auth, "c-1", "customer", -60).unwrap();
        assert_eq!(
            key.verify(&auth, Some(&expired)).unwrap_err(),
            "the token has expired"
        );
        let good = key.token(&auth, "c-1", "customer", 600).unwrap();
        let mut parts: Vec<&str> = good.split('.').collect();
        let forged_claims = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            serde_json::to_vec(
                &json!({"iss": auth.issuer, "aud": "aud", "sub": "c-1", "role": "finance",
                "exp": chrono::Utc::now().timestamp() + 600}),
            )
            .unwrap(),
        );
        parts[1] = &forged_claims;
        assert!(key.verify(&auth, Some(&parts.join("."))).is_err());
        let other = JwtAuthorizer {
            issuer: "https://other/".into(),
            audience: vec!["aud".into()],
        };
        assert!(key.verify(&other, Some(&good)).is_err());
        assert!(key.verify(&auth, None).is_err());
        assert!(key.verify(&auth, Some("Bearer not.a.jwt")).is_err());
    }
}
