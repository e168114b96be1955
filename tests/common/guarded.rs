//! Guarded memory: `len` bytes that end where an inaccessible (PROT_NONE)
//! page begins, so that the module reading or writing one byte past a
//! buffer it was handed faults and fails the test, instead of going
//! unnoticed. Used by the hostile-input matrix and C_Initialize's pReserved
//! cases.

use std::ffi::c_void;
use std::ptr;
use std::sync::OnceLock;

use cryptoki_sys::CK_ULONG;

const PROT_NONE: i32 = 0;
const PROT_READ: i32 = 1;
const PROT_WRITE: i32 = 2;
const MAP_PRIVATE: i32 = 0x02;
const MAP_ANONYMOUS: i32 = 0x20;
const SC_PAGESIZE: i32 = 30;

extern "C" {
    fn mmap(addr: *mut c_void, len: usize, prot: i32, flags: i32, fd: i32, off: i64)
        -> *mut c_void;
    fn mprotect(addr: *mut c_void, len: usize, prot: i32) -> i32;
    fn munmap(addr: *mut c_void, len: usize) -> i32;
    fn sysconf(name: i32) -> i64;
}

pub fn page_size() -> usize {
    static P: OnceLock<usize> = OnceLock::new();
    // SAFETY: sysconf has no preconditions.
    *P.get_or_init(|| unsafe { sysconf(SC_PAGESIZE) } as usize)
}

/// `len` bytes followed directly by a PROT_NONE page. A length that is a
/// multiple of 8 starts 8-aligned (the page end is), as C structs need.
pub struct Guarded {
    base: *mut u8,
    total: usize,
    pub data: *mut u8,
    pub len: usize,
}

impl Guarded {
    pub fn new(len: usize, fill: u8) -> Guarded {
        let p = page_size();
        let total = (len.div_ceil(p) + 1) * p;
        // SAFETY: an anonymous private mapping; checked below.
        let base = unsafe {
            mmap(
                ptr::null_mut(),
                total,
                PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert!(base as isize != -1 && !base.is_null(), "mmap failed");
        let base = base as *mut u8;
        // SAFETY: the last page of our own mapping.
        unsafe {
            let guard = base.add(total - p);
            assert_eq!(mprotect(guard as *mut c_void, p, PROT_NONE), 0, "mprotect");
            let data = guard.sub(len);
            ptr::write_bytes(data, fill, len);
            Guarded {
                base,
                total,
                data,
                len,
            }
        }
    }

    pub fn from(bytes: &[u8]) -> Guarded {
        let g = Guarded::new(bytes.len(), 0);
        // SAFETY: g holds bytes.len() writable bytes.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), g.data, bytes.len()) };
        g
    }

    pub fn ulong(v: CK_ULONG) -> Guarded {
        Guarded::from(&v.to_ne_bytes())
    }

    pub fn addr(&self) -> usize {
        self.data as usize
    }

    pub fn bytes(&self) -> Vec<u8> {
        // SAFETY: our own readable bytes.
        unsafe { std::slice::from_raw_parts(self.data, self.len) }.to_vec()
    }

    pub fn get_ulong(&self, at: usize) -> CK_ULONG {
        assert!(at + 8 <= self.len);
        // SAFETY: in bounds (checked).
        unsafe { ptr::read_unaligned(self.data.add(at) as *const CK_ULONG) }
    }

    pub fn put<T: Copy>(&self, at: usize, v: T) {
        assert!(at + std::mem::size_of::<T>() <= self.len);
        // SAFETY: in bounds (checked).
        unsafe { ptr::write_unaligned(self.data.add(at) as *mut T, v) };
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        // SAFETY: our own mapping.
        unsafe { munmap(self.base as *mut c_void, self.total) };
    }
}
