//! Intel AMX (Advanced Matrix Extensions) for the int8 product: whether
//! this processor has the int8 tiles and the operating system lets this
//! process use them, and the tile product itself.
//!
//! A tile is 16 rows of 64 bytes. `tdpbusd` multiplies a tile of unsigned
//! activation bytes (16 rows × 64 inputs) by a tile of signed weight bytes
//! laid out as [`super::int8`] packs them (16 groups of 4 inputs × 16
//! columns) and adds the 16 × 16 exact 32-bit sums into a third tile:
//! 16,384 multiply-adds per instruction, where AVX-512 VNNI's `vpdpbusd`
//! does 64. The product keeps four sum tiles (32 rows × 32 columns),
//! loads two activation and two weight tiles per 64 inputs, and turns each
//! finished 32 × 32 block of sums into f32 outputs while it is in the L1
//! cache ([`Rescale`]), so no matrix of sums is written out.
//!
//! Rust has no stable AMX intrinsics, so the instructions are written as
//! inline assembly; nothing else in the program touches the tile
//! registers, and each product loads its tile configuration on entry and
//! releases the tiles on exit.

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
use super::int8::Rescale;

/// Rows of activations one pass of the product covers (two tiles); the
/// caller pads its rows to a multiple of this.
pub const ROW_STEP: usize = 32;
/// Inputs one tile covers; the caller pads the depth to a multiple of this.
pub const DEPTH_STEP: usize = 64;
/// Output columns of one weight tile.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
const COLUMNS: usize = 16;

/// Whether the int8 product may run on AMX tiles here: the processor has
/// AMX-TILE and AMX-INT8 and Linux granted this process the tile state.
/// Asked once per process.
pub fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(request)
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn request() -> bool {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    // Leaf 7, sub-leaf 0: EDX bit 24 is AMX-TILE, bit 25 AMX-INT8.
    if __cpuid(0).eax < 7 {
        return false;
    }
    let features = __cpuid_count(7, 0).edx;
    if features & (1 << 24) == 0 || features & (1 << 25) == 0 {
        return false;
    }
    // Linux (5.16 and later) hands the large tile state only to a process
    // that asks for it; an older kernel or a hypervisor without it refuses.
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: arch_prctl with these arguments only changes which register
    // state this process may use; it reads and writes no memory of ours.
    unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        ) == 0
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn request() -> bool {
    false
}

/// The tile configuration: palette 1, tiles 0–7 each 16 rows of 64 bytes.
/// Tiles 0–3 hold sums, 4–5 activations, 6–7 weights.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[repr(C, align(64))]
struct Config([u8; 64]);

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
impl Config {
    fn every_tile_full() -> Config {
        let mut bytes = [0u8; 64];
        bytes[0] = 1;
        for tile in 0..8 {
            // Bytes per row (little-endian u16) from byte 16, rows from 48.
            bytes[16 + 2 * tile] = 64;
            bytes[48 + tile] = 16;
        }
        Config(bytes)
    }
}

/// `out[r][n] = rescale(Σ_k codes[r][k] · w[n][k])` for `rows` rows (a
/// multiple of [`ROW_STEP`]: `out` holds the first `out.len() / outputs`
/// of them) of `depth` codes (a multiple of [`DEPTH_STEP`]) and `blocks`
/// packed blocks of 16 weight columns (`[blocks][depth / 4][16][4]`), the
/// first `rescale.outputs()` of which are real.
///
/// # Safety
/// [`available`] must have returned true.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn product(
    codes: &[u8],
    rows: usize,
    depth: usize,
    packed: &[i8],
    blocks: usize,
    rescale: &Rescale,
    out: &mut [f32],
) {
    use std::arch::asm;
    assert!(rows.is_multiple_of(ROW_STEP) && depth.is_multiple_of(DEPTH_STEP));
    assert!(blocks.is_multiple_of(2));
    assert!(codes.len() >= rows * depth && packed.len() >= blocks * depth * COLUMNS);
    let outputs = rescale.outputs();
    assert!(outputs <= blocks * COLUMNS);
    let real = out.len() / outputs;
    assert!(real <= rows && rescale.row_scale.len() >= real && rescale.zero.len() >= real);
    // One 32 × 32 block of sums, rows 128 bytes apart.
    const WIDTH: usize = 2 * COLUMNS;
    let mut block = [0i32; ROW_STEP * WIDTH];
    let panel = depth * COLUMNS;
    let config = Config::every_tile_full();
    let (a_stride, b_stride, c_stride) = (depth, 64usize, WIDTH * 4);
    // SAFETY: AMX is available (the caller's promise); every tile load and
    // store below stays inside the slices (asserted above): an activation
    // tile is 16 rows of `depth`-strided codes from a row below `rows`, a
    // weight tile 1 KiB inside one block's panel, a sum tile 16 rows of 16
    // sums inside `block`.
    unsafe {
        asm!("ldtilecfg [{0}]", in(reg) config.0.as_ptr(), options(nostack, readonly));
        for r in (0..rows).step_by(ROW_STEP) {
            let a0 = codes.as_ptr().add(r * depth);
            let a1 = a0.add(16 * depth);
            for b in (0..blocks).step_by(2) {
                let b0 = packed.as_ptr().add(b * panel);
                let b1 = b0.add(panel);
                asm!(
                    "tilezero tmm0",
                    "tilezero tmm1",
                    "tilezero tmm2",
                    "tilezero tmm3",
                    options(nostack, nomem)
                );
                for k in (0..depth).step_by(DEPTH_STEP) {
                    asm!(
                        "tileloadd tmm4, [{a0} + {sa} * 1]",
                        "tileloadd tmm5, [{a1} + {sa} * 1]",
                        "tileloadd tmm6, [{b0} + {sb} * 1]",
                        "tileloadd tmm7, [{b1} + {sb} * 1]",
                        "tdpbusd tmm0, tmm4, tmm6",
                        "tdpbusd tmm1, tmm4, tmm7",
                        "tdpbusd tmm2, tmm5, tmm6",
                        "tdpbusd tmm3, tmm5, tmm7",
                        a0 = in(reg) a0.add(k),
                        a1 = in(reg) a1.add(k),
                        b0 = in(reg) b0.add(k * COLUMNS),
                        b1 = in(reg) b1.add(k * COLUMNS),
                        sa = in(reg) a_stride,
                        sb = in(reg) b_stride,
                        options(nostack, readonly)
                    );
                }
                let c0 = block.as_mut_ptr();
                asm!(
                    "tilestored [{c0} + {sc} * 1], tmm0",
                    "tilestored [{c1} + {sc} * 1], tmm1",
                    "tilestored [{c2} + {sc} * 1], tmm2",
                    "tilestored [{c3} + {sc} * 1], tmm3",
                    c0 = in(reg) c0,
                    c1 = in(reg) c0.add(COLUMNS),
                    c2 = in(reg) c0.add(16 * WIDTH),
                    c3 = in(reg) c0.add(16 * WIDTH + COLUMNS),
                    sc = in(reg) c_stride,
                    options(nostack)
                );
                let n = b * COLUMNS;
                let width = outputs.saturating_sub(n).min(WIDTH);
                for (i, sums) in block
                    .chunks_exact(WIDTH)
                    .enumerate()
                    .take(real.saturating_sub(r))
                {
                    let at = (r + i) * outputs + n;
                    rescale.row(r + i, n, &sums[..width], &mut out[at..at + width]);
                }
            }
        }
        asm!("tilerelease", options(nostack, nomem));
    }
}
