//! The claims a mutant is judged under, worked out from what its named case `requires`, and the
//! reference model run under the same claims to show that case can pass.

use crate::targets::RefTarget;

/// Every case of the spec with its `requires`, as `echo-conform list --format json` gives them.
pub type Requires = [(String, Vec<String>)];

/// The profiles mutants are judged under, by what the named case requires beyond the default
/// profile (`stream,forever,concurrent,identity,unprivileged,tcp`), most specific first: the
/// first whose claims the case all requires gives the claims. A case requiring none of these is
/// judged under the default profile, `""`.
const PROFILES: &[(&[&str], &str)] = &[
    // A privilege-dropping server that serves UDP serves TCP too: the other privilege cases
    // are TCP's.
    (
        &["privileged", "udp"],
        "privileged,stream,forever,concurrent,tcp,udp",
    ),
    (&["privileged"], "privileged,stream,forever,concurrent"),
    // A server that ends after one connection serves one at a time.
    (&["single"], "single,sequential"),
    (&["oneshot"], "oneshot,forever,sequential"),
    (&["c10k"], "c10k"),
    (&["udp"], "udp"),
    (&["dual-stack"], "dual-stack"),
];

/// Cases judged under a profile their `requires` does not call for, with the profile and why.
const BY_ID: &[(&str, &str, &str)] = &[(
    "family.ipv6-loopback",
    "dual-stack",
    "it requires nothing, yet connects over IPv6 whatever the run's family: only a server \
     answering on ::1 can pass it",
)];

/// The `requires` of the case `id`; none for a case the spec does not have.
pub fn requires_of<'a>(spec: &'a Requires, id: &str) -> &'a [String] {
    spec.iter()
        .find(|(c, _)| c == id)
        .map_or(&[], |(_, req)| req.as_slice())
}

/// The claims a mutant naming `case` is run with: those under which the case applies, from what
/// it requires in `spec`.
pub fn claims_for(case: &str, spec: &Requires) -> &'static str {
    if let Some((_, claims, _)) = BY_ID.iter().find(|(id, _, _)| *id == case) {
        return claims;
    }
    let requires = requires_of(spec, case);
    PROFILES
        .iter()
        .find(|(needs, _)| needs.iter().all(|n| requires.iter().any(|r| r == n)))
        .map_or("", |(_, claims)| claims)
}

/// The reference target of `reference-servers/targets.toml` run with the same claims as a
/// mutant, to show its naming case can pass, and the flags these claims add to it.
fn reference_target(claims: &str) -> (&'static str, &'static str) {
    match claims {
        "udp" => ("tokio-udp", ""),
        "dual-stack" => ("threaded", "--bind ::"),
        "single,sequential" => ("basic", ""),
        "oneshot,forever,sequential" => ("sequential", ""),
        c if c.starts_with("privileged") && c.contains("udp") => {
            ("tokio-nobody", "--transport both")
        }
        c if c.starts_with("privileged") => ("privdrop", ""),
        // The models that claim c10k: tokio (and epoll); threaded does not.
        c if c.contains("c10k") => ("tokio", ""),
        _ => ("threaded", ""),
    }
}

/// What follows `--model` for the reference run with `claims`: the model of its target in
/// `refs`, the flags the claims add, then the target's own flags.
pub fn reference_for(claims: &str, refs: &[RefTarget]) -> anyhow::Result<String> {
    let (name, extra) = reference_target(claims);
    let target = crate::targets::find(refs, name)?;
    let (model, flags) = target.model().ok_or_else(|| {
        anyhow::anyhow!("the reference target `{name}` runs no echo-server model")
    })?;
    let words: Vec<&str> = [model]
        .into_iter()
        .chain(extra.split_whitespace())
        .chain(flags)
        .collect();
    Ok(words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded spec's cases with their `requires`, read as `echo-conform list` prints them.
    fn spec() -> Vec<(String, Vec<String>)> {
        let spec = echo_spec::Spec::embedded().expect("the embedded spec is valid");
        let rows: Vec<serde_json::Value> = spec
            .cases
            .iter()
            .map(|c| serde_json::json!({"id": c.id, "requires": c.requires}))
            .collect();
        crate::conform::spec_requires(&serde_json::Value::from(rows).to_string())
            .expect("a list of cases")
    }

    #[test]
    fn a_case_is_judged_under_the_profile_its_requires_calls_for() {
        let spec = spec();
        for (id, claims) in [
            ("echo.stream.1mib", ""),
            ("hostile.emfile.recovers", ""),
            ("lifecycle.single.exits", "single,sequential"),
            ("oneshot.reset.next-served", "oneshot,forever,sequential"),
            (
                "priv.serves-after-drop",
                "privileged,stream,forever,concurrent",
            ),
            (
                "priv.udp.bound-by-root",
                "privileged,stream,forever,concurrent,tcp,udp",
            ),
            ("scale.c100k", "c10k"),
            ("udp.burst", "udp"),
            ("family.dual-stack", "dual-stack"),
            ("family.ipv6-loopback", "dual-stack"),
            ("no.such.case", ""),
        ] {
            assert_eq!(claims_for(id, &spec), claims, "{id}");
        }
    }

    #[test]
    fn each_profile_has_its_reference_from_the_targets() {
        let refs = crate::targets::load().expect("the reference targets");
        for (claims, model) in [
            ("", "threaded"),
            ("udp", "tokio --udp"),
            ("dual-stack", "threaded --bind ::"),
            ("single,sequential", "basic"),
            ("oneshot,forever,sequential", "sequential"),
            (
                "privileged,stream,forever,concurrent,tcp,udp",
                "tokio --transport both --user nobody --group nogroup",
            ),
            ("privileged,stream,forever,concurrent", "privdrop"),
            ("c10k", "tokio"),
        ] {
            assert_eq!(reference_for(claims, &refs).expect(claims), model);
        }
    }
}
