//! Fonts for every script the data may hold: a user font file (`--font`),
//! the system fallback fonts eframe finds (CJK, Arabic, …), and a watch for
//! characters that no font has, so the window can say how to install one
//! instead of drawing boxes silently.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use egui::epaint::text::{FontInsert, FontPriority, InsertFontFamily};
use egui::{FallbackRequest, FontData, FontFamily};

/// The font files egui reads, by their first four bytes: TrueType, OpenType
/// (CFF), Apple TrueType and font collections.
const FONT_MAGICS: [&[u8; 4]; 4] = [b"\x00\x01\x00\x00", b"OTTO", b"true", b"ttcf"];

/// Adds the font file at `path` to every family, after egui's own fonts (so
/// Latin text keeps its look and the file covers what they lack).
pub fn install_user_font(ctx: &egui::Context, path: &Path) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    if !FONT_MAGICS.iter().any(|m| bytes.starts_with(&m[..])) {
        return Err(format!(
            "{}: not a font file; expected a TrueType or OpenType font (.ttf, .otf or .ttc)",
            path.display()
        ));
    }
    let families = [FontFamily::Proportional, FontFamily::Monospace]
        .into_iter()
        .map(|family| InsertFontFamily {
            family,
            priority: FontPriority::Lowest,
        })
        .collect();
    ctx.add_font(FontInsert {
        name: format!("user font {}", path.display()),
        data: FontData::from_owned(bytes),
        families,
    });
    Ok(())
}

/// Characters that no installed or discovered font could draw.
#[derive(Clone, Default)]
pub struct MissingGlyphs {
    seen: Arc<Mutex<BTreeSet<char>>>,
}

impl MissingGlyphs {
    /// Installs the watch as the last font provider of `ctx`: egui asks it
    /// only after every font and every other provider missed a character.
    pub fn install(ctx: &egui::Context) -> MissingGlyphs {
        let watch = MissingGlyphs::default();
        let seen = Arc::clone(&watch.seen);
        ctx.add_font_provider(Arc::new(move |request: &FallbackRequest<'_>| {
            if let Some(c) = request.cluster.chars().next()
                && let Ok(mut seen) = seen.lock()
            {
                seen.insert(c);
            }
            None
        }));
        watch
    }

    /// The Chinese, Japanese or Korean characters missed so far.
    pub fn cjk(&self) -> Vec<char> {
        self.seen
            .lock()
            .map(|seen| seen.iter().copied().filter(|&c| is_cjk(c)).collect())
            .unwrap_or_default()
    }
}

/// Whether `c` is a Chinese, Japanese or Korean character or CJK punctuation.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3000..=0x303F      // CJK symbols and punctuation
        | 0x3040..=0x30FF    // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFF00..=0xFFEF    // full-width forms
        | 0x20000..=0x3134F) // CJK extensions B to G
}

/// What to tell the user when CJK characters have no font.
pub fn missing_cjk_message(missing: &[char]) -> String {
    // As code points: the characters themselves would draw as boxes too.
    let examples: Vec<String> = missing
        .iter()
        .take(4)
        .map(|&c| format!("U+{:04X}", c as u32))
        .collect();
    let examples = examples.join(" ");
    format!(
        "Some texts use Chinese, Japanese or Korean characters that no installed font has \
         (e.g. {examples}), so they show as boxes. Install a CJK font and restart — on \
         Debian or Ubuntu: sudo apt install fonts-wqy-microhei (or fonts-noto-cjk) — or \
         start with `crossrec gui --font FILE` (a .ttf, .otf or .ttc font)."
    )
}
