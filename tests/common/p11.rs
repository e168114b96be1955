//! A thin wrapper over the module's raw CK_FUNCTION_LIST, so tests can pass
//! exactly the pointers and lengths they mean (NULL buffers, short buffers,
//! partial templates) and see exactly the CK_RV the module returns.
//! cryptoki's high-level API hides both; the fixture still loads and
//! initialises the module through cryptoki, and dlopen gives this wrapper the
//! same library instance.

pub use cryptoki_sys::*;
use std::ffi::c_void;
use std::path::Path;
use std::ptr;

pub type Rv = CK_RV;

pub struct Library {
    _lib: cryptoki_sys::Pkcs11,
    f: *const CK_FUNCTION_LIST,
}

// The function list is static data inside the loaded module; PKCS #11 calls
// are thread-safe once the module is initialised with CKF_OS_LOCKING_OK.
unsafe impl Send for Library {}
unsafe impl Sync for Library {}

macro_rules! call {
    ($m:expr, $name:ident ( $($arg:expr),* )) => {{
        let f = $m.list().$name.unwrap_or_else(|| panic!("the function list has no {}", stringify!($name)));
        #[allow(unused_unsafe)]
        unsafe { f($($arg),*) }
    }};
}

fn check(rv: Rv) -> Result<(), Rv> {
    if rv == CKR_OK {
        Ok(())
    } else {
        Err(rv)
    }
}

impl Library {
    /// dlopens `path` (the same handle cryptoki got) and asks for its function list.
    pub fn load(path: &Path) -> Library {
        let lib = unsafe { cryptoki_sys::Pkcs11::new(path) }
            .unwrap_or_else(|e| panic!("dlopen {}: {e}", path.display()));
        let mut list: *mut CK_FUNCTION_LIST = ptr::null_mut();
        let rv = unsafe { lib.C_GetFunctionList(&mut list) };
        assert_eq!(rv, CKR_OK, "C_GetFunctionList: {}", rv_name(rv));
        assert!(!list.is_null(), "C_GetFunctionList gave NULL");
        Library { _lib: lib, f: list }
    }

    pub fn list(&self) -> &CK_FUNCTION_LIST {
        unsafe { &*self.f }
    }

    /// C_Initialize with CKF_OS_LOCKING_OK and, if given, a configuration
    /// path in pReserved.
    pub fn initialize(&self, reserved: Option<&std::ffi::CStr>) -> Rv {
        let mut args = CK_C_INITIALIZE_ARGS {
            CreateMutex: None,
            DestroyMutex: None,
            LockMutex: None,
            UnlockMutex: None,
            flags: CKF_OS_LOCKING_OK,
            pReserved: reserved.map_or(ptr::null_mut(), |p| p.as_ptr() as *mut c_void),
        };
        call!(self, C_Initialize(&mut args as *mut _ as *mut c_void))
    }

    pub fn finalize(&self) -> Rv {
        call!(self, C_Finalize(ptr::null_mut()))
    }

    pub fn info(&self) -> Result<CK_INFO, Rv> {
        let mut info: CK_INFO = unsafe { std::mem::zeroed() };
        check(call!(self, C_GetInfo(&mut info)))?;
        Ok(info)
    }

    pub fn slots(&self, token_present: bool) -> Result<Vec<CK_SLOT_ID>, Rv> {
        let present = if token_present { CK_TRUE } else { CK_FALSE };
        let mut n: CK_ULONG = 0;
        check(call!(self, C_GetSlotList(present, ptr::null_mut(), &mut n)))?;
        let mut v = vec![0; n as usize];
        check(call!(self, C_GetSlotList(present, v.as_mut_ptr(), &mut n)))?;
        v.truncate(n as usize);
        Ok(v)
    }

    pub fn slot_info(&self, slot: CK_SLOT_ID) -> Result<CK_SLOT_INFO, Rv> {
        let mut info: CK_SLOT_INFO = unsafe { std::mem::zeroed() };
        check(call!(self, C_GetSlotInfo(slot, &mut info)))?;
        Ok(info)
    }

    pub fn token_info(&self, slot: CK_SLOT_ID) -> Result<CK_TOKEN_INFO, Rv> {
        let mut info: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
        check(call!(self, C_GetTokenInfo(slot, &mut info)))?;
        Ok(info)
    }

    pub fn mechanisms(&self, slot: CK_SLOT_ID) -> Result<Vec<CK_MECHANISM_TYPE>, Rv> {
        let mut n: CK_ULONG = 0;
        check(call!(
            self,
            C_GetMechanismList(slot, ptr::null_mut(), &mut n)
        ))?;
        let mut v = vec![0; n as usize];
        check(call!(
            self,
            C_GetMechanismList(slot, v.as_mut_ptr(), &mut n)
        ))?;
        v.truncate(n as usize);
        Ok(v)
    }

    pub fn mechanism_info(
        &self,
        slot: CK_SLOT_ID,
        m: CK_MECHANISM_TYPE,
    ) -> Result<CK_MECHANISM_INFO, Rv> {
        let mut info: CK_MECHANISM_INFO = unsafe { std::mem::zeroed() };
        check(call!(self, C_GetMechanismInfo(slot, m, &mut info)))?;
        Ok(info)
    }

    pub fn open(&self, slot: CK_SLOT_ID, flags: CK_FLAGS) -> Result<Session<'_>, Rv> {
        let mut h: CK_SESSION_HANDLE = CK_INVALID_HANDLE;
        check(call!(
            self,
            C_OpenSession(slot, flags, ptr::null_mut(), None, &mut h)
        ))?;
        Ok(Session { m: self, h })
    }

    /// A read/write serial session, as most applications open.
    pub fn open_rw(&self, slot: CK_SLOT_ID) -> Result<Session<'_>, Rv> {
        self.open(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
    }

    pub fn close_all_sessions(&self, slot: CK_SLOT_ID) -> Rv {
        call!(self, C_CloseAllSessions(slot))
    }
}

/// A buffer for any signature kms11 makes (ML-DSA-87's are 4,627 bytes).
const SIGNATURE_MAX: usize = 8192;

/// A session, closed on drop.
pub struct Session<'a> {
    pub m: &'a Library,
    pub h: CK_SESSION_HANDLE,
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = call!(self.m, C_CloseSession(self.h));
    }
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session({:#x})", self.h)
    }
}

impl Session<'_> {
    /// C_DeriveKey: the new key's handle.
    pub fn derive(
        &self,
        mech: &Mech,
        base: CK_OBJECT_HANDLE,
        t: &Template,
    ) -> Result<CK_OBJECT_HANDLE, Rv> {
        let mut m = mech.ck();
        let mut attrs = t.ck();
        let mut out: CK_OBJECT_HANDLE = 0;
        let (p, len) = attrs_ptr(&mut attrs);
        check(call!(
            self.m,
            C_DeriveKey(self.h, &mut m, base, p, len, &mut out)
        ))?;
        Ok(out)
    }

    /// C_GenerateKeyPair with a mechanism that takes no parameter: the new
    /// key's (public, private) handles.
    pub fn generate_key_pair(
        &self,
        ckm: CK_MECHANISM_TYPE,
        public: &Template,
        private: &Template,
    ) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), Rv> {
        let mut m = Mech::new(ckm).ck();
        let (mut pubt, mut privt) = (public.ck(), private.ck());
        let (mut pub_h, mut priv_h): (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) = (0, 0);
        let (pp, pl) = attrs_ptr(&mut pubt);
        let (qp, ql) = attrs_ptr(&mut privt);
        check(call!(
            self.m,
            C_GenerateKeyPair(self.h, &mut m, pp, pl, qp, ql, &mut pub_h, &mut priv_h)
        ))?;
        Ok((pub_h, priv_h))
    }

    /// C_GenerateKey with a mechanism that takes no parameter.
    pub fn generate_key(
        &self,
        ckm: CK_MECHANISM_TYPE,
        t: &Template,
    ) -> Result<CK_OBJECT_HANDLE, Rv> {
        let mut m = Mech::new(ckm).ck();
        let mut attrs = t.ck();
        let mut out: CK_OBJECT_HANDLE = 0;
        let (p, len) = attrs_ptr(&mut attrs);
        check(call!(
            self.m,
            C_GenerateKey(self.h, &mut m, p, len, &mut out)
        ))?;
        Ok(out)
    }

    /// C_CreateObject.
    pub fn create_object(&self, t: &Template) -> Result<CK_OBJECT_HANDLE, Rv> {
        let mut attrs = t.ck();
        let (p, len) = attrs_ptr(&mut attrs);
        let mut out: CK_OBJECT_HANDLE = 0;
        check(call!(self.m, C_CreateObject(self.h, p, len, &mut out)))?;
        Ok(out)
    }

    /// C_SetAttributeValue.
    pub fn set_attributes(&self, obj: CK_OBJECT_HANDLE, t: &Template) -> Result<(), Rv> {
        let mut attrs = t.ck();
        let (p, len) = attrs_ptr(&mut attrs);
        check(call!(self.m, C_SetAttributeValue(self.h, obj, p, len)))
    }

    pub fn destroy(&self, obj: CK_OBJECT_HANDLE) -> Result<(), Rv> {
        check(call!(self.m, C_DestroyObject(self.h, obj)))
    }

    /// C_GenerateRandom of `len` bytes into a buffer of exactly that size.
    pub fn random(&self, len: usize) -> Result<Vec<u8>, Rv> {
        let mut out = vec![0u8; len];
        let p = if len == 0 {
            ptr::null_mut()
        } else {
            out.as_mut_ptr()
        };
        check(call!(self.m, C_GenerateRandom(self.h, p, len as CK_ULONG)))?;
        Ok(out)
    }

    pub fn seed_random(&self, seed: &[u8]) -> Rv {
        call!(
            self.m,
            C_SeedRandom(self.h, seed.as_ptr() as *mut u8, seed.len() as CK_ULONG)
        )
    }

    pub fn info(&self) -> Result<CK_SESSION_INFO, Rv> {
        let mut info: CK_SESSION_INFO = unsafe { std::mem::zeroed() };
        check(call!(self.m, C_GetSessionInfo(self.h, &mut info)))?;
        Ok(info)
    }

    pub fn login(&self, user: CK_USER_TYPE, pin: &[u8]) -> Result<(), Rv> {
        check(call!(
            self.m,
            C_Login(self.h, user, pin.as_ptr() as *mut u8, pin.len() as CK_ULONG)
        ))
    }

    pub fn logout(&self) -> Result<(), Rv> {
        check(call!(self.m, C_Logout(self.h)))
    }

    // ---- objects ----

    pub fn find_init(&self, t: &Template) -> Result<(), Rv> {
        let mut attrs = t.ck();
        let p = if attrs.is_empty() {
            ptr::null_mut()
        } else {
            attrs.as_mut_ptr()
        };
        check(call!(
            self.m,
            C_FindObjectsInit(self.h, p, attrs.len() as CK_ULONG)
        ))
    }

    pub fn find_next(&self, max: usize) -> Result<Vec<CK_OBJECT_HANDLE>, Rv> {
        let mut v = vec![CK_INVALID_HANDLE; max];
        let mut n: CK_ULONG = 0;
        check(call!(
            self.m,
            C_FindObjects(self.h, v.as_mut_ptr(), max as CK_ULONG, &mut n)
        ))?;
        assert!(
            n as usize <= max,
            "C_FindObjects returned {n} handles for a maximum of {max}"
        );
        v.truncate(n as usize);
        Ok(v)
    }

    pub fn find_final(&self) -> Result<(), Rv> {
        check(call!(self.m, C_FindObjectsFinal(self.h)))
    }

    /// Every object matching `t` (C_FindObjectsInit, C_FindObjects until empty, C_FindObjectsFinal).
    pub fn find(&self, t: &Template) -> Result<Vec<CK_OBJECT_HANDLE>, Rv> {
        self.find_init(t)?;
        let mut all = Vec::new();
        for _ in 0..10_000 {
            let got = self.find_next(7)?;
            if got.is_empty() {
                self.find_final()?;
                return Ok(all);
            }
            all.extend(got);
        }
        panic!("C_FindObjects never ran dry");
    }

    /// Raw C_GetAttributeValue over a caller-built template.
    pub fn get_attribute_value(&self, obj: CK_OBJECT_HANDLE, t: &mut [CK_ATTRIBUTE]) -> Rv {
        call!(
            self.m,
            C_GetAttributeValue(self.h, obj, t.as_mut_ptr(), t.len() as CK_ULONG)
        )
    }

    /// One attribute's value: a length query, then a fetch into a buffer of that size.
    pub fn attr(&self, obj: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> Result<Vec<u8>, Rv> {
        let mut a = [CK_ATTRIBUTE {
            type_: ty,
            pValue: ptr::null_mut(),
            ulValueLen: 0,
        }];
        check(self.get_attribute_value(obj, &mut a))?;
        assert_ne!(
            a[0].ulValueLen,
            CK_UNAVAILABLE_INFORMATION,
            "CKR_OK with CK_UNAVAILABLE_INFORMATION for {}",
            attr_name(ty)
        );
        let mut buf = vec![0u8; a[0].ulValueLen as usize];
        a[0].pValue = buf.as_mut_ptr() as *mut c_void;
        check(self.get_attribute_value(obj, &mut a))?;
        assert_eq!(
            a[0].ulValueLen as usize,
            buf.len(),
            "{} changed length between the query and the fetch",
            attr_name(ty)
        );
        Ok(buf)
    }

    pub fn attr_bool(&self, obj: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> Result<bool, Rv> {
        let v = self.attr(obj, ty)?;
        assert_eq!(
            v.len(),
            1,
            "{} is a CK_BBOOL, got {} bytes",
            attr_name(ty),
            v.len()
        );
        Ok(v[0] != 0)
    }

    pub fn attr_ulong(&self, obj: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> Result<CK_ULONG, Rv> {
        let v = self.attr(obj, ty)?;
        assert_eq!(
            v.len(),
            std::mem::size_of::<CK_ULONG>(),
            "{} is a CK_ULONG, got {} bytes",
            attr_name(ty),
            v.len()
        );
        Ok(CK_ULONG::from_ne_bytes(v.try_into().unwrap()))
    }

    // ---- signing ----

    pub fn sign_init(&self, mech: &Mech, key: CK_OBJECT_HANDLE) -> Result<(), Rv> {
        let mut ck = mech.ck();
        check(call!(self.m, C_SignInit(self.h, &mut ck, key)))
    }

    /// C_SignInit with a NULL mechanism pointer.
    pub fn sign_init_null_mechanism(&self, key: CK_OBJECT_HANDLE) -> Rv {
        call!(self.m, C_SignInit(self.h, ptr::null_mut(), key))
    }

    /// Raw C_Sign: `out` None passes a NULL pSignature; `len` is *pulSignatureLen in and out.
    pub fn sign_raw(&self, data: &[u8], out: Option<&mut [u8]>, len: &mut CK_ULONG) -> Rv {
        let p = out.map_or(ptr::null_mut(), |b| b.as_mut_ptr());
        call!(
            self.m,
            C_Sign(
                self.h,
                data.as_ptr() as *mut u8,
                data.len() as CK_ULONG,
                p,
                len
            )
        )
    }

    /// C_Sign into a buffer big enough for any signature kms11 makes (no length query first).
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, Rv> {
        let mut buf = vec![0u8; SIGNATURE_MAX];
        let mut len = buf.len() as CK_ULONG;
        check(self.sign_raw(data, Some(&mut buf), &mut len))?;
        assert!(
            len as usize <= SIGNATURE_MAX,
            "C_Sign claims {len} bytes in a {SIGNATURE_MAX}-byte buffer"
        );
        buf.truncate(len as usize);
        Ok(buf)
    }

    pub fn sign_update(&self, data: &[u8]) -> Result<(), Rv> {
        check(call!(
            self.m,
            C_SignUpdate(self.h, data.as_ptr() as *mut u8, data.len() as CK_ULONG)
        ))
    }

    pub fn sign_final_raw(&self, out: Option<&mut [u8]>, len: &mut CK_ULONG) -> Rv {
        let p = out.map_or(ptr::null_mut(), |b| b.as_mut_ptr());
        call!(self.m, C_SignFinal(self.h, p, len))
    }

    pub fn sign_final(&self) -> Result<Vec<u8>, Rv> {
        let mut buf = vec![0u8; SIGNATURE_MAX];
        let mut len = buf.len() as CK_ULONG;
        check(self.sign_final_raw(Some(&mut buf), &mut len))?;
        assert!(
            len as usize <= SIGNATURE_MAX,
            "C_SignFinal claims {len} bytes in a {SIGNATURE_MAX}-byte buffer"
        );
        buf.truncate(len as usize);
        Ok(buf)
    }

    /// C_SignInit + C_Sign.
    pub fn sign_once(
        &self,
        mech: &Mech,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
    ) -> Result<Vec<u8>, Rv> {
        self.sign_init(mech, key)?;
        self.sign(data)
    }

    /// C_SignInit, one C_SignUpdate per chunk, C_SignFinal.
    pub fn sign_parts(
        &self,
        mech: &Mech,
        key: CK_OBJECT_HANDLE,
        parts: &[&[u8]],
    ) -> Result<Vec<u8>, Rv> {
        self.sign_init(mech, key)?;
        for p in parts {
            self.sign_update(p)?;
        }
        self.sign_final()
    }

    // ---- encryption and decryption ----

    pub fn decrypt_init(&self, mech: &Mech, key: CK_OBJECT_HANDLE) -> Result<(), Rv> {
        let mut m = mech.ck();
        check(call!(self.m, C_DecryptInit(self.h, &mut m, key)))
    }

    /// C_Decrypt into `out` (None: the size query); the length it wrote.
    pub fn decrypt_raw(&self, data: &[u8], out: Option<&mut [u8]>, len: &mut CK_ULONG) -> Rv {
        let p = out.map_or(ptr::null_mut(), |o| o.as_mut_ptr());
        call!(
            self.m,
            C_Decrypt(
                self.h,
                data.as_ptr() as *mut u8,
                data.len() as CK_ULONG,
                p,
                len
            )
        )
    }

    /// C_Decrypt with a buffer of the modulus's size.
    pub fn decrypt(&self, data: &[u8]) -> Result<Vec<u8>, Rv> {
        let mut out = vec![0u8; data.len().max(1)];
        let mut len = out.len() as CK_ULONG;
        check(self.decrypt_raw(data, Some(&mut out), &mut len))?;
        out.truncate(len as usize);
        Ok(out)
    }

    pub fn encrypt_init(&self, mech: &Mech, key: CK_OBJECT_HANDLE) -> Result<(), Rv> {
        let mut m = mech.ck();
        check(call!(self.m, C_EncryptInit(self.h, &mut m, key)))
    }

    pub fn encrypt(&self, data: &[u8]) -> Result<Vec<u8>, Rv> {
        let mut len: CK_ULONG = 0;
        check(call!(
            self.m,
            C_Encrypt(
                self.h,
                data.as_ptr() as *mut u8,
                data.len() as CK_ULONG,
                ptr::null_mut(),
                &mut len
            )
        ))?;
        let mut out = vec![0u8; len as usize];
        check(call!(
            self.m,
            C_Encrypt(
                self.h,
                data.as_ptr() as *mut u8,
                data.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut len
            )
        ))?;
        out.truncate(len as usize);
        Ok(out)
    }

    // ---- verification ----

    pub fn verify_init(&self, mech: &Mech, key: CK_OBJECT_HANDLE) -> Result<(), Rv> {
        let mut ck = mech.ck();
        check(call!(self.m, C_VerifyInit(self.h, &mut ck, key)))
    }

    /// C_VerifyInit with a NULL mechanism pointer.
    pub fn verify_init_null_mechanism(&self, key: CK_OBJECT_HANDLE) -> Rv {
        call!(self.m, C_VerifyInit(self.h, ptr::null_mut(), key))
    }

    pub fn verify(&self, data: &[u8], sig: &[u8]) -> Result<(), Rv> {
        check(call!(
            self.m,
            C_Verify(
                self.h,
                data.as_ptr() as *mut u8,
                data.len() as CK_ULONG,
                sig.as_ptr() as *mut u8,
                sig.len() as CK_ULONG
            )
        ))
    }

    pub fn verify_update(&self, data: &[u8]) -> Result<(), Rv> {
        check(call!(
            self.m,
            C_VerifyUpdate(self.h, data.as_ptr() as *mut u8, data.len() as CK_ULONG)
        ))
    }

    pub fn verify_final(&self, sig: &[u8]) -> Result<(), Rv> {
        check(call!(
            self.m,
            C_VerifyFinal(self.h, sig.as_ptr() as *mut u8, sig.len() as CK_ULONG)
        ))
    }
}

/// A mechanism and its parameter, owned; `ck()` points into it.
#[derive(Clone)]
pub struct Mech {
    pub ty: CK_MECHANISM_TYPE,
    param: Param,
}

#[derive(Clone)]
enum Param {
    None,
    Pss(CK_RSA_PKCS_PSS_PARAMS),
    /// A PSS parameter struct announced with a wrong ulParameterLen.
    PssBadLen(CK_RSA_PKCS_PSS_PARAMS, CK_ULONG),
    /// CK_EDDSA_PARAMS and the context it points to.
    EdDsa(CK_EDDSA_PARAMS, Vec<u8>),
    /// CK_RSA_PKCS_OAEP_PARAMS and the label it points to.
    Oaep(CK_RSA_PKCS_OAEP_PARAMS, Vec<u8>),
    /// A CK_ULONG parameter (CK_MAC_GENERAL_PARAMS).
    Ulong(CK_ULONG),
    /// CK_ECDH1_DERIVE_PARAMS and the shared data and public key it points to.
    Ecdh(CK_ECDH1_DERIVE_PARAMS, Vec<u8>, Vec<u8>),
    /// CK_SIGN_ADDITIONAL_CONTEXT and the context it points to.
    SignContext(CK_SIGN_ADDITIONAL_CONTEXT, Vec<u8>),
    /// CK_HASH_SIGN_ADDITIONAL_CONTEXT and the context it points to.
    HashSignContext(CK_HASH_SIGN_ADDITIONAL_CONTEXT, Vec<u8>),
}

impl Mech {
    pub fn new(ty: CK_MECHANISM_TYPE) -> Mech {
        Mech {
            ty,
            param: Param::None,
        }
    }

    pub fn pss(
        ty: CK_MECHANISM_TYPE,
        hash: CK_MECHANISM_TYPE,
        mgf: CK_RSA_PKCS_MGF_TYPE,
        s_len: CK_ULONG,
    ) -> Mech {
        Mech {
            ty,
            param: Param::Pss(CK_RSA_PKCS_PSS_PARAMS {
                hashAlg: hash,
                mgf,
                sLen: s_len,
            }),
        }
    }

    pub fn pss_bad_len(
        ty: CK_MECHANISM_TYPE,
        hash: CK_MECHANISM_TYPE,
        mgf: CK_RSA_PKCS_MGF_TYPE,
        s_len: CK_ULONG,
        len: CK_ULONG,
    ) -> Mech {
        Mech {
            ty,
            param: Param::PssBadLen(
                CK_RSA_PKCS_PSS_PARAMS {
                    hashAlg: hash,
                    mgf,
                    sLen: s_len,
                },
                len,
            ),
        }
    }

    /// CKM_RSA_PKCS_OAEP with hashAlg, MGF1 and a label of `label` bytes.
    pub fn oaep(hash: CK_MECHANISM_TYPE, mgf: CK_RSA_PKCS_MGF_TYPE, label: &[u8]) -> Mech {
        let mut label = label.to_vec();
        let params = CK_RSA_PKCS_OAEP_PARAMS {
            hashAlg: hash,
            mgf,
            source: CKZ_DATA_SPECIFIED,
            pSourceData: if label.is_empty() {
                ptr::null_mut()
            } else {
                label.as_mut_ptr() as *mut c_void
            },
            ulSourceDataLen: label.len() as CK_ULONG,
        };
        Mech {
            ty: CKM_RSA_PKCS_OAEP,
            param: Param::Oaep(params, label),
        }
    }

    /// CKM_EDDSA with CK_EDDSA_PARAMS (phFlag, context).
    pub fn eddsa(prehash: bool, context: &[u8]) -> Mech {
        let mut context = context.to_vec();
        let params = CK_EDDSA_PARAMS {
            phFlag: CK_BBOOL::from(prehash),
            ulContextDataLen: context.len() as CK_ULONG,
            pContextData: if context.is_empty() {
                ptr::null_mut()
            } else {
                context.as_mut_ptr()
            },
        };
        Mech {
            ty: CKM_EDDSA,
            param: Param::EdDsa(params, context),
        }
    }

    /// CKM_HASH_ML_DSA with CK_HASH_SIGN_ADDITIONAL_CONTEXT naming `hash`.
    pub fn hash_mldsa(hedge: CK_ULONG, context: &[u8], hash: CK_MECHANISM_TYPE) -> Mech {
        let Param::SignContext(p, context) = Mech::mldsa(hedge, context).param else {
            unreachable!()
        };
        let params = CK_HASH_SIGN_ADDITIONAL_CONTEXT {
            hedgeVariant: p.hedgeVariant,
            pContext: p.pContext,
            ulContextLen: p.ulContextLen,
            hash,
        };
        Mech {
            ty: CKM_HASH_ML_DSA,
            param: Param::HashSignContext(params, context),
        }
    }

    /// An ML-DSA mechanism (`ty`) with CK_SIGN_ADDITIONAL_CONTEXT.
    pub fn mldsa_with(ty: CK_MECHANISM_TYPE, hedge: CK_ULONG, context: &[u8]) -> Mech {
        Mech {
            ty,
            ..Mech::mldsa(hedge, context)
        }
    }

    /// CKM_ML_DSA with CK_SIGN_ADDITIONAL_CONTEXT.
    pub fn mldsa(hedge: CK_ULONG, context: &[u8]) -> Mech {
        let mut context = context.to_vec();
        let params = CK_SIGN_ADDITIONAL_CONTEXT {
            hedgeVariant: hedge,
            pContext: if context.is_empty() {
                ptr::null_mut()
            } else {
                context.as_mut_ptr()
            },
            ulContextLen: context.len() as CK_ULONG,
        };
        Mech {
            ty: CKM_ML_DSA,
            param: Param::SignContext(params, context),
        }
    }

    /// CKM_ECDH1_DERIVE with a KDF, shared data and the peer's public key.
    pub fn ecdh(kdf: CK_EC_KDF_TYPE, shared: &[u8], public: &[u8]) -> Mech {
        let (mut shared, mut public) = (shared.to_vec(), public.to_vec());
        let ptr = |v: &mut Vec<u8>| {
            if v.is_empty() {
                ptr::null_mut()
            } else {
                v.as_mut_ptr()
            }
        };
        let params = CK_ECDH1_DERIVE_PARAMS {
            kdf,
            ulSharedDataLen: shared.len() as CK_ULONG,
            pSharedData: ptr(&mut shared),
            ulPublicDataLen: public.len() as CK_ULONG,
            pPublicData: ptr(&mut public),
        };
        Mech {
            ty: CKM_ECDH1_DERIVE,
            param: Param::Ecdh(params, shared, public),
        }
    }

    /// A _GENERAL mechanism with CK_MAC_GENERAL_PARAMS (the MAC's length).
    pub fn mac_general(ty: CK_MECHANISM_TYPE, len: CK_ULONG) -> Mech {
        Mech {
            ty,
            param: Param::Ulong(len),
        }
    }

    pub fn ck(&self) -> CK_MECHANISM {
        let (p, len) = match &self.param {
            Param::Ulong(v) => (
                v as *const _ as *mut c_void,
                std::mem::size_of::<CK_ULONG>() as CK_ULONG,
            ),
            Param::Ecdh(p, _, _) => (
                p as *const _ as *mut c_void,
                std::mem::size_of::<CK_ECDH1_DERIVE_PARAMS>() as CK_ULONG,
            ),
            Param::SignContext(p, _) => (
                p as *const _ as *mut c_void,
                std::mem::size_of::<CK_SIGN_ADDITIONAL_CONTEXT>() as CK_ULONG,
            ),
            Param::HashSignContext(p, _) => (
                p as *const _ as *mut c_void,
                std::mem::size_of::<CK_HASH_SIGN_ADDITIONAL_CONTEXT>() as CK_ULONG,
            ),
            Param::Oaep(p, _) => (
                p as *const _ as *mut c_void,
                std::mem::size_of::<CK_RSA_PKCS_OAEP_PARAMS>() as CK_ULONG,
            ),
            Param::EdDsa(p, _) => (
                p as *const _ as *mut c_void,
                std::mem::size_of::<CK_EDDSA_PARAMS>() as CK_ULONG,
            ),
            Param::None => (ptr::null_mut(), 0),
            Param::Pss(p) => (
                p as *const _ as *mut c_void,
                std::mem::size_of::<CK_RSA_PKCS_PSS_PARAMS>() as CK_ULONG,
            ),
            Param::PssBadLen(p, len) => (p as *const _ as *mut c_void, *len),
        };
        CK_MECHANISM {
            mechanism: self.ty,
            pParameter: p,
            ulParameterLen: len,
        }
    }
}

impl std::fmt::Debug for Mech {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.param {
            Param::None => write!(f, "{}", mech_name(self.ty)),
            Param::Ulong(v) => write!(f, "{}{{{v}}}", mech_name(self.ty)),
            Param::HashSignContext(p, context) => write!(
                f,
                "{}{{hedge={}, context={} bytes, hash={}}}",
                mech_name(self.ty),
                p.hedgeVariant,
                context.len(),
                mech_name(p.hash)
            ),
            Param::SignContext(p, context) => write!(
                f,
                "{}{{hedge={}, context={} bytes}}",
                mech_name(self.ty),
                p.hedgeVariant,
                context.len()
            ),
            Param::Ecdh(p, shared, public) => write!(
                f,
                "{}{{kdf={:#x}, shared={} bytes, public={} bytes}}",
                mech_name(self.ty),
                p.kdf,
                shared.len(),
                public.len()
            ),
            Param::Pss(p) => write!(
                f,
                "{}{{hashAlg={}, mgf={}, sLen={}}}",
                mech_name(self.ty),
                mech_name(p.hashAlg),
                p.mgf,
                p.sLen
            ),
            Param::EdDsa(p, context) => write!(
                f,
                "{}{{phFlag={}, context={} bytes}}",
                mech_name(self.ty),
                p.phFlag,
                context.len()
            ),
            Param::Oaep(p, label) => write!(
                f,
                "{}{{hashAlg={}, mgf={}, label={} bytes}}",
                mech_name(self.ty),
                mech_name(p.hashAlg),
                p.mgf,
                label.len()
            ),
            Param::PssBadLen(p, l) => write!(
                f,
                "{}{{hashAlg={}, mgf={}, sLen={}}} (ulParameterLen {l})",
                mech_name(self.ty),
                mech_name(p.hashAlg),
                p.mgf,
                p.sLen
            ),
        }
    }
}

/// A template's pointer and count as C takes them (NULL when empty).
fn attrs_ptr(a: &mut [CK_ATTRIBUTE]) -> (*mut CK_ATTRIBUTE, CK_ULONG) {
    let p = if a.is_empty() {
        ptr::null_mut()
    } else {
        a.as_mut_ptr()
    };
    (p, a.len() as CK_ULONG)
}

/// An owned attribute template.
#[derive(Default, Clone)]
pub struct Template(pub Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>);

impl Template {
    pub fn new() -> Template {
        Template(Vec::new())
    }
    pub fn bytes(mut self, ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Template {
        self.0.push((ty, v.to_vec()));
        self
    }
    pub fn ulong(self, ty: CK_ATTRIBUTE_TYPE, v: CK_ULONG) -> Template {
        self.bytes(ty, &v.to_ne_bytes())
    }
    pub fn bool(self, ty: CK_ATTRIBUTE_TYPE, v: bool) -> Template {
        self.bytes(ty, &[if v { CK_TRUE } else { CK_FALSE }])
    }
    pub fn class(self, c: CK_OBJECT_CLASS) -> Template {
        self.ulong(CKA_CLASS, c)
    }
    pub fn key_type(self, k: CK_KEY_TYPE) -> Template {
        self.ulong(CKA_KEY_TYPE, k)
    }
    pub fn label(self, l: &str) -> Template {
        self.bytes(CKA_LABEL, l.as_bytes())
    }
    pub fn id(self, id: &[u8]) -> Template {
        self.bytes(CKA_ID, id)
    }
    fn ck(&self) -> Vec<CK_ATTRIBUTE> {
        self.0
            .iter()
            .map(|(t, v)| CK_ATTRIBUTE {
                type_: *t,
                pValue: if v.is_empty() {
                    ptr::null_mut()
                } else {
                    v.as_ptr() as *mut c_void
                },
                ulValueLen: v.len() as CK_ULONG,
            })
            .collect()
    }
}

/// A blank-padded PKCS #11 text field without its padding.
pub fn text(field: &[u8]) -> String {
    String::from_utf8_lossy(field)
        .trim_end_matches(' ')
        .to_string()
}

/// Asserts `r` is Err(want), naming both return values on failure.
#[track_caller]
pub fn assert_rv<T: std::fmt::Debug>(r: Result<T, Rv>, want: Rv, what: &str) {
    match r {
        Err(rv) if rv == want => {}
        Err(rv) => panic!("{what}: expected {}, got {}", rv_name(want), rv_name(rv)),
        Ok(v) => panic!("{what}: expected {}, got CKR_OK ({v:?})", rv_name(want)),
    }
}

/// Unwraps `r`, naming the return value on failure.
#[track_caller]
pub fn ok<T>(r: Result<T, Rv>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(rv) => panic!("{what}: expected CKR_OK, got {}", rv_name(rv)),
    }
}

macro_rules! names {
    ($v:expr, $($n:ident),* $(,)?) => {
        match $v { $(x if x == $n => Some(stringify!($n)),)* _ => None }
    };
}

/// A CK_RV as its name and value, from the module's own table of names.
pub fn rv_name(rv: Rv) -> String {
    kms11::error::rv_known_name(rv)
        .map_or_else(|| format!("CK_RV {rv:#x}"), |n| format!("{n} ({rv:#x})"))
}

pub fn mech_name(m: CK_MECHANISM_TYPE) -> String {
    names!(
        m,
        CKM_RSA_PKCS,
        CKM_RSA_X_509,
        CKM_RSA_PKCS_PSS,
        CKM_RSA_PKCS_OAEP,
        CKM_SHA1_RSA_PKCS,
        CKM_SHA224_RSA_PKCS,
        CKM_SHA256_RSA_PKCS,
        CKM_SHA384_RSA_PKCS,
        CKM_SHA512_RSA_PKCS,
        CKM_SHA1_RSA_PKCS_PSS,
        CKM_SHA224_RSA_PKCS_PSS,
        CKM_SHA256_RSA_PKCS_PSS,
        CKM_SHA384_RSA_PKCS_PSS,
        CKM_SHA512_RSA_PKCS_PSS,
        CKM_ECDSA,
        CKM_ECDSA_SHA1,
        CKM_ECDSA_SHA224,
        CKM_ECDSA_SHA256,
        CKM_ECDSA_SHA384,
        CKM_ECDSA_SHA512,
        CKM_SHA_1,
        CKM_SHA224,
        CKM_SHA256,
        CKM_SHA384,
        CKM_SHA512,
    )
    .map_or_else(|| format!("CKM {m:#x}"), String::from)
}

pub fn attr_name(a: CK_ATTRIBUTE_TYPE) -> String {
    kms11::attribute::name(a).into_owned()
}
