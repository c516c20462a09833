//! Entities mined from item texts, KeyBERT's way: every item's candidate
//! phrases (1–3 words, or 2–4 characters of a CJK run, never across
//! punctuation) are kept when items of more than one mined domain share
//! them and they neither start nor end with a stop word or a word common
//! in every domain;
//! the model encodes the kept phrases once, and each item keeps the few
//! whose vectors are closest to its own, diversified by maximal marginal
//! relevance ([`select`]).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use unicode_segmentation::UnicodeSegmentation;

use crate::embed::{Embeddings, dot};

/// How entities are mined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MineOptions {
    /// Entities kept per item.
    pub per_item: usize,
    /// Maximal marginal relevance's trade-off: 1 keeps the phrases closest
    /// to the item, lower values prefer phrases unlike those already kept.
    pub relevance: f32,
    /// A word in at least this share of every mined domain's items (and
    /// in at least [`COMMON_MIN`] of them) is a common word: no phrase
    /// starts or ends with one.
    pub common_share: f32,
    /// A phrase in more than this share of a domain's items (and in at
    /// least [`GENERAL_MIN`] of them) says little about an item and is left
    /// out.
    pub general_share: f32,
}

/// The fewest items a common word is in (a small domain has none).
pub const COMMON_MIN: u32 = 20;

/// The fewest items a too-general phrase is in.
pub const GENERAL_MIN: u32 = 50;

impl Default for MineOptions {
    fn default() -> Self {
        MineOptions {
            per_item: 10,
            relevance: 0.7,
            common_share: 0.01,
            general_share: 0.1,
        }
    }
}

/// The phrases mined domains' items share, and each item's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Candidates {
    /// The kept phrases, lower-case.
    pub phrases: Vec<String>,
    /// Per mined domain, per item: its kept phrases (ids into `phrases`).
    pub items: Vec<Vec<Vec<u32>>>,
    /// Phrases left out as too general (in more than the general share of
    /// a domain's items).
    pub too_general: usize,
}

/// The stop words of English and Chinese (the ISO lists of the
/// `stop-words` crate): no phrase starts or ends with one, whatever the
/// size of the data (the common words of large data are found from it).
static STOP_WORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    ["en", "zh"]
        .into_iter()
        .filter_map(stop_words::lookup)
        .flatten()
        .copied()
        .collect()
});

/// A piece of text a phrase is made of.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Token<'a> {
    /// A word of a script that separates words.
    Word(&'a str),
    /// One character of a script that does not (Han, kana).
    Cjk(&'a str),
}

/// True for a character of a script written without spaces.
fn is_cjk(c: char) -> bool {
    matches!(u32::from(c),
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xF900..=0xFAFF    // CJK Compatibility Ideographs
        | 0x20000..=0x2FA1F) // Extensions B–F, Compatibility Supplement
}

/// The runs of `text` between punctuation, each a list of tokens.
fn segments(text: &str) -> Vec<Vec<Token<'_>>> {
    let mut out = vec![Vec::new()];
    for piece in text.split_word_bounds() {
        if piece.chars().all(char::is_whitespace) {
            continue;
        }
        if !piece.chars().any(char::is_alphanumeric) {
            if out.last().is_some_and(|s| !s.is_empty()) {
                out.push(Vec::new());
            }
            continue;
        }
        let last = out.len() - 1;
        if piece.chars().all(is_cjk) {
            for (i, c) in piece.char_indices() {
                out[last].push(Token::Cjk(&piece[i..i + c.len_utf8()]));
            }
        } else {
            out[last].push(Token::Word(piece));
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// A candidate phrase: its text and its first and last units (words, or
/// characters of a CJK run).
struct Phrase<'a> {
    text: String,
    first: &'a str,
    last: &'a str,
}

/// Characters of an item's text phrases are mined from: its start, where an
/// item's title and description put what it is (and a 50 MB text costs no
/// more than a long description).
const MINED_CHARS: usize = 10_000;

/// Every candidate phrase of a lower-cased text.
fn phrases(text: &str) -> Vec<Phrase<'_>> {
    let mut out = Vec::new();
    for segment in segments(text) {
        let mut start = 0;
        while start < segment.len() {
            let cjk = matches!(segment[start], Token::Cjk(_));
            let mut end = start;
            while end < segment.len() && matches!(segment[end], Token::Cjk(_)) == cjk {
                end += 1;
            }
            let run: Vec<&str> = segment[start..end]
                .iter()
                .map(|t| match *t {
                    Token::Word(w) | Token::Cjk(w) => w,
                })
                .collect();
            let (lengths, joiner) = if cjk { (2..=4, "") } else { (1..=3, " ") };
            for n in lengths {
                for window in run.windows(n) {
                    out.push(Phrase {
                        text: window.join(joiner),
                        first: window[0],
                        last: window[n - 1],
                    });
                }
            }
            start = end;
        }
    }
    out
}

/// True when a phrase says something on its own: a letter in it, and
/// more than two characters unless it is CJK.
fn meaningful(text: &str) -> bool {
    text.chars().any(char::is_alphabetic) && (text.chars().count() > 2 || text.chars().any(is_cjk))
}

/// The candidate phrases of `domains` (each a list of item texts): those
/// shared by items of at least two of them (of two items, with one domain).
pub fn candidates(domains: &[Vec<&str>], options: &MineOptions) -> Candidates {
    let lowered: Vec<Vec<String>> = domains
        .iter()
        .map(|texts| {
            texts
                .iter()
                .map(|t| crate::text::prefix_chars(t, MINED_CHARS).to_lowercase())
                .collect()
        })
        .collect();
    // Every distinct phrase once (its text, first and last units, item
    // count per domain); each item as the ids of its phrases; each unit's
    // item count per domain.
    let n_domains = domains.len();
    let mut unit_df: HashMap<&str, Vec<u32>> = HashMap::new();
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut seen: Vec<Seen<'_>> = Vec::new();
    let mut per_item: Vec<Vec<Vec<u32>>> = Vec::with_capacity(n_domains);
    for (d, texts) in lowered.iter().enumerate() {
        let mut items = Vec::with_capacity(texts.len());
        for text in texts {
            let mut found = phrases(text);
            found.sort_by(|a, b| a.text.cmp(&b.text));
            found.dedup_by(|a, b| a.text == b.text);
            let mut units: Vec<&str> = found
                .iter()
                .filter(|p| p.first == p.last && p.text == p.first)
                .map(|p| p.first)
                .collect();
            // CJK characters are units too (no single-character phrase).
            for p in &found {
                if p.text.chars().any(is_cjk) {
                    units.push(p.first);
                    units.push(p.last);
                }
            }
            units.sort_unstable();
            units.dedup();
            for u in units {
                unit_df.entry(u).or_insert_with(|| vec![0; n_domains])[d] += 1;
            }
            let own: Vec<u32> = found
                .into_iter()
                .map(|p| {
                    let id = *ids.entry(p.text).or_insert_with(|| {
                        seen.push(Seen {
                            first: p.first,
                            last: p.last,
                            df: vec![0; n_domains],
                        });
                        (seen.len() - 1) as u32
                    });
                    seen[id as usize].df[d] += 1;
                    id
                })
                .collect();
            items.push(own);
        }
        per_item.push(items);
    }
    let sizes: Vec<f32> = domains.iter().map(|t| t.len().max(1) as f32).collect();
    let common = |unit: &str| {
        STOP_WORDS.contains(unit)
            || unit_df.get(unit).is_some_and(|df| {
                df.iter()
                    .zip(&sizes)
                    .all(|(&n, &size)| n >= COMMON_MIN && n as f32 >= options.common_share * size)
            })
    };
    // Which phrases are kept, numbered in order of first appearance.
    let mut texts: Vec<Option<String>> = vec![None; seen.len()];
    for (text, id) in ids {
        texts[id as usize] = Some(text);
    }
    let mut too_general = 0;
    let mut kept: Vec<String> = Vec::new();
    let mut new_id = vec![u32::MAX; seen.len()];
    for (id, (phrase, text)) in seen.iter().zip(texts).enumerate() {
        let Some(text) = text else { continue };
        let domains_with = phrase.df.iter().filter(|&&n| n > 0).count();
        let shared = if n_domains > 1 {
            domains_with > 1
        } else {
            phrase.df[0] > 1
        };
        if !shared || !meaningful(&text) || common(phrase.first) || common(phrase.last) {
            continue;
        }
        let general = phrase
            .df
            .iter()
            .zip(&sizes)
            .any(|(&n, &size)| n >= GENERAL_MIN && n as f32 > options.general_share * size);
        if general {
            too_general += 1;
            continue;
        }
        new_id[id] = kept.len() as u32;
        kept.push(text);
    }
    let items = per_item
        .into_iter()
        .map(|domain| {
            domain
                .into_iter()
                .map(|own| {
                    own.into_iter()
                        .map(|id| new_id[id as usize])
                        .filter(|&id| id != u32::MAX)
                        .collect()
                })
                .collect()
        })
        .collect();
    Candidates {
        phrases: kept,
        items,
        too_general,
    }
}

/// A distinct candidate phrase while counting: its first and last units
/// and how many items of each domain have it.
struct Seen<'a> {
    first: &'a str,
    last: &'a str,
    df: Vec<u32>,
}

/// Each item's entities among its candidates: up to `per_item` phrases,
/// chosen by maximal marginal relevance against the item's vector when
/// the phrases have vectors of the items' space (`phrase_vectors`), else
/// the rarest ones. `item_vectors` are the mined domains', in order.
pub fn select(
    candidates: &Candidates,
    item_vectors: &[&Embeddings],
    phrase_vectors: Option<&Embeddings>,
    options: &MineOptions,
) -> Vec<Vec<Vec<u32>>> {
    let mut df = vec![0u32; candidates.phrases.len()];
    for domain in &candidates.items {
        for item in domain {
            for &p in item {
                df[p as usize] += 1;
            }
        }
    }
    candidates
        .items
        .iter()
        .zip(item_vectors)
        .map(|(domain, vectors)| {
            domain
                .iter()
                .enumerate()
                .map(|(i, own)| match phrase_vectors {
                    Some(phrases) if vectors.dim() == phrases.dim() => {
                        mmr(own, vectors.row(i), phrases, options)
                    }
                    _ => {
                        let mut rare = own.clone();
                        rare.sort_by_key(|&p| (df[p as usize], p));
                        rare.truncate(options.per_item);
                        rare.sort_unstable();
                        rare
                    }
                })
                .collect()
        })
        .collect()
}

/// Maximal marginal relevance: repeatedly the phrase most like the item
/// and least like those already kept.
fn mmr(own: &[u32], item: &[f32], phrases: &Embeddings, options: &MineOptions) -> Vec<u32> {
    let relevance: Vec<f32> = own
        .iter()
        .map(|&p| dot(phrases.row(p as usize), item))
        .collect();
    let mut closest_kept = vec![f32::NEG_INFINITY; own.len()];
    let mut taken = vec![false; own.len()];
    let mut kept = Vec::new();
    while kept.len() < options.per_item.min(own.len()) {
        let value = |k: usize| {
            let redundancy = if kept.is_empty() {
                0.0
            } else {
                closest_kept[k]
            };
            options.relevance * relevance[k] - (1.0 - options.relevance) * redundancy
        };
        let Some(best) = (0..own.len())
            .filter(|&k| !taken[k])
            .max_by(|&a, &b| value(a).total_cmp(&value(b)).then(b.cmp(&a)))
        else {
            break;
        };
        taken[best] = true;
        kept.push(own[best]);
        let chosen = phrases.row(own[best] as usize);
        for (k, closest) in closest_kept.iter_mut().enumerate() {
            if !taken[k] {
                *closest = closest.max(dot(phrases.row(own[k] as usize), chosen));
            }
        }
    }
    kept.sort_unstable();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_stop_at_punctuation_and_cut_cjk_runs_into_characters() {
        let texts: Vec<String> = phrases("stainless steel, pan (2 pack) 不锈钢锅")
            .into_iter()
            .map(|p| p.text)
            .collect();
        assert!(texts.contains(&"stainless steel".to_string()));
        assert!(!texts.iter().any(|t| t.contains("steel pan")), "{texts:?}");
        assert!(texts.contains(&"不锈钢".to_string()), "{texts:?}");
        assert!(texts.contains(&"钢锅".to_string()));
        assert!(!texts.contains(&"不".to_string()));
    }

    #[test]
    fn only_phrases_both_domains_share_are_candidates_and_common_words_never_end_one() {
        let mut food = vec![
            "organic green tea with honey".to_string(),
            "green tea matcha powder".to_string(),
            "honey with lemon".to_string(),
        ];
        let mut kitchen = vec![
            "tea kettle with whistle".to_string(),
            "glass tea pot with infuser".to_string(),
            "matcha whisk with holder".to_string(),
        ];
        for i in 0..40 {
            food.push(format!("snack {i} with salt"));
            kitchen.push(format!("bowl {i} with lid"));
        }
        fn texts(d: &[String]) -> Vec<&str> {
            d.iter().map(String::as_str).collect()
        }
        let c = candidates(&[texts(&food), texts(&kitchen)], &MineOptions::default());
        // "with" is in most of every domain's items: common.
        assert!(
            !c.phrases
                .iter()
                .any(|p| p.starts_with("with") || p.ends_with("with"))
        );
        for shared in ["tea", "matcha"] {
            assert!(c.phrases.contains(&shared.to_string()), "{:?}", c.phrases);
        }
        assert!(!c.phrases.contains(&"honey".to_string()), "food only");
        let id = |p: &str| c.phrases.iter().position(|q| q == p).unwrap() as u32;
        assert!(c.items[1][2].contains(&id("matcha")));
    }

    #[test]
    fn selection_keeps_the_phrase_closest_to_the_item_first_and_then_diversifies() {
        let candidates = Candidates {
            phrases: vec!["a".into(), "a2".into(), "b".into()],
            items: vec![vec![vec![0, 1, 2]]],
            too_general: 0,
        };
        // "a" and "a2" are near duplicates; "b" is less relevant but new.
        let phrases = Embeddings::new(2, vec![1.0, 0.0, 0.999, 0.0447, 0.6, 0.8]);
        let items = Embeddings::new(2, vec![1.0, 0.0]);
        let options = MineOptions {
            per_item: 2,
            relevance: 0.3,
            ..MineOptions::default()
        };
        let kept = select(&candidates, &[&items], Some(&phrases), &options);
        assert_eq!(kept, vec![vec![vec![0, 2]]]);
        // Without vectors of the items' space: the rarest.
        let kept = select(&candidates, &[&items], None, &options);
        assert_eq!(kept[0][0].len(), 2);
    }
}
