//! Enums that are stored and sent as their snake_case names (`"idle"`, `"mass_removal"`): the
//! same name in JSON, in the database's text columns and in the pages. One declaration gives
//! an enum its names both ways, so that no name is written twice.

/// A name that is none of an enum's (read from a column or a form).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not a {kind}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub name: String,
}

/// Declares an enum whose variants are known by the names given, with `as_str`, `ALL`,
/// `Display` and `FromStr` (so the engine can store it as text), and serde and the API
/// reference speaking the same names.
#[macro_export]
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema
        )]
        $vis enum $name {
            $( $(#[$variant_meta])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The variant's name, as stored and sent.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::text::UnknownName;

            fn from_str(name: &str) -> Result<Self, Self::Err> {
                match name {
                    $($text => Ok(Self::$variant),)+
                    _ => Err($crate::text::UnknownName {
                        kind: stringify!($name),
                        name: name.to_string(),
                    }),
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::named_enum! {
        /// A test enum.
        enum Colour {
            Red = "red",
            /// Two words.
            DarkBlue = "dark_blue",
        }
    }

    #[test]
    fn names_read_back_the_same_way_everywhere() {
        for colour in Colour::ALL {
            assert_eq!(colour.as_str().parse::<Colour>(), Ok(*colour));
            let json = serde_json::to_string(colour).unwrap();
            assert_eq!(json, format!("\"{colour}\""));
        }
        assert_eq!(Colour::DarkBlue.to_string(), "dark_blue");
        let unknown = "green".parse::<Colour>().unwrap_err();
        assert_eq!(unknown.to_string(), "\"green\" is not a Colour");
    }
}
