//! The KMS operations, one function each, dispatched by `X-Amz-Target`.

mod aliases;
mod crypto;
mod import;
mod keys;
mod policy;
mod replicate;

use crate::error::KmsError;
use crate::request::Request;
use crate::store::Store;
use serde_json::Value;

type OpFn = fn(&Store, &Request) -> Result<Value, KmsError>;

/// Operations and whether they change the store (and so the state file).
const OPERATIONS: &[(&str, OpFn, bool)] = &[
    ("CreateKey", keys::create_key, true),
    ("DescribeKey", keys::describe_key, false),
    ("ReplicateKey", replicate::replicate_key, true),
    ("GetPublicKey", keys::get_public_key, false),
    ("ListKeys", keys::list_keys, false),
    ("EnableKey", keys::enable_key, true),
    ("DisableKey", keys::disable_key, true),
    ("ScheduleKeyDeletion", keys::schedule_key_deletion, true),
    ("CancelKeyDeletion", keys::cancel_key_deletion, true),
    ("GetKeyPolicy", policy::get_key_policy, false),
    ("PutKeyPolicy", policy::put_key_policy, true),
    ("ListKeyPolicies", policy::list_key_policies, false),
    ("ListResourceTags", keys::list_resource_tags, false),
    ("TagResource", keys::tag_resource, true),
    ("UntagResource", keys::untag_resource, true),
    (
        "GetParametersForImport",
        import::get_parameters_for_import,
        false,
    ),
    ("ImportKeyMaterial", import::import_key_material, true),
    ("CreateAlias", aliases::create_alias, true),
    ("UpdateAlias", aliases::update_alias, true),
    ("DeleteAlias", aliases::delete_alias, true),
    ("ListAliases", aliases::list_aliases, false),
    ("Sign", crypto::sign, false),
    ("Verify", crypto::verify, false),
    ("GenerateMac", crypto::generate_mac, false),
    ("VerifyMac", crypto::verify_mac, false),
    ("Encrypt", crypto::encrypt, false),
    ("Decrypt", crypto::decrypt, false),
    ("DeriveSharedSecret", crypto::derive_shared_secret, false),
    ("GenerateRandom", crypto::generate_random, false),
];

pub struct Operation {
    run: OpFn,
    pub mutates: bool,
}

pub fn lookup(name: &str) -> Option<Operation> {
    OPERATIONS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, run, mutates)| Operation {
            run: *run,
            mutates: *mutates,
        })
}

impl Operation {
    pub fn run(&self, store: &Store, req: &Request) -> Result<Value, KmsError> {
        (self.run)(store, req)
    }
}

/// The member that names the key an operation acts on, for deny rules.
pub fn key_member(req: &Request) -> Option<&str> {
    ["KeyId", "TargetKeyId"]
        .iter()
        .find_map(|m| req.str_opt(m).ok().flatten())
}
