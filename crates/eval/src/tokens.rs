//! Token counts estimated with OpenAI's `o200k_base` tokenizer (tiktoken's tables), for
//! providers that report no usage (`exec:`, `http`, some OpenAI-compatible servers), so
//! token totals and costs are still meaningful. Estimated counts are marked as such.

/// The number of tokens `text` encodes to.
pub fn estimate(text: &str) -> u64 {
    tiktoken_rs::o200k_base_singleton()
        .encode_ordinary(text)
        .len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_tokens_not_characters() {
        assert_eq!(estimate(""), 0);
        assert_eq!(estimate("hello"), 1);
        let sentence = estimate("The quick brown fox jumps over the lazy dog.");
        assert!((9..=11).contains(&sentence), "{sentence}");
        // Long words split into several tokens; a long text is far fewer tokens than bytes.
        let text = "tokenization ".repeat(100);
        let n = estimate(&text);
        assert!(n >= 100 && n < text.len() as u64 / 2, "{n}");
    }
}
