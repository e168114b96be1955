//! Nothing on the machine but the configuration's owner and root decides
//! which keys the module signs with (docs/security.md):
//! - a configuration that is a FIFO is refused at once by C_Initialize, not
//!   waited on for ever;
//! - a setuid host run by another user takes no orders from that user's
//!   environment: no KMS11_* choice of keys or files, no AWS_* choice of
//!   credentials' sources or endpoints (the web-identity token file it could
//!   read as root is never sent anywhere), only a root-owned configuration.
//!
//! The setuid case runs a copy of this test binary, owned by root with the
//! setuid bit, as uid 65534 inside a network namespace of its own (so that
//! the SDK's instance-metadata probe, which an empty environment allows,
//! reaches nothing outside it). It needs root, as CI has.

mod common;

use common::*;
use std::ffi::CString;
use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NOBODY: u32 = 65534;

fn init(m: &Library, reserved: Option<&CString>) -> CK_RV {
    m.initialize(reserved.map(CString::as_c_str))
}

fn finalize(m: &Library) -> CK_RV {
    m.finalize()
}

fn labels(m: &Library) -> Vec<String> {
    m.slots(false)
        .expect("C_GetSlotList")
        .into_iter()
        .map(|s| {
            let info = m.token_info(s).expect("C_GetTokenInfo");
            String::from_utf8_lossy(&info.label).trim_end().to_string()
        })
        .collect()
}

#[test]
fn a_fifo_configuration_is_refused_at_once() {
    set_aws_env("http://127.0.0.1:9");
    std::env::remove_var("KMS11_KEYS");
    let dir = tmp_dir();
    let fifo = dir.join("fifo.conf");
    let status = Command::new("mkfifo")
        .args(["-m", "0666"])
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    std::env::set_var("KMS11_CONFIG", &fifo);
    let m = Library::load(&build::module_path());
    // No writer ever opens the FIFO: before, C_Initialize blocked in open().
    let (tx, rx) = std::sync::mpsc::channel();
    let path = build::module_path();
    std::thread::spawn(move || {
        let m = Library::load(&path);
        let _ = tx.send(init(&m, None));
    });
    let rv = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("C_Initialize with a FIFO as configuration did not return in 20 s");
    assert_eq!(rv, CKR_GENERAL_ERROR);
    // Nothing was initialised; a regular file of ours is then taken.
    assert_eq!(finalize(&m), CKR_CRYPTOKI_NOT_INITIALIZED);
    let good = dir.join("good.conf");
    write(&good, "[[token]]\nlabel = \"regular\"\n");
    std::env::set_var("KMS11_CONFIG", &good);
    assert_eq!(init(&m, None), CKR_OK);
    assert_eq!(labels(&m), ["regular"]);
    assert_eq!(finalize(&m), CKR_OK);
}

/// What the setuid helper needs from its parent, by environment variable
/// names the module does not read.
const SECRET: &str = "TEST_SECURE_SECRET_FILE";
const ROOT_CONF: &str = "TEST_SECURE_ROOT_CONF";
const USER_CONF: &str = "TEST_SECURE_USER_CONF";
const SCRATCH: &str = "TEST_SECURE_SCRATCH";

#[test]
fn a_setuid_host_ignores_its_callers_environment() {
    assert_eq!(
        kms11::files::current_uid(),
        0,
        "this test installs a setuid-root helper and must run as root (CI does)"
    );
    let dir = tmp_dir().join("secure");
    std::fs::create_dir_all(&dir).unwrap();
    chmod(&dir, 0o755);
    // The caller may not read this; the host (euid root) can.
    let secret = dir.join("web-identity-token");
    write(&secret, "SECRET-WEB-IDENTITY-TOKEN");
    chmod(&secret, 0o600);
    // The root-owned configuration the host names in pReserved.
    let root_conf = dir.join("root.conf");
    write(
        &root_conf,
        "[aws]\nregion = \"us-east-1\"\nmax_attempts = 1\nconnect_timeout_ms = 500\ncall_timeout_ms = 1000\n\
         [[token]]\nlabel = \"root-config\"\n[[token.key]]\nkey = \"alias/root-named\"\n",
    );
    // A configuration of the caller's own.
    let user_conf = dir.join("user.conf");
    write(&user_conf, "[[token]]\nlabel = \"callers-config\"\n");
    lchown(&user_conf, NOBODY);
    // Where the caller points XDG_CACHE_HOME: no cache entry may land there.
    let scratch = dir.join("caller-home");
    std::fs::create_dir_all(&scratch).unwrap();
    lchown(&scratch, NOBODY);
    // The helper: a root-owned setuid copy of this test binary.
    let host = dir.join("setuid-host");
    std::fs::copy(std::env::current_exe().unwrap(), &host).unwrap();
    chmod(&host, 0o4755);

    let module = build::module_path();
    let started = Instant::now();
    let mut child = Command::new("unshare")
        .args(["--net", "sh", "-c"])
        .arg(
            "ip link set lo up && exec setpriv --reuid=65534 --regid=65534 --clear-groups \"$0\" \"$@\"",
        )
        .arg(&host)
        .args([
            "--exact",
            "setuid_host_helper",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KMS11_MODULE", &module)
        .env(SECRET, &secret)
        .env(ROOT_CONF, &root_conf)
        .env(USER_CONF, &user_conf)
        .env(SCRATCH, &scratch)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare");
    let mut out = String::new();
    let mut err = String::new();
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut e = String::new();
        let _ = se.read_to_string(&mut e);
        e
    });
    let _ = so.read_to_string(&mut out);
    err.push_str(&reader.join().unwrap());
    let status = child.wait().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "the helper ran {:?}",
        started.elapsed()
    );
    assert!(
        status.success() && out.contains("HELPER DONE"),
        "setuid helper failed ({status}):\n{out}\n{err}"
    );
    // The module said why it ignores the environment.
    assert!(
        err.contains("secure-execution process")
            && err.contains("environment variables are ignored"),
        "{err}"
    );
    assert!(!err.contains("SECRET-WEB-IDENTITY-TOKEN"), "{err}");
    assert!(
        err.contains("with SMITHY_CLIENT_SDK_CUSTOM_PARTITION set"),
        "{err}"
    );
}

#[test]
#[ignore = "run by a_setuid_host_ignores_its_callers_environment, setuid, as uid 65534"]
fn setuid_host_helper() {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} unset"));
    assert!(
        kms11::secure_execution(),
        "AT_SECURE is not set: is the helper on a nosuid mount, or run with no_new_privs?"
    );
    // The caller's hostile environment: its own keys and configuration, a
    // web-identity token file only root can read, and an STS and KMS of its
    // own to receive it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let scratch = var(SCRATCH);
    for (k, v) in [
        ("KMS11_KEYS", "alias/callers-key".to_string()),
        ("KMS11_CONFIG", var(USER_CONF)),
        ("KMS11_LOG", "info".to_string()),
        ("XDG_CONFIG_HOME", scratch.clone()),
        ("XDG_CACHE_HOME", scratch.clone()),
        ("HOME", scratch.clone()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", var(SECRET)),
        (
            "AWS_ROLE_ARN",
            "arn:aws:iam::111122223333:role/x".to_string(),
        ),
        ("AWS_ENDPOINT_URL_STS", url.clone()),
        ("AWS_ENDPOINT_URL_KMS", url.clone()),
        ("AWS_ENDPOINT_URL", url.clone()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ] {
        std::env::set_var(k, v);
    }
    let m = Library::load(Path::new(&var("KMS11_MODULE")));
    // The one variable the AWS SDK reads by itself (a partition file naming
    // the DNS suffix of KMS endpoints): refused while it is set.
    let partition = Path::new(&scratch).join("partitions.json");
    std::fs::write(&partition, "{}").unwrap();
    std::env::set_var("SMITHY_CLIENT_SDK_CUSTOM_PARTITION", &partition);
    assert_eq!(init(&m, None), CKR_GENERAL_ERROR);
    std::env::remove_var("SMITHY_CLIENT_SDK_CUSTOM_PARTITION");
    // With no configuration named: KMS11_KEYS and KMS11_CONFIG are not
    // read, only /etc/kms11/pkcs11.conf would be.
    assert_eq!(init(&m, None), CKR_OK);
    let found = labels(&m);
    assert!(
        !found.iter().any(|l| l == "kms11" || l == "callers-config"),
        "the caller's environment chose the tokens: {found:?}"
    );
    assert_eq!(finalize(&m), CKR_OK);
    // A configuration named in pReserved that the caller owns is refused.
    let user_conf = CString::new(var(USER_CONF)).unwrap();
    assert_eq!(init(&m, Some(&user_conf)), CKR_GENERAL_ERROR);
    // The root-owned one is taken.
    let root_conf = CString::new(var(ROOT_CONF)).unwrap();
    assert_eq!(init(&m, Some(&root_conf)), CKR_OK);
    assert_eq!(labels(&m), ["root-config"]);
    // Resolving the key asks for credentials: none of the caller's
    // choosing, so the call fails (no role is reachable in this network
    // namespace), and nothing reached the caller's listener.
    let slot = m.slots(false).unwrap()[0];
    match m.open(slot, CKF_SERIAL_SESSION) {
        Err(rv) => assert_eq!(rv, CKR_DEVICE_ERROR),
        Ok(_) => panic!("C_OpenSession resolved a key with no credentials"),
    }
    assert_eq!(finalize(&m), CKR_OK);
    match listener.accept() {
        Ok((mut conn, _)) => {
            let mut got = String::new();
            let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
            let _ = conn.read_to_string(&mut got);
            panic!("the caller's endpoint was called: {got}");
        }
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
    }
    assert!(
        !Path::new(&scratch).join("kms11").exists(),
        "a cache was written where the caller's XDG_CACHE_HOME points"
    );
    println!("HELPER DONE");
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn lchown(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
}
