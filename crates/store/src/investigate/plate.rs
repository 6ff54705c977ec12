//! Plate patterns as investigators type them, and the normalised plate they are matched on.
//!
//! A pattern is plate text with wildcards: `*` any run of characters (also none), `?` exactly one
//! (`晋M*23*`, `晋M1?345`). A *fuzzy* pattern also accepts the characters a recogniser confuses:
//! 0/D/Q(/O), 8/B, 1/I, 2/Z, 5/S, 6/G. A pattern without a province (`M12345`, `?M12345`,
//! `*12345`) matches any province; a fuzzy pattern with a province requires it.
//!
//! Matching works on `plate_norm`, stored with every read plate: the text without its province
//! character, with each confusable class mapped to one representative ([`normalize`]). So a
//! fuzzy pattern is a GLOB on `plate_norm`, and an exact one is the same GLOB (a superset, it
//! narrows the index range) plus a GLOB on `plate_text`. The characters before the first wildcard
//! of the normalised pattern are a fixed prefix: an index range on `sightings_by_plate`. A
//! pattern with no fixed prefix (`*23*`) scans the time range instead (see `filter.rs`).

use crate::Error;

/// One representative per confusable class; other characters stay as they are.
fn canon(c: char) -> char {
    match c.to_ascii_uppercase() {
        '0' | 'D' | 'Q' | 'O' => '0',
        '8' | 'B' => '8',
        '1' | 'I' => '1',
        '2' | 'Z' => '2',
        '5' | 'S' => '5',
        '6' | 'G' => '6',
        c => c,
    }
}

/// The normalised form of a plate (`plate_norm`): no province, confusables folded.
/// `晋MD8B12` → `M08812`.
pub fn normalize(plate: &str) -> String {
    let mut chars = plate.chars().peekable();
    if chars
        .peek()
        .is_some_and(|c| base::plate::PROVINCES.contains(*c))
    {
        chars.next();
    }
    chars.map(canon).collect()
}

/// A parsed plate pattern (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatePattern {
    text: String,
    fuzzy: bool,
    /// GLOB over `plate_norm`.
    norm_glob: String,
    /// GLOB over `plate_text`: the whole pattern when exact, `省*` when fuzzy with a province.
    text_glob: Option<String>,
}

impl PlatePattern {
    /// An exact pattern (wildcards allowed).
    pub fn exact(text: &str) -> Result<Self, Error> {
        Self::parse(text, false)
    }

    /// A fuzzy pattern: confusable characters match each other.
    pub fn fuzzy(text: &str) -> Result<Self, Error> {
        Self::parse(text, true)
    }

    pub fn parse(text: &str, fuzzy: bool) -> Result<Self, Error> {
        let bad = |why: &str| Err(Error::Query(format!("plate pattern {text:?}: {why}")));
        let chars: Vec<char> = text
            .trim()
            .chars()
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if chars.is_empty() || chars.iter().all(|c| *c == '*') {
            return bad("matches every plate; leave it out instead");
        }
        if chars.len() > 12 {
            return bad("longer than any plate");
        }
        let allowed = |c: char| {
            c.is_ascii_uppercase()
                || c.is_ascii_digit()
                || c == '*'
                || c == '?'
                || "警学挂港澳领使".contains(c)
        };
        let province = chars
            .first()
            .copied()
            .filter(|c| base::plate::PROVINCES.contains(*c));
        let body = if province.is_some() {
            &chars[1..]
        } else {
            &chars[..]
        };
        if let Some(c) = body.iter().find(|c| !allowed(**c)) {
            return bad(&format!(
                "{c:?} is not a plate character, `*` or `?` (a province only comes first)"
            ));
        }
        // `?M12345`: the `?` stands for an unread province, which plate_norm does not hold.
        let starts_unknown_province = province.is_none()
            && body.first() == Some(&'?')
            && body.get(1).is_some_and(|c| c.is_ascii_uppercase());
        let norm_body = if starts_unknown_province {
            &body[1..]
        } else {
            body
        };
        let norm_glob: String = norm_body.iter().map(|c| canon(*c)).collect();
        let rest: String = body.iter().collect();
        let text_glob = match (fuzzy, province) {
            (true, Some(p)) => Some(format!("{p}*")),
            (true, None) => None,
            (false, Some(p)) => Some(format!("{p}{rest}")),
            // No province given: any one province, unless the pattern itself starts with a
            // wildcard or is an embassy plate.
            (false, None) if body[0] == '*' || body[0] == '使' || starts_unknown_province => {
                Some(rest)
            }
            (false, None) if body[0].is_ascii_digit() && body.contains(&'使') => Some(rest),
            (false, None) => Some(format!("?{rest}")),
        };
        Ok(PlatePattern {
            text: chars.iter().collect(),
            fuzzy,
            norm_glob,
            text_glob,
        })
    }

    /// The pattern as given (upper-cased).
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_fuzzy(&self) -> bool {
        self.fuzzy
    }

    pub(crate) fn norm_glob(&self) -> &str {
        &self.norm_glob
    }

    pub(crate) fn text_glob(&self) -> Option<&str> {
        self.text_glob.as_deref()
    }

    /// The normalised characters before the first wildcard, and the smallest string above
    /// every string with that prefix: an index range. `None` when the pattern starts with a
    /// wildcard.
    pub(crate) fn norm_range(&self) -> Option<(String, String)> {
        let prefix: String = self
            .norm_glob
            .chars()
            .take_while(|c| *c != '*' && *c != '?')
            .collect();
        let last = prefix.chars().last()?;
        let mut hi: String = prefix.chars().take(prefix.chars().count() - 1).collect();
        hi.push(char::from_u32(last as u32 + 1).unwrap_or(char::MAX));
        Some((prefix, hi))
    }

    /// Whether `plate` matches, evaluated here (the SQL does the same with GLOB).
    pub fn matches(&self, plate: &str) -> bool {
        glob(&self.norm_glob, &normalize(plate))
            && self.text_glob.as_deref().is_none_or(|g| glob(g, plate))
    }
}

/// SQLite GLOB semantics for `*` and `?` (no character classes: patterns never contain `[`).
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_confusables_and_drops_province() {
        assert_eq!(normalize("晋MD8B12"), "M08812");
        assert_eq!(normalize("晋M0Q1I2"), "M00112");
        assert_eq!(normalize("京AZ5S6G"), "A25566");
        assert_eq!(normalize("使123456"), "使123456");
    }

    #[test]
    fn exact_patterns() {
        let p = PlatePattern::exact("晋M*23*").unwrap();
        assert!(p.matches("晋M12345"));
        assert!(p.matches("晋M23000"));
        assert!(!p.matches("晋M14345"));
        assert!(!p.matches("京M12345"));
        // Exact means exact: 2 and Z are different characters.
        assert!(!p.matches("晋M1Z345"));
        let q = PlatePattern::exact("晋M1?345").unwrap();
        assert!(q.matches("晋M12345") && q.matches("晋M1A345"));
        assert!(!q.matches("晋MA2345"));
        assert!(!q.matches("晋M123456"));
        // No province: any province, exactly one character of it.
        let r = PlatePattern::exact("M12345").unwrap();
        assert!(r.matches("晋M12345") && r.matches("京M12345"));
        assert!(!r.matches("晋M123456"));
        let s = PlatePattern::exact("*2345").unwrap();
        assert!(s.matches("晋M12345") && s.matches("晋AD12345"));
        assert!(PlatePattern::exact("*").is_err());
        assert!(PlatePattern::exact("晋M[12]").is_err());
        assert!(PlatePattern::exact("M晋123").is_err());
    }

    #[test]
    fn fuzzy_patterns() {
        let p = PlatePattern::fuzzy("晋M8D125").unwrap();
        for plate in ["晋M8D125", "晋MB0125", "晋M8Q1Z5", "晋MBDIZS"] {
            assert!(p.matches(plate), "{plate}");
        }
        assert!(!p.matches("晋M8D126"));
        assert!(!p.matches("京M8D125"), "a given province is required");
        // Unknown province, written as `?` or left out.
        for pat in ["?M8D125", "M8D125"] {
            let p = PlatePattern::fuzzy(pat).unwrap();
            assert!(p.matches("京MB0125"), "{pat}");
            assert!(p.matches("晋M8D125"), "{pat}");
        }
        // Wildcards and fuzziness together.
        let w = PlatePattern::fuzzy("晋M*B2*").unwrap();
        assert!(w.matches("晋M1882Z") && w.matches("晋MA8Z11"));
        assert!(!w.matches("晋MA8311"));
    }

    #[test]
    fn index_ranges_come_from_the_fixed_prefix() {
        let p = PlatePattern::fuzzy("晋MB1*").unwrap();
        assert_eq!(p.norm_range(), Some(("M81".into(), "M82".into())));
        assert_eq!(PlatePattern::exact("*23").unwrap().norm_range(), None);
        assert_eq!(
            PlatePattern::exact("?M1*").unwrap().norm_range(),
            Some(("M1".into(), "M2".into()))
        );
    }

    use proptest::prelude::*;

    const CHARS: &[char] = &['0', 'D', 'Q', '8', 'B', '1', '2', 'Z', '5', 'S', 'A', 'M'];

    fn plate() -> impl Strategy<Value = String> {
        (
            prop::sample::select(vec!['晋', '京']),
            prop::collection::vec(prop::sample::select(CHARS.to_vec()), 6),
        )
            .prop_map(|(p, rest)| std::iter::once(p).chain(rest).collect())
    }

    /// A pattern made from a plate: some characters replaced by `?`, a run by `*`, the province
    /// sometimes left out.
    fn pattern() -> impl Strategy<Value = (String, String)> {
        (plate(), prop::collection::vec(0u8..6, 7), any::<bool>()).prop_map(
            |(p, ops, drop_province)| {
                let mut out = String::new();
                let mut starred = false;
                for (i, (c, op)) in p.chars().zip(ops).enumerate() {
                    if i == 0 && drop_province {
                        continue;
                    }
                    match op {
                        0 => out.push('?'),
                        1 if !starred => {
                            out.push('*');
                            starred = true;
                        }
                        1 => {}
                        2 if i > 0 => out.push(CHARS[(i * 5) % CHARS.len()]),
                        _ => out.push(c),
                    }
                }
                (p, out)
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The SQL (GLOB on plate_norm and plate_text, through the planner's index ranges)
        /// finds exactly the plates the pattern's own matcher accepts; a fuzzy pattern finds a
        /// superset of the exact one; a plate always fuzzily matches its confusable twins.
        #[test]
        fn sql_agrees_with_the_matcher(
            mut plates in prop::collection::vec(plate(), 1..40),
            (base, pat) in pattern(),
        ) {
            // The plate the pattern was made from is there: most patterns match something.
            plates.push(base.clone());
            let store = crate::Store::open_in_memory().unwrap();
            let t = 1_000_000;
            store
                .record(
                    "e",
                    plates
                        .iter()
                        .map(|p| crate::investigate::testutil::plated(p, "a", t))
                        .collect(),
                )
                .unwrap();
            let mut sets = Vec::new();
            for fuzzy in [false, true] {
                let Ok(pattern) = PlatePattern::parse(&pat, fuzzy) else {
                    return Ok(());
                };
                let f = crate::Filter {
                    plate: Some(pattern.clone()),
                    ..crate::Filter::between(t, t + 1)
                };
                let mut got: Vec<String> = store
                    .find(&f, 1000, None)
                    .unwrap()
                    .result
                    .sightings
                    .into_iter()
                    .filter_map(|s| s.plate.text)
                    .collect();
                got.sort();
                let mut want: Vec<String> =
                    plates.iter().filter(|p| pattern.matches(p)).cloned().collect();
                want.sort();
                prop_assert_eq!(&got, &want, "pattern {} fuzzy {}", pat, fuzzy);
                sets.push(got);
            }
            prop_assert!(sets[0].iter().all(|p| sets[1].contains(p)));
            for p in &plates {
                let twin: String = p
                    .chars()
                    .map(|c| match c { '0' => 'D', 'B' => '8', '2' => 'Z', c => c })
                    .collect();
                prop_assert!(PlatePattern::fuzzy(p).unwrap().matches(&twin), "{} {}", p, twin);
            }
        }
    }

    #[test]
    fn glob_agrees_with_the_definition() {
        assert!(glob("a*b?c", "aXXbYc"));
        assert!(glob("*", ""));
        assert!(!glob("?", ""));
        assert!(glob("a**", "a"));
        assert!(!glob("a*b", "ab c"));
        assert!(glob("*b*", "abc"));
    }
}
