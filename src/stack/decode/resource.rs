//! One resource of a stack document (`id`, `kind`, `properties`,
//! `depends_on`, `wait_for`, `publish`, `pool`) and its publish entries, decoded
//! with each problem at its line; properties become JSON values.

use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;

use super::super::locate::Seg;
use super::super::model::{
    DEFAULT_POOL_MAX_AGE, MAX_POOL_SIZE, PoolSpec, Publish, Resource, Until, Wait, WaitFrom,
};
use super::super::validate::{did_you_mean, list};
use super::{Decoder, scalar, type_name};
use crate::envapi::Level;

const RESOURCE_FIELDS: &[&str] = &[
    "id",
    "kind",
    "properties",
    "depends_on",
    "wait_for",
    "publish",
    "pool",
];
const POOL_FIELDS: &[&str] = &["size", "max_age"];
const DEPENDS_ON_FIELDS: &[&str] = &["resource", "until"];
const PUBLISH_FIELDS: &[&str] = &["output", "key", "level", "service", "secret"];
const LEVELS: &[&str] = &["environment", "tenant", "service"];

/// YAML to JSON for properties; `Err` names what cannot be converted.
fn to_json(v: &Yaml) -> Result<Json, String> {
    Ok(match v {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(f)
                    .map(Json::Number)
                    .ok_or_else(|| format!("number {n} is not finite"))?
            }
        }
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Sequence(items) => Json::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Yaml::Mapping(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                let k = scalar(k).ok_or_else(|| format!("a key is {}", type_name(k)))?;
                out.insert(k, to_json(v)?);
            }
            Json::Object(out)
        }
        Yaml::Tagged(t) => return Err(format!("YAML tags such as {} are not supported", t.tag)),
    })
}

impl Decoder<'_> {
    pub(super) fn resource(&mut self, i: usize, item: &Yaml) -> Option<Resource> {
        let base = [Seg::Key("resources"), Seg::Item(i)];
        let Yaml::Mapping(map) = item else {
            self.push(
                &base,
                Some(format!("resource #{}", i + 1)),
                format!(
                    "is {}; each resource is a mapping such as `- id: uploads` with `kind: aws.s3.bucket` below it",
                    type_name(item)
                ),
            );
            return None;
        };
        let id = map.get("id").and_then(scalar).filter(|s| !s.is_empty());
        let subject = Some(match &id {
            Some(id) => format!("resource '{id}'"),
            None => format!("resource #{}", i + 1),
        });
        let mut r = Resource {
            id: String::new(),
            kind: String::new(),
            properties: serde_json::Map::new(),
            depends_on: Vec::new(),
            wait_for: Vec::new(),
            publish: Vec::new(),
            pool: None,
            line: 0,
        };
        for (name, v) in self.fields(map, RESOURCE_FIELDS, &base, &subject, "a resource") {
            let here = [base[0], base[1], Seg::Key(&name)];
            match name.as_str() {
                "id" => r.id = self.string(v, &here, &subject, "id"),
                "kind" => r.kind = self.string(v, &here, &subject, "kind"),
                "properties" => match v {
                    Yaml::Mapping(m) => {
                        for (k, pv) in m {
                            let Some(k) = scalar(k) else {
                                self.push(
                                    &here,
                                    subject.clone(),
                                    format!("a property name is {}; property names are plain names", type_name(k)),
                                );
                                continue;
                            };
                            match to_json(pv) {
                                Ok(j) => {
                                    r.properties.insert(k, j);
                                }
                                Err(e) => {
                                    let p = [base[0], base[1], Seg::Key("properties"), Seg::Key(&k)];
                                    self.push(
                                        &p,
                                        subject.clone(),
                                        format!("property '{k}': {e}; write plain YAML values"),
                                    );
                                }
                            }
                        }
                    }
                    Yaml::Null => {}
                    other => self.push(
                        &here,
                        subject.clone(),
                        format!("properties is {}; write a mapping of name: value", type_name(other)),
                    ),
                },
                "depends_on" => match v {
                    Yaml::Sequence(seq) => {
                        for (n, d) in seq.iter().enumerate() {
                            if let Some((d, until)) = self.depends_on_entry(i, n, d, &subject) {
                                if let Some(until) = until {
                                    r.wait_for.push(Wait {
                                        resource: d.clone(),
                                        until,
                                        from: WaitFrom::DependsOn(n),
                                    });
                                }
                                r.depends_on.push(d);
                            }
                        }
                    }
                    Yaml::Null => {}
                    other => self.push(
                        &here,
                        subject.clone(),
                        format!(
                            "depends_on is {}; write a list of resource ids, such as `depends_on: [db, queue]` or `depends_on: [{{resource: lb, until: created}}]`",
                            type_name(other)
                        ),
                    ),
                },
                "wait_for" => match v {
                    Yaml::Mapping(m) => {
                        for (k, until) in m {
                            let Some(id) = scalar(k) else {
                                self.push(
                                    &here,
                                    subject.clone(),
                                    format!("a wait_for key is {}; keys are resource ids", type_name(k)),
                                );
                                continue;
                            };
                            let p = [base[0], base[1], Seg::Key("wait_for"), Seg::Key(&id)];
                            if let Some(until) =
                                self.until(until, &p, &subject, &format!("wait_for '{id}'"))
                            {
                                r.wait_for.push(Wait {
                                    resource: id,
                                    until,
                                    from: WaitFrom::WaitFor,
                                });
                            }
                        }
                    }
                    Yaml::Null => {}
                    other => self.push(
                        &here,
                        subject.clone(),
                        format!(
                            "wait_for is {}; write a mapping of dependency id to `created` or `ready`, such as `wait_for: {{lb: created}}`",
                            type_name(other)
                        ),
                    ),
                },
                "publish" => match v {
                    Yaml::Sequence(seq) => {
                        for (j, entry) in seq.iter().enumerate() {
                            if let Some(p) = self.publish(i, j, entry, &subject) {
                                r.publish.push(p);
                            }
                        }
                    }
                    Yaml::Null => {}
                    other => self.push(
                        &here,
                        subject.clone(),
                        format!(
                            "publish is {}; write a list such as `publish: [{{output: name, key: UPLOADS_BUCKET}}]`",
                            type_name(other)
                        ),
                    ),
                },
                "pool" => r.pool = self.pool(v, &here, &subject),
                _ => unreachable!("fields() keeps known names only"),
            }
        }
        Some(r)
    }

    /// `pool: {size: N, max_age: DUR}`; `None` after reporting a problem.
    fn pool(&mut self, v: &Yaml, here: &[Seg], subject: &Option<String>) -> Option<PoolSpec> {
        let Yaml::Mapping(m) = v else {
            self.push(
                here,
                subject.clone(),
                format!(
                    "pool is {}; write a mapping such as `pool: {{size: 2, max_age: 7d}}`",
                    type_name(v)
                ),
            );
            return None;
        };
        let mut spec = PoolSpec {
            size: 0,
            max_age: DEFAULT_POOL_MAX_AGE,
        };
        let mut ok = true;
        for (name, fv) in self.fields(m, POOL_FIELDS, here, subject, "pool") {
            let mut p = here.to_vec();
            p.push(Seg::Key(&name));
            match name.as_str() {
                "size" => match fv.as_u64() {
                    Some(n) if (1..=u64::from(MAX_POOL_SIZE)).contains(&n) => spec.size = n as u32,
                    _ => {
                        ok = false;
                        self.push(
                            &p,
                            subject.clone(),
                            format!(
                                "pool.size is {}; write a whole number from 1 to {MAX_POOL_SIZE}, \
                                 the members to keep ready",
                                scalar(fv).unwrap_or_else(|| type_name(fv).to_string())
                            ),
                        );
                    }
                },
                "max_age" => match self.duration(fv, &p, "pool.max_age") {
                    Some(d) => spec.max_age = d,
                    None => ok = false,
                },
                _ => unreachable!("fields() keeps known names only"),
            }
        }
        if spec.size == 0 && ok {
            self.push(
                here,
                subject.clone(),
                "pool has no size; add `size: N` (1 to 50), the members to keep ready".into(),
            );
            return None;
        }
        ok.then_some(spec)
    }

    /// A `depends_on` entry: `lb`, or `{resource: lb, until: created}`
    /// (with its [`Until`]); `None` after reporting a problem.
    fn depends_on_entry(
        &mut self,
        i: usize,
        n: usize,
        entry: &Yaml,
        subject: &Option<String>,
    ) -> Option<(String, Option<Until>)> {
        let base = [
            Seg::Key("resources"),
            Seg::Item(i),
            Seg::Key("depends_on"),
            Seg::Item(n),
        ];
        let what = format!("depends_on entry #{}", n + 1);
        let Yaml::Mapping(map) = entry else {
            let d = match scalar(entry) {
                Some(d) => d,
                None => {
                    self.push(
                        &base,
                        subject.clone(),
                        format!(
                            "{what} is {}; write a resource id, or `{{resource: <id>, until: created}}`",
                            type_name(entry)
                        ),
                    );
                    return None;
                }
            };
            return (!d.is_empty()).then_some((d, None));
        };
        let mut resource = None;
        let mut until = None;
        for (name, v) in self.fields(map, DEPENDS_ON_FIELDS, &base, subject, &what) {
            let here = [base[0], base[1], base[2], base[3], Seg::Key(&name)];
            match name.as_str() {
                "resource" => {
                    resource = Some(self.string(v, &here, subject, &format!("{what}: resource")))
                }
                "until" => until = self.until(v, &here, subject, &format!("{what}: until")),
                _ => unreachable!("fields() keeps known names only"),
            }
        }
        match resource {
            Some(d) if !d.is_empty() => Some((d, until)),
            Some(_) => None,
            None => {
                self.push(
                    &base,
                    subject.clone(),
                    format!(
                        "{what} has no `resource:`; add `resource: <id>` (the resource waited for)"
                    ),
                );
                None
            }
        }
    }

    /// `created` or `ready`; `None` after reporting anything else.
    fn until(
        &mut self,
        v: &Yaml,
        path: &[Seg],
        subject: &Option<String>,
        what: &str,
    ) -> Option<Until> {
        let word = scalar(v).unwrap_or_default();
        if let Some(u) = Until::parse(&word) {
            return Some(u);
        }
        let shown = match v {
            Yaml::String(_) | Yaml::Bool(_) | Yaml::Number(_) => format!("'{word}'"),
            other => type_name(other).to_string(),
        };
        self.push(
            path,
            subject.clone(),
            format!(
                "{what} is {shown}{}; write `created` (start once its outputs are known, while it may still be getting ready) or `ready` (the default: start once it is ready)",
                did_you_mean(&word, Until::WORDS.iter().copied())
            ),
        );
        None
    }

    fn publish(
        &mut self,
        i: usize,
        j: usize,
        entry: &Yaml,
        subject: &Option<String>,
    ) -> Option<Publish> {
        let base = [
            Seg::Key("resources"),
            Seg::Item(i),
            Seg::Key("publish"),
            Seg::Item(j),
        ];
        let what = format!("publish entry #{}", j + 1);
        let Yaml::Mapping(map) = entry else {
            self.push(
                &base,
                subject.clone(),
                format!(
                    "{what} is {}; write a mapping such as `{{output: name, key: UPLOADS_BUCKET}}`",
                    type_name(entry)
                ),
            );
            return None;
        };
        let mut output = String::new();
        let mut key = String::new();
        let mut level: Option<String> = None;
        let mut service: Option<String> = None;
        let mut secret = false;
        for (name, v) in self.fields(map, PUBLISH_FIELDS, &base, subject, &what) {
            let here = [base[0], base[1], base[2], base[3], Seg::Key(&name)];
            match name.as_str() {
                "output" => output = self.string(v, &here, subject, &format!("{what}: output")),
                "key" => key = self.string(v, &here, subject, &format!("{what}: key")),
                "level" => level = Some(self.string(v, &here, subject, &format!("{what}: level"))),
                "service" => {
                    service = Some(self.string(v, &here, subject, &format!("{what}: service")))
                }
                "secret" => match v {
                    Yaml::Bool(b) => secret = *b,
                    other => self.push(
                        &here,
                        subject.clone(),
                        format!(
                            "{what}: secret is {}; write `secret: true` or `secret: false`",
                            type_name(other)
                        ),
                    ),
                },
                _ => unreachable!("fields() keeps known names only"),
            }
        }
        let at = |f| [base[0], base[1], base[2], base[3], Seg::Key(f)];
        let level = match (level.as_deref(), service) {
            (None | Some("tenant"), None) => Level::Tenant,
            (Some("environment"), None) => Level::Environment,
            (Some("service"), Some(s)) => Level::Service(s),
            (Some("service"), None) => {
                self.push(
                    &at("level"),
                    subject.clone(),
                    format!(
                        "{what}: level service needs the service's name: add `service: <name>`"
                    ),
                );
                Level::Service(String::new())
            }
            (l @ (None | Some("environment" | "tenant")), Some(_)) => {
                self.push(
                    &at("service"),
                    subject.clone(),
                    format!(
                        "{what}: `service:` only goes with `level: service` (the level here is {}); add `level: service` or remove `service:`",
                        l.unwrap_or("tenant, the default")
                    ),
                );
                Level::Tenant
            }
            (Some(other), _) => {
                self.push(
                    &at("level"),
                    subject.clone(),
                    format!(
                        "{what}: level '{other}' is unknown{}; use one of: {}",
                        did_you_mean(other, LEVELS.iter().copied()),
                        list(LEVELS.iter().copied())
                    ),
                );
                Level::Tenant
            }
        };
        Some(Publish {
            output,
            key,
            level,
            secret,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::stack::load::tests::{assert_has, edit, err};

    #[test]
    fn unknown_field_in_a_resource_is_named_with_its_id() {
        let msg = err(&edit("    depends_on: [uploads]", "    depends: [uploads]"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:28: resource 'db': unknown field 'depends' in a resource (did you mean 'depends_on'?)",
            ],
        );
    }

    #[test]
    fn unknown_field_in_a_publish_entry_is_named() {
        let msg = err(&edit(
            "        key: UPLOADS_BUCKET",
            "        key: UPLOADS_BUCKET\n        secrett: true",
        ));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:18: resource 'uploads': unknown field 'secrett' in publish entry #1 (did you mean 'secret'?)",
            ],
        );
    }

    #[test]
    fn service_level_and_service_name_go_together() {
        let msg = err(&edit(", service: billing", ""));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:21: resource 'db-password': publish entry #1: level service needs the service's name: add `service: <name>`",
            ],
        );
        let msg = err(&edit(
            "        key: UPLOADS_BUCKET\n",
            "        key: UPLOADS_BUCKET\n        service: billing\n",
        ));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:18: resource 'uploads': publish entry #1: `service:` only goes with `level: service`",
                "add `level: service` or remove `service:`",
            ],
        );
        let msg = err(&edit("service: billing", "service: common"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:21: resource 'db-password': publish entry #1: service name 'common' is malformed",
                "fix `service:`",
            ],
        );
        let msg = err(&edit("level: service", "level: servce"));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:21:",
                "level 'servce' is unknown (did you mean 'service'?); use one of: environment, tenant, service",
            ],
        );
    }

    use crate::graph::Until;
    use crate::stack::load::tests::load;

    #[test]
    fn until_created_is_read_from_depends_on_entries_and_wait_for() {
        let s = load(&edit(
            "    depends_on: [uploads]",
            "    depends_on: [{resource: uploads, until: created}]",
        ))
        .unwrap();
        let db = s.resource("db").unwrap();
        assert_eq!(db.depends_on, vec!["uploads"]);
        assert_eq!(db.until("uploads"), Until::Created);
        assert_eq!(db.until("db-password"), Until::Ready);
        assert_eq!(s.graph().unwrap().until("uploads", "db"), Until::Created);

        // wait_for: for a reference, and a plain entry keeps the default.
        let s = load(&edit(
            "    depends_on: [uploads]",
            "    depends_on: [uploads]\n    wait_for: {db-password: created}",
        ))
        .unwrap();
        let g = s.graph().unwrap();
        assert_eq!(g.until("db-password", "db"), Until::Created);
        assert_eq!(g.until("uploads", "db"), Until::Ready);
        let s = load(&edit(
            "    depends_on: [uploads]",
            "    depends_on: [{resource: uploads}]\n    wait_for: {uploads: ready}",
        ))
        .unwrap();
        assert_eq!(s.graph().unwrap().until("uploads", "db"), Until::Ready);
    }

    #[test]
    fn a_bad_until_word_is_named_at_its_line_with_the_fix() {
        let msg = err(&edit(
            "    depends_on: [uploads]",
            "    depends_on:\n      - {resource: uploads, until: creatd}",
        ));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:29: resource 'db': depends_on entry #1: until is 'creatd' (did you mean 'created'?); write `created` (start once its outputs are known, while it may still be getting ready) or `ready` (the default: start once it is ready)",
            ],
        );
        let msg = err(&edit(
            "    depends_on: [uploads]",
            "    depends_on: [uploads]\n    wait_for:\n      uploads: soon",
        ));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:30: resource 'db': wait_for 'uploads' is 'soon'; write `created`",
            ],
        );
        let msg = err(&edit(
            "    depends_on: [uploads]",
            "    depends_on: [uploads]\n    wait_for: [uploads]",
        ));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:29: resource 'db': wait_for is a list; write a mapping of dependency id to `created` or `ready`, such as `wait_for: {lb: created}`",
            ],
        );
    }

    #[test]
    fn a_bad_depends_on_entry_mapping_says_what_it_needs() {
        let msg = err(&edit(
            "    depends_on: [uploads]",
            "    depends_on:\n      - {resourse: uploads, until: created}",
        ));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:29: resource 'db': unknown field 'resourse' in depends_on entry #1 (did you mean 'resource'?)",
                "stacks/tenant.yaml:29: resource 'db': depends_on entry #1 has no `resource:`; add `resource: <id>`",
            ],
        );
        let msg = err(&edit(
            "    depends_on: [uploads]",
            "    depends_on:\n      - {resource: upload, until: created}",
        ));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:29: resource 'db': depends_on 'upload' names no resource (did you mean 'uploads'?)",
            ],
        );
    }

    #[test]
    fn wait_for_must_name_a_dependency() {
        let msg = err(&edit(
            "    kind: secret.password\n",
            "    kind: secret.password\n    wait_for: {uploads: created}\n",
        ));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:20: resource 'db-password': wait_for 'uploads' is not a dependency of this resource (it depends on nothing); wait_for only says how long to wait for a resource it references (${uploads.<output>}) or lists in depends_on: add the reference or `depends_on: [uploads]`, or remove the entry",
            ],
        );
        let msg = err(&edit(
            "    depends_on: [uploads]",
            "    depends_on: [uploads]\n    wait_for: {upload: created}",
        ));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:29: resource 'db': wait_for 'upload' names no resource (did you mean 'uploads'?); declare it or fix the id",
            ],
        );
        let msg = err(&edit(
            "    depends_on: [uploads]",
            "    depends_on: [uploads]\n    wait_for: {db: created}",
        ));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:29: resource 'db': wait_for 'db' is the resource itself; remove it from wait_for",
            ],
        );
    }

    #[test]
    fn two_answers_for_one_dependency_are_a_conflict() {
        let msg = err(&edit(
            "    depends_on: [uploads]",
            "    depends_on:\n      - {resource: uploads, until: created}\n    wait_for:\n      uploads: ready",
        ));
        assert_has(
            &msg,
            &[
                "stacks/tenant.yaml:31: resource 'db': 'uploads' is waited for until ready here but until created on line 29; keep one of the two",
            ],
        );
    }
}
