//! Escaping text into markup: HTML pages and SAML's XML take the same five characters.

/// Escapes text for element content and attribute values, in HTML and in XML (`&#39;` is both).
pub fn escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_the_five_characters_and_nothing_else() {
        assert_eq!(
            super::escape(r#"<a href="x">Tom & Jerry's</a> é"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt; é"
        );
    }
}
