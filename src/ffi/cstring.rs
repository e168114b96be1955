//! A C string at a pointer that may be garbage: C_Initialize's pReserved,
//! which PKCS#11 says must be NULL and kms11 (as libkmsp11 does) reads as the
//! path of the configuration file. Conformance suites pass `(void*)1` there,
//! and hosts pass whatever their own configuration says; the answer must be
//! CKR_ARGUMENTS_BAD, never a fault in the host.
//!
//! The memory is never touched directly: the kernel copies it for us
//! (`process_vm_readv` on our own process, or, where a seccomp filter
//! refuses that, `write` into a pipe) and says EFAULT where it is not
//! readable. It is read a chunk at a time, never across a 4096-byte
//! boundary (no page is smaller), and the search stops at the first NUL: a
//! string that ends just before an unmapped page is read whole and nothing
//! past it is asked for.

use std::ffi::c_void;

/// Addresses below this are refused unread: the first pages are never mapped
/// (Linux's vm.mmap_min_addr is 65536 by default), and small integers cast
/// to pointers land there.
const LOWEST: usize = 64 * 1024;

/// The longest path with its NUL (Linux's PATH_MAX).
pub(super) const PATH_MAX: usize = 4096;

/// No page is smaller, so a chunk that does not cross a multiple of it lies
/// in one page: wholly readable or not at all.
const CHUNK: usize = 4096;

/// The bytes of the NUL-terminated string at `p` (without its NUL), if `p`
/// is readable up to a NUL within `max` bytes; `None` otherwise (a low or
/// unreadable pointer, or no NUL in time).
pub(super) fn read_c_string(p: *const c_void, max: usize) -> Option<Vec<u8>> {
    let mut at = p as usize;
    if at < LOWEST {
        return None;
    }
    let mut reader = Reader::default();
    let mut out = Vec::new();
    while out.len() < max {
        let to_boundary = CHUNK - at % CHUNK;
        let n = to_boundary.min(max - out.len());
        let start = out.len();
        out.resize(start + n, 0);
        reader.copy(at, &mut out[start..])?;
        if let Some(nul) = out[start..].iter().position(|&b| b == 0) {
            out.truncate(start + nul);
            return Some(out);
        }
        at = at.checked_add(n)?;
    }
    None
}

/// Copies from our own address space through the kernel.
#[derive(Default)]
struct Reader {
    /// Set once process_vm_readv has been refused (ENOSYS, EPERM from a
    /// seccomp filter): the pipe is used from then on.
    pipe: Option<Pipe>,
}

impl Reader {
    /// Fills `buf` from address `from`; `None` if any of it is unreadable.
    /// `buf` never spans two pages of the source (see CHUNK).
    fn copy(&mut self, from: usize, buf: &mut [u8]) -> Option<()> {
        if self.pipe.is_none() {
            match vm_read(from, buf) {
                Ok(()) => return Some(()),
                Err(e) if e == libc::EFAULT => return None,
                Err(_) => self.pipe = Some(Pipe::new()?),
            }
        }
        self.pipe.as_ref()?.copy(from, buf)
    }
}

/// process_vm_readv on ourselves: the kernel reads `from` as another
/// process's memory would be read, and answers EFAULT if it is not mapped
/// readable.
fn vm_read(from: usize, buf: &mut [u8]) -> Result<(), i32> {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut c_void,
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: from as *mut c_void,
        iov_len: buf.len(),
    };
    loop {
        // SAFETY: `local` is our own writable buffer of iov_len bytes; the
        // remote range is only read by the kernel, which checks it (EFAULT).
        let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
        match n {
            n if n >= 0 && n as usize == buf.len() => return Ok(()),
            // A short read (not expected within one page) is an unreadable tail.
            n if n >= 0 => return Err(libc::EFAULT),
            _ => match errno() {
                libc::EINTR => continue,
                e => return Err(e),
            },
        }
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A non-blocking pipe: `write` copies from the source (EFAULT if it is
/// unreadable) and `read` gives the bytes back.
struct Pipe {
    read: i32,
    write: i32,
}

impl Pipe {
    fn new() -> Option<Pipe> {
        let mut fds = [0i32; 2];
        // SAFETY: fds is an array of two ints for the kernel to fill.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
        (rc == 0).then_some(Pipe {
            read: fds[0],
            write: fds[1],
        })
    }

    fn copy(&self, from: usize, buf: &mut [u8]) -> Option<()> {
        // A pipe holds at least one page, so a chunk goes in whole.
        let written = loop {
            // SAFETY: the kernel reads buf.len() bytes at `from`, checking
            // them (EFAULT); nothing here dereferences `from`.
            let n = unsafe { libc::write(self.write, from as *const c_void, buf.len()) };
            if n >= 0 || errno() != libc::EINTR {
                break n;
            }
        };
        if written < 0 {
            return None;
        }
        let written = written as usize;
        let mut got = 0;
        while got < written {
            // SAFETY: buf[got..written] is our own writable memory.
            let n = unsafe {
                libc::read(
                    self.read,
                    buf[got..].as_mut_ptr() as *mut c_void,
                    written - got,
                )
            };
            match n {
                n if n > 0 => got += n as usize,
                _ if errno() == libc::EINTR => {}
                _ => return None,
            }
        }
        (written == buf.len()).then_some(())
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        // SAFETY: our own descriptors, closed once.
        unsafe {
            libc::close(self.read);
            libc::close(self.write);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two pages, the second PROT_NONE; unmapped when dropped.
    struct Guarded(*mut u8, usize);

    impl Guarded {
        fn new() -> Guarded {
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
            // SAFETY: an anonymous private mapping of our own, checked below.
            let base = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    2 * page,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(base, libc::MAP_FAILED);
            let base = base as *mut u8;
            // SAFETY: the second page of the mapping.
            let rc =
                unsafe { libc::mprotect(base.add(page) as *mut c_void, page, libc::PROT_NONE) };
            assert_eq!(rc, 0);
            Guarded(base, page)
        }

        /// `bytes` placed to end exactly at the guard page.
        fn ending_with(&self, bytes: &[u8]) -> *const c_void {
            assert!(bytes.len() <= self.1);
            // SAFETY: within the first, writable page.
            unsafe {
                let at = self.0.add(self.1 - bytes.len());
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), at, bytes.len());
                at as *const c_void
            }
        }

        fn guard(&self) -> *const c_void {
            // SAFETY: the start of the second page (not dereferenced).
            unsafe { self.0.add(self.1) as *const c_void }
        }
    }

    impl Drop for Guarded {
        fn drop(&mut self) {
            // SAFETY: our own mapping.
            unsafe { libc::munmap(self.0 as *mut c_void, 2 * self.1) };
        }
    }

    #[test]
    fn strings_and_garbage() {
        let g = Guarded::new();
        let path = g.ending_with(b"/etc/kms11.toml\0");
        assert_eq!(
            read_c_string(path, PATH_MAX).as_deref(),
            Some(&b"/etc/kms11.toml"[..])
        );
        assert_eq!(read_c_string(g.guard(), PATH_MAX), None);
        assert_eq!(
            read_c_string(std::ptr::without_provenance(1), PATH_MAX),
            None
        );
        // No NUL before the guard page.
        assert_eq!(read_c_string(g.ending_with(b"no nul"), PATH_MAX), None);
        // No NUL within the limit.
        let long = vec![b'a'; 5000];
        assert_eq!(
            read_c_string(long.as_ptr() as *const c_void, PATH_MAX),
            None
        );
        let mut limit = vec![b'a'; PATH_MAX - 1];
        limit.push(0);
        assert_eq!(
            read_c_string(limit.as_ptr() as *const c_void, PATH_MAX).map(|v| v.len()),
            Some(PATH_MAX - 1)
        );
    }

    /// The pipe, used where a seccomp filter refuses process_vm_readv.
    #[test]
    fn the_pipe_reads_what_is_readable_and_refuses_the_rest() {
        let g = Guarded::new();
        let pipe = Pipe::new().expect("pipe2");
        let mut buf = [0u8; 6];
        assert_eq!(
            pipe.copy(g.ending_with(b"kms11\0") as usize, &mut buf),
            Some(())
        );
        assert_eq!(&buf, b"kms11\0");
        assert_eq!(pipe.copy(g.guard() as usize, &mut buf), None);
        let mut reader = Reader { pipe: Some(pipe) };
        let mut one = [0u8; 1];
        assert_eq!(reader.copy(g.guard() as usize, &mut one), None);
        assert_eq!(
            reader.copy(g.ending_with(b"x") as usize, &mut one),
            Some(())
        );
        assert_eq!(&one, b"x");
    }
}
