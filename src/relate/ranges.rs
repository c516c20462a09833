//! The ranges of the learned models' numeric options (learning rate,
//! temperature, weight decay, the sequence model's sizes) and of the ridge
//! strength: values outside them overflow, vanish, make training diverge in
//! f32 or allocate past any machine's memory, so they are refused where
//! they are given, and both trainers check them again.

use std::ops::RangeInclusive;

/// AdamW's learning rate: above 1 every step overshoots; below 1e-8 no
/// parameter moves in f32.
pub const LEARNING_RATE: RangeInclusive<f64> = 1e-8..=1.0;
/// The softmax temperature: logits are divided by it, so below 1e-3 they
/// overflow f32 and above 1e3 every item scores alike.
pub const TEMPERATURE: RangeInclusive<f32> = 1e-3..=1e3;
/// AdamW's decoupled weight decay.
pub const WEIGHT_DECAY: RangeInclusive<f64> = 0.0..=10.0;
/// The sequence model's sampled negatives per domain and step: each step
/// holds a `[positions, negatives]` score matrix, which past this takes
/// gigabytes (4,096 already made an epoch take minutes).
pub const NEGATIVES: RangeInclusive<usize> = 1..=16_384;
/// How many of a user's last interactions the sequence model reads: each
/// block holds a `[batch, length, length]` attention matrix, 256 MiB per
/// copy at this length and the default batch (the literature reads 50–200).
pub const SEQUENCE_LENGTH: RangeInclusive<usize> = 1..=512;
/// The sequence model's width: its item table and AdamW's two moments hold
/// three `[items, width]` matrices, 6 GiB at a million items and this width.
pub const SEQUENCE_DIM: RangeInclusive<usize> = 1..=512;
/// The sequence model's attention blocks.
pub const SEQUENCE_LAYERS: RangeInclusive<usize> = 1..=8;
/// The mapping's ridge strength: a larger one squares past f32 in the solve.
pub const RIDGE: RangeInclusive<f32> = 0.0..=1e9;

/// `None` when `value` of `what` lies in `range`, else why not.
pub fn outside<T>(what: &str, value: T, range: &RangeInclusive<T>) -> Option<String>
where
    T: PartialOrd + std::fmt::Debug + Copy,
{
    (!range.contains(&value)).then(|| {
        format!(
            "{what} {value:?} is outside {:?} to {:?}",
            range.start(),
            range.end()
        )
    })
}
