//! What the server does to the bytes it echoes: nothing, ASCII upper-casing (the seed's
//! socketserver handler), or a `NAME: ` prefix before each reply (the seed's threading handler).

use std::borrow::Cow;

/// The declared transform, as `--transform` names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Transform {
    /// Byte-exact echo.
    #[default]
    Identity,
    /// ASCII letters upper-cased, every other byte unchanged.
    Uppercase,
    /// Each reply preceded by the serving thread's name and ": ".
    Prefix,
}

impl Transform {
    /// The claim string: `identity`, `uppercase` or `prefix`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transform::Identity => "identity",
            Transform::Uppercase => "uppercase",
            Transform::Prefix => "prefix",
        }
    }

    /// Binds the transform to the name of the thread (or "main") that applies it.
    pub fn for_current_thread(self) -> Transformer {
        self.with_name(std::thread::current().name().unwrap_or("main"))
    }

    /// Binds the transform to an explicit name, for code that runs on pool threads.
    pub fn with_name(self, name: &str) -> Transformer {
        Transformer {
            transform: self,
            prefix: format!("{name}: ").into_bytes(),
        }
    }
}

/// A [`Transform`] ready to apply, with the prefix it would add.
#[derive(Clone, Debug)]
pub struct Transformer {
    transform: Transform,
    prefix: Vec<u8>,
}

impl Transformer {
    /// The reply for one chunk that was read.
    pub fn apply<'a>(&self, input: &'a [u8]) -> Cow<'a, [u8]> {
        match self.transform {
            Transform::Identity => Cow::Borrowed(input),
            Transform::Uppercase => Cow::Owned(input.to_ascii_uppercase()),
            Transform::Prefix => {
                let mut out = Vec::with_capacity(self.prefix.len() + input.len());
                out.extend_from_slice(&self.prefix);
                out.extend_from_slice(input);
                Cow::Owned(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms() {
        let t = Transform::Uppercase.for_current_thread();
        assert_eq!(&*t.apply(b"ab\x00\xffz"), b"AB\x00\xffZ");
        let t = Transform::Identity.for_current_thread();
        assert_eq!(&*t.apply(b"ab"), b"ab");
        let t = std::thread::Builder::new()
            .name("Thread-7".into())
            .spawn(|| Transform::Prefix.for_current_thread())
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(&*t.apply(b"hi"), b"Thread-7: hi");
    }
}
