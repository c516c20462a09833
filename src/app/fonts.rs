//! Fonts for every script the data may hold: a user font file (`--font`),
//! the system fallback fonts eframe finds (CJK, Arabic, …), and a watch for
//! characters that no font has, so the window can say how to install one
//! instead of drawing boxes silently.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use egui::epaint::text::{FontInsert, FontPriority, InsertFontFamily};
use egui::{FallbackRequest, FontData, FontFamily};

/// Adds the font file at `path` to every family, after egui's own fonts (so
/// Latin text keeps its look and the file covers what they lack). The file
/// is read whole first ([`read_font`]): egui would drop a broken one silently.
pub fn install_user_font(ctx: &egui::Context, path: &Path) -> Result<(), String> {
    let bytes = read_font(path)?;
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

/// Reads the font file at `path` and checks every part egui draws from, with
/// the same parser egui uses: the table directory (of every font of a
/// collection), the header, metrics and character map tables, and the outline
/// of every glyph the character map reaches. A truncated file or one with a
/// valid start and garbage after it is an error naming what is broken.
pub fn read_font(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    check_font(&bytes).map_err(|problem| {
        format!(
            "{}: not a usable font: {problem}; expected a whole TrueType or OpenType font \
             (.ttf, .otf or .ttc)",
            path.display()
        )
    })?;
    Ok(bytes)
}

/// What is broken in a font file, or nothing.
fn check_font(bytes: &[u8]) -> Result<(), String> {
    use skrifa::MetadataProvider as _;
    use skrifa::raw::{FileRef, TableProvider as _};

    let file =
        FileRef::new(bytes).map_err(|e| format!("its table directory cannot be read ({e})"))?;
    let mut fonts = 0usize;
    for (index, font) in file.fonts().enumerate() {
        let font =
            font.map_err(|e| format!("font {index} of the collection cannot be read ({e})"))?;
        for record in font.table_directory().table_records() {
            if font.table_data(record.tag()).is_none() {
                return Err(format!(
                    "its `{}` table ends past the end of the file (cut short?)",
                    record.tag()
                ));
            }
        }
        let table = |name: &str, e: skrifa::raw::ReadError| {
            format!("its `{name}` table is missing or cut short ({e})")
        };
        font.head().map_err(|e| table("head", e))?;
        font.maxp().map_err(|e| table("maxp", e))?;
        font.hhea().map_err(|e| table("hhea", e))?;
        font.hmtx().map_err(|e| table("hmtx", e))?;
        font.cmap().map_err(|e| table("cmap", e))?;
        let outlines = font.outline_glyphs();
        if outlines.format().is_none() {
            return Err("it has no readable glyph outlines (`glyf`/`loca` or `CFF`)".into());
        }
        let settings = || {
            skrifa::outline::DrawSettings::unhinted(
                skrifa::instance::Size::unscaled(),
                skrifa::instance::LocationRef::default(),
            )
        };
        let mut mapped = 0usize;
        for (code, glyph) in font.charmap().mappings() {
            mapped += 1;
            let outline = outlines.get(glyph).ok_or_else(|| {
                format!(
                    "the outline of U+{code:04X} (glyph {}) is missing",
                    glyph.to_u32()
                )
            })?;
            outline.draw(settings(), &mut NoPen).map_err(|e| {
                format!(
                    "the outline of U+{code:04X} (glyph {}) is broken ({e})",
                    glyph.to_u32()
                )
            })?;
        }
        if mapped == 0 {
            return Err("its character map maps no character".into());
        }
        fonts += 1;
    }
    if fonts == 0 {
        return Err("the collection holds no font".into());
    }
    Ok(())
}

/// A pen that only lets an outline be decoded.
struct NoPen;

impl skrifa::outline::OutlinePen for NoPen {
    fn move_to(&mut self, _: f32, _: f32) {}
    fn line_to(&mut self, _: f32, _: f32) {}
    fn quad_to(&mut self, _: f32, _: f32, _: f32, _: f32) {}
    fn curve_to(&mut self, _: f32, _: f32, _: f32, _: f32, _: f32, _: f32) {}
    fn close(&mut self) {}
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

#[cfg(test)]
mod tests {
    use super::check_font;

    /// The fonts egui ships, as bytes.
    fn egui_fonts() -> Vec<Vec<u8>> {
        egui::FontDefinitions::default()
            .font_data
            .values()
            .map(|data| data.font.as_ref().as_ref().to_vec())
            .collect()
    }

    #[test]
    fn whole_fonts_pass_and_cut_or_garbled_ones_name_what_is_broken() {
        let fonts = egui_fonts();
        assert!(!fonts.is_empty());
        for font in &fonts {
            assert_eq!(check_font(font), Ok(()));
            // Cut anywhere after its table directory.
            for keep in [font.len() / 10, font.len() / 2, font.len() - 1000] {
                assert!(check_font(&font[..keep]).is_err(), "cut to {keep} bytes");
            }
            // A valid start and garbage after it.
            let mut garbled = font[..64.min(font.len())].to_vec();
            garbled.extend((0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
            let problem = check_font(&garbled).expect_err("garbage after the table directory");
            assert!(
                problem.contains("cut short") || problem.contains("outline"),
                "{problem}"
            );
        }
        assert!(check_font(b"OTTO").is_err());
        assert!(check_font(b"").is_err());
    }
}
