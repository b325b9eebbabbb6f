//! Prompts behind a trait: dialoguer on a terminal, a script in tests.
//! Every prompt's default is the safe answer.

use std::collections::VecDeque;
use std::io;

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, Select};

/// Asks a person. `Ok(None)` is a cancel (Esc, `q`); an `Err` is a terminal gone.
pub trait Prompter {
    /// Shows text (the state, a plan) on the prompting stream.
    fn say(&mut self, text: &str);
    /// A choice among `items`.
    fn select(
        &mut self,
        prompt: &str,
        items: &[String],
        default: usize,
    ) -> io::Result<Option<usize>>;
    /// A yes/no question.
    fn confirm(&mut self, prompt: &str, default: bool) -> io::Result<Option<bool>>;
    /// A line of text.
    fn input(&mut self, prompt: &str, default: &str) -> io::Result<Option<String>>;
}

/// dialoguer on stderr.
#[derive(Default)]
pub struct Terminal {
    theme: ColorfulTheme,
}

impl std::fmt::Debug for Terminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Terminal")
    }
}

impl Prompter for Terminal {
    fn say(&mut self, text: &str) {
        eprintln!("{}", crate::ui::render::text::printable_lines(text));
    }

    fn select(
        &mut self,
        prompt: &str,
        items: &[String],
        default: usize,
    ) -> io::Result<Option<usize>> {
        Select::with_theme(&self.theme)
            .with_prompt(prompt)
            .items(items)
            .default(default)
            .interact_opt()
            .map_err(io::Error::other)
    }

    fn confirm(&mut self, prompt: &str, default: bool) -> io::Result<Option<bool>> {
        Confirm::with_theme(&self.theme)
            .with_prompt(prompt)
            .default(default)
            .wait_for_newline(true)
            .interact_opt()
            .map_err(io::Error::other)
    }

    fn input(&mut self, prompt: &str, default: &str) -> io::Result<Option<String>> {
        Input::<String>::with_theme(&self.theme)
            .with_prompt(prompt)
            .default(default.to_owned())
            .interact_text()
            .map(Some)
            .map_err(io::Error::other)
    }
}

/// One scripted reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Pick the item whose text contains this.
    Pick(String),
    /// Answer yes or no.
    Confirm(bool),
    /// Type this.
    Type(String),
    /// Press Esc.
    Escape,
    /// The terminal goes away.
    Hangup,
}

/// Replies from a script, recording everything shown; for tests.
#[derive(Debug, Default)]
pub struct Scripted {
    /// The replies still to give.
    pub replies: VecDeque<Reply>,
    /// Everything said and asked, in order.
    pub transcript: Vec<String>,
}

impl Scripted {
    /// A prompter that gives `replies` in order.
    pub fn new(replies: impl IntoIterator<Item = Reply>) -> Self {
        Self {
            replies: replies.into_iter().collect(),
            transcript: Vec::new(),
        }
    }

    fn reply(&mut self, prompt: &str) -> io::Result<Reply> {
        self.transcript.push(format!("? {prompt}"));
        self.replies.pop_front().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("no scripted reply for `{prompt}`"),
            )
        })
    }
}

impl Prompter for Scripted {
    fn say(&mut self, text: &str) {
        self.transcript.push(text.to_owned());
    }

    fn select(
        &mut self,
        prompt: &str,
        items: &[String],
        _default: usize,
    ) -> io::Result<Option<usize>> {
        match self.reply(prompt)? {
            Reply::Pick(wanted) => items
                .iter()
                .position(|item| item.contains(&wanted))
                .map(Some)
                .ok_or_else(|| io::Error::other(format!("no item `{wanted}` among {items:?}"))),
            Reply::Escape => Ok(None),
            Reply::Hangup => Err(io::Error::new(io::ErrorKind::BrokenPipe, "terminal gone")),
            other => Err(io::Error::other(format!(
                "{other:?} does not answer a menu"
            ))),
        }
    }

    fn confirm(&mut self, prompt: &str, _default: bool) -> io::Result<Option<bool>> {
        match self.reply(prompt)? {
            Reply::Confirm(yes) => Ok(Some(yes)),
            Reply::Escape => Ok(None),
            Reply::Hangup => Err(io::Error::new(io::ErrorKind::BrokenPipe, "terminal gone")),
            other => Err(io::Error::other(format!(
                "{other:?} does not answer a confirmation"
            ))),
        }
    }

    fn input(&mut self, prompt: &str, default: &str) -> io::Result<Option<String>> {
        match self.reply(prompt)? {
            Reply::Type(text) if text.is_empty() => Ok(Some(default.to_owned())),
            Reply::Type(text) => Ok(Some(text)),
            Reply::Escape => Ok(None),
            Reply::Hangup => Err(io::Error::new(io::ErrorKind::BrokenPipe, "terminal gone")),
            other => Err(io::Error::other(format!(
                "{other:?} does not answer a text prompt"
            ))),
        }
    }
}
