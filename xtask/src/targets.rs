//! The reference targets of `reference-servers/targets.toml`, the one list of the reference model
//! variants xtask runs: each one's name, command, claims, and whether it needs root.

use anyhow::{anyhow, Context};

/// The reference targets file, relative to the workspace root.
pub const TARGETS: &str = "reference-servers/targets.toml";

/// One `[[target]]` of the reference targets file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefTarget {
    /// Its name, a column of the conform matrix.
    pub name: String,
    /// Its command, with `{bin}`, `{port}` and perhaps `{bind}`.
    pub cmd: String,
    /// Its claims, one per entry (`pool=20` stays whole).
    pub claims: Vec<String>,
    /// Whether it runs only as root.
    pub root: bool,
}

impl RefTarget {
    /// Whether it claims `claim`.
    pub fn claims(&self, claim: &str) -> bool {
        self.claims.iter().any(|c| c == claim)
    }

    /// The model and the flags `echo-server` runs it with (the words between `--model MODEL` and
    /// `--port {port}`); `None` for a command of another shape.
    pub fn model(&self) -> Option<(&str, Vec<&str>)> {
        let words: Vec<&str> = self.cmd.split_whitespace().collect();
        match words.as_slice() {
            [server, "--model", model, flags @ .., "--port", "{port}"]
                if server.ends_with("/echo-server") =>
            {
                Some((model, flags.to_vec()))
            }
            _ => None,
        }
    }
}

/// The targets of the workspace's reference targets file, in file order.
pub fn load() -> anyhow::Result<Vec<RefTarget>> {
    let text = std::fs::read_to_string(crate::root().join(TARGETS))
        .with_context(|| format!("reading {TARGETS}"))?;
    parse(&text).with_context(|| format!("reading {TARGETS}"))
}

/// The targets of a targets file's text, in order.
pub fn parse(text: &str) -> anyhow::Result<Vec<RefTarget>> {
    let file: toml::Table = toml::from_str(text)?;
    let targets = file
        .get("target")
        .and_then(|t| t.as_array())
        .ok_or_else(|| anyhow!("no [[target]]"))?;
    targets
        .iter()
        .map(|t| {
            let text = |key: &str| t.get(key).and_then(|v| v.as_str()).unwrap_or("");
            let name = text("name");
            if name.is_empty() || text("cmd").is_empty() {
                return Err(anyhow!("a [[target]] without a name or a cmd: {t}"));
            }
            Ok(RefTarget {
                name: name.to_string(),
                cmd: text("cmd").to_string(),
                claims: text("claims")
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(String::from)
                    .collect(),
                root: t.get("root").and_then(|r| r.as_bool()).unwrap_or(false),
            })
        })
        .collect()
}

/// The target called `name`.
pub fn find<'a>(targets: &'a [RefTarget], name: &str) -> anyhow::Result<&'a RefTarget> {
    targets
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| anyhow!("{TARGETS} has no target `{name}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_reads_as_its_model_flags_claims_and_root() {
        let targets = parse(
            r#"
[defaults]
args = ["--detect"]

[[target]]
name = "tokio-nobody"
cmd = "{bin}/echo-server --model tokio --user nobody --group nogroup --port {port}"
claims = "stream,forever,privileged"
root = true

[[target]]
name = "python"
cmd = "python3 echo.py {port}"
"#,
        )
        .expect("a targets file");
        let t = find(&targets, "tokio-nobody").expect("the target");
        assert_eq!(
            t.model(),
            Some(("tokio", vec!["--user", "nobody", "--group", "nogroup"]))
        );
        assert!(t.root && t.claims("privileged") && !t.claims("c10k"));
        assert_eq!(targets[1].model(), None);
        assert!(targets[1].claims.is_empty() && !targets[1].root);
        assert!(find(&targets, "basic").is_err());
    }
}
