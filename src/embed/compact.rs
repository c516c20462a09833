//! A compact copy of an item matrix for fast approximate scans: each vector
//! stored as 8-bit integers with one scale per row (`x ≈ scale · code`), a
//! quarter of the f32 bytes. Scoring large domains is bound by reading the
//! item vectors, so a scan over the codes is about four times faster; the
//! caller re-scores its best candidates exactly on the f32 vectors.
//!
//! The integer dot product is written once, portably; on x86-64 a copy
//! compiled for AVX2 is chosen at run time when the processor has it.

use super::Embeddings;

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
        let largest = x.iter().fold(0f32, |m, v| m.max(v.abs()));
        if largest == 0.0 || !largest.is_finite() {
            return Quantized {
                codes: vec![0; x.len()],
                scale: 0.0,
            };
        }
        let scale = largest / 127.0;
        let codes = x
            .iter()
            .map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8)
            .collect();
        Quantized { codes, scale }
    }
}

/// Every row of an item matrix as 8-bit codes with a scale per row.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactItems {
    dim: usize,
    codes: Vec<i8>,
    scales: Vec<f32>,
}

impl CompactItems {
    /// Quantises every row of `items`.
    pub fn new(items: &Embeddings) -> CompactItems {
        let dim = items.dim();
        let mut codes = Vec::with_capacity(items.len() * dim);
        let mut scales = Vec::with_capacity(items.len());
        for j in 0..items.len() {
            let q = Quantized::new(items.row(j));
            codes.extend_from_slice(&q.codes);
            scales.push(q.scale);
        }
        CompactItems { dim, codes, scales }
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

    /// For rows `start..start + out.len()`: the approximate dot product of
    /// each row with each query, `out[r][i] ≈ row · query_i` (a query's
    /// scale included). Each query must have [`CompactItems::dim`] codes.
    pub fn dots<const Q: usize>(
        &self,
        start: usize,
        queries: &[Quantized; Q],
        out: &mut [[f32; Q]],
    ) {
        let rows = &self.codes[start * self.dim..(start + out.len()) * self.dim];
        let scales = &self.scales[start..start + out.len()];
        let full: [Vec<i8>; Q] = std::array::from_fn(|i| {
            let mut q = queries[i].codes.clone();
            q.resize(self.dim, 0);
            q
        });
        let codes: [&[i8]; Q] = std::array::from_fn(|i| full[i].as_slice());
        let mut raw = vec![[0i32; Q]; out.len()];
        integer_dots(rows, self.dim, &codes, &mut raw);
        for ((o, r), &s) in out.iter_mut().zip(&raw).zip(scales) {
            for ((o, r), q) in o.iter_mut().zip(r).zip(queries) {
                *o = s * q.scale * *r as f32;
            }
        }
    }
}

/// `out[r][i] = Σ rows[r] · queries[i]` in exact integer arithmetic, with
/// the fastest kernel this processor runs. Each query has `dim` values.
fn integer_dots<const Q: usize>(
    rows: &[i8],
    dim: usize,
    queries: &[&[i8]; Q],
    out: &mut [[i32; Q]],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512vnni")
        && std::arch::is_x86_feature_detected!("avx512bw")
    {
        // SAFETY: the processor supports AVX-512 F, BW and VNNI (checked
        // just above; BW implies F), the only requirement of the kernel.
        unsafe { integer_dots_vnni(rows, dim, queries, out) };
        return;
    }
    let wide: [Vec<i16>; Q] =
        std::array::from_fn(|i| queries[i].iter().map(|&c| i16::from(c)).collect());
    let wide: [&[i16]; Q] = std::array::from_fn(|i| wide[i].as_slice());
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor supports AVX2 (checked just above), the
        // only requirement of `integer_dots_avx2`.
        unsafe { integer_dots_avx2(rows, dim, &wide, out) };
        return;
    }
    integer_dots_portable(rows, dim, &wide, out);
}

/// The AVX-512 VNNI kernel: 64 codes per instruction and query
/// (`vpdpbusd`, unsigned × signed bytes). Row codes are made unsigned by
/// flipping their sign bit (`c + 128`), and `128 · Σ query` is taken back
/// off at the end; a row's last partial 64 are read with a mask.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn integer_dots_vnni<const Q: usize>(
    rows: &[i8],
    dim: usize,
    queries: &[&[i8]; Q],
    out: &mut [[i32; Q]],
) {
    use std::arch::x86_64::{
        _MM_HINT_T0, _mm_prefetch, _mm512_dpbusd_epi32, _mm512_maskz_loadu_epi8,
        _mm512_reduce_add_epi32, _mm512_set1_epi8, _mm512_setzero_si512, _mm512_xor_si512,
    };
    assert!(
        queries.iter().all(|q| q.len() >= dim),
        "a query is shorter than the rows"
    );
    let bias: [i32; Q] =
        std::array::from_fn(|i| 128 * queries[i][..dim].iter().map(|&c| i32::from(c)).sum::<i32>());
    let flip = _mm512_set1_epi8(i8::MIN);
    let mask = |i: usize| -> u64 {
        let n = (dim - i).min(64);
        if n == 64 { u64::MAX } else { (1u64 << n) - 1 }
    };
    for (row, o) in rows.chunks_exact(dim).zip(out.iter_mut()) {
        let ahead = row.as_ptr().wrapping_add(PREFETCH_ROWS * dim);
        for line in (0..dim).step_by(64) {
            // A prefetch never faults, even past the slice's end.
            _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(line));
        }
        let mut acc = [_mm512_setzero_si512(); Q];
        for i in (0..dim).step_by(64) {
            let m = mask(i);
            // SAFETY: the mask covers only the row's bytes i..min(i + 64,
            // dim); masked-off bytes are not read.
            let x = unsafe { _mm512_maskz_loadu_epi8(m, row.as_ptr().add(i)) };
            // Masked-off bytes become 128 here, but meet a 0 in the query.
            let x = _mm512_xor_si512(x, flip);
            for (acc, q) in acc.iter_mut().zip(queries) {
                // SAFETY: as above; every query has at least dim values.
                let q = unsafe { _mm512_maskz_loadu_epi8(m, q.as_ptr().add(i)) };
                *acc = _mm512_dpbusd_epi32(*acc, x, q);
            }
        }
        for ((o, acc), b) in o.iter_mut().zip(acc).zip(bias) {
            *o = _mm512_reduce_add_epi32(acc) - b;
        }
    }
}

/// How many rows ahead the AVX2 kernel prefetches.
#[cfg(target_arch = "x86_64")]
const PREFETCH_ROWS: usize = 8;

/// The AVX2 kernel: 16 codes of a row widened to 16 bits once, then one
/// multiply-add (`vpmaddwd`) per query.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn integer_dots_avx2<const Q: usize>(
    rows: &[i8],
    dim: usize,
    queries: &[&[i16]; Q],
    out: &mut [[i32; Q]],
) {
    use std::arch::x86_64::{
        __m128i, __m256i, _MM_HINT_T0, _mm_loadu_si128, _mm_prefetch, _mm256_add_epi32,
        _mm256_cvtepi8_epi16, _mm256_loadu_si256, _mm256_madd_epi16, _mm256_setzero_si256,
        _mm256_storeu_si256,
    };
    let body = dim - dim % 16;
    assert!(
        queries.iter().all(|q| q.len() >= dim),
        "a query is shorter than the rows"
    );
    for (row, o) in rows.chunks_exact(dim).zip(out.iter_mut()) {
        // Ask for the row a few ahead now: one stream of short rows keeps
        // the hardware prefetcher from running far enough ahead.
        let ahead = row.as_ptr().wrapping_add(PREFETCH_ROWS * dim);
        for line in (0..dim).step_by(64) {
            // A prefetch never faults, even past the slice's end.
            _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(line));
        }
        let mut acc = [_mm256_setzero_si256(); Q];
        for i in (0..body).step_by(16) {
            // SAFETY: i + 16 ≤ body ≤ dim = row.len(), and every query has at
            // least dim values (asserted above); unaligned loads are allowed.
            let x = unsafe { _mm_loadu_si128(row.as_ptr().add(i).cast::<__m128i>()) };
            let x = _mm256_cvtepi8_epi16(x);
            for (acc, q) in acc.iter_mut().zip(queries) {
                // SAFETY: as above.
                let q = unsafe { _mm256_loadu_si256(q.as_ptr().add(i).cast::<__m256i>()) };
                *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(x, q));
            }
        }
        for ((o, acc), q) in o.iter_mut().zip(acc).zip(queries) {
            let mut lanes = [0i32; 8];
            // SAFETY: `lanes` is 32 bytes; unaligned stores are allowed.
            unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast::<__m256i>(), acc) };
            let tail: i32 = row[body..]
                .iter()
                .zip(&q[body..dim])
                .map(|(&a, &b)| i32::from(a) * i32::from(b))
                .sum();
            *o = lanes.iter().sum::<i32>() + tail;
        }
    }
}

/// The kernel for every processor.
fn integer_dots_portable<const Q: usize>(
    rows: &[i8],
    dim: usize,
    queries: &[&[i16]; Q],
    out: &mut [[i32; Q]],
) {
    for (row, o) in rows.chunks_exact(dim).zip(out.iter_mut()) {
        for (q, o) in queries.iter().zip(o.iter_mut()) {
            *o = row
                .iter()
                .zip(q.iter())
                .map(|(&a, &b)| i32::from(a) * i32::from(b))
                .sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantised_dots_are_close_to_exact_and_exact_in_integers() {
        let dim = 37;
        let rows: Vec<f32> = (0..dim * 5)
            .map(|i| ((i * 7919 % 211) as f32 / 105.0) - 1.0)
            .collect();
        let items = Embeddings::new(dim, rows);
        let compact = CompactItems::new(&items);
        assert_eq!(compact.len(), 5);
        assert_eq!(compact.bytes(), 5 * dim + 5 * 4);
        let q: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.37).sin()).collect();
        let queries = [Quantized::new(&q)];
        let mut out = vec![[0f32; 1]; 4];
        compact.dots(1, &queries, &mut out);
        for (r, o) in out.iter().enumerate() {
            let exact = crate::relate::dot(items.row(r + 1), &q);
            assert!((o[0] - exact).abs() < 0.05, "row {r}: {} vs {exact}", o[0]);
        }
        // Every kernel this processor runs agrees with the portable one
        // exactly, for two queries, extreme codes and a partial last block.
        let mut second: Vec<i8> = (0..dim)
            .map(|i| if i % 2 == 0 { 127 } else { -127 })
            .collect();
        second[0] = -128;
        let codes = [queries[0].codes.as_slice(), second.as_slice()];
        let wide: Vec<Vec<i16>> = codes
            .iter()
            .map(|q| q.iter().map(|&c| i16::from(c)).collect())
            .collect();
        let wide = [wide[0].as_slice(), wide[1].as_slice()];
        let mut rows = compact.codes.clone();
        rows[3] = -128;
        rows[dim + 1] = 127;
        let mut slow = vec![[0i32; 2]; 5];
        integer_dots_portable(&rows, dim, &wide, &mut slow);
        let mut fast = vec![[0i32; 2]; 5];
        integer_dots(&rows, dim, &codes, &mut fast);
        assert_eq!(fast, slow);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            let mut avx2 = vec![[0i32; 2]; 5];
            // SAFETY: AVX2 is supported (checked just above).
            unsafe { integer_dots_avx2(&rows, dim, &wide, &mut avx2) };
            assert_eq!(avx2, slow);
        }
    }

    #[test]
    fn a_zero_vector_quantises_to_zero() {
        let q = Quantized::new(&[0.0, 0.0]);
        assert_eq!(q.scale, 0.0);
        assert_eq!(q.codes, vec![0, 0]);
    }
}
