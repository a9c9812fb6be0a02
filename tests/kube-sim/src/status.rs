//! API errors rendered as `meta.k8s.io/v1` `Status` objects, shaped like the real API server's.

use serde_json::{Value, json};

/// One entry of `details.causes`.
#[derive(Debug, Clone)]
pub struct Cause {
    /// Machine-readable reason, e.g. `FieldValueInvalid`.
    pub reason: String,
    /// Human-readable message for this cause.
    pub message: String,
    /// The field path, e.g. `spec.selector`.
    pub field: String,
}

/// An error the API answers with: an HTTP code plus a `Status` body.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `Status.reason`.
    pub reason: &'static str,
    /// `Status.message`.
    pub message: String,
    /// `Status.details`, if any.
    pub details: Option<Value>,
    /// `Retry-After` header seconds, for 429s.
    pub retry_after: Option<u64>,
}

/// Result alias for API handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// The resource name as the API server prints it: `configmaps` or `deployments.apps`.
pub fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The `Status` object for the body.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }

    /// 400 BadRequest.
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", msg)
    }

    /// 401 Unauthorized.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// 403 Forbidden from the authorizer.
    pub fn forbidden(group: &str, resource: &str, name: &str, message: String) -> Self {
        let mut d = json!({"group": group, "kind": resource});
        if !name.is_empty() {
            d["name"] = json!(name);
        }
        Self::new(403, "Forbidden", message).with_details(d)
    }

    /// 403 Forbidden with a plain message and no details.
    pub fn forbidden_plain(msg: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", msg)
    }

    /// 404 NotFound for a named object.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(group, resource)),
        )
        .with_details(json!({"name": name, "group": group, "kind": resource}))
    }

    /// 404 NotFound for a path the server does not serve.
    pub fn path_not_found() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(verb: &str, resource: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("{verb} is not supported on resources of kind \"{resource}\""),
        )
    }

    /// 405 MethodNotAllowed with a custom message.
    pub fn method_not_allowed_msg(msg: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", msg)
    }

    /// 409 AlreadyExists.
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(group, resource)),
        )
        .with_details(json!({"name": name, "group": group, "kind": resource}))
    }

    /// 409 Conflict for an optimistic-concurrency failure.
    pub fn conflict(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                qualified(group, resource)
            ),
        )
        .with_details(json!({"name": name, "group": group, "kind": resource}))
    }

    /// 409 Conflict with a custom message (precondition failures, apply conflicts).
    pub fn conflict_msg(msg: impl Into<String>, details: Value) -> Self {
        Self::new(409, "Conflict", msg).with_details(details)
    }

    /// 410 Expired ("too old resource version").
    pub fn gone(msg: impl Into<String>) -> Self {
        Self::new(410, "Expired", msg)
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(msg: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", msg)
    }

    /// 422 Invalid with field causes.
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<Cause>) -> Self {
        let qk = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let list: Vec<String> = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect();
        let msg = if list.len() == 1 {
            format!("{qk} \"{name}\" is invalid: {}", list[0])
        } else {
            format!("{qk} \"{name}\" is invalid: [{}]", list.join(", "))
        };
        let causes: Vec<Value> = causes
            .iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect();
        Self::new(422, "Invalid", msg)
            .with_details(json!({"name": name, "group": group, "kind": kind, "causes": causes}))
    }

    /// 422 for a patch that cannot be applied.
    pub fn unprocessable(msg: impl Into<String>) -> Self {
        Self::new(422, "Invalid", msg)
    }

    /// 429 TooManyRequests.
    pub fn too_many_requests(retry_after: u64) -> Self {
        let mut e = Self::new(
            429,
            "TooManyRequests",
            "The server has received too many requests and has asked us to try again later",
        )
        .with_details(json!({"retryAfterSeconds": retry_after}));
        e.retry_after = Some(retry_after);
        e
    }

    /// 500 InternalError.
    pub fn internal(msg: impl Into<String>) -> Self {
        let msg = msg.into();
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {msg}"),
        )
        .with_details(json!({"causes": [{"message": msg}]}))
    }
}

/// Builds an invalid-value cause: `Invalid value: <v>: <detail>`.
pub fn invalid_value(field: &str, value: &Value, detail: &str) -> Cause {
    let shown = match value {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    };
    Cause {
        reason: "FieldValueInvalid".into(),
        message: format!("Invalid value: {shown}: {detail}"),
        field: field.into(),
    }
}

/// Builds a required-value cause.
pub fn required(field: &str, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueRequired".into(),
        message: if detail.is_empty() {
            "Required value".into()
        } else {
            format!("Required value: {detail}")
        },
        field: field.into(),
    }
}

/// Builds a forbidden cause.
pub fn forbidden(field: &str, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueForbidden".into(),
        message: format!("Forbidden: {detail}"),
        field: field.into(),
    }
}

/// Builds an unsupported-value cause.
pub fn not_supported(field: &str, value: &Value, allowed: &[&str]) -> Cause {
    let allowed: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
    Cause {
        reason: "FieldValueNotSupported".into(),
        message: format!(
            "Unsupported value: {value}: supported values: {}",
            allowed.join(", ")
        ),
        field: field.into(),
    }
}

/// Builds a wrong-type cause.
pub fn type_invalid(field: &str, value: &Value, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueTypeInvalid".into(),
        message: format!("Invalid value: {value}: {detail}"),
        field: field.into(),
    }
}
