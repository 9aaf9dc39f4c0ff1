//! Parses arbitrary text as a rule expression and as a rules file (TOML and YAML).
//! Every expression that parses must print to text that parses back to the same
//! expression, and printing must be stable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use model::rule::{parse, parse_with, Macros, RawMacro, RuleFormat, RuleSet, Scalar};
use std::sync::OnceLock;

fn macros() -> &'static Macros {
    static MACROS: OnceLock<Macros> = OnceLock::new();
    MACROS.get_or_init(|| {
        let raw = [
            (
                "shells".to_string(),
                RawMacro::List(vec![Scalar::Str("sh".into()), Scalar::Str("bash".into())]),
            ),
            ("ports".to_string(), RawMacro::List(vec![Scalar::Int(22), Scalar::Int(4444)])),
            ("is_root".to_string(), RawMacro::Expr("process.uid == 0".into())),
        ];
        Macros::resolve(&Macros::default(), &raw.into_iter().collect(), "fuzz").unwrap()
    })
}

fn round_trip(text: &str, macros: &Macros) {
    if let Ok(e) = parse_with(text, macros) {
        let printed = e.to_string();
        let back = parse_with(&printed, macros)
            .unwrap_or_else(|err| panic!("printed form does not parse: {printed:?}: {err}"));
        assert_eq!(back, e, "round trip changed the expression; printed {printed:?}");
        assert_eq!(back.to_string(), printed, "printing is not stable");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    round_trip(text, &Macros::default());
    round_trip(text, macros());
    let _ = parse(text).map(|e| e.kinds());
    for format in [RuleFormat::Toml, RuleFormat::Yaml] {
        if let Ok(set) = RuleSet::parse(text, format, "fuzz") {
            for rule in set.rules() {
                round_trip(&rule.expression.expr().to_string(), set.macros());
            }
        }
    }
});
