//! Source files: reading bytes, decoding them as Python does (PEP 263), and mapping offsets to lines.

use std::path::{Path, PathBuf};

use ruff_text_size::TextSize;

use crate::python_codecs::PYTHON_CODEC_NAMES;

/// One Python source file as kappac sees it: its display path and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as the user gave it (or as found under an app directory); used in every message.
    pub path: PathBuf,
    /// The decoded text. When decoding failed this is a lossy copy, kept only to show the error.
    pub text: String,
    /// Byte offset of the start of each line in `text`.
    line_starts: Vec<usize>,
}

/// Why a file's bytes could not be turned into text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Bytes that are not valid in the file's encoding, at this offset of the lossy text.
    InvalidBytes { offset: usize, encoding: String },
    /// A `# coding:` declaration kappac does not know how to decode.
    UnknownEncoding { offset: usize, encoding: String },
    /// A UTF-8 byte-order mark, and a declaration of another encoding (CPython: "encoding
    /// problem: ... with BOM").
    BomWithOtherEncoding { offset: usize, encoding: String },
}

impl SourceFile {
    /// A file from text already in memory (tests, generated inputs, a decoded file). Every line ending
    /// (`\r\n`, or a lone `\r`) is written `\n`, as CPython's tokenizer reads it (also inside
    /// string literals): code copied from the source into a new place (a comprehension's
    /// condition becoming an `if`) must not carry a `\r`, a line break wherever it lands; and
    /// every stage (`check`, `emit`, the line map) sees the same offsets. Lines and columns do
    /// not change.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        let text: String = text.into();
        let text = if text.contains('\r') {
            text.replace("\r\n", "\n").replace('\r', "\n")
        } else {
            text
        };
        SourceFile::as_it_is(path, text)
    }

    /// The text untouched: a lossy copy whose decoding error is reported at a byte offset of
    /// the file as it is.
    fn as_it_is(path: impl Into<PathBuf>, text: String) -> Self {
        let line_starts = line_starts(&text);
        SourceFile {
            path: path.into(),
            text,
            line_starts,
        }
    }

    /// Reads and decodes a file. I/O errors are returned as they are; decoding errors come back
    /// together with a lossy copy of the text so that they can be shown with a location.
    pub fn read(path: &Path) -> std::io::Result<(SourceFile, Option<DecodeError>)> {
        let bytes = std::fs::read(path)?;
        let (text, error) = decode(&bytes);
        let file = match error {
            None => SourceFile::new(path, text),
            Some(_) => SourceFile::as_it_is(path, text),
        };
        Ok((file, error))
    }

    pub fn display_path(&self) -> String {
        self.path.display().to_string()
    }

    /// 0-based line index of a byte offset.
    pub fn line_index(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(line) => line,
            Err(next) => next - 1,
        }
    }

    /// 1-based (line, column) of a byte offset; the column counts characters, not bytes.
    pub fn line_col(&self, offset: TextSize) -> (usize, usize) {
        let offset = usize::from(offset).min(self.text.len());
        let line = self.line_index(offset);
        let start = self.line_starts[line];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |prefix| prefix.chars().count());
        (line + 1, column + 1)
    }

    /// 1-based line number of a byte offset.
    pub fn line_of(&self, offset: TextSize) -> usize {
        self.line_index(usize::from(offset).min(self.text.len())) + 1
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }
}

fn line_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![0];
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => starts.push(i + 1),
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => starts.push(i + 1),
            _ => {}
        }
        i += 1;
    }
    starts
}

/// Decodes Python source bytes as CPython does: a UTF-8 BOM is dropped (and then only a UTF-8
/// declaration may follow), a PEP 263 declaration in the first two lines selects the encoding,
/// otherwise UTF-8. Besides UTF-8, Latin-1 and ASCII, the ASCII-compatible encodings of the
/// WHATWG Encoding Standard are decoded (`cp1252`, `shift_jis`, `koi8-r` ...) with
/// `encoding_rs`, under the names Python gives them.
pub fn decode(bytes: &[u8]) -> (String, Option<DecodeError>) {
    let bom = bytes.starts_with(b"\xef\xbb\xbf");
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let declared = coding_declaration(bytes);
    if let Some((name, offset)) = &declared {
        if name.is_empty() {
            let offset = std::str::from_utf8(bytes)
                .err()
                .map_or(*offset, |e| e.valid_up_to());
            return (
                String::from_utf8_lossy(bytes).into_owned(),
                Some(DecodeError::InvalidBytes {
                    offset,
                    encoding: "UTF-8".to_owned(),
                }),
            );
        }
    }
    let encoding = declared.as_ref().map(|(name, _)| normalize_encoding(name));
    if let (true, Some((name, offset))) = (bom, &declared) {
        // After a BOM the tokenizer takes only a name it reads as `utf-8` itself (`utf8` and
        // `u8`, UTF-8 to the codec registry, are "encoding problem: utf8 with BOM").
        if !tokenizer_reads_as_utf8(name) {
            return (
                String::from_utf8_lossy(bytes).into_owned(),
                Some(DecodeError::BomWithOtherEncoding {
                    offset: *offset,
                    encoding: name.clone(),
                }),
            );
        }
    }
    match encoding {
        None | Some(Some(Encoding::Utf8)) => match std::str::from_utf8(bytes) {
            Ok(text) => (text.to_owned(), None),
            Err(error) => {
                let offset = error.valid_up_to();
                let lossy = String::from_utf8_lossy(bytes).into_owned();
                (
                    lossy,
                    Some(DecodeError::InvalidBytes {
                        offset,
                        encoding: "UTF-8".to_owned(),
                    }),
                )
            }
        },
        Some(Some(Encoding::Latin1)) => (bytes.iter().map(|&b| b as char).collect(), None),
        Some(Some(Encoding::Ascii)) => match bytes.iter().position(|b| !b.is_ascii()) {
            None => (String::from_utf8_lossy(bytes).into_owned(), None),
            Some(offset) => (
                String::from_utf8_lossy(bytes).into_owned(),
                Some(DecodeError::InvalidBytes {
                    offset,
                    encoding: "ASCII".to_owned(),
                }),
            ),
        },
        Some(Some(Encoding::Other(encoding))) => {
            let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
            let text = text.into_owned();
            if !had_errors {
                return (text, None);
            }
            let offset = text.find('\u{fffd}').unwrap_or_default();
            let name = declared.map(|(name, _)| name).unwrap_or_default();
            (
                text,
                Some(DecodeError::InvalidBytes {
                    offset,
                    encoding: name,
                }),
            )
        }
        Some(None) => {
            let (name, offset) = declared.unwrap_or_default();
            (
                String::from_utf8_lossy(bytes).into_owned(),
                Some(DecodeError::UnknownEncoding {
                    offset,
                    encoding: name,
                }),
            )
        }
    }
}

enum Encoding {
    Utf8,
    Latin1,
    Ascii,
    /// An ASCII-compatible encoding of the WHATWG standard.
    Other(&'static encoding_rs::Encoding),
}

/// What Python's `encodings.normalize_encoding` makes of a name, lower-cased: runs of
/// characters other than letters, digits and `.` become one `_`, and none lead or trail
/// (`utf-` is `utf`, which Python's codec registry knows as UTF-8).
fn python_normal(name: &str) -> String {
    let mut out = String::new();
    let mut punctuation = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            if punctuation && !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            punctuation = false;
        } else {
            punctuation = true;
        }
    }
    out
}

/// Whether `name` (lower-cased, `_` read as `-`) is `prefix` or starts with `prefix-`: how
/// CPython's tokenizer recognizes UTF-8 and Latin-1 itself (`utf-8-foo` is UTF-8).
fn tokenizer_prefixed(name: &str, prefix: &str) -> bool {
    let lower = name.to_ascii_lowercase().replace('_', "-");
    lower
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
}

fn tokenizer_reads_as_utf8(name: &str) -> bool {
    tokenizer_prefixed(name, "utf-8")
}

fn normalize_encoding(name: &str) -> Option<Encoding> {
    let prefixed = |prefix: &str| tokenizer_prefixed(name, prefix);
    if tokenizer_reads_as_utf8(name) {
        return Some(Encoding::Utf8);
    }
    if prefixed("latin-1") || prefixed("iso-8859-1") || prefixed("iso-latin-1") {
        return Some(Encoding::Latin1);
    }
    let normal = python_normal(name);
    match normal.as_str() {
        "utf_8" | "utf8" | "u8" | "utf" | "utf8_ucs2" | "utf8_ucs4" | "cp65001" => {
            Some(Encoding::Utf8)
        }
        "latin_1" | "latin1" | "iso_8859_1" | "iso8859_1" | "8859" | "cp819" | "latin" | "l1"
        | "iso_ir_100" | "csisolatin1" | "ibm819" => Some(Encoding::Latin1),
        "ascii" | "us_ascii" | "646" | "us" | "ansi_x3.4_1968" | "iso646_us" | "cp367"
        | "csascii" | "ibm367" | "iso_ir_6" => Some(Encoding::Ascii),
        // Python's names that the WHATWG standard spells otherwise.
        "mac_roman" | "macroman" | "macintosh" => Some(Encoding::Other(encoding_rs::MACINTOSH)),
        "cp932" | "ms932" | "mskanji" | "ms_kanji" => Some(Encoding::Other(encoding_rs::SHIFT_JIS)),
        "cp936" | "ms936" | "gb2312" => Some(Encoding::Other(encoding_rs::GBK)),
        // The WHATWG standard knows labels Python does not (`koi8`): only Python's own.
        _ if PYTHON_CODEC_NAMES.binary_search(&normal.as_str()).is_err() => None,
        _ => encoding_rs::Encoding::for_label(normal.replace('_', "-").as_bytes())
            .or_else(|| encoding_rs::Encoding::for_label(normal.as_bytes()))
            // UTF-16 and the like cannot hold Python source (the tokenizer reads ASCII).
            .filter(|encoding| {
                encoding.is_ascii_compatible() && *encoding != encoding_rs::REPLACEMENT
            })
            .map(Encoding::Other),
    }
}

/// The encoding named by a PEP 263 comment on line 1 or 2, with its byte offset.
fn coding_declaration(bytes: &[u8]) -> Option<(String, usize)> {
    let mut line_start = 0;
    for _ in 0..2 {
        let rest = &bytes[line_start..];
        let line_len = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = &rest[..line_len];
        let trimmed_start = line
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\x0c'))
            .unwrap_or(line.len());
        // Python reads these lines as UTF-8 to look for the declaration (tokenize's
        // detect_encoding): a line that is not is "invalid or missing encoding declaration".
        let Ok(line_text) = std::str::from_utf8(&line[trimmed_start..]) else {
            return Some((String::new(), line_start + trimmed_start));
        };
        if line_text.starts_with('#') {
            if let Some(found) = find_coding(line_text) {
                return Some((found, line_start + trimmed_start));
            }
        } else if !line_text.trim().is_empty() {
            // Only comment or blank lines may come before the declaration.
            return None;
        }
        if line_len == rest.len() {
            return None;
        }
        line_start += line_len + 1;
    }
    None
}

fn find_coding(comment: &str) -> Option<String> {
    let mut search = comment;
    while let Some(pos) = search.find("coding") {
        let after = &search[pos + "coding".len()..];
        if let Some(value) = after.strip_prefix([':', '=']) {
            let value = value.trim_start_matches([' ', '\t']);
            let name: String = value
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect();
            if !name.is_empty() {
                return Some(name);
            }
        }
        search = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let file = SourceFile::new("x.py", "a = 1\nb = 'é' + c\n");
        assert_eq!(file.line_col(TextSize::from(0)), (1, 1));
        assert_eq!(file.line_col(TextSize::from(6)), (2, 1));
        // 'c' is after a two-byte character.
        let c = file.text.find('c').unwrap();
        assert_eq!(file.line_col(TextSize::try_from(c).unwrap()), (2, 11));
    }

    #[test]
    fn decodes_latin1_declaration() {
        let (text, error) = decode(b"# -*- coding: latin-1 -*-\nx = '\xe9'\n");
        assert_eq!(error, None);
        assert!(text.contains('é'));
    }

    #[test]
    fn reports_invalid_utf8_offset() {
        let (_, error) = decode(b"x = 1\ny = '\xff'\n");
        assert_eq!(
            error,
            Some(DecodeError::InvalidBytes {
                offset: 11,
                encoding: "UTF-8".to_owned()
            })
        );
    }

    #[test]
    fn python_codec_table_is_sorted_for_binary_search() {
        assert!(PYTHON_CODEC_NAMES.windows(2).all(|w| w[0] < w[1]));
        assert!(PYTHON_CODEC_NAMES.contains(&"koi8_r"));
    }

    #[test]
    fn python_codecs_beyond_latin1_decode_as_cpython_does() {
        let (text, error) = decode(b"# -*- coding: cp1252 -*-\nx = '\x80'\n");
        assert!(error.is_none());
        assert!(text.contains("x = '\u{20ac}'"), "{text}");
        let (_, error) = decode(b"# coding: utf-16\nx = 1\n");
        assert!(matches!(error, Some(DecodeError::UnknownEncoding { .. })));
        let (_, error) = decode(b"\xef\xbb\xbf# coding: cp1252\nx = 1\n");
        assert!(matches!(
            error,
            Some(DecodeError::BomWithOtherEncoding { .. })
        ));
        let (_, error) = decode(b"\xef\xbb\xbf# coding: utf-8\nx = 1\n");
        assert!(error.is_none());
    }

    #[test]
    fn unknown_encoding_is_reported() {
        let (_, error) = decode(b"#!/usr/bin/env python\n# coding: klingon\nx = 1\n");
        assert!(
            matches!(error, Some(DecodeError::UnknownEncoding { ref encoding, .. }) if encoding == "klingon")
        );
    }

    #[test]
    fn declaration_after_code_is_ignored() {
        let (_, error) = decode(b"x = 1\n# coding: koi8-r\n");
        assert_eq!(error, None);
    }
}
