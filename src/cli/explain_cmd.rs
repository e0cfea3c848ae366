//! `envctl explain` and `envctl schema`: the kinds and the stack format as
//! their schemas describe them. Touch nothing but stdout.

use super::BadInput;
use super::args::ExplainArgs;
use crate::kinds::{all_kinds, docs};

pub fn explain(args: ExplainArgs) -> anyhow::Result<()> {
    match args.target {
        Some(target) => match docs::explain(&target) {
            Ok(text) => print!("{text}"),
            Err(e) => {
                return Err(
                    BadInput(format!("{e}; run `envctl explain` to list the kinds")).into(),
                );
            }
        },
        None => {
            println!("KINDS (envctl explain KIND for its properties and outputs):");
            for kind in all_kinds() {
                let what = kind
                    .schema()
                    .map(|s| s.description().lines().next().unwrap_or("").to_string())
                    .unwrap_or_default();
                println!("  {:<28} {what}", kind.name());
            }
        }
    }
    Ok(())
}

pub fn schema() -> anyhow::Result<()> {
    let schema = crate::stack::json_schema::stack_schema(all_kinds());
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(())
}
