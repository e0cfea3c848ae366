//! One resource of a stack document (`id`, `kind`, `properties`,
//! `depends_on`, `publish`) and its publish entries, decoded with each
//! problem at its line; properties become JSON values.

use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;

use super::super::locate::Seg;
use super::super::model::{Publish, Resource};
use super::super::validate::{did_you_mean, list};
use super::{Decoder, scalar, type_name};
use crate::envapi::Level;

const RESOURCE_FIELDS: &[&str] = &["id", "kind", "properties", "depends_on", "publish"];
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
            publish: Vec::new(),
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
                            let p = [base[0], base[1], Seg::Key("depends_on"), Seg::Item(n)];
                            let d = self.string(d, &p, &subject, "a depends_on entry");
                            if !d.is_empty() {
                                r.depends_on.push(d);
                            }
                        }
                    }
                    Yaml::Null => {}
                    other => self.push(
                        &here,
                        subject.clone(),
                        format!(
                            "depends_on is {}; write a list of resource ids, such as `depends_on: [db, queue]`",
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
                _ => unreachable!("fields() keeps known names only"),
            }
        }
        Some(r)
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
}
