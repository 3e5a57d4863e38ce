//! Validates a `kind = "property"` case: its `property` table, with a file:line:column error for
//! every bound, and no `steps` (they are generated).

use super::{Ctx, Res};
use crate::model::{Case, CaseKind, Timeouts};
use crate::property::{
    PropertyOp, PropertyParams, ALL_PROPERTY_OPS, MAX_PROP_CASES, MAX_PROP_CONNECTIONS,
    MAX_PROP_OPS, MAX_PROP_PAYLOAD, MAX_PROP_WAIT_MS,
};
use crate::raw::RawCase;

/// Connections at once when the case does not say: one suits every stream server.
const DEFAULT_CONNECTIONS: u32 = 1;
/// Operations per sequence when the case does not say.
const DEFAULT_MAX_OPS: u32 = 10;
/// Largest payload when the case does not say.
const DEFAULT_MAX_PAYLOAD: u64 = 4096;
/// Waiting per sequence when the case does not say.
const DEFAULT_MAX_WAIT_MS: u64 = 200;

impl Ctx<'_> {
    /// Turns a raw `property` case into a [`Case`].
    pub(super) fn property_case(
        &self,
        mut raw: RawCase,
        id: String,
        timeouts: Timeouts,
    ) -> Res<Case> {
        if let Some(steps) = &raw.steps {
            return Err(self.err(
                steps.span(),
                &id,
                "steps",
                "a `property` case generates its steps; remove `steps`",
            ));
        }
        if let Some(r) = &raw.rlimit_nofile {
            return Err(self.err(
                r.span(),
                &id,
                "rlimit_nofile",
                "only `process` cases launch their own server, so only they take `rlimit_nofile`",
            ));
        }
        if let Some(clients) = &raw.clients {
            return Err(self.err(
                clients.span(),
                &id,
                "clients",
                "only `concurrent` cases take `clients` (a `property` case has `property.connections`)",
            ));
        }
        let Some(table) = raw.property.take() else {
            return Err(self.err(
                raw.kind.span(),
                &id,
                "property",
                "a `property` case needs `property = { cases = N, seed = S }`",
            ));
        };
        let span = table.span();
        let p = table.into_inner();
        let bounded = |name: &str, value: u64, max: u64| -> Res<u64> {
            if value == 0 || value > max {
                Err(self.err(
                    span.clone(),
                    &id,
                    &format!("property.{name}"),
                    format!("{value} is outside 1..={max}"),
                ))
            } else {
                Ok(value)
            }
        };
        let cases = bounded("cases", p.cases.into(), MAX_PROP_CASES.into())? as u32;
        let connections = bounded(
            "connections",
            p.connections.unwrap_or(DEFAULT_CONNECTIONS).into(),
            MAX_PROP_CONNECTIONS.into(),
        )? as u32;
        let max_ops = bounded(
            "max_ops",
            p.max_ops.unwrap_or(DEFAULT_MAX_OPS).into(),
            MAX_PROP_OPS.into(),
        )? as u32;
        let max_payload = bounded(
            "max_payload",
            p.max_payload.unwrap_or(DEFAULT_MAX_PAYLOAD),
            MAX_PROP_PAYLOAD,
        )?;
        let max_wait_ms = p.max_wait_ms.unwrap_or(DEFAULT_MAX_WAIT_MS);
        if max_wait_ms > MAX_PROP_WAIT_MS {
            return Err(self.err(
                span,
                &id,
                "property.max_wait_ms",
                format!("{max_wait_ms} is outside 0..={MAX_PROP_WAIT_MS}"),
            ));
        }
        let ops = match p.ops {
            None => ALL_PROPERTY_OPS.to_vec(),
            Some(names) => {
                let mut ops = Vec::new();
                for name in names {
                    let Some(op) = PropertyOp::from_name(&name) else {
                        let known: Vec<_> = ALL_PROPERTY_OPS.iter().map(|o| o.as_str()).collect();
                        return Err(self.err(
                            span,
                            &id,
                            "property.ops",
                            format!("unknown operation `{name}` (known: {})", known.join(", ")),
                        ));
                    };
                    if !ops.contains(&op) {
                        ops.push(op);
                    }
                }
                if !ops.contains(&PropertyOp::Send) {
                    return Err(self.err(
                        span,
                        &id,
                        "property.ops",
                        "the operations must include `send`, or nothing is ever echoed",
                    ));
                }
                ops
            }
        };
        let kind = CaseKind::Property {
            params: PropertyParams {
                cases,
                seed: p.seed,
                connections,
                max_ops,
                max_payload,
                max_wait_ms,
                ops,
            },
        };
        Ok(self.finish(id, raw, timeouts, None, kind))
    }
}

#[cfg(test)]
mod tests {
    //! Every error path of a `property` case, each checked for its file:line:column and wording.

    use crate::{parse_file, CaseKind, PropertyOp, ALL_PROPERTY_OPS};

    const HEAD: &str =
        "[[case]]\nid = \"t.prop\"\ntitle = \"t\"\nsource = \"s\"\nlevel = \"must\"\nkind = \"property\"\n";

    /// Parses `HEAD` + `tail` and checks that the error starts with `where_` and contains `what`.
    fn check(tail: &str, where_: &str, what: &str) {
        crate::parse::tests::check_with(HEAD, tail, where_, what);
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let text = format!("{HEAD}property = {{ cases = 5, seed = 9 }}\n");
        let cases = parse_file("t.toml", &text).unwrap();
        let CaseKind::Property { params } = &cases[0].kind else {
            panic!("not a property case: {:?}", cases[0].kind)
        };
        assert_eq!((params.cases, params.seed), (5, 9));
        assert_eq!(params.connections, 1);
        assert_eq!(params.ops, ALL_PROPERTY_OPS.to_vec());
        assert!(cases[0].kind.steps().is_empty());
    }

    #[test]
    fn ops_restrict_and_deduplicate() {
        let text = format!(
            "{HEAD}property = {{ cases = 1, seed = 0, ops = [\"send\", \"reset\", \"send\"] }}\n"
        );
        let cases = parse_file("t.toml", &text).unwrap();
        let params = cases[0].kind.property().unwrap();
        assert_eq!(params.ops, vec![PropertyOp::Send, PropertyOp::Reset]);
    }

    #[test]
    fn property_table_is_required_and_typed() {
        check(
            "",
            "t.toml:6:8",
            "needs `property = { cases = N, seed = S }`",
        );
        check(
            "property = { cases = 5 }\n",
            "t.toml:7:",
            "missing field `seed`",
        );
        check(
            "property = { cases = 5, seed = 1, colour = 2 }\n",
            "t.toml:7:",
            "unknown field `colour`",
        );
    }

    #[test]
    fn parameters_are_bounded() {
        check(
            "property = { cases = 0, seed = 1 }\n",
            "t.toml:7:12",
            "case `t.prop`: property.cases: 0 is outside 1..=10000",
        );
        check(
            "property = { cases = 1, seed = 1, connections = 17 }\n",
            "t.toml:7:12",
            "property.connections: 17 is outside 1..=16",
        );
        check(
            "property = { cases = 1, seed = 1, max_ops = 201 }\n",
            "t.toml:7:12",
            "property.max_ops",
        );
        check(
            "property = { cases = 1, seed = 1, max_payload = 0 }\n",
            "t.toml:7:12",
            "property.max_payload",
        );
        check(
            "property = { cases = 1, seed = 1, max_wait_ms = 10001 }\n",
            "t.toml:7:12",
            "property.max_wait_ms: 10001 is outside 0..=10000",
        );
    }

    #[test]
    fn ops_are_a_closed_set_that_includes_send() {
        check(
            "property = { cases = 1, seed = 1, ops = [\"send\", \"explode\"] }\n",
            "t.toml:7:12",
            "unknown operation `explode` (known: send, read, pause_reading, half_close, reset, idle)",
        );
        check(
            "property = { cases = 1, seed = 1, ops = [\"read\"] }\n",
            "t.toml:7:12",
            "must include `send`",
        );
    }

    #[test]
    fn steps_and_clients_do_not_belong() {
        check(
            "property = { cases = 1, seed = 1 }\nsteps = [\"connect\"]\n",
            "t.toml:8:9",
            "generates its steps",
        );
        check(
            "property = { cases = 1, seed = 1 }\nclients = 3\n",
            "t.toml:8:11",
            "property.connections",
        );
        let script = "[[case]]\nid = \"t.s\"\ntitle = \"t\"\nsource = \"s\"\nlevel = \"must\"\nkind = \"script\"\nsteps = [\"connect\"]\nproperty = { cases = 1, seed = 1 }\n";
        let err = parse_file("t.toml", script).unwrap_err().to_string();
        assert!(
            err.starts_with("t.toml:8:12") && err.contains("only `property` cases take `property`"),
            "{err}"
        );
    }
}
