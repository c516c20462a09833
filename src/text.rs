//! Cutting text to a width for display, in terminal columns: a Chinese,
//! Japanese or Korean character takes two, so a table of Chinese titles
//! lines up and is cut at the same visual width as one of English titles.
//! Shared by the command line's tables and the window's lists.

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
}
