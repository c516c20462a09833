//! A compact copy of an item matrix for fast approximate scans: each vector
//! stored as 4-bit integers with one scale per row (`x ≈ scale · code`,
//! codes in -7..=7), an eighth of the f32 bytes. Scoring a large domain is
//! bound by reading the item vectors, so a scan over the codes is several
//! times faster; the caller re-scores its best candidates exactly on the
//! f32 vectors. Queries are quantised to 8 bits.
//!
//! A row's codes are packed two to a byte: byte `k` holds dimension `k` in
//! its low half and dimension `k + half` in its high half (`half` =
//! ⌈dim / 2⌉), each stored as `code + 8` (1..=15), so one pass over the
//! bytes meets the query's first half through the low halves and its second
//! half through the high halves. The integer dot product is written once
//! portably; on x86-64 kernels for AVX-512 VNNI and AVX2 are chosen at run
//! time when the processor has them.

use crate::embed::Embeddings;

/// A vector quantised to 8-bit integers: `x ≈ scale · code`.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantized {
    /// The codes, in `-127..=127`.
    pub codes: Vec<i8>,
    /// The step of one code.
    pub scale: f32,
}

impl Quantized {
    /// Quantises `x` symmetrically: the largest magnitude becomes ±127.
    pub fn new(x: &[f32]) -> Quantized {
        let (codes, scale) = quantise(x, 127);
        Quantized {
            codes: codes.into_iter().map(|c| c as i8).collect(),
            scale,
        }
    }
}

/// Symmetric quantisation of `x` to `-top..=top`: the codes and the step.
/// A zero or non-finite vector gets zero codes and step 0.
fn quantise(x: &[f32], top: i32) -> (Vec<i32>, f32) {
    let largest = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    if largest == 0.0 || !largest.is_finite() {
        return (vec![0; x.len()], 0.0);
    }
    let scale = largest / top as f32;
    let codes = x
        .iter()
        .map(|v| ((v / scale).round() as i32).clamp(-top, top))
        .collect();
    (codes, scale)
}

/// The offset stored with each 4-bit code (`stored = code + 8`).
const NIBBLE_OFFSET: i32 = 8;

/// Every row of an item matrix as packed 4-bit codes with a scale per row.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactItems {
    dim: usize,
    /// Bytes per row: ⌈dim / 2⌉.
    half: usize,
    codes: Vec<u8>,
    scales: Vec<f32>,
}

impl CompactItems {
    /// Quantises every row of `items`.
    pub fn new(items: &Embeddings) -> CompactItems {
        let dim = items.dim();
        let half = dim.div_ceil(2);
        let mut codes = Vec::with_capacity(items.len() * half);
        let mut scales = Vec::with_capacity(items.len());
        for j in 0..items.len() {
            let (q, scale) = quantise(items.row(j), 7);
            let stored = |d: usize| (q.get(d).copied().unwrap_or(0) + NIBBLE_OFFSET) as u8;
            codes.extend((0..half).map(|k| stored(k) | (stored(k + half) << 4)));
            scales.push(scale);
        }
        CompactItems {
            dim,
            half,
            codes,
            scales,
        }
    }

    /// The vector size.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.scales.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.scales.is_empty()
    }

    /// Bytes the codes and scales take.
    pub fn bytes(&self) -> usize {
        self.codes.len() + self.scales.len() * std::mem::size_of::<f32>()
    }

    /// `q` prepared for scans of these rows: split into the halves the
    /// packed bytes meet (a query shorter than [`CompactItems::dim`] counts
    /// as padded with zeros). Prepare once per scan, not per block.
    pub fn query(&self, q: &Quantized) -> CompactQuery {
        let code = |d: usize| q.codes.get(d).copied().unwrap_or(0);
        let low: Vec<i8> = (0..self.half).map(code).collect();
        let high: Vec<i8> = (self.half..2 * self.half).map(code).collect();
        let widen = |v: &[i8]| v.iter().map(|&c| i16::from(c)).collect();
        CompactQuery {
            offset: NIBBLE_OFFSET * low.iter().chain(&high).map(|&c| i32::from(c)).sum::<i32>(),
            low16: widen(&low),
            high16: widen(&high),
            low,
            high,
            scale: q.scale,
        }
    }

    /// For rows `start..start + out.len()`: the approximate dot product of
    /// each row with each query, `out[r][i] ≈ row · query_i` (scales
    /// included). The queries come from [`CompactItems::query`].
    pub fn dots<const Q: usize>(
        &self,
        start: usize,
        queries: &[CompactQuery; Q],
        out: &mut [[f32; Q]],
    ) {
        // The integer dots of up to 64 rows at a time, on the stack.
        const STEP: usize = 64;
        let mut raw = [[0i32; Q]; STEP];
        for (c, out) in out.chunks_mut(STEP).enumerate() {
            let first = start + c * STEP;
            let rows = &self.codes[first * self.half..(first + out.len()) * self.half];
            let scales = &self.scales[first..first + out.len()];
            let raw = &mut raw[..out.len()];
            nibble_dots(rows, self.half, queries, raw);
            for ((o, r), &s) in out.iter_mut().zip(raw.iter()).zip(scales) {
                for ((o, r), q) in o.iter_mut().zip(r).zip(queries) {
                    *o = s * q.scale * *r as f32;
                }
            }
        }
    }
}

/// A query as the packed rows meet it (see [`CompactItems::query`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CompactQuery {
    /// Dimensions `0..half`, met by the low nibbles.
    low: Vec<i8>,
    /// Dimensions `half..2·half`, met by the high nibbles.
    high: Vec<i8>,
    /// `low` widened to 16 bits (the AVX2 kernel's operand).
    low16: Vec<i16>,
    /// `high` widened to 16 bits.
    high16: Vec<i16>,
    /// `8 · Σ query`: what the stored offset adds to every dot product.
    offset: i32,
    /// The query's quantisation step.
    scale: f32,
}

/// `out[r][i] = Σ_d code_r[d] · query_i[d]` in exact integer arithmetic
/// over rows of `half` packed bytes, with the fastest kernel this processor
/// runs.
fn nibble_dots<const Q: usize>(
    rows: &[u8],
    half: usize,
    queries: &[CompactQuery; Q],
    out: &mut [[i32; Q]],
) {
    assert!(
        queries
            .iter()
            .all(|q| q.low.len() == half && q.high.len() == half),
        "a query does not fit the rows"
    );
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512vnni")
        && std::arch::is_x86_feature_detected!("avx512bw")
    {
        // SAFETY: the processor supports AVX-512 F, BW and VNNI (checked
        // just above; BW implies F), the only requirement of the kernels.
        unsafe {
            match half {
                128 => nibble_dots_vnni_whole::<Q, 2>(rows, queries, out),
                192 => nibble_dots_vnni_whole::<Q, 3>(rows, queries, out),
                256 => nibble_dots_vnni_whole::<Q, 4>(rows, queries, out),
                384 => nibble_dots_vnni_whole::<Q, 6>(rows, queries, out),
                _ => nibble_dots_vnni(rows, half, queries, out),
            }
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor supports AVX2 (checked just above), the
        // only requirement of the kernel.
        unsafe { nibble_dots_avx2(rows, half, queries, out) };
        return;
    }
    nibble_dots_portable(rows, half, queries, out);
}

/// How many rows ahead the x86-64 kernels prefetch: one stream of short
/// rows keeps the hardware prefetcher from running far enough ahead.
#[cfg(target_arch = "x86_64")]
const PREFETCH_ROWS: usize = 64;

/// Asks for the row [`PREFETCH_ROWS`] after `row` (rows of `row.len()`
/// bytes), one cache line at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse")]
#[inline]
fn prefetch_ahead(row: &[u8]) {
    use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    let ahead = row.as_ptr().wrapping_add(PREFETCH_ROWS * row.len());
    for line in (0..row.len()).step_by(64) {
        // A prefetch never faults, even past the slice's end.
        _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(line).cast::<i8>());
    }
}

/// The AVX-512 VNNI kernel: 64 packed bytes at a time, their low and high
/// halves each multiplied into the query with one `vpdpbusd` (unsigned ×
/// signed bytes); a row's last partial 64 are read with a mask (masked-off
/// bytes are 0 and meet zeros of the query).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn nibble_dots_vnni<const Q: usize>(
    rows: &[u8],
    half: usize,
    queries: &[CompactQuery; Q],
    out: &mut [[i32; Q]],
) {
    use std::arch::x86_64::{
        _mm512_and_si512, _mm512_dpbusd_epi32, _mm512_maskz_loadu_epi8, _mm512_reduce_add_epi32,
        _mm512_set1_epi8, _mm512_setzero_si512, _mm512_srli_epi16,
    };
    let nibble = _mm512_set1_epi8(0x0f);
    let mask = |i: usize| -> u64 {
        let n = (half - i).min(64);
        if n == 64 { u64::MAX } else { (1u64 << n) - 1 }
    };
    for (row, o) in rows.chunks_exact(half).zip(out.iter_mut()) {
        prefetch_ahead(row);
        let mut acc = [_mm512_setzero_si512(); Q];
        for i in (0..half).step_by(64) {
            let m = mask(i);
            // SAFETY: the mask covers only bytes i..min(i + 64, half) of the
            // row; masked-off bytes are not read.
            let x = unsafe { _mm512_maskz_loadu_epi8(m, row.as_ptr().add(i).cast::<i8>()) };
            let low = _mm512_and_si512(x, nibble);
            let high = _mm512_and_si512(_mm512_srli_epi16::<4>(x), nibble);
            for (acc, q) in acc.iter_mut().zip(queries) {
                // SAFETY: as above; each half of a query has `half` values.
                let (ql, qh) = unsafe {
                    (
                        _mm512_maskz_loadu_epi8(m, q.low.as_ptr().add(i)),
                        _mm512_maskz_loadu_epi8(m, q.high.as_ptr().add(i)),
                    )
                };
                *acc = _mm512_dpbusd_epi32(*acc, low, ql);
                *acc = _mm512_dpbusd_epi32(*acc, high, qh);
            }
        }
        for ((o, acc), q) in o.iter_mut().zip(acc).zip(queries) {
            *o = _mm512_reduce_add_epi32(acc) - q.offset;
        }
    }
}

/// The AVX-512 VNNI kernel for rows of exactly `C` · 64 packed bytes (the
/// common model sizes: 256, 384, 512 and 768 dimensions): no masks, and
/// the query held in registers across rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn nibble_dots_vnni_whole<const Q: usize, const C: usize>(
    rows: &[u8],
    queries: &[CompactQuery; Q],
    out: &mut [[i32; Q]],
) {
    use std::arch::x86_64::{
        __m512i, _mm512_and_si512, _mm512_dpbusd_epi32, _mm512_loadu_si512,
        _mm512_reduce_add_epi32, _mm512_set1_epi8, _mm512_setzero_si512, _mm512_srli_epi16,
    };
    let half = 64 * C;
    assert!(
        queries
            .iter()
            .all(|q| q.low.len() == half && q.high.len() == half),
        "a query does not fit the rows"
    );
    let nibble = _mm512_set1_epi8(0x0f);
    let mut low_q = [[_mm512_setzero_si512(); C]; Q];
    let mut high_q = [[_mm512_setzero_si512(); C]; Q];
    for ((low, high), q) in low_q.iter_mut().zip(high_q.iter_mut()).zip(queries) {
        for c in 0..C {
            // SAFETY: each half of a query has `half` = 64 · C values
            // (asserted above); unaligned loads are allowed.
            unsafe {
                low[c] = _mm512_loadu_si512(q.low.as_ptr().add(64 * c).cast::<__m512i>());
                high[c] = _mm512_loadu_si512(q.high.as_ptr().add(64 * c).cast::<__m512i>());
            }
        }
    }
    for (row, o) in rows.chunks_exact(half).zip(out.iter_mut()) {
        prefetch_ahead(row);
        let mut acc = [_mm512_setzero_si512(); Q];
        for c in 0..C {
            // SAFETY: 64 · (c + 1) ≤ half = row.len().
            let x = unsafe { _mm512_loadu_si512(row.as_ptr().add(64 * c).cast::<__m512i>()) };
            let low = _mm512_and_si512(x, nibble);
            let high = _mm512_and_si512(_mm512_srli_epi16::<4>(x), nibble);
            for q in 0..Q {
                acc[q] = _mm512_dpbusd_epi32(acc[q], low, low_q[q][c]);
                acc[q] = _mm512_dpbusd_epi32(acc[q], high, high_q[q][c]);
            }
        }
        for ((o, acc), q) in o.iter_mut().zip(acc).zip(queries) {
            *o = _mm512_reduce_add_epi32(acc) - q.offset;
        }
    }
}

/// The AVX2 kernel: 16 packed bytes at a time, each half widened to 16
/// bits and multiplied into the (widened) query with `vpmaddwd`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn nibble_dots_avx2<const Q: usize>(
    rows: &[u8],
    half: usize,
    queries: &[CompactQuery; Q],
    out: &mut [[i32; Q]],
) {
    use std::arch::x86_64::{
        __m128i, __m256i, _mm_and_si128, _mm_loadu_si128, _mm_set1_epi8, _mm_srli_epi16,
        _mm256_add_epi32, _mm256_cvtepu8_epi16, _mm256_loadu_si256, _mm256_madd_epi16,
        _mm256_setzero_si256, _mm256_storeu_si256,
    };
    let body = half - half % 16;
    let nibble = _mm_set1_epi8(0x0f);
    for (row, o) in rows.chunks_exact(half).zip(out.iter_mut()) {
        prefetch_ahead(row);
        let mut acc = [_mm256_setzero_si256(); Q];
        for i in (0..body).step_by(16) {
            // SAFETY: i + 16 ≤ body ≤ half = row.len(); unaligned loads are
            // allowed.
            let x = unsafe { _mm_loadu_si128(row.as_ptr().add(i).cast::<__m128i>()) };
            let low = _mm256_cvtepu8_epi16(_mm_and_si128(x, nibble));
            let high = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16::<4>(x), nibble));
            for (acc, q) in acc.iter_mut().zip(queries) {
                // SAFETY: each widened half has `half` values, so i + 16 fits.
                let (ql, qh) = unsafe {
                    (
                        _mm256_loadu_si256(q.low16.as_ptr().add(i).cast::<__m256i>()),
                        _mm256_loadu_si256(q.high16.as_ptr().add(i).cast::<__m256i>()),
                    )
                };
                *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(low, ql));
                *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(high, qh));
            }
        }
        for ((o, acc), q) in o.iter_mut().zip(acc).zip(queries) {
            let mut lanes = [0i32; 8];
            // SAFETY: `lanes` is 32 bytes; unaligned stores are allowed.
            unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast::<__m256i>(), acc) };
            *o = lanes.iter().sum::<i32>() + tail_dot(&row[body..], q, body) - q.offset;
        }
    }
}

/// The packed bytes `bytes` (starting at byte `from` of a row) times the
/// query's matching values, offset not removed.
fn tail_dot(bytes: &[u8], q: &CompactQuery, from: usize) -> i32 {
    bytes
        .iter()
        .enumerate()
        .map(|(k, &b)| {
            i32::from(b & 0x0f) * i32::from(q.low[from + k])
                + i32::from(b >> 4) * i32::from(q.high[from + k])
        })
        .sum()
}

/// The kernel for every processor.
fn nibble_dots_portable<const Q: usize>(
    rows: &[u8],
    half: usize,
    queries: &[CompactQuery; Q],
    out: &mut [[i32; Q]],
) {
    for (row, o) in rows.chunks_exact(half).zip(out.iter_mut()) {
        for (o, q) in o.iter_mut().zip(queries) {
            *o = tail_dot(row, q, 0) - q.offset;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` rows of `dim` values spread over [-1, 1].
    fn rows(n: usize, dim: usize) -> Embeddings {
        let data = (0..dim * n)
            .map(|i| ((i * 7919 % 211) as f32 / 105.0) - 1.0)
            .collect();
        Embeddings::new(dim, data)
    }

    #[test]
    fn approximate_dots_are_close_to_exact() {
        for dim in [37, 384] {
            let items = rows(5, dim);
            let compact = CompactItems::new(&items);
            assert_eq!(compact.len(), 5);
            assert_eq!(compact.bytes(), 5 * dim.div_ceil(2) + 5 * 4);
            let q: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.37).sin()).collect();
            let mut out = vec![[0f32; 1]; 4];
            compact.dots(1, &[compact.query(&Quantized::new(&q))], &mut out);
            for (r, o) in out.iter().enumerate() {
                let exact = crate::embed::dot(items.row(r + 1), &q);
                // 4-bit codes: about 1/14 of the row's largest value per
                // step, so a few percent of the norms' product.
                let bound = 0.04 * (dim as f32);
                assert!(
                    (o[0] - exact).abs() < bound,
                    "dim {dim} row {r}: {} vs {exact}",
                    o[0]
                );
            }
        }
    }

    #[test]
    fn every_kernel_agrees_with_the_portable_one() {
        for dim in [37, 130, 256, 384, 768] {
            let compact = CompactItems::new(&rows(9, dim));
            let half = compact.half;
            // Extreme query codes, both halves.
            let first: Vec<i8> = (0..dim)
                .map(|i| ((i * 31 % 255) as i32 - 127) as i8)
                .collect();
            let mut second: Vec<i8> = (0..dim)
                .map(|i| if i % 2 == 0 { 127 } else { -127 })
                .collect();
            second[0] = -128;
            let prepare = |codes: &[i8]| {
                compact.query(&Quantized {
                    codes: codes.to_vec(),
                    scale: 1.0,
                })
            };
            let halves = [prepare(&first), prepare(&second)];
            let mut want = vec![[0i32; 2]; 9];
            nibble_dots_portable(&compact.codes, half, &halves, &mut want);
            // The portable kernel against the unpacked codes.
            for (r, w) in want.iter().enumerate() {
                let unpacked: Vec<i32> = (0..dim)
                    .map(|d| {
                        let byte = compact.codes[r * half + d % half];
                        let nib = if d < half { byte & 0x0f } else { byte >> 4 };
                        i32::from(nib) - NIBBLE_OFFSET
                    })
                    .collect();
                let direct: i32 = unpacked
                    .iter()
                    .zip(&first)
                    .map(|(c, &q)| c * i32::from(q))
                    .sum();
                assert_eq!(w[0], direct, "dim {dim} row {r}");
            }
            let mut got = vec![[0i32; 2]; 9];
            nibble_dots(&compact.codes, half, &halves, &mut got);
            assert_eq!(got, want, "dim {dim}: the dispatched kernel");
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                let mut avx2 = vec![[0i32; 2]; 9];
                // SAFETY: AVX2 is supported (checked just above).
                unsafe { nibble_dots_avx2(&compact.codes, half, &halves, &mut avx2) };
                assert_eq!(avx2, want, "dim {dim}: AVX2");
            }
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512vnni")
                && std::arch::is_x86_feature_detected!("avx512bw")
            {
                let mut masked = vec![[0i32; 2]; 9];
                // SAFETY: AVX-512 BW and VNNI are supported (checked just
                // above).
                unsafe { nibble_dots_vnni(&compact.codes, half, &halves, &mut masked) };
                assert_eq!(masked, want, "dim {dim}: AVX-512, masked rows");
            }
        }
    }

    #[test]
    fn a_zero_vector_quantises_to_zero() {
        let q = Quantized::new(&[0.0, 0.0]);
        assert_eq!(q.scale, 0.0);
        assert_eq!(q.codes, vec![0, 0]);
    }
}
