//! The opt-in int8 dense layer: weights quantised once per output channel
//! (symmetric, −127..127), activations per token at run time (asymmetric:
//! 0..255 spread over the token's own range, zero exactly representable),
//! products summed exactly in 32-bit integers and scaled back to f32.
//!
//! The product runs on AMX tiles ([`super::amx`]) where the processor and
//! the operating system allow them, else on AVX-512 VNNI (`vpdpbusd`: 64
//! multiply-adds of unsigned × signed bytes per instruction), else as
//! plain integer loops the compiler vectorises. Integer sums are exact, so
//! every path gives bit-identical results.

use super::amx;
use super::kernels::{Kernels, kernel};

/// Columns per packed block: one 512-bit register of 32-bit sums.
const BLOCK: usize = 16;
/// 1.5 · 2²³: added to a float below 2²², it rounds it to an integer.
const ROUNDING: f32 = 12_582_912.0;
/// Rows of activations per VNNI micro-kernel call.
const ROWS: usize = 6;
/// Blocks of 16 columns per VNNI micro-kernel call: with [`ROWS`], 24 of
/// the 32 vector registers hold sums.
const WIDE: usize = 4;

/// Packed blocks of [`BLOCK`] columns for `outputs` columns: an even
/// number, as AMX takes them in pairs (the extra columns are zero).
fn column_blocks(outputs: usize) -> usize {
    outputs.div_ceil(2 * BLOCK) * 2
}

/// Buffers the int8 product reuses from layer to layer within a batch.
#[derive(Default)]
pub struct Scratch {
    codes: Vec<u8>,
    row_scale: Vec<f32>,
    zero: Vec<i32>,
    sums: Vec<i32>,
}

impl Scratch {
    /// Room for `rows` rows of `depth` codes and `sums` integer sums.
    fn grow(&mut self, rows: usize, depth: usize, sums: usize) {
        if self.codes.len() < rows * depth {
            self.codes.resize(rows * depth, 0);
        }
        if self.row_scale.len() < rows {
            self.row_scale.resize(rows, 0.0);
            self.zero.resize(rows, 0);
        }
        if self.sums.len() < sums {
            self.sums.resize(sums, 0);
        }
    }
}

/// A dense layer's weights in int8, packed for the product.
pub struct QuantizedLinear {
    inputs: usize,
    outputs: usize,
    /// Inputs rounded up to a multiple of 64 (one AMX tile row; sixteen
    /// `vpdpbusd` groups of 4), the tail met by zero weights.
    depth: usize,
    /// `[blocks][depth / 4][16][4]`: for each block of 16 output columns,
    /// 4 consecutive inputs of each column side by side. The number of
    /// blocks is even (AMX takes them in pairs), the extra columns zero.
    packed: Vec<i8>,
    /// Per output column: the weight scale.
    scale: Vec<f32>,
    /// Per output column: Σ weights, times a row's zero point the offset
    /// of its unsigned activations.
    column_sum: Vec<i32>,
}

impl QuantizedLinear {
    /// Quantises PyTorch's `[outputs, inputs]` weight.
    pub fn new(weight: &[f32], outputs: usize, inputs: usize) -> QuantizedLinear {
        let depth = inputs.div_ceil(amx::DEPTH_STEP) * amx::DEPTH_STEP;
        let blocks = column_blocks(outputs);
        let mut packed = vec![0i8; blocks * BLOCK * depth];
        let mut scale = vec![0f32; outputs];
        let mut column_sum = vec![0i32; outputs];
        for (n, row) in weight.chunks_exact(inputs).enumerate().take(outputs) {
            let top = row.iter().fold(0f32, |m, x| m.max(x.abs()));
            let s = if top > 0.0 { top / 127.0 } else { 1.0 };
            scale[n] = s;
            let (block, lane) = (n / BLOCK, n % BLOCK);
            let mut total = 0i32;
            for (k, &w) in row.iter().enumerate() {
                let q = (w / s).round().clamp(-127.0, 127.0) as i8;
                total += i32::from(q);
                let at = ((block * depth / 4 + k / 4) * BLOCK + lane) * 4 + k % 4;
                packed[at] = q;
            }
            column_sum[n] = total;
        }
        QuantizedLinear {
            inputs,
            outputs,
            depth,
            packed,
            scale,
            column_sum,
        }
    }

    /// Output columns.
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// `out[rows, outputs] = x[rows, inputs] · Wᵀ`, in int8.
    pub fn apply(
        &self,
        kernels: Kernels,
        x: &[f32],
        rows: usize,
        out: &mut [f32],
        scratch: &mut Scratch,
    ) {
        let stride = self.padded_outputs();
        // AMX covers 32 rows per pass and rescales its sums block by block:
        // the code rows past `rows` hold whatever an earlier layer left
        // there, and their outputs are never written.
        let (padded, sums) = if kernels.amx() {
            (rows.div_ceil(amx::ROW_STEP) * amx::ROW_STEP, 0)
        } else {
            (rows, rows * stride)
        };
        scratch.grow(padded, self.depth, sums);
        let row_scale = &mut scratch.row_scale[..rows];
        let zero = &mut scratch.zero[..rows];
        quantize_rows(
            kernels,
            x,
            self.inputs,
            &mut scratch.codes[..rows * self.depth],
            self.depth,
            row_scale,
            zero,
        );
        let codes = &scratch.codes[..padded * self.depth];
        let rescale = Rescale {
            row_scale,
            zero,
            col_scale: &self.scale,
            column_sum: &self.column_sum,
        };
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        if kernels.amx() {
            let blocks = stride / BLOCK;
            let out = &mut out[..rows * self.outputs];
            // SAFETY: `Kernels::amx` is true only when `amx::available` was.
            unsafe {
                amx::product(
                    codes,
                    padded,
                    self.depth,
                    &self.packed,
                    blocks,
                    &rescale,
                    out,
                )
            };
            return;
        }
        let sums = &mut scratch.sums[..rows * stride];
        self.integer_product(kernels, codes, rows, sums);
        dequantize(kernels, sums, stride, out, &rescale);
    }

    fn padded_outputs(&self) -> usize {
        column_blocks(self.outputs) * BLOCK
    }

    /// `sums[r][n] = Σ_k codes[r][k] · w[n][k]` for every row and padded
    /// output column.
    fn integer_product(&self, kernels: Kernels, codes: &[u8], rows: usize, sums: &mut [i32]) {
        #[cfg(target_arch = "x86_64")]
        if kernels.vnni() {
            // SAFETY: `Kernels::vnni` is true only when the processor has
            // AVX-512 F, BW and VNNI.
            unsafe { self.product_vnni(codes, rows, sums) };
            return;
        }
        let _ = kernels;
        self.product_portable(codes, rows, sums);
    }

    fn product_portable(&self, codes: &[u8], rows: usize, sums: &mut [i32]) {
        let groups = self.depth / 4;
        let stride = self.padded_outputs();
        for r in 0..rows {
            let a = &codes[r * self.depth..(r + 1) * self.depth];
            for (block, panel) in self.packed.chunks_exact(groups * BLOCK * 4).enumerate() {
                let mut acc = [0i32; BLOCK];
                for (g, lanes) in panel.chunks_exact(BLOCK * 4).enumerate() {
                    let a = &a[g * 4..g * 4 + 4];
                    for (total, w) in acc.iter_mut().zip(lanes.chunks_exact(4)) {
                        *total += a
                            .iter()
                            .zip(w)
                            .map(|(&a, &w)| i32::from(a) * i32::from(w))
                            .sum::<i32>();
                    }
                }
                sums[r * stride + block * BLOCK..][..BLOCK].copy_from_slice(&acc);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    fn product_vnni(&self, codes: &[u8], rows: usize, sums: &mut [i32]) {
        let stride = self.padded_outputs();
        let groups = self.depth / 4;
        let panel = groups * BLOCK * 4;
        let blocks = self.packed.len() / panel;
        let mut r = 0;
        while r < rows {
            let take = (rows - r).min(ROWS);
            let a = &codes[r * self.depth..(r + take) * self.depth];
            let mut b = 0;
            while b < blocks {
                let wide = blocks - b >= WIDE;
                let step = if wide { WIDE } else { 1 };
                let w = &self.packed[b * panel..(b + step) * panel];
                let out = &mut sums[r * stride + b * BLOCK..];
                match (take, wide) {
                    (ROWS, true) => micro::<ROWS, WIDE>(a, self.depth, w, panel, out, stride),
                    (ROWS, false) => micro::<ROWS, 1>(a, self.depth, w, panel, out, stride),
                    (_, true) => micro_rows::<WIDE>(take, a, self.depth, w, panel, out, stride),
                    (_, false) => micro_rows::<1>(take, a, self.depth, w, panel, out, stride),
                }
                b += step;
            }
            r += take;
        }
    }
}

kernel! {
    /// Each `inputs`-wide row of `x` to unsigned bytes `round(x / scale) +
    /// zero` in `codes` (`depth` wide; the tail meets zero weights), with
    /// the row's scale (its range, 0 included, / 255) in `scales` and its
    /// zero point in `zeros`.
    quantize_rows(x: &[f32], inputs: usize, codes: &mut [u8], depth: usize, scales: &mut [f32], zeros: &mut [i32]) => quantize_rows_body
}

/// What turns a row's exact integer sums back into f32: per row its scale
/// and zero point, per output column its weight scale and weight sum.
pub struct Rescale<'a> {
    pub row_scale: &'a [f32],
    pub zero: &'a [i32],
    pub col_scale: &'a [f32],
    pub column_sum: &'a [i32],
}

impl Rescale<'_> {
    /// Output columns.
    pub fn outputs(&self) -> usize {
        self.col_scale.len()
    }

    /// `out[i] = (sums[i] - zero[r] · column_sum[n + i]) · row_scale[r] ·
    /// col_scale[n + i]`: row `r`'s sums of columns `n…` in f32.
    #[inline(always)]
    pub fn row(&self, r: usize, n: usize, sums: &[i32], out: &mut [f32]) {
        let (a, z) = (self.row_scale[r], self.zero[r]);
        let columns = self.col_scale[n..].iter().zip(&self.column_sum[n..]);
        for ((o, &s), (&w, &c)) in out.iter_mut().zip(sums).zip(columns) {
            *o = (s - z * c) as f32 * (a * w);
        }
    }
}

kernel! {
    /// Every row of `out` from the matching `stride`-wide row of `sums`
    /// ([`Rescale::row`]).
    dequantize(sums: &[i32], stride: usize, out: &mut [f32], rescale: &Rescale) => dequantize_body
}

#[inline(always)]
fn quantize_rows_body<const FMA: bool>(
    x: &[f32],
    inputs: usize,
    codes: &mut [u8],
    depth: usize,
    scales: &mut [f32],
    zeros: &mut [i32],
) {
    for (((row, out), scale), zero) in x
        .chunks_exact(inputs)
        .zip(codes.chunks_exact_mut(depth))
        .zip(scales.iter_mut())
        .zip(zeros.iter_mut())
    {
        // Range with 0 in it, in lanes (`if` rather than `max`: no NaN
        // handling, so it vectorises). `v · 0` is 0 for a finite value and
        // NaN for NaN or infinity, so the lanes' `poison` sums say whether
        // the row is finite in the same pass.
        let (mut low, mut high, mut poison) = ([0f32; BLOCK], [0f32; BLOCK], [0f32; BLOCK]);
        let chunks = row.chunks_exact(BLOCK);
        let (mut rest_low, mut rest_high, mut rest_poison) = (0f32, 0f32, 0f32);
        for &v in chunks.remainder() {
            rest_low = if v < rest_low { v } else { rest_low };
            rest_high = if v > rest_high { v } else { rest_high };
            rest_poison += v * 0.0;
        }
        for chunk in chunks {
            for (((l, h), p), &v) in low
                .iter_mut()
                .zip(high.iter_mut())
                .zip(poison.iter_mut())
                .zip(chunk)
            {
                *l = if v < *l { v } else { *l };
                *h = if v > *h { v } else { *h };
                *p += v * 0.0;
            }
        }
        let low = low.iter().fold(rest_low, |m, &t| if t < m { t } else { m });
        let high = high
            .iter()
            .fold(rest_high, |m, &t| if t > m { t } else { m });
        // A row holding NaN or infinity gets a NaN scale, so its outputs are
        // NaN and the encoder reports the text instead of a wrong vector.
        let finite = (poison.iter().sum::<f32>() + rest_poison) == 0.0;
        let s = match (finite, high > low) {
            (false, _) => f32::NAN,
            (true, true) => (high - low) / 255.0,
            (true, false) => 1.0,
        };
        let z = if finite {
            (-low / s).round_ties_even().clamp(0.0, 255.0)
        } else {
            0.0
        };
        *scale = s;
        *zero = z as i32;
        let inverse = 1.0 / s;
        for (o, &v) in out.iter_mut().zip(row) {
            let t = v * inverse + z;
            let t = if t < 0.0 { 0.0 } else { t };
            let t = if t > 255.0 { 255.0 } else { t };
            // Adding 1.5·2²³ rounds to the nearest integer and leaves it in
            // the low bits of the mantissa.
            *o = (t + ROUNDING).to_bits() as u8;
        }
        out[inputs..].fill(0);
    }
}

#[inline(always)]
fn dequantize_body<const FMA: bool>(
    sums: &[i32],
    stride: usize,
    out: &mut [f32],
    rescale: &Rescale,
) {
    let rows = out.chunks_exact_mut(rescale.outputs());
    for (r, (out, sums)) in rows.zip(sums.chunks_exact(stride)).enumerate() {
        rescale.row(r, 0, sums, out);
    }
}

/// Fewer than [`ROWS`] rows: one row at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn micro_rows<const B: usize>(
    take: usize,
    a: &[u8],
    depth: usize,
    w: &[i8],
    panel: usize,
    out: &mut [i32],
    stride: usize,
) {
    for r in 0..take {
        micro::<1, B>(
            &a[r * depth..],
            depth,
            w,
            panel,
            &mut out[r * stride..],
            stride,
        );
    }
}

/// `R` rows × `B` blocks of 16 columns: `R·B` 512-bit accumulators, one
/// `vpdpbusd` per row and block for every 4 inputs.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
fn micro<const R: usize, const B: usize>(
    a: &[u8],
    depth: usize,
    w: &[i8],
    panel: usize,
    out: &mut [i32],
    stride: usize,
) {
    use std::arch::x86_64::{
        __m512i, _mm512_dpbusd_epi32, _mm512_loadu_si512, _mm512_set1_epi32, _mm512_setzero_si512,
        _mm512_storeu_si512,
    };
    assert!(a.len() >= (R - 1) * depth + depth && w.len() >= B * panel);
    assert!(out.len() >= (R - 1) * stride + B * BLOCK);
    let groups = depth / 4;
    let mut acc = [[_mm512_setzero_si512(); B]; R];
    for g in 0..groups {
        let mut weights = [_mm512_setzero_si512(); B];
        for (b, lanes) in weights.iter_mut().enumerate() {
            // SAFETY: block b's group g is 64 bytes inside `w` (asserted above).
            *lanes = unsafe {
                _mm512_loadu_si512(w.as_ptr().add(b * panel + g * BLOCK * 4) as *const __m512i)
            };
        }
        for (r, row) in acc.iter_mut().enumerate() {
            // SAFETY: row r's group g is 4 bytes inside `a` (asserted above).
            let word =
                unsafe { (a.as_ptr().add(r * depth + g * 4) as *const i32).read_unaligned() };
            let broadcast = _mm512_set1_epi32(word);
            for (total, &lanes) in row.iter_mut().zip(&weights) {
                *total = _mm512_dpbusd_epi32(*total, broadcast, lanes);
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (b, total) in row.iter().enumerate() {
            let at = r * stride + b * BLOCK;
            // SAFETY: 16 sums at `at` lie inside `out` (asserted above).
            unsafe { _mm512_storeu_si512(out.as_mut_ptr().add(at) as *mut __m512i, *total) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel level gives the same sums, and the result is close to
    /// the f32 product, on ragged sizes: fewer rows than one AMX pass and
    /// several passes, output counts that fill part of a 32-column pair of
    /// blocks, depths that are not a multiple of 64.
    #[test]
    fn int8_products_agree_at_every_level_and_approximate_f32() {
        for (outputs, inputs, rows) in [(19, 45, 11), (40, 130, 70)] {
            product_agrees(outputs, inputs, rows);
        }
    }

    fn product_agrees(outputs: usize, inputs: usize, rows: usize) {
        let weight: Vec<f32> = (0..outputs * inputs)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.013)
            .collect();
        let x: Vec<f32> = (0..rows * inputs)
            .map(|i| ((i * 53 % 89) as f32 - 44.0) * 0.07)
            .collect();
        let layer = QuantizedLinear::new(&weight, outputs, inputs);
        let mut results = Vec::new();
        for kernels in Kernels::all() {
            let mut out = vec![0f32; rows * outputs];
            layer.apply(kernels, &x, rows, &mut out, &mut Scratch::default());
            results.push((kernels, out));
        }
        let (_, first) = &results[0];
        for (kernels, out) in &results {
            assert_eq!(out, first, "{} differs from portable", kernels.describe());
        }
        // A row with NaN or infinity comes out NaN, never a finite guess.
        for bad in [f32::NAN, f32::INFINITY] {
            for kernels in Kernels::all() {
                let mut poisoned = x.clone();
                poisoned[inputs + 3] = bad;
                let mut out = vec![0f32; rows * outputs];
                layer.apply(kernels, &poisoned, rows, &mut out, &mut Scratch::default());
                assert!(out[outputs..2 * outputs].iter().all(|v| v.is_nan()));
                assert_eq!(out[..outputs], first[..outputs]);
            }
        }
        for r in 0..rows {
            for n in 0..outputs {
                let terms = (0..inputs).map(|k| x[r * inputs + k] * weight[n * inputs + k]);
                let exact: f32 = terms.clone().sum();
                // Each factor is off by at most half a step of 1/255 of its
                // row's range, so the sum by well under 1 % of Σ|terms|.
                let magnitude: f32 = terms.map(f32::abs).sum();
                let ours = first[r * outputs + n];
                assert!(
                    (ours - exact).abs() <= 0.01 * magnitude + 1e-4,
                    "{ours} vs {exact} ({outputs} × {inputs}, row {r})"
                );
            }
        }
    }
}
