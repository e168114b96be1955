//! Logging in to a token: its PIN (an argon2id hash, or none), who is
//! logged in, and the slow-down after wrong PINs. The rules are the
//! token's (`Login`); `Module::login` finds the token of a session.

use super::Module;
use crate::error::{Error, Result};
use crate::log_at;
use cryptoki_sys::*;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Wrong PINs a token takes without delay (typing mistakes).
const FREE_LOGINS: u32 = 3;
/// The first delay after those, doubling with each wrong PIN, and its cap:
/// a guesser gets about one try in MAX_LOGIN_DELAY per process, a person
/// who mistyped waits a second or two.
const FIRST_LOGIN_DELAY: Duration = Duration::from_millis(250);
const MAX_LOGIN_DELAY: Duration = Duration::from_secs(4);

/// How long C_Login waits after `failures` wrong PINs in a row.
fn login_delay(failures: u32) -> Option<Duration> {
    let over = failures.checked_sub(FREE_LOGINS)?;
    Some(
        FIRST_LOGIN_DELAY
            .saturating_mul(1 << over.min(16))
            .min(MAX_LOGIN_DELAY),
    )
}

/// A token's login state.
pub struct Login {
    /// The token's PIN as an argon2id PHC string; `None`: no login needed.
    pin_hash: Option<String>,
    user: Mutex<Option<CK_USER_TYPE>>,
    /// Wrong PINs in a row in this process.
    failures: AtomicU32,
    /// The earliest moment the next slowed-down C_Login may check a PIN:
    /// concurrent tries queue one delay apart instead of waiting side by
    /// side. Held only to reserve a moment, never while waiting.
    next_try: Mutex<Option<Instant>>,
}

impl Login {
    pub fn new(pin_hash: Option<String>) -> Login {
        Login {
            pin_hash,
            user: Mutex::new(None),
            failures: AtomicU32::new(0),
            next_try: Mutex::new(None),
        }
    }

    /// Whether the token has a PIN (CKF_LOGIN_REQUIRED).
    pub fn has_pin(&self) -> bool {
        self.pin_hash.is_some()
    }

    /// Who is logged in.
    pub fn user(&self) -> Option<CK_USER_TYPE> {
        *self.user.lock()
    }

    /// Whether private objects are visible: the token has no PIN, or the
    /// user is logged in.
    pub fn private_visible(&self) -> bool {
        self.pin_hash.is_none() || self.user.lock().is_some()
    }

    /// With no PIN configured any PIN is accepted (KMS authorises with AWS
    /// credentials, not PINs); with one, the PIN must match it. After
    /// FREE_LOGINS wrong PINs in a row, each further try waits (no lock is
    /// held: other sessions go on). Per process, in memory: a counter on
    /// disk would let anyone who can load the module lock the token for
    /// everyone.
    pub fn check_pin(&self, token: &str, pin: &[u8]) -> Result<()> {
        let Some(phc) = &self.pin_hash else {
            return Ok(());
        };
        let failures = self.failures.load(Ordering::Relaxed);
        if let Some(delay) = login_delay(failures) {
            let wait = self.reserve_try(delay);
            log_at!(
                Warn,
                "token '{token}': {failures} wrong PINs in a row; waiting {} ms before checking this one",
                wait.as_millis()
            );
            std::thread::sleep(wait);
        }
        // Slow by design (argon2id); no lock is held meanwhile.
        if !crate::pin::verify(phc, pin) {
            let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
            log_at!(
                Warn,
                "token '{token}': C_Login with a wrong PIN ({failures} in a row)"
            );
            return Err(CKR_PIN_INCORRECT.into());
        }
        self.failures.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// Each slowed-down try takes the next free moment, one delay after the
    /// last one reserved: concurrent tries queue, so a guesser gets one PIN
    /// checked per delay, not N. Returns how long to wait.
    fn reserve_try(&self, delay: Duration) -> Duration {
        let now = Instant::now();
        let mut next = self.next_try.lock();
        let at = next.map_or(now, |n| n.max(now)) + delay;
        *next = Some(at);
        at - now
    }

    /// Logs `user` in, once the PIN is checked. `read_only_sessions`:
    /// whether the token has any (the SO may not log in then).
    pub fn log_in(&self, user: CK_USER_TYPE, read_only_sessions: bool) -> Result<()> {
        let mut logged = self.user.lock();
        match *logged {
            Some(u) if u == user => Err(CKR_USER_ALREADY_LOGGED_IN.into()),
            Some(_) => Err(CKR_USER_ANOTHER_ALREADY_LOGGED_IN.into()),
            None if user == CKU_SO && read_only_sessions => {
                Err(CKR_SESSION_READ_ONLY_EXISTS.into())
            }
            None => {
                *logged = Some(user);
                Ok(())
            }
        }
    }

    pub fn log_out(&self) -> Result<()> {
        match self.user.lock().take() {
            Some(_) => Ok(()),
            None => Err(CKR_USER_NOT_LOGGED_IN.into()),
        }
    }

    /// The last session closed: the login ends with it.
    pub fn forget(&self) {
        *self.user.lock() = None;
    }
}

impl Module {
    pub fn login(&self, h: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &[u8]) -> Result<()> {
        let session = self.session(h)?;
        let signing = session.state.lock().is_signing();
        let token = &self.slots[session.slot];
        if matches!(user, CKU_USER | CKU_SO | CKU_CONTEXT_SPECIFIC) {
            token.login.check_pin(&token.label, pin)?;
        }
        match user {
            // Re-authentication for the operation in progress.
            CKU_CONTEXT_SPECIFIC if signing => Ok(()),
            CKU_CONTEXT_SPECIFIC => Err(CKR_OPERATION_NOT_INITIALIZED.into()),
            CKU_USER | CKU_SO => {
                let (all, rw) = self.sessions.count(session.slot);
                token.login.log_in(user, all > rw)
            }
            _ => Err(Error::from(CKR_USER_TYPE_INVALID)),
        }
    }

    pub fn logout(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let slot = self.session(h)?.slot;
        self.slots[slot].login.log_out()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_pins_slow_down_after_three_doubling_to_a_cap() {
        let ms = |n| login_delay(n).map(|d| d.as_millis());
        assert_eq!((ms(0), ms(1), ms(2)), (None, None, None));
        assert_eq!(ms(3), Some(250));
        assert_eq!(ms(4), Some(500));
        assert_eq!(ms(5), Some(1000));
        assert_eq!(ms(6), Some(2000));
        assert_eq!(ms(7), Some(4000));
        assert_eq!(ms(8), Some(4000));
        assert_eq!(ms(u32::MAX), Some(4000));
    }

    #[test]
    fn one_user_at_a_time_and_no_so_beside_read_only_sessions() {
        let login = Login::new(None);
        assert!(login.private_visible(), "no PIN: nothing to log in to");
        assert_eq!(login.log_out().unwrap_err().rv, CKR_USER_NOT_LOGGED_IN);
        assert_eq!(
            login.log_in(CKU_SO, true).unwrap_err().rv,
            CKR_SESSION_READ_ONLY_EXISTS
        );
        login.log_in(CKU_USER, true).unwrap();
        assert_eq!(login.user(), Some(CKU_USER));
        assert_eq!(
            login.log_in(CKU_USER, false).unwrap_err().rv,
            CKR_USER_ALREADY_LOGGED_IN
        );
        assert_eq!(
            login.log_in(CKU_SO, false).unwrap_err().rv,
            CKR_USER_ANOTHER_ALREADY_LOGGED_IN
        );
        login.log_out().unwrap();
        login.log_in(CKU_SO, false).unwrap();
        login.forget();
        assert_eq!(login.user(), None);
    }

    #[test]
    fn a_pin_hides_private_objects_until_it_is_given() {
        let phc = crate::pin::hash(b"123456").expect("hashes");
        let login = Login::new(Some(phc));
        assert!(login.has_pin() && !login.private_visible());
        for n in 1..=2 {
            assert_eq!(
                login.check_pin("t", b"nope").unwrap_err().rv,
                CKR_PIN_INCORRECT
            );
            assert_eq!(login.failures.load(Ordering::Relaxed), n);
        }
        login.check_pin("t", b"123456").unwrap();
        assert_eq!(
            login.failures.load(Ordering::Relaxed),
            0,
            "a right PIN resets the count"
        );
        login.log_in(CKU_USER, false).unwrap();
        assert!(login.private_visible());
        // Without a PIN any PIN is accepted.
        Login::new(None).check_pin("t", b"anything").unwrap();
    }

    #[test]
    fn concurrent_slowed_tries_queue_one_delay_apart() {
        let login = Login::new(None);
        let d = Duration::from_millis(250);
        let first = login.reserve_try(d);
        let second = login.reserve_try(d);
        let third = login.reserve_try(d);
        assert!(first <= d);
        assert!(second > first + d - Duration::from_millis(50));
        assert!(third > second + d - Duration::from_millis(50));
    }
}
