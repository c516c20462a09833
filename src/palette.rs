//! The colours crossrec draws with, one place for the window and the
//! report: one per score component (by name, so this module needs no
//! other) and one per domain (by position).

/// An sRGB colour.
pub type Rgb = [u8; 3];

/// The colour of the score component named `name` (grey for a name that is
/// none of them).
pub fn component(name: &str) -> Rgb {
    match name {
        "content" => [76, 114, 176],
        "mapped" => [221, 132, 82],
        "adapted" => [218, 139, 195],
        "sequence" => [204, 185, 116],
        "graph" => [85, 168, 104],
        "kg" => [100, 181, 205],
        "popularity" => [196, 78, 82],
        "history" => [129, 114, 179],
        _ => [140, 140, 140],
    }
}

/// The colour of domain `d` (four, repeating).
pub fn domain(d: usize) -> Rgb {
    const COLOURS: [Rgb; 4] = [
        [31, 119, 180],
        [255, 127, 14],
        [44, 160, 44],
        [148, 103, 189],
    ];
    COLOURS[d % COLOURS.len()]
}
