//! The guest's global allocator: per-size-class free lists in front of wasi-libc's malloc.
//!
//! A render allocates and frees millions of small blocks (values, strings, parse nodes);
//! wasi-libc's dlmalloc spends about a fifth of the guest's time on them, splitting and
//! coalescing blocks that a throw-away instance never needs coalesced. Here a freed small
//! block is not given back to malloc but pushed on the free list of its size class, and
//! the next allocation of that class pops it: a handful of instructions each way. Only
//! when a class's list is empty does an allocation reach malloc (asking for the class's
//! full size, so the block can serve any request of the class later).
//!
//! Every block stays a malloc block, whoever allocated it. That matters: the component's
//! `cabi_realloc` (wasi-libc's) hands Rust strings and lists allocated with `malloc`, which
//! Rust code frees through this allocator, while wasi-libc frees with `free` what it got
//! from `cabi_realloc`. A block is filed under the largest class that fits in its
//! `malloc_usable_size`, so a list never hands out a block smaller than its class.
//!
//! Memory stays bounded under churn: a freed block is reused by the next allocation of its
//! class, so the footprint is at most the peak live bytes of each class (plus rounding,
//! under 2x) rather than the bytes ever allocated. Blocks above [`MAX_SMALL`] and
//! over-aligned ones go to malloc and free as before. The sandbox's memory limit counts
//! everything, as all of it is malloc's heap.
//!
//! Only installed for single-threaded wasm (no `atomics`): the state is unsynchronized.

// A global allocator is raw memory management; the unsafety is confined to this module.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// Alignment every small block has (wasi-libc's malloc alignment, and the largest of
/// Rust's primitive types).
const ALIGN: usize = 16;
/// Largest block served from the size classes.
const MAX_SMALL: usize = 32 << 10;
/// Classes: 16..=256 by 16 (16 classes), then powers of two 512..=32 KiB (7 classes).
const CLASSES: usize = 16 + 7;

/// The class index and size of the smallest class that holds `size` bytes.
#[inline]
fn class_up(size: usize) -> (usize, usize) {
    if size <= 256 {
        let i = size.max(1).div_ceil(ALIGN) - 1;
        (i, (i + 1) * ALIGN)
    } else {
        let rounded = size.next_power_of_two();
        (16 + rounded.trailing_zeros() as usize - 9, rounded)
    }
}

/// The largest class whose size fits in a block of `usable` bytes (`usable` >= 16 and
/// <= `MAX_SMALL`).
#[inline]
fn class_down(usable: usize) -> usize {
    if usable < 512 {
        usable.min(256) / ALIGN - 1
    } else {
        let floor = 1usize << (usize::BITS - 1 - usable.leading_zeros());
        16 + floor.trailing_zeros() as usize - 9
    }
}

/// Bytes of the block at `p` that are usable, as the system allocator reports them.
trait UsableSize {
    /// # Safety
    /// `p` must be a live block of the system allocator.
    unsafe fn usable_size(p: *mut u8) -> usize;
}

struct Libc;

#[cfg(any(target_os = "wasi", target_os = "linux"))]
impl UsableSize for Libc {
    unsafe fn usable_size(p: *mut u8) -> usize {
        unsafe extern "C" {
            fn malloc_usable_size(p: *mut std::ffi::c_void) -> usize;
        }
        // SAFETY: `p` is a live malloc block (the caller's contract); `System` is malloc on
        // wasi and linux.
        unsafe { malloc_usable_size(p.cast()) }
    }
}

/// The allocator (see the module docs).
pub struct ClassAlloc {
    /// Head of each class's free list; a free block's first word links to the next.
    free: UnsafeCell<[*mut u8; CLASSES]>,
}

// SAFETY: only for wasm without the atomics feature, where there is exactly one thread;
// nothing can access the state concurrently. (Native builds compile the allocator for its
// tests but cannot install it globally.)
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl Sync for ClassAlloc {}

impl ClassAlloc {
    /// An empty allocator.
    pub const fn new() -> Self {
        ClassAlloc {
            free: UnsafeCell::new([ptr::null_mut(); CLASSES]),
        }
    }

    #[inline]
    fn is_small(layout: &Layout) -> bool {
        layout.size() <= MAX_SMALL && layout.align() <= ALIGN
    }
}

impl Default for ClassAlloc {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every block is a block of the system allocator (malloc); a free-listed block is
// one nobody else uses, filed under a class no larger than its usable size and aligned to
// ALIGN, so handing it out for any request of that class is in bounds and aligned.
unsafe impl GlobalAlloc for ClassAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !Self::is_small(&layout) {
            // SAFETY: forwarded with the caller's layout.
            return unsafe { System.alloc(layout) };
        }
        let (i, size) = class_up(layout.size());
        // SAFETY: single-threaded; the borrow ends before the call below.
        let free = unsafe { &mut *self.free.get() };
        let head = free[i];
        if !head.is_null() {
            // SAFETY: a free block holds the link to the next one in its first word.
            free[i] = unsafe { head.cast::<*mut u8>().read() };
            return head;
        }
        // SAFETY: a valid layout (non-zero size, power-of-two alignment).
        unsafe { System.alloc(Layout::from_size_align_unchecked(size, ALIGN)) }
    }

    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        if Self::is_small(&layout) && (p as usize).is_multiple_of(ALIGN) {
            // SAFETY: `p` is a live malloc block (ours, or malloc'd by wasi-libc).
            let usable = unsafe { Libc::usable_size(p) };
            if (ALIGN..=MAX_SMALL).contains(&usable) {
                let i = class_down(usable);
                // SAFETY: single-threaded; the block is the caller's no more and holds at
                // least 16 bytes, room for the link.
                unsafe {
                    let free = &mut *self.free.get();
                    p.cast::<*mut u8>().write(free[i]);
                    free[i] = p;
                }
                return;
            }
        }
        // SAFETY: a malloc block with the caller's layout.
        unsafe { System.dealloc(p, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= ALIGN {
            // SAFETY: `p` is a live malloc block.
            let usable = unsafe { Libc::usable_size(p) };
            if new_size <= usable && (new_size <= MAX_SMALL) == (layout.size() <= MAX_SMALL) {
                // Fits where it is (and stays on the same side of the small/large line,
                // so `dealloc` files it the same way).
                return p;
            }
        }
        // SAFETY: `new_size` with the old alignment is valid per `realloc`'s contract; a
        // fresh block, then copy what both hold, then free the old one with its layout.
        unsafe {
            let new = Layout::from_size_align_unchecked(new_size, layout.align());
            let q = self.alloc(new);
            if !q.is_null() {
                ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
                self.dealloc(p, layout);
            }
            q
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_round_up_and_down_consistently() {
        for size in 1..=MAX_SMALL {
            let (i, sz) = class_up(size);
            assert!(
                sz >= size && sz.is_multiple_of(ALIGN) && i < CLASSES,
                "{size}"
            );
            // A block of exactly a class's size is filed under that class.
            assert_eq!(class_down(sz), i, "{size}");
            if size >= ALIGN {
                // Filing rounds down: the class never exceeds the block.
                let d = class_down(size);
                let d_size = if d < 16 {
                    (d + 1) * ALIGN
                } else {
                    1 << (d - 16 + 9)
                };
                assert!(d_size <= size, "{size}");
            }
        }
        assert_eq!(class_up(MAX_SMALL).0, CLASSES - 1);
    }

    #[test]
    fn blocks_are_reused_never_overlap_and_foreign_blocks_are_safe() {
        let a = ClassAlloc::new();
        let l = |s| Layout::from_size_align(s, 8).unwrap();
        unsafe {
            let mut live: Vec<(usize, usize)> = Vec::new();
            for (n, size) in [1usize, 15, 16, 17, 200, 257, 1000, 5000, 32 << 10, 40 << 10]
                .iter()
                .cycle()
                .take(2000)
                .enumerate()
            {
                let p = a.alloc(l(*size));
                assert!(!p.is_null() && (p as usize).is_multiple_of(8));
                p.write_bytes(n as u8, *size);
                for &(q, qs) in &live {
                    assert!(p as usize + size <= q || q + qs <= p as usize);
                }
                live.push((p as usize, *size));
                if n.is_multiple_of(3) {
                    let (q, qs) = live.remove(live.len() / 2);
                    a.dealloc(q as *mut u8, l(qs));
                }
            }
            // A freed block of a class is handed out again.
            let p = a.alloc(l(100));
            a.dealloc(p, l(100));
            assert_eq!(a.alloc(l(97)), p);
            // Growing within the block keeps it; beyond it copies the bytes.
            let r = a.realloc(p, l(97), 110);
            assert_eq!(r, p);
            r.write_bytes(7, 110);
            let g = a.realloc(r, l(110), 3000);
            assert!((0..110).all(|i| *g.add(i) == 7));
            let h = a.realloc(g, l(3000), 100 << 10);
            assert!((0..110).all(|i| *h.add(i) == 7));
            a.dealloc(h, l(100 << 10));
            // A block malloc made for someone else (as wasi-libc's cabi_realloc does) of an
            // odd size is filed under a class it can hold, never a bigger one.
            let foreign = System.alloc(l(40));
            let usable = Libc::usable_size(foreign);
            a.dealloc(foreign, l(40));
            let q = a.alloc(l(usable + 1));
            assert_ne!(q, foreign, "a block handed out for more than it holds");
            assert_eq!(a.alloc(l(usable.min(32))), foreign);
        }
    }
}
