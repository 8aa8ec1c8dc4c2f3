//! Named reasons: an enum of why frames were dropped, each variant with a kebab-case name for
//! tables, captures and logs, and the enum's `ALL`, `COUNT` and `name`, declared from one list.
//! Routers (`DropReason`) and links (`LinkDrop`) declare theirs with it.

/// Declare `$name` from `variant => "name"` pairs, with `ALL`, `COUNT` and `name`.
macro_rules! reasons {
    (
        $(#[doc = $what:literal])*
        pub enum $name:ident {
            $($(#[doc = $doc:literal])* $variant:ident => $text:literal,)+
        }
    ) => {
        $(#[doc = $what])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum $name {
            $($(#[doc = $doc])* $variant,)+
        }

        impl $name {
            /// Every reason, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// Number of reasons.
            pub const COUNT: usize = Self::ALL.len();

            /// A short kebab-case name for tables, captures and logs.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }
    };
}

pub(crate) use reasons;
