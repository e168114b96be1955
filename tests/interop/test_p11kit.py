"""p11-kit: kms11.module installed where p11-kit looks, kms11 in
`p11-kit list-modules`, signing through p11-kit-proxy.so, and signing over
`p11-kit server` / p11-kit-client.so from a process that never loads
libkms11.so.

Every test runs the recipes of docs/p11-kit.md as written (only the Settings
block is the test's own), and openssl verifies every signature with the
public key from KMS GetPublicKey, not one read through the module.

Nothing is written to /etc or /usr. p11-kit reads no user module files for
root, and this runs as root on a shared machine, so the root recipes run in a
private mount namespace (`unshare --mount`) where /usr/share/p11-kit/modules
(a copy of the real one), /usr/local/lib and /run are bind mounts of
temporary directories; the one-user recipe and the client run as nobody."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from processes import alive, stop
from conftest import MODULE, REPO
from recipes import recipes, unmarked_sh_blocks

DOC = REPO / "docs" / "p11-kit.md"
MODULE_FILE = REPO / "kms11.module"
SYSTEM_MODULES = Path("/usr/share/p11-kit/modules")
INSTALLED = "/usr/local/lib/kms11/libkms11.so"
CLIENT = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"
TIMEOUT = 120

# The docs' blocks, in order; "build" is the one the tests do not run.
RECIPES = ["settings", "build", "install", "user-install", "proxy", "server", "client",
           "client-sign", "client-sign-ecdsa", "client-verify", "stop"]


def recipe(name: str) -> str:
    return recipes("p11-kit.md")[name]


def settings(key_id: str, mechanism: str) -> str:
    return f"TOKEN=interop\nKEY_ID={key_id}\nMECHANISM={mechanism}\nCLIENT_USER=nobody\n"


def as_nobody() -> list[str]:
    """setpriv to nobody when root; nothing to do otherwise."""
    if os.geteuid() != 0:
        return []
    pw = pwd.getpwnam("nobody")
    return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups"]


def chown_to_nobody(path: Path) -> None:
    if os.geteuid() != 0:
        return
    pw = pwd.getpwnam("nobody")
    for p in [path, *path.rglob("*")]:
        os.chown(p, pw.pw_uid, pw.pw_gid, follow_symlinks=False)


def verify(token, key_id: str, work: Path) -> None:
    """openssl, with the key KMS GetPublicKey returns, verifies data.sig over
    data.txt; and the key the recipe read through p11-kit is that key."""
    pem = token.public_pem(key_id)
    r = token.run("openssl", "dgst", "-sha256", "-verify", str(pem), "-signature",
                  str(work / "data.sig"), str(work / "data.txt"))
    assert b"Verified OK" in r.stdout
    assert (work / "key.pem").read_bytes() == pem.read_bytes()


@dataclass
class Workspace:
    """A world-readable temporary directory: a stand-in checkout (the real
    kms11.module, and target/release/libkms11.so naming the library under
    test), the directories bind-mounted in the namespace, and a work
    directory owned by the user who runs the recipe."""

    root: Path

    checkout = property(lambda self: self.root / "checkout")
    modules = property(lambda self: self.root / "modules")
    local_lib = property(lambda self: self.root / "local-lib")
    run = property(lambda self: self.root / "run")
    work = property(lambda self: self.root / "work")
    settings = property(lambda self: self.root / "settings.sh")
    server_pid = property(lambda self: self.root / "server.pid")

    def namespace_script(self, body: str) -> list[str]:
        """argv running body as root in a private mount namespace, with the
        settings, in the stand-in checkout."""
        prologue = (
            "set -eu\n"
            f"mount --bind {self.modules} {SYSTEM_MODULES}\n"
            f"mount --bind {self.local_lib} /usr/local/lib\n"
            f"mount --bind {self.run} /run\n"
            f". {self.settings}\n"
            f"cd {self.checkout}\n"
        )
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", prologue + body]


@pytest.fixture
def ws():
    root = Path(tempfile.mkdtemp(prefix="kms11-p11kit-"))
    root.chmod(0o755)
    w = Workspace(root)
    (w.checkout / "target" / "release").mkdir(parents=True)
    shutil.copyfile(MODULE_FILE, w.checkout / "kms11.module")
    (w.checkout / "target" / "release" / "libkms11.so").symlink_to(MODULE.resolve())
    # The other modules stay registered, as on a real machine.
    shutil.copytree(SYSTEM_MODULES, w.modules)
    w.local_lib.mkdir()
    w.run.mkdir()
    w.work.mkdir()
    try:
        yield w
    finally:
        if w.server_pid.exists() and w.server_pid.read_text().strip():
            stop(int(w.server_pid.read_text()))
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def namespace():
    """The system-wide recipes need root and a private mount namespace."""
    if os.geteuid() != 0:
        pytest.skip("the system-wide recipes run as root, in a private mount namespace")
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, timeout=30)
    if r.returncode != 0:
        pytest.fail(f"unshare --mount fails here, so the recipes cannot run without writing to /usr: {r.stderr.decode()}")


def check(r: subprocess.CompletedProcess, what: str) -> str:
    out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    assert r.returncode == 0, f"{what} exited {r.returncode}\nstdout: {out}\nstderr: {err}"
    return out


def host_untouched() -> None:
    assert not (SYSTEM_MODULES / "kms11.module").exists()
    assert not Path(INSTALLED).parent.exists()
    assert not Path("/run/kms11").exists()


def test_every_recipe_in_the_docs_is_run():
    assert list(recipes("p11-kit.md")) == RECIPES
    assert unmarked_sh_blocks("p11-kit.md") == 0, "a shell block without a <!-- test: name --> marker"
    # The test's settings replace every variable the docs' settings set.
    assigned = re.findall(r"^(\w+)=", recipe("settings"), re.M)
    assert assigned == re.findall(r"^(\w+)=", settings("b1", "ECDSA-SHA256"), re.M)
    # The library the tests install in place of `cargo build`'s.
    assert recipe("build").strip() == "cargo build --release --lib"
    assert "target/release/libkms11.so" in recipe("install")


def test_module_file_names_the_installed_library():
    conf = {}
    for line in MODULE_FILE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition(":")
            conf[key.strip()] = value.strip()
    assert conf["module"] == INSTALLED
    assert conf["critical"] == "no"
    assert conf["trust-policy"] == "no"
    assert f"target/release/libkms11.so {INSTALLED}" in recipe("install")
    assert f"kms11.module {SYSTEM_MODULES}/kms11.module" in recipe("install")


def test_list_modules_after_install(token, ws, namespace):
    ws.settings.write_text(settings("b1", "ECDSA-SHA256"))
    r = subprocess.run(ws.namespace_script(recipe("install")), env=token.env, capture_output=True, timeout=TIMEOUT)
    out = check(r, "install recipe")
    head = f"kms11: {INSTALLED}\n"
    assert head in out, out
    ours = out.split(head, 1)[1]
    ours = ours[: m.start()] if (m := re.search(r"^\S", ours, re.M)) else ours
    assert "library-description: kms11: keys in AWS KMS" in ours
    assert "token: interop" in ours
    assert "model: AWS KMS" in ours
    # The system's other modules are still listed next to kms11.
    assert "p11-kit-trust: p11-kit-trust.so" in out
    # The recipe installed into the temporary directories only.
    assert (ws.modules / "kms11.module").read_bytes() == MODULE_FILE.read_bytes()
    assert (ws.local_lib / "kms11" / "libkms11.so").stat().st_size == MODULE.stat().st_size
    host_untouched()


PROXY_CASES = [("a1", "SHA256-RSA-PKCS"), ("a3", "SHA256-RSA-PKCS"), ("b1", "ECDSA-SHA256"), ("b3", "ECDSA-SHA256")]


@pytest.mark.parametrize("key_id,mechanism", PROXY_CASES, ids=[f"{k}-{m}" for k, m in PROXY_CASES])
def test_sign_through_the_proxy(token, ws, namespace, key_id, mechanism):
    ws.settings.write_text(settings(key_id, mechanism))
    body = recipe("install") + f"cd {ws.work}\n" + recipe("proxy")
    r = subprocess.run(ws.namespace_script(body), env=token.env, capture_output=True, timeout=TIMEOUT)
    out = check(r, "install and proxy recipes")
    assert out.rstrip().endswith("Verified OK"), out
    verify(token, key_id, ws.work)
    host_untouched()


def test_one_user_install_and_proxy(token, ws):
    """As nobody (or the user running the tests), with the module file in
    ~/.config/pkcs11/modules and the kms11 configuration in
    ~/.config/kms11/pkcs11.conf."""
    ws.settings.write_text(settings("b1", "ECDSA-SHA256"))
    home = ws.root / "home"
    (home / ".config" / "kms11").mkdir(parents=True)
    shutil.copyfile(token.env["KMS11_CONFIG"], home / ".config" / "kms11" / "pkcs11.conf")
    chown_to_nobody(home)
    chown_to_nobody(ws.work)
    env = {k: v for k, v in token.env.items() if not k.startswith(("KMS11_", "XDG_"))}
    env["HOME"] = str(home)
    script = (f"set -eu\n. {ws.settings}\ncd {ws.checkout}\n" + recipe("user-install")
              + f"cd {ws.work}\n" + recipe("proxy"))
    r = subprocess.run([*as_nobody(), "sh", "-c", script], env=env, capture_output=True, timeout=TIMEOUT)
    out = check(r, "user-install and proxy recipes")
    assert f"kms11: {home}/.local/lib/kms11/libkms11.so\n" in out
    assert "token: interop" in out
    assert (home / ".config" / "pkcs11" / "modules" / "kms11.module").read_text() == MODULE_FILE.read_text().replace(
        f"module: {INSTALLED}", f"module: {home}/.local/lib/kms11/libkms11.so"
    )
    assert out.rstrip().endswith("Verified OK"), out
    verify(token, key_id="b1", work=ws.work)
    if os.geteuid() == 0:
        # What the docs say: root reads no user module file, even this one.
        r = token.run("env", f"HOME={home}", "p11-kit", "list-modules")
        assert "kms11" not in r.stdout.decode()


def read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class Served:
    out: str  # the root shell's (install, server, stop)
    err: str
    rc: int
    client_rc: int
    client_out: str
    client_err: str
    loaded: str  # LD_DEBUG=files of every client process


def serve_and_sign(token, ws, key_id: str, mechanism: str, sign_recipe: str, before_sign: str = "") -> Served:
    """As root in the namespace: install, start the server (the recipe), run
    the client recipes as nobody with no kms11 or AWS variable, then stop the
    server (the recipe)."""
    ws.settings.write_text(settings(key_id, mechanism))
    chown_to_nobody(ws.work)
    client = ws.root / "client.sh"
    client.write_text(f"set -eu\n. {ws.settings}\ncd {ws.work}\n" + recipe("client") + before_sign
                      + recipe(sign_recipe) + recipe("client-verify"))
    client.chmod(0o644)
    nobody = " ".join(as_nobody())
    body = (
        recipe("install") + recipe("server")
        + f'echo "$P11_KIT_SERVER_PID" > {ws.server_pid}\n'
        + "client_rc=0\n"
        + f'env -i PATH="$PATH" HOME={ws.work} LD_DEBUG=files LD_DEBUG_OUTPUT={ws.work}/ld-debug '
        + f"{nobody} sh {client} > {ws.work}/client.out 2> {ws.work}/client.err || client_rc=$?\n"
        + f"echo $client_rc > {ws.work}/client.rc\n"
        + recipe("stop")
    )
    # Files, not pipes: the server keeps the shell's stderr open after it exits.
    out, err = ws.root / "root.out", ws.root / "root.err"
    with out.open("wb") as o, err.open("wb") as e:
        r = subprocess.run(ws.namespace_script(body), env=token.env, stdout=o, stderr=e, timeout=TIMEOUT)
    return Served(
        out=read(out), err=read(err), rc=r.returncode,
        client_rc=int(read(ws.work / "client.rc") or -1),
        client_out=read(ws.work / "client.out"), client_err=read(ws.work / "client.err"),
        loaded="".join(read(p) for p in sorted(ws.work.glob("ld-debug.*"))),
    )


def assert_server_stopped(ws) -> None:
    pid = int(ws.server_pid.read_text())
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid), "p11-kit server --kill left the server running"
    assert not (ws.run / "kms11" / "pkcs11.sock").exists()


def assert_client_never_loaded_kms11(s: Served) -> None:
    assert "p11-kit-client.so" in s.loaded, "LD_DEBUG saw no client module: did the client run?"
    assert "libkms11" not in s.loaded


CLIENT_CASES = [
    ("a1", "SHA256-RSA-PKCS", "client-sign"),
    ("a3", "SHA256-RSA-PKCS", "client-sign"),
    ("b1", "ECDSA-SHA256", "client-sign-ecdsa"),
    ("b3", "ECDSA-SHA256", "client-sign-ecdsa"),
]


@pytest.mark.parametrize("key_id,mechanism,sign_recipe", CLIENT_CASES, ids=[f"{k}-{r}" for k, _, r in CLIENT_CASES])
def test_sign_over_the_server(token, ws, namespace, key_id, mechanism, sign_recipe):
    s = serve_and_sign(token, ws, key_id, mechanism, sign_recipe)
    assert s.rc == 0 and s.client_rc == 0, (
        f"root shell {s.rc}, client {s.client_rc}\nroot stdout: {s.out}\nroot stderr: {s.err}\n"
        f"client stdout: {s.client_out}\nclient stderr: {s.client_err}"
    )
    assert "unix:path=/run/kms11/pkcs11.sock" in s.out
    assert s.client_out.rstrip().endswith("Verified OK"), s.client_out
    verify(token, key_id, ws.work)
    assert_client_never_loaded_kms11(s)
    assert_server_stopped(ws)
    host_untouched()


def test_ecdsa_sha256_over_the_server_is_refused_or_verifies(token, ws, namespace):
    """docs/p11-kit.md says p11-kit 0.24's client refuses ECDSA-SHA256 by
    itself and lists which mechanisms cross. If a newer p11-kit carries
    ECDSA-SHA256, the signature must verify."""
    s = serve_and_sign(token, ws, "b1", "ECDSA-SHA256", "client-sign",
                       before_sign=f"pkcs11-tool --module {CLIENT} -M > mechanisms.txt\n")
    assert s.rc == 0, f"root stdout: {s.out}\nroot stderr: {s.err}"
    assert_client_never_loaded_kms11(s)
    assert_server_stopped(ws)
    listed = re.findall(r"^  ([\w-]+),", (ws.work / "mechanisms.txt").read_text(), re.M)
    if s.client_rc != 0:
        assert "C_SignInit failed: rv = CKR_MECHANISM_INVALID" in s.client_err, s.client_err
        assert listed == ["RSA-PKCS", "SHA256-RSA-PKCS", "SHA384-RSA-PKCS", "SHA512-RSA-PKCS", "RSA-PKCS-PSS", "ECDSA"]
        doc = " ".join(DOC.read_text().split())
        assert "`CKR_MECHANISM_INVALID`" in doc
        assert "`RSA-PKCS`, `SHA256-RSA-PKCS` (and SHA-384, SHA-512), `RSA-PKCS-PSS` and `ECDSA`" in doc
    else:
        assert "ECDSA-SHA256" in listed
        verify(token, "b1", ws.work)
