//! Reading the members of a JSON 1.1 request body the way KMS's front end
//! does: a member of the wrong JSON type is a SerializationException, a
//! missing required one or a value out of range a ValidationException.

use crate::error::KmsError;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub struct Request {
    members: Map<String, Value>,
    /// The region of the request's SigV4 credential scope.
    pub region: String,
}

fn wrong_type(name: &str, expected: &str) -> KmsError {
    KmsError::serialization(format!(
        "Unexpected value type for member '{name}': expected {expected}"
    ))
}

impl Request {
    pub fn parse(body: &[u8], region: String) -> Result<Self, KmsError> {
        let body = if body.is_empty() {
            b"{}".as_slice()
        } else {
            body
        };
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(members)) => {
                check_types(&members)?;
                Ok(Request { members, region })
            }
            Ok(_) => Err(KmsError::serialization(
                "Start of structure or map expected but not found",
            )),
            Err(e) => Err(KmsError::serialization(format!(
                "Could not parse request body as JSON: {e}"
            ))),
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        match self.members.get(name) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub fn str_opt(&self, name: &str) -> Result<Option<&str>, KmsError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(wrong_type(name, "a string")),
        }
    }

    pub fn str(&self, name: &str) -> Result<&str, KmsError> {
        self.str_opt(name)?.ok_or_else(|| KmsError::missing(name))
    }

    /// A string member with AWS's length constraint.
    pub fn str_len(&self, name: &str, min: usize, max: usize) -> Result<Option<&str>, KmsError> {
        let s = self.str_opt(name)?;
        if let Some(s) = s {
            check_len(name, s.len(), min, max)?;
        }
        Ok(s)
    }

    pub fn key_id(&self, name: &str) -> Result<&str, KmsError> {
        let s = self.str(name)?;
        check_len(name, s.len(), 1, 2048)?;
        Ok(s)
    }

    pub fn blob_opt(
        &self,
        name: &str,
        min: usize,
        max: usize,
    ) -> Result<Option<Vec<u8>>, KmsError> {
        let Some(s) = self.str_opt(name)? else {
            return Ok(None);
        };
        let bytes = B64
            .decode(s)
            .map_err(|_| KmsError::serialization(format!("Member '{name}' is not valid base64")))?;
        check_len(name, bytes.len(), min, max)?;
        Ok(Some(bytes))
    }

    pub fn blob(&self, name: &str, min: usize, max: usize) -> Result<Vec<u8>, KmsError> {
        self.blob_opt(name, min, max)?
            .ok_or_else(|| KmsError::missing(name))
    }

    pub fn int_opt(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, KmsError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                let v = n.as_i64().ok_or_else(|| wrong_type(name, "an integer"))?;
                if v < min || v > max {
                    return Err(KmsError::constraint(
                        name,
                        &if v < min {
                            format!("Member must have value greater than or equal to {min}")
                        } else {
                            format!("Member must have value less than or equal to {max}")
                        },
                    ));
                }
                Ok(Some(v))
            }
            Some(_) => Err(wrong_type(name, "a number")),
        }
    }

    /// A timestamp member: seconds since the epoch, as the JSON 1.1
    /// protocol sends them (a whole or fractional number).
    pub fn timestamp_opt(&self, name: &str) -> Result<Option<f64>, KmsError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|t| t.is_finite())
                .map(Some)
                .ok_or_else(|| wrong_type(name, "a timestamp")),
            Some(_) => Err(wrong_type(name, "a timestamp")),
        }
    }

    pub fn bool_opt(&self, name: &str) -> Result<Option<bool>, KmsError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(wrong_type(name, "a boolean")),
        }
    }

    pub fn string_map(&self, name: &str) -> Result<BTreeMap<String, String>, KmsError> {
        match self.get(name) {
            None => Ok(BTreeMap::new()),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(wrong_type(name, "a map of strings")),
                })
                .collect(),
            Some(_) => Err(wrong_type(name, "a map")),
        }
    }

    pub fn list(&self, name: &str) -> Result<&[Value], KmsError> {
        match self.get(name) {
            None => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(wrong_type(name, "a list")),
        }
    }

    pub fn string_list(&self, name: &str) -> Result<Vec<String>, KmsError> {
        self.list(name)?
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(wrong_type(name, "a list of strings")),
            })
            .collect()
    }

    /// Tags as `[{"TagKey": .., "TagValue": ..}]`.
    pub fn tags(&self, name: &str) -> Result<Vec<(String, String)>, KmsError> {
        self.list(name)?
            .iter()
            .map(|v| {
                let key = v.get("TagKey").and_then(Value::as_str);
                let value = v.get("TagValue").and_then(Value::as_str);
                match (key, value) {
                    (Some(k), Some(v)) if !k.is_empty() && k.len() <= 128 && v.len() <= 256 => {
                        Ok((k.to_string(), v.to_string()))
                    }
                    (Some(_), Some(_)) => Err(KmsError::new(
                        "TagException",
                        "Tag key or value is too long or empty",
                    )),
                    _ => Err(KmsError::validation(
                        "Each tag needs a TagKey and a TagValue string",
                    )),
                }
            })
            .collect()
    }
}

/// The JSON type of every member KMS operations take. The front end
/// deserializes the whole request before validating it, so a member of the
/// wrong type is reported before a missing one.
fn check_types(members: &Map<String, Value>) -> Result<(), KmsError> {
    const INTEGERS: &[&str] = &["Limit", "NumberOfBytes", "PendingWindowInDays"];
    const TIMESTAMPS: &[&str] = &["ValidTo"];
    const BOOLEANS: &[&str] = &["MultiRegion", "DryRun", "BypassPolicyLockoutSafetyCheck"];
    const MAPS: &[&str] = &["EncryptionContext"];
    const LISTS: &[&str] = &["Tags", "GrantTokens", "TagKeys"];
    for (name, value) in members {
        let name = name.as_str();
        let ok = match value {
            Value::Null => true,
            Value::Number(n) => {
                (INTEGERS.contains(&name) && n.is_i64()) || TIMESTAMPS.contains(&name)
            }
            Value::Bool(_) => BOOLEANS.contains(&name),
            Value::Object(_) => MAPS.contains(&name),
            Value::Array(_) => LISTS.contains(&name),
            Value::String(_) => ![INTEGERS, TIMESTAMPS, BOOLEANS, MAPS, LISTS]
                .iter()
                .any(|set| set.contains(&name)),
        };
        if !ok {
            return Err(KmsError::serialization(format!(
                "Unexpected value type for member '{name}'"
            )));
        }
    }
    Ok(())
}

pub fn check_len(name: &str, len: usize, min: usize, max: usize) -> Result<(), KmsError> {
    if len < min {
        return Err(KmsError::constraint(
            name,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if len > max {
        return Err(KmsError::constraint(
            name,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

pub fn b64(bytes: &[u8]) -> Value {
    Value::String(B64.encode(bytes))
}
