//! Checks of a spec beyond its shape: unique clause ids, known categories, sane limits.

use crate::error::{FileError, did_you_mean};
use crate::yaml::Source;

use super::Spec;

pub(super) fn validate(spec: &Spec, src: &Source) -> Vec<FileError> {
    let mut errors = Vec::new();
    if spec.version != 1 {
        errors.push(src.error_at(
            "version",
            &spec.version.to_string(),
            "unsupported spec version (this tool reads version 1)",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for clause in &spec.clauses {
        if !seen.insert(clause.id.as_str()) {
            errors.push(src.error_at(
                "id",
                &clause.id,
                format!("duplicate clause id `{}`", clause.id),
            ));
        }
        let well_formed = !clause.id.is_empty()
            && clause
                .id
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
        if !well_formed {
            errors.push(src.error_at(
                "id",
                &clause.id,
                format!(
                    "clause id `{}` must be upper-case letters, digits and dashes",
                    clause.id
                ),
            ));
        }
    }
    for (name, cat) in &spec.rate_limits.categories {
        if cat.limit == 0 {
            errors.push(src.error_at(
                "limit",
                "0",
                format!("category `{name}`: limit must be at least 1"),
            ));
        }
        if cat.window.is_zero() {
            errors.push(src.error_at(
                "window",
                name,
                format!("category `{name}`: window must be longer than 0"),
            ));
        }
    }
    let categories: Vec<&str> = spec
        .rate_limits
        .categories
        .keys()
        .map(String::as_str)
        .collect();
    for (name, ep) in &spec.endpoints {
        if !categories.contains(&ep.category.as_str()) {
            errors.push(src.error_at(
                "category",
                &ep.category,
                format!(
                    "endpoint `{name}`: unknown category `{}`{}",
                    ep.category,
                    did_you_mean(&ep.category, categories.iter().copied())
                ),
            ));
        }
        if !ep.path.starts_with('/') {
            errors.push(src.error_at(
                "path",
                &ep.path,
                format!("endpoint `{name}`: path must start with /"),
            ));
        }
        if ep.auth.is_empty() {
            errors.push(src.error_at(
                "",
                name,
                format!("endpoint `{name}`: auth must list at least one method"),
            ));
        }
    }
    for status in &spec.auth.denial_statuses {
        if !(400..500).contains(status) {
            errors.push(src.error_at(
                "denial_statuses",
                &status.to_string(),
                "denial statuses must be 4xx",
            ));
        }
    }
    errors
}
