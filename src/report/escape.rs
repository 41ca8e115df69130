//! Text made safe for HTML: every renderer of a page or a chart writes report text through
//! [`esc`].

/// Escapes text for HTML content and quoted attributes. Control characters other than newline
/// and tab become U+FFFD (a raw ESC or NUL has no business in a page).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}
