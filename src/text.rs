//! Text as people see it: its width in terminal columns (a Chinese,
//! Japanese or Korean character takes two, so a table of Chinese titles lines
//! up and is cut at the same visual width as one of English titles), which
//! characters are invisible, and a form safe to print on a terminal. Shared
//! by the command line's tables and the window's lists.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// How many columns `text` takes.
pub fn width(text: &str) -> usize {
    text.width()
}

/// `text` cut to at most `max` columns, ending in "…" when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.width() <= max {
        return text.to_string();
    }
    let mut cut = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        cut.push(c);
        used += w;
    }
    cut.push('…');
    cut
}

/// Characters that draw nothing or reorder what follows: zero-width
/// spaces and joiners, word joiners, the byte order mark, the soft hyphen
/// and the bidirectional controls.
fn is_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{FEFF}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}')
}

/// A bidirectional control: printed raw it reverses the rest of the line.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `text` shows nothing: only whitespace, control and format
/// characters.
pub fn is_blank(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_whitespace() || c.is_control() || is_format(c))
}

/// Whether `text` holds a character a terminal would act on or not show:
/// a control character (line breaks and tabs included), a bidirectional
/// control or an invisible format character (emoji joiners aside).
pub fn has_hidden(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() || (is_format(c) && !matches!(c, '\u{200C}' | '\u{200D}')))
}

/// `text` on one line and safe for a terminal: whitespace runs become one
/// space, control characters (an escape sequence) and bidirectional
/// controls become U+FFFD, and the other invisible format characters
/// (zero-width space, soft hyphen, …) are dropped; joiners inside emoji
/// (U+200C, U+200D) stay.
pub fn for_terminal(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter_map(|c| {
            if c.is_control() || is_bidi_control(c) {
                Some('\u{fffd}')
            } else if is_format(c) && !matches!(c, '\u{200C}' | '\u{200D}') {
                None
            } else {
                Some(c)
            }
        })
        .collect()
}

/// The first `max` of `names`, comma-separated, and how many more there
/// are: a message never echoes a 20,000-column header whole.
pub fn list_some(names: &[String], max: usize) -> String {
    let shown = names[..names.len().min(max)].join(", ");
    match names.len().saturating_sub(max) {
        0 => shown,
        more => format!("{shown} … and {more} more"),
    }
}

/// The first `n` characters of `text` (all of it when shorter).
pub fn prefix_chars(text: &str, n: usize) -> &str {
    match text.char_indices().nth(n) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_characters_take_two_columns() {
        assert_eq!(width("商品"), 4);
        assert_eq!(clip("abcdef", 6), "abcdef");
        assert_eq!(clip("abcdefg", 6), "abcde…");
        assert_eq!(clip("不锈钢炒锅", 6), "不锈…");
        assert_eq!(clip("不锈钢炒锅", 7), "不锈钢…");
        assert_eq!(clip("a不锈钢", 4), "a不…");
        assert_eq!(clip("", 3), "");
    }

    #[test]
    fn nothing_reaches_a_terminal_that_moves_or_hides_text() {
        assert_eq!(
            for_terminal("a\u{1b}[2J b\u{202e}c\u{200b}d\u{ad}e\t f"),
            "a\u{fffd}[2J b\u{fffd}cde f"
        );
        assert_eq!(for_terminal("👩\u{200d}🍳"), "👩\u{200d}🍳");
        assert!(is_blank(" \u{200b}\u{200b}\u{1b}\u{7}"));
        assert!(has_hidden("帖子\u{1b}[2J") && has_hidden("a\u{202e}b") && has_hidden("a\nb"));
        assert!(!has_hidden("右🙂 shop") && !has_hidden("👩\u{200d}🍳"));
        assert!(!is_blank(" 咖啡 "));
    }
}
