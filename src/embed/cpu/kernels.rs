//! The CPU encoder's element-wise kernels: exact-erf GELU and the other
//! activations with the bias folded in, softmax, and layer norm with the
//! residual and bias folded in. Each is written once as plain Rust and
//! compiled three times — for AVX-512, for AVX2 with FMA, and portable —
//! and [`Kernels`] picks one at run time from what the processor has (the
//! int8 product's own levels, VNNI and AMX, are chosen here too).
//! `CROSSREC_CPU_KERNELS=portable|avx2|avx512` caps the choice, so the
//! fallbacks run (and are tested) on any machine.

use std::f32::consts::{FRAC_1_SQRT_2, LOG2_E};

/// An instruction-set level of the kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Baseline code for any processor.
    Portable,
    /// x86-64 with AVX2 and FMA.
    Avx2,
    /// x86-64 with AVX-512 (F, BW, VL), AVX2 and FMA.
    Avx512,
    /// AVX-512 with VNNI, plus AMX int8 tiles the operating system lets
    /// this process use: the int8 product runs on tiles, everything else
    /// as at [`Level::Avx512`].
    Amx,
}

/// Every level, lowest first.
const LEVELS: [Level; 4] = [Level::Portable, Level::Avx2, Level::Avx512, Level::Amx];

impl Level {
    /// The name used in messages and `CROSSREC_CPU_KERNELS`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Portable => "portable",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
            Level::Amx => "amx",
        }
    }

    fn parse(text: &str) -> Option<Level> {
        LEVELS
            .into_iter()
            .find(|level| level.name() == text.trim().to_ascii_lowercase())
    }
}

/// The kernels this processor can run: a [`Level`] no higher than what it
/// has. Only [`Kernels::detect`] and [`Kernels::all`] make one, which is
/// what makes the unsafe calls into the feature-specific code sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernels {
    level: Level,
    /// AVX-512 VNNI, for the int8 matrix product.
    vnni: bool,
}

/// The variable that caps the kernel level.
pub const KERNELS_VARIABLE: &str = "CROSSREC_CPU_KERNELS";

/// `CROSSREC_CPU_KERNELS` names no kernel level.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{KERNELS_VARIABLE} is {0:?}; expected portable, avx2, avx512 or amx")]
pub struct KernelsError(pub String);

impl Kernels {
    /// The best kernels this processor runs, capped by `cap` and by
    /// `CROSSREC_CPU_KERNELS` when it is set.
    pub fn detect(cap: Option<Level>) -> Result<Kernels, KernelsError> {
        let best = Self::best().capped(cap.unwrap_or(Level::Amx));
        match std::env::var(KERNELS_VARIABLE) {
            Err(_) => Ok(best),
            Ok(text) => match Level::parse(&text) {
                Some(cap) => Ok(best.capped(cap)),
                None => Err(KernelsError(text)),
            },
        }
    }

    /// Every level this processor runs, lowest first.
    pub fn all() -> Vec<Kernels> {
        let best = Self::best();
        LEVELS
            .into_iter()
            .filter(|&level| level <= best.level)
            .map(|level| best.capped(level))
            .collect()
    }

    fn best() -> Kernels {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
            let avx512 = avx2
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vl");
            let vnni = avx512 && is_x86_feature_detected!("avx512vnni");
            let level = if vnni && super::amx::available() {
                Level::Amx
            } else if avx512 {
                Level::Avx512
            } else if avx2 {
                Level::Avx2
            } else {
                Level::Portable
            };
            Kernels { level, vnni }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Kernels {
            level: Level::Portable,
            vnni: false,
        }
    }

    /// These kernels, at most at level `cap`.
    pub fn capped(self, cap: Level) -> Kernels {
        let level = self.level.min(cap);
        Kernels {
            level,
            vnni: self.vnni && level >= Level::Avx512,
        }
    }

    /// The level in use.
    pub fn level(self) -> Level {
        self.level
    }

    /// Whether the int8 product may use AVX-512 VNNI.
    pub fn vnni(self) -> bool {
        self.vnni
    }

    /// Whether the int8 product runs on AMX tiles.
    pub fn amx(self) -> bool {
        self.level == Level::Amx
    }

    /// What the user is told: "avx512 + amx", "avx512 + vnni", "avx2", …
    pub fn describe(self) -> String {
        match self.level {
            Level::Amx => "avx512 + amx".to_string(),
            level if self.vnni => format!("{} + vnni", level.name()),
            level => level.name().to_string(),
        }
    }
}

/// An activation function between the two feed-forward layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// GELU with the exact error function (`gelu`).
    GeluErf,
    /// GELU's tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
    GeluTanh,
    /// `relu`.
    Relu,
    /// `silu` / `swish`: x·sigmoid(x).
    Silu,
}

/// Defines `pub fn $name(kernels, args…)` that runs `$body::<FMA>` compiled
/// for the level `kernels` allows.
macro_rules! kernel {
    ($(#[$doc:meta])* $vis:vis $name:ident($($arg:ident: $ty:ty),*) => $body:ident) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name(kernels: $crate::embed::cpu::kernels::Kernels, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn avx512($($arg: $ty),*) {
                    $body::<true>($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn avx2($($arg: $ty),*) {
                    $body::<true>($($arg),*)
                }
                use $crate::embed::cpu::kernels::Level;
                match kernels.level() {
                    // SAFETY: a `Kernels` of this level exists only when the
                    // processor has these features (`Kernels::best`).
                    Level::Avx512 | Level::Amx => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    Level::Avx2 => return unsafe { avx2($($arg),*) },
                    Level::Portable => {}
                }
            }
            $body::<false>($($arg),*)
        }
    };
}

pub(super) use kernel;

kernel! {
    /// `rows[r][c] += bias[c]` for every row of `rows` (`bias.len()` wide).
    pub add_bias(rows: &mut [f32], bias: &[f32]) => add_bias_body
}

kernel! {
    /// `rows[r][c] = act(rows[r][c] + bias[c])`.
    pub bias_activation(rows: &mut [f32], bias: &[f32], activation: Activation) => bias_activation_body
}

kernel! {
    /// Layer norm of each row of `rows` in place.
    pub layer_norm(rows: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) => layer_norm_body
}

kernel! {
    /// `x[r] = layer_norm(h[r] + bias + x[r])`: a sublayer's output joined
    /// to its input and normalised, in one pass over the rows.
    pub residual_norm(h: &[f32], bias: &[f32], x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) => residual_norm_body
}

kernel! {
    /// Softmax of each `width`-long row of `rows` in place.
    pub softmax(rows: &mut [f32], width: usize) => softmax_body
}

#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// The error function: Eigen's rational approximation on [-4, 4] (outside
/// it erf is ±1 to f32 precision), within 1e-6 of the exact value.
#[inline(always)]
fn erf<const FMA: bool>(x: f32) -> f32 {
    const ALPHA: [f32; 7] = [
        -2.726_142_3e-10,
        2.770_681_4e-8,
        -2.101_024e-6,
        -5.692_506_4e-5,
        -7.349_906e-4,
        -2.954_600_2e-3,
        -1.609_603_3e-2,
    ];
    const BETA: [f32; 5] = [
        -1.456_607_2e-5,
        -2.133_740_6e-4,
        -1.682_827e-3,
        -7.373_329e-3,
        -1.426_474e-2,
    ];
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = ALPHA[0];
    for &a in &ALPHA[1..] {
        p = madd::<FMA>(x2, p, a);
    }
    let mut q = BETA[0];
    for &b in &BETA[1..] {
        q = madd::<FMA>(x2, q, b);
    }
    x * p / q
}

/// e^x (Cephes' polynomial after range reduction), within 2 ulp on
/// [-87.3, 88]; inputs are clamped to that range, so the result is always a
/// finite normal number.
#[inline(always)]
fn exp<const FMA: bool>(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const P: [f32; 6] = [
        1.987_569_1e-4,
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ];
    let x = x.clamp(-87.336_54, 88.0);
    let n = madd::<FMA>(x, LOG2_E, 0.5).floor();
    let r = madd::<FMA>(n, -LN2_HI, x);
    let r = madd::<FMA>(n, -LN2_LO, r);
    let mut p = P[0];
    for &c in &P[1..] {
        p = madd::<FMA>(p, r, c);
    }
    let y = madd::<FMA>(p, r * r, r + 1.0);
    // n is a whole number in [-126, 127], so 2^n is a normal float. Adding
    // 1.5·2²³ puts n in the low mantissa bits, read back with integer
    // arithmetic (`n as i32` would check for NaN lane by lane, unvectorised).
    const SHIFT: f32 = 12_582_912.0;
    let n = (n + SHIFT).to_bits() as i32 - SHIFT.to_bits() as i32;
    let scale = f32::from_bits(((n + 127) as u32) << 23);
    y * scale
}

#[inline(always)]
fn activate<const FMA: bool>(x: f32, activation: Activation) -> f32 {
    match activation {
        Activation::GeluErf => 0.5 * x * (1.0 + erf::<FMA>(x * FRAC_1_SQRT_2)),
        Activation::GeluTanh => {
            // 0.5·x·(1 + tanh(u)) = x·sigmoid(2u) = x / (1 + e^(-2u)).
            const SQRT_2_OVER_PI: f32 = 0.797_884_6;
            let u = SQRT_2_OVER_PI * madd::<FMA>(0.044_715 * x * x, x, x);
            x / (1.0 + exp::<FMA>(-2.0 * u))
        }
        Activation::Relu => x.max(0.0),
        Activation::Silu => x / (1.0 + exp::<FMA>(-x)),
    }
}

#[inline(always)]
fn add_bias_body<const FMA: bool>(rows: &mut [f32], bias: &[f32]) {
    for row in rows.chunks_exact_mut(bias.len()) {
        for (x, b) in row.iter_mut().zip(bias) {
            *x += b;
        }
    }
}

#[inline(always)]
fn bias_activation_body<const FMA: bool>(rows: &mut [f32], bias: &[f32], activation: Activation) {
    // One loop per activation, so each is a straight vectorised loop.
    macro_rules! each {
        ($act:expr) => {
            for row in rows.chunks_exact_mut(bias.len()) {
                for (x, b) in row.iter_mut().zip(bias) {
                    *x = activate::<FMA>(*x + b, $act);
                }
            }
        };
    }
    match activation {
        Activation::GeluErf => each!(Activation::GeluErf),
        Activation::GeluTanh => each!(Activation::GeluTanh),
        Activation::Relu => each!(Activation::Relu),
        Activation::Silu => each!(Activation::Silu),
    }
}

const LANES: usize = 16;

/// The sum of `xs`, in `LANES` independent partial sums (vectorisable).
#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (a, x) in acc.iter_mut().zip(chunk) {
            *a += x;
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// Σ (x - mean)², in partial sums like [`sum`].
#[inline(always)]
fn squared_deviation<const FMA: bool>(xs: &[f32], mean: f32) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest: f32 = chunks
        .remainder()
        .iter()
        .map(|x| (x - mean) * (x - mean))
        .sum();
    for chunk in chunks {
        for (a, x) in acc.iter_mut().zip(chunk) {
            let d = x - mean;
            *a = madd::<FMA>(d, d, *a);
        }
    }
    acc.iter().sum::<f32>() + rest
}

#[inline(always)]
fn max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    for chunk in chunks {
        for (a, &x) in acc.iter_mut().zip(chunk) {
            *a = a.max(x);
        }
    }
    acc.iter().fold(rest, |m, &x| m.max(x))
}

#[inline(always)]
fn norm_row<const FMA: bool>(row: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = row.len() as f32;
    let mean = sum(row) / n;
    let variance = squared_deviation::<FMA>(row, mean) / n;
    let scale = 1.0 / (variance + eps).sqrt();
    for ((x, g), b) in row.iter_mut().zip(gamma).zip(beta) {
        *x = madd::<FMA>((*x - mean) * scale, *g, *b);
    }
}

#[inline(always)]
fn layer_norm_body<const FMA: bool>(rows: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    for row in rows.chunks_exact_mut(gamma.len()) {
        norm_row::<FMA>(row, gamma, beta, eps);
    }
}

#[inline(always)]
fn residual_norm_body<const FMA: bool>(
    h: &[f32],
    bias: &[f32],
    x: &mut [f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) {
    let width = gamma.len();
    for (row, h) in x.chunks_exact_mut(width).zip(h.chunks_exact(width)) {
        for ((x, h), b) in row.iter_mut().zip(h).zip(bias) {
            *x += h + b;
        }
        norm_row::<FMA>(row, gamma, beta, eps);
    }
}

#[inline(always)]
fn softmax_body<const FMA: bool>(rows: &mut [f32], width: usize) {
    // Rows are short (a text's length), so e^x runs as one flat loop over
    // all of them rather than row by row with scalar tails.
    for row in rows.chunks_exact_mut(width) {
        let top = max(row);
        for x in row.iter_mut() {
            *x -= top;
        }
    }
    for x in rows.iter_mut() {
        *x = exp::<FMA>(*x);
    }
    for row in rows.chunks_exact_mut(width) {
        let scale = 1.0 / sum(row);
        for x in row.iter_mut() {
            *x *= scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Vec<f32> {
        (-4000..=4000).map(|i| i as f32 * 0.0025).collect()
    }

    #[test]
    fn erf_and_exp_are_within_float_precision() {
        let mut worst_erf = 0f64;
        for x in grid() {
            let ours = f64::from(erf::<false>(x));
            worst_erf = worst_erf.max((ours - exact_erf(f64::from(x))).abs());
        }
        assert!(worst_erf < 1e-6, "erf off by {worst_erf}");
        for x in grid().into_iter().map(|x| x * 20.0) {
            let ours = exp::<true>(x);
            let exact = (f64::from(x)).exp();
            if exact < f64::from(f32::MIN_POSITIVE) || x > 88.0 {
                assert!(ours.is_finite() && ours >= 0.0, "exp({x}) = {ours}");
                continue;
            }
            let relative = ((f64::from(ours) - exact) / exact).abs();
            assert!(relative < 3e-7, "exp({x}) = {ours}, expected {exact}");
        }
    }

    /// erf in f64: its Taylor series below 3 (exact to ~1e-13 there), the
    /// asymptotic series of erfc above (within ~1e-8).
    fn exact_erf(x: f64) -> f64 {
        let a = x.abs();
        if a >= 3.0 {
            let z = 1.0 / (a * a);
            let series = 1.0 - z / 2.0 + 3.0 * z * z / 4.0 - 15.0 * z * z * z / 8.0;
            let erfc = (-a * a).exp() / (a * std::f64::consts::PI.sqrt()) * series;
            return x.signum() * (1.0 - erfc);
        }
        let mut term = x;
        let mut total = x;
        for n in 1..120 {
            term *= -x * x / n as f64;
            total += term / (2 * n + 1) as f64;
        }
        total * 2.0 / std::f64::consts::PI.sqrt()
    }

    /// Each kernel at each level against a plain f64 computation.
    #[test]
    fn every_kernel_matches_a_plain_computation_at_every_level() {
        let width = 37;
        let rows = 5;
        let data: Vec<f32> = (0..rows * width)
            .map(|i| ((i * 7919 % 113) as f32 - 56.0) * 0.11)
            .collect();
        let bias: Vec<f32> = (0..width).map(|i| (i as f32 - 18.0) * 0.05).collect();
        let gamma: Vec<f32> = (0..width).map(|i| 1.0 + i as f32 * 0.01).collect();
        let beta: Vec<f32> = (0..width).map(|i| i as f32 * -0.02).collect();
        let close = |what: &str, kernels: Kernels, ours: &[f32], expected: &[f64]| {
            for (o, e) in ours.iter().zip(expected) {
                assert!(
                    (f64::from(*o) - e).abs() < 2e-5 * (1.0 + e.abs()),
                    "{what} at {}: {o} vs {e}",
                    kernels.describe()
                );
            }
        };
        for kernels in Kernels::all() {
            for activation in [
                Activation::GeluErf,
                Activation::GeluTanh,
                Activation::Relu,
                Activation::Silu,
            ] {
                let mut ours = data.clone();
                bias_activation(kernels, &mut ours, &bias, activation);
                let expected: Vec<f64> = data
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| {
                        let v = f64::from(x) + f64::from(bias[i % width]);
                        match activation {
                            Activation::GeluErf => {
                                0.5 * v * (1.0 + exact_erf(v / std::f64::consts::SQRT_2))
                            }
                            Activation::GeluTanh => {
                                let u = (2.0 / std::f64::consts::PI).sqrt()
                                    * (v + 0.044715 * v * v * v);
                                0.5 * v * (1.0 + u.tanh())
                            }
                            Activation::Relu => v.max(0.0),
                            Activation::Silu => v / (1.0 + (-v).exp()),
                        }
                    })
                    .collect();
                close(&format!("{activation:?}"), kernels, &ours, &expected);
            }

            let mut ours = data.clone();
            softmax(kernels, &mut ours, width);
            let mut expected = Vec::new();
            for row in data.chunks(width) {
                let top = row.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
                let e: Vec<f64> = row.iter().map(|&x| f64::from(x - top).exp()).collect();
                let total: f64 = e.iter().sum();
                expected.extend(e.iter().map(|v| v / total));
            }
            close("softmax", kernels, &ours, &expected);

            let h: Vec<f32> = data.iter().map(|x| x * 0.5 + 1.0).collect();
            let mut ours = data.clone();
            residual_norm(kernels, &h, &bias, &mut ours, &gamma, &beta, 1e-12);
            let mut expected = Vec::new();
            for (row, hrow) in data.chunks(width).zip(h.chunks(width)) {
                let v: Vec<f64> = (0..width)
                    .map(|c| f64::from(row[c]) + f64::from(hrow[c]) + f64::from(bias[c]))
                    .collect();
                let mean = v.iter().sum::<f64>() / width as f64;
                let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / width as f64;
                expected.extend((0..width).map(|c| {
                    (v[c] - mean) / (var + 1e-12).sqrt() * f64::from(gamma[c]) + f64::from(beta[c])
                }));
            }
            close("residual_norm", kernels, &ours, &expected);

            let mut ours = data.clone();
            add_bias(kernels, &mut ours, &bias);
            let expected: Vec<f64> = data
                .iter()
                .enumerate()
                .map(|(i, &x)| f64::from(x) + f64::from(bias[i % width]))
                .collect();
            close("add_bias", kernels, &ours, &expected);
        }
    }

    #[test]
    fn the_cap_never_raises_the_level() {
        let best = Kernels::all()
            .last()
            .copied()
            .expect("portable always runs");
        assert_eq!(best.capped(Level::Portable).level(), Level::Portable);
        assert!(!best.capped(Level::Avx2).vnni());
        assert!(best.capped(Level::Avx512).level() <= best.level());
        assert!(!best.capped(Level::Avx512).amx());
        assert_eq!(Level::parse(" AVX2 "), Some(Level::Avx2));
        assert_eq!(Level::parse("sse"), None);
    }
}
