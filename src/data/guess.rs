//! What a CSV file is for in a manifest, and which of its columns hold
//! what, guessed from its header: where the window's manifest builder
//! starts before the user corrects it. The guess is a typed spec of the
//! manifest ([`FileSpec`]), so what the user edits is what gets saved.

use std::path::PathBuf;

use super::{Delimiter, DomainSpec, InteractionsSpec, TextEncoding, UserTextsSpec};

/// Item columns guessed to hold entities (metadata shared by items) rather
/// than text.
const ENTITY_HEADERS: [&str; 8] = [
    "brand",
    "category",
    "categories",
    "tags",
    "genre",
    "genres",
    "品牌",
    "类别",
];

/// What a CSV file is for in a manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// One domain's items.
    Items,
    /// The users' interactions with items of every domain.
    Interactions,
    /// Texts users wrote.
    UserTexts,
}

impl FileRole {
    /// Every role, in the order offered.
    pub const ALL: [FileRole; 3] = [FileRole::Items, FileRole::Interactions, FileRole::UserTexts];

    /// The role's name as shown.
    pub fn name(self) -> &'static str {
        match self {
            FileRole::Items => "items",
            FileRole::Interactions => "interactions",
            FileRole::UserTexts => "user texts",
        }
    }

    /// The role a file with these column names most likely has: a user
    /// and a domain column make interactions, a user and a text column user
    /// texts, anything else items.
    pub fn guess(headers: &[String]) -> FileRole {
        let has = |n: &str| headers.iter().any(|h| h.eq_ignore_ascii_case(n));
        if has("user_id") && has("domain") {
            FileRole::Interactions
        } else if has("user_id") && has("text") {
            FileRole::UserTexts
        } else {
            FileRole::Items
        }
    }
}

/// One file's part of a manifest, by role. An optional column set to the
/// empty name is not used.
#[derive(Debug, Clone, PartialEq)]
pub enum FileSpec {
    /// A domain's items file.
    Items(DomainSpec),
    /// The interactions file.
    Interactions(InteractionsSpec),
    /// The user texts file.
    UserTexts(UserTextsSpec),
}

impl FileSpec {
    /// The spec of the file at `path` in `role`, its columns guessed from
    /// `headers` (known names first, else by position); an items file is
    /// named `name` and takes up to two text columns besides its id.
    pub fn guess(
        role: FileRole,
        path: PathBuf,
        name: &str,
        headers: &[String],
        delimiter: Option<Delimiter>,
    ) -> FileSpec {
        let find = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| headers.iter().find(|h| h.eq_ignore_ascii_case(n)))
                .cloned()
        };
        let pick = |names: &[&str], position: usize| {
            find(names)
                .or_else(|| headers.get(position).cloned())
                .unwrap_or_default()
        };
        match role {
            FileRole::Items => {
                let id_column = pick(&["item_id", "id"], 0);
                let entity_columns: Vec<String> = headers
                    .iter()
                    .filter(|h| ENTITY_HEADERS.contains(&h.to_lowercase().as_str()))
                    .cloned()
                    .collect();
                let text_columns = headers
                    .iter()
                    .filter(|h| **h != id_column && !entity_columns.contains(h))
                    .take(2)
                    .cloned()
                    .collect();
                FileSpec::Items(DomainSpec {
                    name: name.to_string(),
                    items: path,
                    id_column,
                    text_columns,
                    entity_columns,
                    entity_separator: None,
                    image_column: None,
                    embeddings: None,
                    embeddings_ids: None,
                    embeddings_id_column: None,
                    embeddings_column: None,
                    delimiter,
                    encoding: TextEncoding::default(),
                })
            }
            FileRole::Interactions => {
                let mut spec = InteractionsSpec::new(path);
                spec.user_column = pick(&["user_id", "user"], 0);
                spec.domain_column = pick(&["domain"], 1);
                spec.item_column = pick(&["item_id", "item"], 2);
                spec.rating_column = find(&["rating"]).unwrap_or_default();
                spec.timestamp_column = find(&["timestamp", "time"]).unwrap_or_default();
                spec.order_column = find(&["seq_pos", "position", "order"]).unwrap_or_default();
                spec.delimiter = delimiter;
                FileSpec::Interactions(spec)
            }
            FileRole::UserTexts => FileSpec::UserTexts(UserTextsSpec {
                path,
                user_column: pick(&["user_id", "user"], 0),
                text_column: pick(&["text"], 1),
                delimiter,
                encoding: TextEncoding::default(),
            }),
        }
    }

    /// The file's role.
    pub fn role(&self) -> FileRole {
        match self {
            FileSpec::Items(_) => FileRole::Items,
            FileSpec::Interactions(_) => FileRole::Interactions,
            FileSpec::UserTexts(_) => FileRole::UserTexts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn roles_are_guessed_from_the_header() {
        let guess = |h: &[&str]| FileRole::guess(&names(h));
        assert_eq!(
            guess(&["User_ID", "domain", "item_id"]),
            FileRole::Interactions
        );
        assert_eq!(guess(&["user_id", "text"]), FileRole::UserTexts);
        assert_eq!(guess(&["item_id", "title"]), FileRole::Items);
        assert_eq!(guess(&[]), FileRole::Items);
    }

    #[test]
    fn columns_are_guessed_by_name_then_position() {
        let headers = names(&["sku", "title", "body", "price"]);
        let FileSpec::Items(items) =
            FileSpec::guess(FileRole::Items, "a.csv".into(), "shop", &headers, None)
        else {
            panic!("items");
        };
        assert_eq!(items.id_column, "sku");
        assert_eq!(items.text_columns, names(&["title", "body"]));
        assert_eq!(items.name, "shop");

        let headers = names(&["who", "where", "what", "Rating"]);
        let spec = FileSpec::guess(
            FileRole::Interactions,
            "i.csv".into(),
            "",
            &headers,
            Some(Delimiter::Semicolon),
        );
        let FileSpec::Interactions(i) = &spec else {
            panic!("interactions");
        };
        assert_eq!(
            (&*i.user_column, &*i.domain_column, &*i.item_column),
            ("who", "where", "what")
        );
        assert_eq!(i.rating_column, "Rating");
        assert_eq!(i.timestamp_column, "", "absent: not used");
        assert_eq!(i.delimiter, Some(Delimiter::Semicolon));
        assert_eq!(spec.role(), FileRole::Interactions);

        let FileSpec::UserTexts(t) = FileSpec::guess(
            FileRole::UserTexts,
            "t.csv".into(),
            "",
            &names(&["user_id", "bio"]),
            None,
        ) else {
            panic!("user texts");
        };
        assert_eq!((&*t.user_column, &*t.text_column), ("user_id", "bio"));
    }
}
